/**
 * Which URLs the modems' built-in HTTP stacks can carry (NativeHttp.carries, issue 13): a longer
 * one goes over the modem's socket (NativeHttpClient), never into a command that fails.
 */
import assert from 'node:assert/strict';
import { Sim7080, sim7080ShHttp } from '../../../src/modem/sim7080.js';
import { Sim7600 } from '../../../src/modem/sim7600.js';
import type { NativeHttpClient } from '../../../src/net/modem-http.js';
import { runNode } from '../../../tools/bench/rig.js';
import { refusesUrlLength } from '../../../src/modem/url-refusal.js';
import { OtaError } from '../../../src/util/errors.js';

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
    // AT+HTTPACTION has no PUT on SIM7600 (hawkBit's configData): the socket carries it.
    assert.equal(native.carries!({ method: 'PUT', scheme: 'https', host, port: 443, path: '/configData' }), false);
    for (const method of ['GET', 'POST', 'HEAD'] as const) assert.equal(native.carries!({ method, scheme: 'https', host, port: 443, path: '/configData' }), true, method);
  });

  it('SIM7080 SH*: a 512-byte SHREQ path and a 64-byte SHCONF origin', () => {
    // The SH* client exists only when asked for (Sim7080Options.shHttp; the agent never does).
    const native = new Sim7080(ports, config, { shHttp: sim7080ShHttp() }).native;
    assert.equal(native.carries!({ scheme: 'https', host: 'updates.example.com', port: 443, path: '/' + 'a'.repeat(511) }), true);
    assert.equal(native.carries!({ scheme: 'https', host: 'updates.example.com', port: 443, path: '/' + 'a'.repeat(512) }), false);
    assert.equal(native.carries!({ scheme: 'https', host: 'h'.repeat(57), port: 443, path: '/' }), false, 'origin of 65 bytes');
  });
});

describe('built-in HTTP stacks: a firmware that refuses a URL below the driver\'s limit (issue 13)', function () {
  this.timeout(120_000);
  // A 600-character pre-signed query: within the drivers' limits (SIM7600 1000, SHREQ path 512 is
  // exceeded by SIM7080's path alone, so its query is shorter), above what this firmware takes.
  const cases = [
    { model: 'sim7600' as const, query: `?X-Amz-Signature=${'a'.repeat(600)}`, urlMax: 400, fallback: 'AT+CCHOPEN' },
    { model: 'sim7080' as const, query: `?X-Amz-Signature=${'a'.repeat(400)}`, urlMax: 300, fallback: 'AT+CAOPEN' },
  ];
  for (const c of cases) {
    it(`${c.model}: the URL command answers ERROR; the same download goes over the socket, logged once, remembered for the session`, async () => {
      const logs: { event: string; fields?: Record<string, unknown> }[] = [];
      const log = { log: (_level: string, event: string, fields?: Record<string, unknown>) => void logs.push({ event, fields }) };
      const run = await runNode({ model: c.model, transport: 'native', baud: 115_200, size: 96 * 1024, window: 32 * 1024, query: c.query, sim: { urlMax: c.urlMax }, log: log as never });
      assert.ok(Buffer.from(run.received).equals(Buffer.from(run.image)), 'byte-exact');
      assert.equal(run.wrongWrites, 0);
      assert.deepEqual(run.result.failures, [], 'no attempt lost');
      assert.equal(run.result.resumes, 0);
      const refused = logs.filter((l) => l.event === 'modem.http-url-refused');
      assert.equal(refused.length, 1, JSON.stringify(logs));
      assert.equal(refused[0].fields?.fallback, c.fallback);
      const client = run.client as NativeHttpClient;
      assert.ok((client.socketStats?.requests ?? 0) >= 1, 'the socket carried it');
      // Remembered: the driver no longer claims to carry a URL this long (no second ERROR).
      const url = new URL(`https://updates.example.com/fw/${c.model}-${96 * 1024}-0123abcd.bin${c.query}`); // the rig's path, as long
      assert.equal(run.driver.native.carries!({ scheme: 'https', host: url.hostname, port: 443, path: url.pathname + url.search }), false);
    });
  }

  for (const c of cases) {
    it(`${c.model}: an error to the URL command that does not name the length (+CME ERROR 3, operation not allowed) stands: retried on the built-in client, no limit learnt`, async () => {
      const logs: { event: string; fields?: Record<string, unknown> }[] = [];
      const log = { log: (_level: string, event: string, fields?: Record<string, unknown>) => void logs.push({ event, fields }) };
      const command = c.model === 'sim7600' ? '+HTTPPARA' : '+SHREQ';
      const run = await runNode({ model: c.model, transport: 'native', baud: 115_200, size: 96 * 1024, window: 32 * 1024, query: c.query, faults: () => ({ cmeError: { command, code: 3 } }), log: log as never });
      assert.ok(Buffer.from(run.received).equals(Buffer.from(run.image)), 'byte-exact');
      assert.equal(run.sim.faults.cmeError, undefined, 'the fault fired');
      assert.ok(!logs.some((l) => l.event === 'modem.http-url-refused'), JSON.stringify(logs));
      assert.equal((run.client as NativeHttpClient).socketStats, undefined, 'no request over the socket');
      assert.equal(run.result.failures.length, 1, 'the error counted as the failure it is');
      const url = new URL(`https://updates.example.com/fw/${c.model}-${96 * 1024}-0123abcd.bin${c.query}`);
      assert.equal(run.driver.native.carries!({ scheme: 'https', host: url.hostname, port: 443, path: url.pathname + url.search }), true, 'the limit is unchanged');
    });
  }

  it('which answers name the length: ERROR, +CME ERROR 24/50 (numeric or verbose), only above 256 characters', () => {
    const at = new OtaError('at-error', 'ERROR');
    assert.equal(refusesUrlLength(at, 257), true);
    assert.equal(refusesUrlLength(at, 256), false, 'a short URL refused: something else is wrong');
    for (const detail of ['24', '50', 'text string too long', 'Incorrect parameters']) assert.equal(refusesUrlLength(new OtaError('cme-error', detail), 600), true, detail);
    for (const detail of ['3', 'operation not allowed', '14', 'SIM busy', '30']) assert.equal(refusesUrlLength(new OtaError('cme-error', detail), 600), false, detail);
    assert.equal(refusesUrlLength(new OtaError('link-lost', 'AT'), 600), false);
  });

  it('without a lower firmware limit the same URLs stay on the built-in client (the check can fail)', async () => {
    const logs: string[] = [];
    const run = await runNode({ model: 'sim7600', transport: 'native', baud: 115_200, size: 96 * 1024, window: 32 * 1024, query: cases[0].query, log: { log: (_l: string, event: string) => void logs.push(event) } as never });
    assert.ok(Buffer.from(run.received).equals(Buffer.from(run.image)));
    assert.ok(!logs.includes('modem.http-url-refused'));
    assert.equal((run.client as NativeHttpClient).socketStats, undefined, 'no request over the socket');
  });
});
