/** The bounded JSON helper: same value whatever the chunking, caps hold, statuses map to reasons. */
import assert from 'node:assert/strict';
import { BackendError, JsonHttp, parseRetryAfter, statusError } from '../../../src/backend/json-http.js';
import { OtaError } from '../../../src/util/errors.js';
import { ScriptedHttp } from '../../support/scripted-http.js';

const URL = 'https://h.example/x';
const DOC = { id: '8', text: 'ünïcødé ✓ 𝄞', list: [1, 2.5, null, true], nested: { a: { b: 'c' } } };

describe('JsonHttp', () => {
  it('parses the same value whatever the split (every offset, two chunks; and 1-byte chunks)', async () => {
    const bytes = new TextEncoder().encode(JSON.stringify(DOC));
    for (let cut = 0; cut <= bytes.length; cut++) {
      const http = { request: async (_r: unknown, sink: any) => {
        const head = { status: 200, headers: {}, contentLength: bytes.length };
        sink.onHead(head);
        sink.onData(bytes.slice(0, cut));
        sink.onData(bytes.slice(cut));
        return head;
      } };
      const { value } = await new JsonHttp(http).request({ method: 'GET', url: URL });
      assert.deepEqual(value, DOC, `cut at ${cut}`);
    }
    const http = new ScriptedHttp().on('GET', URL, { status: 200, body: bytes, chunkSize: 1 });
    assert.deepEqual((await new JsonHttp(http).request({ method: 'GET', url: URL })).value, DOC);
  });

  it('reads one body after another, a shorter body after a longer one', async () => {
    const http = new ScriptedHttp().on('GET', URL, { status: 200, body: { long: 'x'.repeat(100) } }).on('GET', URL + '2', { status: 200, body: { s: 1 } });
    const json = new JsonHttp(http, { bodyMax: 256 });
    await json.request({ method: 'GET', url: URL });
    assert.deepEqual((await json.request({ method: 'GET', url: URL + '2' })).value, { s: 1 });
  });

  it('holds exactly bodyMax bytes and refuses one more', async () => {
    const fit = '"' + 'a'.repeat(62) + '"';
    const http = new ScriptedHttp().on('GET', URL, { status: 200, body: fit, noLength: true, chunkSize: 7 });
    assert.equal((await new JsonHttp(http, { bodyMax: 64 }).request({ method: 'GET', url: URL })).value, 'a'.repeat(62));
    http.on('GET', URL, { status: 200, body: fit + ' ', noLength: true, chunkSize: 7 });
    await assert.rejects(new JsonHttp(http, { bodyMax: 64 }).request({ method: 'GET', url: URL }), (e: unknown) => e instanceof OtaError && e.reason === 'body-too-large');
  });

  it('drains and ignores the body of a non-2xx answer, whatever its size', async () => {
    const http = new ScriptedHttp().on('GET', URL, { status: 503, body: 'x'.repeat(100_000), chunkSize: 4096 });
    const response = await new JsonHttp(http).request({ method: 'GET', url: URL });
    assert.equal(response.status, 503);
    assert.equal(response.value, undefined);
  });

  it('runs requests one at a time, in call order', async () => {
    const order: string[] = [];
    const http = { request: async (r: { url: string }, sink: any) => {
      order.push(`start ${r.url}`);
      await new Promise((resolve) => setImmediate(resolve));
      const head = { status: 200, headers: {} };
      sink.onHead(head);
      sink.onData(new TextEncoder().encode('1'));
      order.push(`end ${r.url}`);
      return head;
    } };
    const json = new JsonHttp(http);
    await Promise.all([json.request({ method: 'GET', url: 'https://a/1' }), json.request({ method: 'GET', url: 'https://a/2' })]);
    assert.deepEqual(order, ['start https://a/1', 'end https://a/1', 'start https://a/2', 'end https://a/2']);
  });

  it('builds only what the pattern names, with a body larger than any buffer the reader holds', async () => {
    const body = { id: '8', skip: 'x'.repeat(40_000), deployment: { chunks: [{ version: '1', notes: ['a', 'b'] }, { version: '2' }] } };
    const http = new ScriptedHttp().on('GET', URL, { status: 200, body, chunkSize: 1000 });
    const { value } = await new JsonHttp(http, { bodyMax: 64 * 1024 }).request({ method: 'GET', url: URL }, undefined, { id: true, deployment: { chunks: [{ version: true }] } });
    assert.deepEqual(value, { id: '8', deployment: { chunks: [{ version: '1' }, { version: '2' }] } });
  });

  it('names the URL and the place in the body when it is not JSON', async () => {
    const http = new ScriptedHttp().on('GET', URL, { status: 200, body: '{"a": [1, 2,, 3]}' });
    await assert.rejects(new JsonHttp(http).request({ method: 'GET', url: URL }), (e: unknown) => e instanceof OtaError && e.reason === 'backend-protocol' && /^https:\/\/h\.example\/x: body is not JSON at byte 12 \(\$\.a\[2\]\): expected a value$/.test(e.detail ?? ''));
  });

  it('sends a JSON body with its content type', async () => {
    const http = new ScriptedHttp().on('POST', URL, { status: 204 });
    await new JsonHttp(http).request({ method: 'POST', url: URL }, { a: 'é' });
    assert.equal(http.sent[0].headers?.['content-type'], 'application/json');
    assert.deepEqual(http.sent[0].json, { a: 'é' });
  });

  it('maps statuses to reasons', () => {
    const map = (status: number, headers: Record<string, string> = {}) => statusError({ status, headers }, 'x');
    assert.equal(map(500).reason, 'backend-unavailable');
    assert.equal(map(408).reason, 'backend-unavailable');
    assert.equal(map(429, { 'retry-after': '5' }).retryAfterS, 5);
    assert.equal(map(410).reason, 'backend-gone');
    assert.equal(map(401).reason, 'backend-rejected');
    assert.equal(map(404).reason, 'backend-rejected');
    assert.equal(map(302).reason, 'http-status');
    assert.ok(map(503) instanceof BackendError && map(503) instanceof OtaError);
  });

  it('parses Retry-After delta-seconds only, clamped', () => {
    assert.equal(parseRetryAfter('120'), 120);
    assert.equal(parseRetryAfter(' 0 '), 0);
    assert.equal(parseRetryAfter('Fri, 31 Dec 1999 23:59:59 GMT'), undefined);
    assert.equal(parseRetryAfter('-1'), undefined);
    assert.equal(parseRetryAfter('1e3'), undefined);
    assert.equal(parseRetryAfter('999999999'), 86400);
    assert.equal(parseRetryAfter(undefined), undefined);
  });
});
