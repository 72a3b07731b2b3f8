/**
 * Registration polling (issue 15): the driver asks `AT+CEREG?` every 500 ms by default while the
 * network has not registered the modem, so the registration is seen at most about 500 ms late
 * (at 2 s it averaged 1 s of every bring-up). The agent's driver against the simulated modem and
 * UART, in virtual time; every registration query the host writes is timestamped (a round of
 * them, SIM7600's CEREG and CREG, counts once).
 */
import assert from 'node:assert/strict';
import { Sim7080 } from '../../../src/modem/sim7080.js';
import { Sim7600 } from '../../../src/modem/sim7600.js';
import type { SerialPort } from '../../../src/platform/serial.js';
import { buildRig, RIG_CA } from '../../../tools/bench/rig.js';

/** A command's round trip at 115200 baud and the simulated modem's think time stay below this. */
const ROUND_TRIP_SLACK_MS = 60;
/** What the drivers ask while waiting (Modem.registrationQueries). */
const REGISTRATION_QUERIES = ['AT+CEREG?', 'AT+CREG?', 'AT+CGREG?'];

interface Poll {
  at: number;
  registered: boolean;
}

async function registrationPolls(model: 'sim7080' | 'sim7600', registrationPollMs: number | undefined): Promise<Poll[]> {
  const rig = await buildRig({ model, transport: 'socket', baud: 115_200, size: 4096, sim: { poweredOn: false } });
  try {
    const { time, uart, sim } = rig;
    const polls: Poll[] = [];
    const device = uart.device;
    const decoder = new TextDecoder();
    let line = '';
    const serial: SerialPort = {
      attach: (events) => device.attach(events),
      read: (into) => device.read(into),
      write: (bytes) => {
        const n = device.write(bytes);
        line += decoder.decode(bytes.subarray(0, n));
        for (let cr = line.indexOf('\r'); cr >= 0; cr = line.indexOf('\r')) {
          if (REGISTRATION_QUERIES.includes(line.slice(0, cr).trim())) {
            // One poll round may ask more than one (SIM7600: AT+CREG? too): count rounds.
            const last = polls[polls.length - 1];
            if (last && time.now() - last.at < ROUND_TRIP_SLACK_MS) last.registered ||= sim.registered;
            else polls.push({ at: time.now(), registered: sim.registered });
          }
          line = line.slice(cr + 1);
        }
        return n;
      },
      get readable() {
        return device.readable;
      },
      setBaud: (baud) => device.setBaud(baud),
      get baud() {
        return device.baud;
      },
      close: () => device.close(),
    };
    const ports = { serial, clock: time.clockPort(), powerKey: sim.powerKey };
    const config = { caCert: RIG_CA, ...(registrationPollMs === undefined ? {} : { registrationPollMs }) };
    const modem = model === 'sim7080' ? new Sim7080(ports, config) : new Sim7600(ports, config);
    await time.runFor(modem.ready(), { untilMs: 300_000 });
    return polls;
  } finally {
    await rig.close();
  }
}

describe('modem registration polling: AT+CEREG? every 500 ms by default', function () {
  this.timeout(120_000);

  for (const model of ['sim7080', 'sim7600'] as const) {
    it(`${model}: queries 500 ms apart while unregistered, so the registration is seen within about 500 ms`, async () => {
      const polls = await registrationPolls(model, undefined);
      const waiting = polls.filter((p) => !p.registered);
      assert.ok(waiting.length >= 3, `${waiting.length} queries before the network registered the modem`);
      const seen = polls.findIndex((p) => p.registered);
      assert.ok(seen > 0, 'the registration was seen by a query');
      const gaps = polls.slice(1, seen + 1).map((p, i) => p.at - polls[i]!.at);
      for (const gap of gaps) assert.ok(gap >= 500 && gap <= 500 + ROUND_TRIP_SLACK_MS, `gaps ${gaps.join(', ')} ms`);
      // The query that saw it followed the last unregistered one by one interval: the
      // registration happened inside that interval.
      assert.ok(polls[seen]!.at - polls[seen - 1]!.at <= 500 + ROUND_TRIP_SLACK_MS);
    });
  }

  it('the interval is the setting: at 2 s the same wait makes a quarter of the queries', async () => {
    const fast = (await registrationPolls('sim7080', undefined)).filter((p) => !p.registered).length;
    const slow = (await registrationPolls('sim7080', 2_000)).filter((p) => !p.registered).length;
    assert.ok(slow * 3 < fast, `${slow} queries at 2 s, ${fast} at 500 ms`);
  });
});
