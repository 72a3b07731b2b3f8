/**
 * The SIM7080's SH* HTTP client is built only when asked (Sim7080Options.shHttp): the agent never
 * uses it on a SIM7080, so a firmware carries none of its code (test/unit/moddable/bundles.spec.ts).
 * Without it, `native` refuses each request before a byte goes to the modem; with it, it is the
 * SH* client (the transcript and download specs run it against the modem side).
 */
import assert from 'node:assert/strict';
import { Sim7080, sim7080ShHttp } from '../../../src/modem/sim7080.js';
import { isOtaError } from '../../../src/util/errors.js';
import { SimUart } from '../../../tools/devkit/parts/sim-uart.js';
import { VirtualTime } from '../../../tools/devkit/parts/virtual-time.js';

const CA = new TextEncoder().encode('-----BEGIN CERTIFICATE-----\n');
const REQUEST = { method: 'GET', scheme: 'https', host: 'updates.example.com', port: 443, path: '/a.bin', headers: [], timeoutMs: 1_000 } as const;

function modem(options: ConstructorParameters<typeof Sim7080>[2]) {
  const time = new VirtualTime();
  const uart = new SimUart(time);
  return { uart, modem: new Sim7080({ serial: uart.device, clock: time.clockPort(), powerKey: { write: () => undefined } }, { caCert: CA }, options) };
}

describe('modem/sim7080 SH* HTTP client: built only when asked (Sim7080Options.shHttp)', () => {
  it('without shHttp, native refuses request and read with invalid-argument, sending nothing', async () => {
    const { uart, modem: m } = modem({});
    await assert.rejects(m.native.request({ ...REQUEST, headers: [] }), (e: unknown) => isOtaError(e, 'invalid-argument') && /no SH\* HTTP client/.test((e as Error).message));
    await assert.rejects(m.native.read(0, 10, () => undefined), (e: unknown) => isOtaError(e, 'invalid-argument'));
    assert.equal(uart.counters.toModemBytes, 0);
  });

  it('with sim7080ShHttp, native is the SH* client with the window asked (default 32 KiB)', () => {
    assert.equal(modem({ shHttp: sim7080ShHttp({ window: 2048 }) }).modem.native.windowMax, 2048);
    const sh = modem({ shHttp: sim7080ShHttp() }).modem.native;
    assert.equal(sh.constructor.name, 'Sim7080Http');
    assert.equal(sh.windowMax, 32_768);
  });
});
