/**
 * SIM7600 CCH sessions across an MCU reset: the modem keeps running when the MCU resets (an
 * update's reboot), so the session the previous boot left open is still open, and AT+CCHOPEN on
 * it answers ERROR. The driver closes it and opens again at once (issue 15: the failed open cost
 * the health check's poll a retry 6 s later on every update).
 */
import assert from 'node:assert/strict';
import { Sim7600 } from '../../../src/modem/sim7600.js';
import { buildRig, RIG_CA } from '../../../tools/bench/rig.js';

describe('SIM7600: a CCH session left open by the previous boot', function () {
  this.timeout(120_000);

  it('is closed and opened again on the first open of the next boot, not failed', async () => {
    const rig = await buildRig({ model: 'sim7600', transport: 'socket', baud: 115_200, size: 4096 });
    try {
      const ports = { serial: rig.uart.device, clock: rig.time.clockPort(), powerKey: rig.sim.powerKey };
      const config = { caCert: RIG_CA, registrationPollMs: 1_000 };
      const host = new URL(rig.url).hostname;
      const before = new Sim7600(ports, config);
      await rig.time.runFor(before.ready(), { untilMs: 300_000 });
      await rig.time.runFor(before.openSocket(host, 443, true), { untilMs: 300_000 });
      before.at.close();
      // The MCU resets; the modem does not: a new driver meets session 0 still open.
      const after = new Sim7600(ports, config);
      const opened = rig.time.runFor(
        after.ready().then(() => after.openSocket(host, 443, true)),
        { untilMs: 300_000 },
      );
      const socket = await opened;
      assert.equal(socket.closed, false);
      assert.ok(after.at.stats.commands > 0);
      await rig.time.runFor(socket.close(), { untilMs: 300_000 });
    } finally {
      await rig.close();
    }
  });
});
