/**
 * Which URLs the modems' built-in HTTP stacks can carry (NativeHttp.carries, issue 13): a longer
 * one goes over the modem's socket (NativeHttpClient), never into a command that fails.
 */
import assert from 'node:assert/strict';
import { Sim7080, sim7080ShHttp } from '../../../src/modem/sim7080.js';
import { Sim7600 } from '../../../src/modem/sim7600.js';

const port = { attach() {}, read: () => 0, write: (b: Uint8Array) => b.length, readable: 0, setBaud() {}, baud: 115_200, close() {} };
const ports = { serial: port, clock: { now: () => 0, wallClock: () => undefined, setTimeout: () => 0, clearTimeout() {} }, powerKey: { write() {} } };
const config = { caCert: new Uint8Array(1) };

describe('built-in HTTP stacks: the URLs their commands carry', () => {
  it('SIM7600 AT+HTTPPARA="URL": up to 1000 characters, the default port left out of the count', () => {
    const native = new Sim7600(ports, config).native;
    const host = 'objects.example.com';
    const prefix = `https://${host}`.length;
    assert.equal(native.carries!({ scheme: 'https', host, port: 443, path: '/' + 'a'.repeat(1000 - prefix - 1) }), true);
    assert.equal(native.carries!({ scheme: 'https', host, port: 443, path: '/' + 'a'.repeat(1000 - prefix) }), false);
    assert.equal(native.carries!({ scheme: 'https', host, port: 8443, path: '/' + 'a'.repeat(1000 - prefix - 1) }), false, ':8443 counts');
    assert.equal(native.carries!({ scheme: 'https', host, port: 443, path: '/' + 'a'.repeat(1300) }), false, 'a 1.3 KiB pre-signed link');
  });

  it('SIM7080 SH*: a 512-byte SHREQ path and a 64-byte SHCONF origin', () => {
    // The SH* client exists only when asked for (Sim7080Options.shHttp; the agent never does).
    const native = new Sim7080(ports, config, { shHttp: sim7080ShHttp() }).native;
    assert.equal(native.carries!({ scheme: 'https', host: 'updates.example.com', port: 443, path: '/' + 'a'.repeat(511) }), true);
    assert.equal(native.carries!({ scheme: 'https', host: 'updates.example.com', port: 443, path: '/' + 'a'.repeat(512) }), false);
    assert.equal(native.carries!({ scheme: 'https', host: 'h'.repeat(57), port: 443, path: '/' }), false, 'origin of 65 bytes');
  });
});
