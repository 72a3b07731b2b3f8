/**
 * Redirects (src/net/redirect.ts) over a scripted client: which statuses are followed, how far,
 * how Location resolves, where credentials go, and how a kept Location serves a resume only while
 * it answers.
 */
import assert from 'node:assert/strict';
import { LIMITS } from '../../../src/net/limits.js';
import { checkRedirectUrl, originOf, RedirectingHttpClient, resolveLocation } from '../../../src/net/redirect.js';
import { OtaError } from '../../../src/util/errors.js';
import { ScriptedHttp } from '../../support/scripted-http.js';

const A = 'https://hawkbit.example/DEFAULT/controller/v1/dev42/softwaremodules/1/artifacts/app.bin';
const S3 = 'https://objects.example.com/bucket/app.bin?X-Amz-Signature=abc&X-Amz-Security-Token=' + 't'.repeat(1340);

async function get(http: RedirectingHttpClient, url: string, extra: object = {}): Promise<{ status: number; body: string }> {
  let body = '';
  const head = await http.request({ method: 'GET', url, ...extra }, { onData: (c) => void (body += new TextDecoder().decode(c)) });
  return { status: head.status, body };
}

function rejectsWith(promise: Promise<unknown>, reason: string): Promise<void> {
  return assert.rejects(promise, (e: unknown) => e instanceof OtaError && e.reason === reason);
}

describe('redirects (src/net/redirect.ts)', () => {
  it('resolves every form of Location (RFC 3986 §5.2)', () => {
    const base = 'https://h.example:8443/a/b/c?x=1';
    assert.equal(resolveLocation(base, 'https://o.example/p?q'), 'https://o.example/p?q');
    assert.equal(resolveLocation(base, '//cdn.example/p'), 'https://cdn.example/p');
    assert.equal(resolveLocation(base, '/DEFAULT/x?y=2'), 'https://h.example:8443/DEFAULT/x?y=2');
    assert.equal(resolveLocation(base, 'd'), 'https://h.example:8443/a/b/d');
    assert.equal(resolveLocation(base, '../d/./e'), 'https://h.example:8443/a/d/e');
    assert.equal(resolveLocation(base, '../../../../d'), 'https://h.example:8443/d');
    assert.equal(resolveLocation(base, '?z=3'), 'https://h.example:8443/a/b/c?z=3');
    assert.equal(resolveLocation(base, '/p#frag'), 'https://h.example:8443/p');
  });

  it('refuses a Location that is not an http(s) URL of printable ASCII within the limit', () => {
    for (const bad of ['ftp://h.example/a.bin', 'file:///etc/passwd', 'https://h.example/a"b', 'https://h.example/a b', 'https://h.example/' + 'a'.repeat(2100)]) {
      assert.throws(() => checkRedirectUrl(bad, 2048), (e: unknown) => e instanceof OtaError && e.reason === 'redirect-invalid', bad.slice(0, 40));
    }
    assert.equal(checkRedirectUrl(S3, 2048), S3);
  });

  it('origins: lower case, default ports dropped, user info ignored', () => {
    assert.equal(originOf('HTTPS://Hawkbit.Example:443/x'), 'https://hawkbit.example');
    assert.equal(originOf('http://h.example:80'), 'http://h.example');
    assert.equal(originOf('https://u:p@h.example:8443/x'), 'https://h.example:8443');
  });

  for (const status of [301, 302, 303, 307, 308]) {
    it(`follows ${status} (absolute Location on another host) and hands only the final answer to the sink`, async () => {
      const inner = new ScriptedHttp().on('GET', A, { status, headers: { Location: S3 }, body: 'moved' }).on('GET', S3, { status: 200, body: 'IMAGE' });
      const http = new RedirectingHttpClient(inner);
      assert.deepEqual(await get(http, A), { status: 200, body: 'IMAGE' });
      assert.equal(http.stats.followed, 1);
    });
  }

  it('303 turns a POST into a GET without body; 307 and 308 keep method and body', async () => {
    const feedback = 'https://h.example/fb';
    const inner = new ScriptedHttp()
      .on('POST', feedback, { status: 303, headers: { location: '/done' } })
      .on('GET', 'https://h.example/done', { status: 200 })
      .on('POST', 'https://h.example/fb2', { status: 307, headers: { location: '/fb3' } })
      .on('POST', 'https://h.example/fb3', { status: 200 });
    const http = new RedirectingHttpClient(inner);
    const body = new TextEncoder().encode('{"a":1}');
    await http.request({ method: 'POST', url: feedback, body }, { onData: () => undefined });
    assert.equal(inner.sent[1].method, 'GET');
    assert.equal(inner.sent[1].body, undefined);
    await http.request({ method: 'POST', url: 'https://h.example/fb2', body }, { onData: () => undefined });
    assert.equal(inner.sent[3].method, 'POST');
    assert.deepEqual(inner.sent[3].json, { a: 1 });
  });

  it('follows at most maxRedirects (5): the sixth is too-many-redirects; a loop ends the same way', async () => {
    const inner = new ScriptedHttp();
    for (let i = 0; i < 6; i++) inner.on('GET', `https://h.example/${i}`, { status: 302, headers: { location: `/${i + 1}` } });
    inner.on('GET', 'https://h.example/5', { status: 200, body: 'ok' });
    assert.equal((await get(new RedirectingHttpClient(inner), 'https://h.example/0')).body, 'ok');
    inner.on('GET', 'https://h.example/5', { status: 302, headers: { location: '/6' } });
    inner.on('GET', 'https://h.example/6', { status: 200, body: 'ok' });
    await rejectsWith(get(new RedirectingHttpClient(inner), 'https://h.example/0'), 'too-many-redirects');
    const loop = new ScriptedHttp().on('GET', 'https://h.example/l', { status: 301, headers: { location: '/l' } });
    await rejectsWith(get(new RedirectingHttpClient(loop), 'https://h.example/l'), 'too-many-redirects');
  });

  it('maxRedirects 0: the redirect is the answer; a redirect without Location is redirect-invalid', async () => {
    const inner = new ScriptedHttp().on('GET', A, { status: 302, headers: { location: S3 } }).on('GET', 'https://h.example/x', { status: 302 });
    assert.equal((await get(new RedirectingHttpClient(inner, { maxRedirects: 0 }), A)).status, 302);
    await rejectsWith(get(new RedirectingHttpClient(inner), 'https://h.example/x'), 'redirect-invalid');
  });

  it('credentials stay at the origin the request started at, unless that origin is configured', async () => {
    const inner = new ScriptedHttp()
      .on('GET', A, { status: 302, headers: { location: S3 } })
      .on('GET', S3, { status: 200 })
      .on('GET', 'https://hawkbit.example/moved', { status: 308, headers: { location: '/DEFAULT/x' } })
      .on('GET', 'https://hawkbit.example/DEFAULT/x', { status: 200 });
    const headers = { Authorization: 'TargetToken s3cret', accept: '*/*' };
    await get(new RedirectingHttpClient(inner), A, { headers });
    assert.equal(inner.sent[1].headers?.Authorization, undefined, 'not to the object store');
    assert.equal(inner.sent[1].headers?.accept, '*/*');
    await get(new RedirectingHttpClient(inner), 'https://hawkbit.example/moved', { headers });
    assert.equal(inner.sent[3].headers?.Authorization, 'TargetToken s3cret', 'same origin: kept');
    await get(new RedirectingHttpClient(inner, { credentialOrigins: ['https://objects.example.com'] }), A, { headers });
    assert.equal(inner.sent[5].headers?.Authorization, 'TargetToken s3cret', 'a configured origin gets them');
  });

  it('a resume goes to the kept Location while it answers; 403/404/410 there re-resolve from the original', async () => {
    let signature = 1;
    const signed = () => `https://objects.example.com/app.bin?sig=${signature}`;
    const inner = new ScriptedHttp().on('GET', A, () => ({ status: 302, headers: { location: signed() } })).on('GET', signed(), { status: 200, body: 'IMAGE' });
    const http = new RedirectingHttpClient(inner);
    await get(http, A);
    assert.equal(http.keptLocation(A), signed());
    inner.on('GET', signed(), (r) => ({ status: 206, headers: { 'content-range': `bytes ${r.range!.start}-4/5` }, body: 'GE' }));
    assert.deepEqual(await get(http, A, { range: { start: 3 } }), { status: 206, body: 'GE' });
    assert.equal(inner.sent.at(-1)!.url, signed(), 'straight to the kept URL');
    assert.equal(inner.sent.at(-1)!.range?.start, 3, 'with its Range');
    for (const stale of [403, 404, 410]) {
      inner.on('GET', signed(), { status: stale, body: 'expired' });
      signature++;
      inner.on('GET', signed(), { status: 200, body: 'IMAGE' });
      assert.deepEqual(await get(http, A, { range: { start: 3 } }), { status: 200, body: 'IMAGE' });
      assert.equal(http.keptLocation(A), signed(), `after ${stale}: the fresh Location is kept`);
    }
    assert.equal(http.stats.keptStale, 3);
  });

  it('a Location of 1.4 KiB passes the parser and the socket client limits', () => {
    assert.ok(S3.length > 1300 && S3.length <= LIMITS.httpLocationMax && 'Location: '.length + S3.length <= LIMITS.httpLineMax);
  });
});
