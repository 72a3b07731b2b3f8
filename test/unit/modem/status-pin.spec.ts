/**
 * The modem's STATUS output on a GPIO input (Platform.modemStatus, issue 15): a board that wires
 * it tells an off modem from a silent one without probing. Off: the power key at once, no AT
 * before it; on: no power key at all; no pin: the AT probe at every rate first, as before.
 * The agent's driver against the simulated modem and UART, in virtual time.
 */
import assert from 'node:assert/strict';
import { Sim7080 } from '../../../src/modem/sim7080.js';
import { Sim7600 } from '../../../src/modem/sim7600.js';
import type { DigitalIn } from '../../../src/platform/serial.js';
import { buildRig, RIG_CA } from '../../../tools/bench/rig.js';

interface BringUp {
  /** Virtual ms of the first PWRKEY press (undefined: never pressed). */
  firstPressMs: number | undefined;
  presses: number;
  /** Command lines the modem had executed when the key was first pressed. */
  commandsBeforePress: number;
  statusReads: number;
  readyMs: number;
}

async function bringUp(model: 'sim7080' | 'sim7600', wired: boolean, poweredOn = false): Promise<BringUp> {
  const rig = await buildRig({ model, transport: 'socket', baud: 115_200, size: 4096, sim: { poweredOn } });
  try {
    const { time, uart, sim } = rig;
    const out: BringUp = { firstPressMs: undefined, presses: 0, commandsBeforePress: 0, statusReads: 0, readyMs: 0 };
    const powerKey = {
      write(value: 0 | 1) {
        if (value === 1) {
          out.presses++;
          if (out.firstPressMs === undefined) {
            out.firstPressMs = time.now();
            out.commandsBeforePress = sim.snapshot().commands;
          }
        }
        sim.powerKey.write(value);
      },
    };
    const status: DigitalIn = {
      read: () => {
        out.statusReads++;
        return sim.status.read();
      },
    };
    const ports = { serial: uart.device, clock: time.clockPort(), powerKey, ...(wired ? { status } : {}) };
    const config = { caCert: RIG_CA, registrationPollMs: 1_000 };
    const modem = model === 'sim7080' ? new Sim7080(ports, config) : new Sim7600(ports, config);
    await time.runFor(modem.ready(), { untilMs: 300_000 });
    out.readyMs = time.now();
    return out;
  } finally {
    await rig.close();
  }
}

describe('modem STATUS pin: an off modem gets the power key without the AT probe', function () {
  this.timeout(120_000);

  for (const model of ['sim7080', 'sim7600'] as const) {
    it(`${model} off, STATUS wired: the key is pressed at once, no AT before it, and the modem comes up sooner than with the probe`, async () => {
      const pin = await bringUp(model, true);
      const probe = await bringUp(model, false);
      assert.equal(pin.presses, 1, 'one power-on');
      assert.equal(pin.commandsBeforePress, 0, 'no command line reached the modem before the key');
      assert.ok(pin.firstPressMs! < 100, `pressed at ${pin.firstPressMs} ms`);
      assert.ok(pin.statusReads >= 1);
      // The control case: without the pin the driver probes every rate first (seconds).
      assert.ok(probe.firstPressMs! > 5_000, `probe: pressed at ${probe.firstPressMs} ms`);
      assert.equal(probe.presses, 1);
      assert.ok(pin.readyMs < probe.readyMs - 5_000, `ready at ${pin.readyMs} ms with the pin, ${probe.readyMs} ms without`);
    });
  }

  it('modem already on, STATUS wired (reads 1): it is probed with AT and never gets the key (a press would switch it off)', async () => {
    const on = await bringUp('sim7080', true, true);
    assert.equal(on.presses, 0);
    assert.ok(on.statusReads >= 1);
  });
});
