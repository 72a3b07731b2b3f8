/**
 * 1 MiB downloads through the agent's SIMCom drivers against the simulated modem (both
 * personalities, both transports), byte-exact, and the same with each fault injected: the
 * download resumes where it stopped, never from zero.
 */
import assert from 'node:assert/strict';
import { Sim7080 } from '../../../src/modem/sim7080.js';
import { isOtaError } from '../../../src/util/errors.js';
import { MiB, runNode, type Model, type RigOptions, type Transport } from '../../../tools/bench/rig.js';

async function check(options: RigOptions) {
  const run = await runNode(options);
  assert.equal(run.received.length, run.image.length);
  assert.ok(Buffer.from(run.received).equals(Buffer.from(run.image)), 'byte-exact');
  assert.equal(run.result.restarts, 0, 'never from zero');
  assert.equal(run.wrongWrites, 0, 'no wrong byte ever reached the sink');
  if (options.transport === 'socket-push') assert.equal((run.driver as { push?: boolean }).push, true, 'still pushing (no fallback)');
  return run;
}

describe('modem + net: 1 MiB download through the simulated modem (Node)', function () {
  this.timeout(600_000);
  for (const model of ['sim7080', 'sim7600'] as Model[]) {
    for (const transport of ['socket', 'socket-push', 'native'] as Transport[]) {
      it(`${model} ${transport}: byte-exact at 115200 baud`, async () => {
        const run = await check({ model, transport, baud: 115_200 });
        assert.equal(run.result.resumes, 0);
      });
    }
  }
});

/** Each fault of the simulator, injected once the download is under way (SimModemFaults). */
const FAULTS: Record<string, (model: Model, transport: Transport) => RigOptions['faults']> = {
  'link drop mid-body': () => () => ({ dropLinkAt: 300_000 }),
  'short read (announced n, fewer bytes)': () => () => ({ truncateAt: 200_000 }),
  'garbage bytes on the UART': () => () => ({ garbageAt: 150_000, garbageBytes: 16 }),
  'spontaneous modem reboot': () => (now) => ({ rebootAt: now + 20_000 }),
  'stalled modem needing a power cycle': () => (now) => ({ stallAt: now + 15_000 }),
  '+CME ERROR on a data command': (model, transport) => () => ({
    cmeError: { command: transport === 'native' ? (model === 'sim7080' ? '+SHREAD' : '+HTTPREAD') : transport === 'socket-push' ? (model === 'sim7080' ? '+CAOPEN' : '+CCHOPEN') : model === 'sim7080' ? '+CARECV' : '+CCHRECV', code: 3, times: 2 },
  }),
  'HTTP action error (602 / 706)': (model) => () => ({ httpActionError: model === 'sim7080' ? 602 : 706 }),
};

describe('modem + net: 1 MiB download with faults, resuming where it stopped (Node)', function () {
  this.timeout(600_000);
  for (const model of ['sim7080', 'sim7600'] as Model[]) {
    for (const transport of ['socket', 'socket-push', 'native'] as Transport[]) {
      for (const [name, fault] of Object.entries(FAULTS)) {
        if (name.startsWith('HTTP action') && transport !== 'native') continue; // built-in HTTP only
        it(`${model} ${transport}: ${name}`, async () => {
          const run = await check({ model, transport, baud: 115_200, faults: fault(model, transport) });
          assert.ok(run.result.resumes + run.modemCounters.powerCycles + run.modemCounters.resets > 0 || name.startsWith('garbage'), 'the fault was met');
          // Bring-up already presses the power key once: push runs must show the fault itself.
          if (transport === 'socket-push' && !name.startsWith('garbage')) assert.ok(run.result.failures.length + run.modemCounters.resets > 0, `the fault was met (${run.result.failures.join(',')})`);
        });
      }
    }
  }
});

describe('modem + net: failures that must not be retried forever (Node)', function () {
  this.timeout(120_000);
  it('sim7080: registration denied fails bring-up with not-registered', async () => {
    await assert.rejects(runNode({ model: 'sim7080', transport: 'socket', baud: 115_200, size: 4096, sim: { registrationStat: 3 } }), (e: unknown) => isOtaError(e, 'not-registered'));
  });

  it('sim7080: a host the network cannot resolve ends in retries-exhausted, last reason dns-failed', async () => {
    await assert.rejects(
      runNode({ model: 'sim7080', transport: 'socket', baud: 115_200, size: 4096, sim: { resolve: () => undefined } }),
      (e: unknown) => isOtaError(e, 'retries-exhausted') && /dns-failed/.test(e.detail ?? ''),
    );
  });

  it('refuses to start without a CA certificate (the modems trust any server by default)', () => {
    const port = { attach() {}, read: () => 0, write: (b: Uint8Array) => b.length, readable: 0, setBaud() {}, baud: 115_200, close() {} };
    const ports = { serial: port, clock: { now: () => 0, wallClock: () => undefined, setTimeout: () => 0, clearTimeout() {} }, powerKey: { write() {} } };
    assert.throws(() => new Sim7080(ports, { caCert: new Uint8Array(0) }), (e: unknown) => isOtaError(e, 'config-invalid'));
  });
});
