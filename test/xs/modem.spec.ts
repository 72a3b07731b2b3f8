/**
 * The modem layer on XS: a 1 MiB download through each personality and transport, byte-exact,
 * with the agent's driver, HTTP client and download helper running inside the XS engine against
 * the simulated modem and a real loopback HTTP server; then the same with each fault injected,
 * resuming where it stopped (never from zero).
 */
import assert from 'node:assert/strict';
import { MiB, type Model, type Transport } from '../../tools/bench/rig.js';
import { runXs } from '../../tools/bench/rig-xs.js';
import type { SimModemFaults } from '../../tools/devkit/parts/sim-modem/types.js';

const FAULTS: Record<string, (model: Model, transport: Transport) => (now: number) => SimModemFaults> = {
  'link drop mid-body': () => () => ({ dropLinkAt: 300_000 }),
  'modem reboot': () => (now) => ({ rebootAt: now + 20_000 }),
  'garbage bytes': () => () => ({ garbageAt: 150_000, garbageBytes: 16 }),
  '+CME ERROR': (model, transport) => () => ({
    cmeError: {
      command: transport === 'native' ? (model === 'sim7080' ? '+SHREAD' : '+HTTPREAD') : transport === 'socket-push' ? (model === 'sim7080' ? '+CAOPEN' : '+CCHOPEN') : model === 'sim7080' ? '+CARECV' : '+CCHRECV',
      code: 3,
      times: 2,
    },
  }),
  '602 / 706 from the HTTP stack': (model) => () => ({ httpActionError: model === 'sim7080' ? 602 : 706 }),
  'stalled modem (power cycle)': () => (now) => ({ stallAt: now + 15_000 }),
};

describe('XS: modem download through the simulated SIMCom modem', function () {
  this.timeout(900_000);
  it('sim7600 socket-push (data pushed by the modem): 1 MiB byte-exact', async () => {
    const { out, image } = await runXs({ model: 'sim7600', transport: 'socket-push', baud: 921_600, size: MiB });
    assert.ok(Buffer.from(out.received).equals(Buffer.from(image)), 'byte-exact');
  });
  it('sim7080 socket-push (recv_mode 1, RTS/CTS): 1 MiB byte-exact, nothing overran', async () => {
    const { out, image, uartCounters } = await runXs({ model: 'sim7080', transport: 'socket-push', baud: 921_600, size: MiB });
    assert.ok(Buffer.from(out.received).equals(Buffer.from(image)), 'byte-exact');
    assert.equal(out.push, true);
    assert.equal(out.restarts, 0);
    assert.equal(uartCounters.overrunBytes, 0);
  });
  it('sim7080 socket-push with a slow consumer: RTS/CTS holds the modem, no overrun, byte-exact', async () => {
    const { out, image, uartCounters } = await runXs({ model: 'sim7080', transport: 'socket-push', baud: 115_200, size: 256 * 1024, sinkDelayMs: 200 });
    assert.ok(Buffer.from(out.received).equals(Buffer.from(image)), 'byte-exact');
    assert.equal(uartCounters.overrunBytes, 0);
    assert.ok(uartCounters.ctsHolds > 0);
    assert.equal(out.failures, '');
  });
  it('sim7080 socket-push with a slow consumer and no RTS/CTS: overrun detected, resumed, byte-exact', async () => {
    const { out, image, uartCounters } = await runXs({ model: 'sim7080', transport: 'socket-push', baud: 115_200, size: 256 * 1024, sinkDelayMs: 200, flowControl: 'none' });
    assert.ok(uartCounters.overrunBytes > 0);
    assert.ok(out.atStats.lineErrors > 0);
    assert.match(out.failures, /at-garbled/);
    assert.equal(out.restarts, 0);
    assert.ok(Buffer.from(out.received).equals(Buffer.from(image)), 'byte-exact');
  });
  for (const refusal of ['error', 'result'] as const) {
    it(`sim7080 socket-push, firmware refusing recv_mode (${refusal}): AT+CARECV fallback, byte-exact`, async () => {
      const { out, image } = await runXs({ model: 'sim7080', transport: 'socket-push', baud: 921_600, size: 256 * 1024, sim: { caRecvMode: refusal } });
      assert.ok(Buffer.from(out.received).equals(Buffer.from(image)), 'byte-exact');
      assert.equal(out.push, false, 'fell back to manual reads');
      assert.equal(out.failures, '');
    });
  }
  for (const [name, fault] of Object.entries(FAULTS)) {
    if (name.startsWith('602')) continue;
    it(`sim7080 socket-push: ${name}, resumed`, async () => {
      const { out, image } = await runXs({ model: 'sim7080', transport: 'socket-push', baud: 921_600, size: MiB, faults: fault('sim7080', 'socket-push') });
      assert.ok(Buffer.from(out.received).equals(Buffer.from(image)), 'byte-exact');
      assert.equal(out.restarts, 0, 'never from zero');
      // Bring-up presses the power key once already: the fault must show itself.
      assert.ok(out.failures !== '' || out.resets > 0 || name === 'garbage bytes', `fault met (${out.failures})`);
    });
  }
  const combos: [Model, Transport][] = [
    ['sim7080', 'socket'],
    ['sim7080', 'native'],
    ['sim7600', 'socket'],
    ['sim7600', 'native'],
  ];
  for (const [model, transport] of combos) {
    it(`${model} ${transport}: 1 MiB byte-exact`, async () => {
      const { out, image } = await runXs({ model, transport, baud: 921_600, size: MiB });
      assert.ok(Buffer.from(out.received).equals(Buffer.from(image)), 'byte-exact');
      assert.equal(out.restarts, 0);
    });
  }
  // Every fault on every personality and transport is the Node matrix's job
  // (test/unit/modem/download-sim.spec.ts runs the same driver, HTTP and download code): what only
  // XS can show is that the recovery paths run on the device's engine (32-bit, frozen built-ins,
  // the manifest's stack and heap). So here each fault runs once, on a personality/transport pair
  // in turn (issue 12.7: this matrix was 480 s of a 12-minute suite).
  const natives = combos.filter(([, t]) => t === 'native');
  Object.entries(FAULTS).forEach(([name, fault], i) => {
    // The HTTP stack's 602/706 exists only on the modems' native HTTP clients.
    const [model, transport] = name.startsWith('602') ? natives[i % natives.length] : combos[i % combos.length];
    it(`${model} ${transport}: ${name}, resumed`, async () => {
      const { out, image } = await runXs({ model, transport, baud: 921_600, size: MiB, faults: fault(model, transport) });
      assert.ok(Buffer.from(out.received).equals(Buffer.from(image)), 'byte-exact');
      assert.equal(out.restarts, 0, 'never from zero');
      assert.ok(out.resumes + out.powerCycles + out.resets > 0 || name === 'garbage bytes', `fault met (${out.failures})`);
    });
  });
});
