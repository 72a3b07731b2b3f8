/**
 * The modem's line rate: a modem that sits at another rate than the board's (SIM7600 factory
 * 115200 at every boot, a SIM7080 with a fixed rate saved by earlier firmware) is found by trying
 * the fallback rates and switched to the board's rate, instead of being taken for dead
 * (simcom-at.md §3.5). Runs the agent's drivers against the simulated modem and UART, whose ends
 * garble bytes sent at a rate the other end is not set to.
 */
import assert from 'node:assert/strict';
import { Sim7600 } from '../../../src/modem/sim7600.js';
import { isOtaError } from '../../../src/util/errors.js';
import { runNode } from '../../../tools/bench/rig.js';

describe('modem line rate: found and switched, not taken for dead', function () {
  this.timeout(300_000);

  it('sim7600 at its factory 115200, board at 921600: found, AT+IPR=921600, download at 921600', async () => {
    const run = await runNode({ model: 'sim7600', transport: 'native', baud: 921_600, size: 64 * 1024, sim: { ipr: 115_200 } });
    assert.ok(Buffer.from(run.received).equals(Buffer.from(run.image)), 'byte-exact');
    assert.equal(run.modemCounters.powerCycles, 1, 'one power-on, no extra power cycles');
    assert.ok((run.modemCounters.baudSwitches ?? 0) >= 1, JSON.stringify(run.modemCounters));
    assert.equal(run.simIpr, 921_600);
    assert.equal(run.modemBaud, 921_600);
  });

  it('sim7600 reboots mid-download (back at 115200): found again, switched, resumed', async () => {
    const run = await runNode({ model: 'sim7600', transport: 'native', baud: 921_600, sim: { ipr: 115_200 }, faults: (now) => ({ rebootAt: now + 4_000 }) });
    assert.ok(Buffer.from(run.received).equals(Buffer.from(run.image)), 'byte-exact');
    assert.ok((run.modemCounters.baudSwitches ?? 0) >= 2, JSON.stringify(run.modemCounters));
    assert.equal(run.result.restarts, 0, 'never from zero');
  });

  it('sim7080 with a fixed 115200 saved, board at 921600: found, back to auto-baud (AT+IPR=0), runs at 921600', async () => {
    const run = await runNode({ model: 'sim7080', transport: 'socket', baud: 921_600, size: 64 * 1024, sim: { ipr: 115_200 } });
    assert.ok(Buffer.from(run.received).equals(Buffer.from(run.image)), 'byte-exact');
    assert.ok((run.modemCounters.baudSwitches ?? 0) >= 1, JSON.stringify(run.modemCounters));
    assert.equal(run.simIpr, 0, 'auto-baud again: no fixed rate left saved');
    assert.equal(run.modemBaud, 921_600);
  });

  it('a rate that is not among the fallbacks: the modem stays unreachable and says so', async () => {
    await assert.rejects(
      runNode({ model: 'sim7600', transport: 'native', baud: 921_600, size: 4096, sim: { ipr: 115_200 }, modemConfig: { baudFallbacks: [57_600], powerTries: 2 } }),
      (e: unknown) => isOtaError(e, 'modem-unresponsive'),
    );
  });

  it('refuses fallback rates that are no UART rate', () => {
    const port = { attach() {}, read: () => 0, write: (b: Uint8Array) => b.length, readable: 0, setBaud() {}, baud: 115_200, close() {} };
    const ports = { serial: port, clock: { now: () => 0, wallClock: () => undefined, setTimeout: () => 0, clearTimeout() {} }, powerKey: { write() {} } };
    assert.throws(() => new Sim7600(ports, { caCert: new Uint8Array(1), baudFallbacks: [0] }), (e: unknown) => isOtaError(e, 'config-invalid'));
    assert.throws(() => new Sim7600(ports, { caCert: new Uint8Array(1), baudFallbacks: new Array(9).fill(115_200) }), (e: unknown) => isOtaError(e, 'config-invalid'));
  });
});
