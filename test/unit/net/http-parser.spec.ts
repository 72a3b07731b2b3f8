/**
 * HTTP/1.1 response parser (src/net/http-parser.ts) and the Range checks (src/net/http-common.ts):
 * responses as RFC 9112/9110 frame them, each split at every offset, plus limits and errors.
 */
import assert from 'node:assert/strict';
import { HttpResponseParser, parseContentRange } from '../../../src/net/http-parser.js';
import { checkRange, parseUrl, requestHead, requestHeaders } from '../../../src/net/http-common.js';
import type { HttpResponseHead } from '../../../src/net/http.js';
import { LIMITS } from '../../../src/net/limits.js';
import { isOtaError } from '../../../src/util/errors.js';

const enc = (s: string) => new Uint8Array([...s].map((c) => c.charCodeAt(0)));
const dec = (b: number[]) => String.fromCharCode(...b);

function parse(chunks: Uint8Array[], close = false): { head?: HttpResponseHead; body: string; done: boolean } {
  const body: number[] = [];
  let head: HttpResponseHead | undefined;
  const p = new HttpResponseParser({ onHead: (h) => (head = h), onBody: (c) => void body.push(...c) });
  for (const c of chunks) p.push(c);
  if (close) p.finish();
  return { head, body: dec(body), done: p.done };
}

function everySplit(text: string, check: (r: ReturnType<typeof parse>) => void, close = false): void {
  const bytes = enc(text);
  for (let i = 0; i <= bytes.length; i++) check(parse([bytes.subarray(0, i), bytes.subarray(i)], close));
  check(parse([...bytes].map((b) => new Uint8Array([b])), close));
}

describe('net/http-parser HttpResponseParser', () => {
  it('parses a 206 with Content-Range and Content-Length (RFC 9110 §15.3.7)', () => {
    const body = 'HTTP/1.1 200 OK\r\n\r\nOK';
    const text = `HTTP/1.1 206 Partial Content\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 2048-${2048 + body.length - 1}/3000\r\nContent-Length: ${body.length}\r\nETag: "v1"\r\n\r\n${body}`;
    everySplit(text, (r) => {
      assert.equal(r.head?.status, 206);
      assert.deepEqual(r.head?.range, { start: 2048, end: 2048 + body.length - 1, total: 3000 });
      assert.equal(r.head?.headers.etag, '"v1"');
      assert.equal(r.body, body);
      assert.ok(r.done);
    });
  });

  it('decodes chunked transfer coding with extensions and trailers (RFC 9112 §7.1)', () => {
    const text = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: 1\r\n\r\n';
    everySplit(text, (r) => {
      assert.equal(r.body, 'helloabcdefghijklmnopqrstuvwxyz');
      assert.ok(r.done);
    });
  });

  it('reads a body without length until the connection closes (RFC 9112 §6.3)', () => {
    everySplit('HTTP/1.1 200 OK\r\n\r\nabc\r\n', (r) => assert.equal(r.body, 'abc\r\n'), true);
  });

  it('reports a body cut short as body-truncated', () => {
    const p = new HttpResponseParser({ onHead: () => undefined, onBody: () => undefined });
    p.push(enc('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
    assert.throws(() => p.finish(), (e: unknown) => isOtaError(e, 'body-truncated'));
  });

  it('rejects a malformed status line, chunk size, or conflicting Content-Length', () => {
    const bad = (t: string, reason: string) =>
      assert.throws(() => parse([enc(t)]), (e: unknown) => isOtaError(e) && e.reason === reason, t);
    bad('HTTP/2 200 OK\r\n\r\n', 'http-malformed');
    bad('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 'http-malformed');
    bad('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n', 'http-malformed');
    bad('HTTP/1.1 206 Partial\r\nContent-Length: 3\r\n\r\n', 'range-mismatch');
    bad('HTTP/1.1 206 Partial\r\nContent-Range: bytes 0-9/10\r\nContent-Length: 3\r\n\r\n', 'range-mismatch');
  });

  it('caps header count and skips a long unkept header line; a long kept validator is dropped', () => {
    const many = 'HTTP/1.1 200 OK\r\n' + 'X-A: 1\r\n'.repeat(LIMITS.httpHeaderCountMax + 1) + '\r\n';
    assert.throws(() => parse([enc(many)]), (e: unknown) => isOtaError(e, 'header-too-long'));
    const longCookie = `HTTP/1.1 200 OK\r\nSet-Cookie: ${'c'.repeat(LIMITS.httpLineMax * 2)}\r\nETag: "${'e'.repeat(LIMITS.httpHeaderValueMax)}"\r\nContent-Length: 1\r\n\r\nZ`;
    const r = parse([enc(longCookie)]);
    assert.equal(r.body, 'Z');
    assert.equal(r.head?.headers.etag, undefined, 'a truncated validator is never kept');
  });

  it('parses Content-Range forms (RFC 9110 §14.4)', () => {
    assert.deepEqual(parseContentRange('bytes 0-9/10'), { start: 0, end: 9, total: 10 });
    assert.deepEqual(parseContentRange('bytes 5-9/*'), { start: 5, end: 9 });
    assert.deepEqual(parseContentRange('bytes */10'), { start: -1, end: -1, total: 10 });
    assert.equal(parseContentRange('bytes 9-5/10'), undefined);
    assert.equal(parseContentRange('bytes 0-10/10'), undefined);
    assert.equal(parseContentRange('items 0-1/2'), undefined);
  });
});

describe('net/http-common', () => {
  it('checks a 206 against the requested offset, passes a 200 (start over), and raises 416', () => {
    const req = { method: 'GET' as const, url: 'https://h/x', range: { start: 100, end: 199 } };
    checkRange(req, { status: 206, headers: {}, range: { start: 100, end: 199 } });
    checkRange(req, { status: 200, headers: {}, range: { start: 0, end: 999 } });
    assert.throws(() => checkRange(req, { status: 206, headers: {}, range: { start: 0, end: 99 } }), (e: unknown) => isOtaError(e, 'range-mismatch'));
    assert.throws(() => checkRange(req, { status: 206, headers: {}, range: { start: 100, end: 300 } }), (e: unknown) => isOtaError(e, 'range-mismatch'));
    assert.throws(() => checkRange(req, { status: 416, headers: {} }), (e: unknown) => isOtaError(e, 'range-not-satisfiable'));
  });

  it('builds the request head with Range and If-Range', () => {
    const req = { method: 'GET' as const, url: 'https://updates.example.com:8443/fw/a.bin?x=1', range: { start: 2048, ifRange: '"v1"' } };
    const url = parseUrl(req.url);
    assert.deepEqual(url, { scheme: 'https', host: 'updates.example.com', port: 8443, path: '/fw/a.bin?x=1' });
    assert.equal(
      dec([...requestHead(req, url, requestHeaders(req))]),
      'GET /fw/a.bin?x=1 HTTP/1.1\r\nHost: updates.example.com:8443\r\nRange: bytes=2048-\r\nIf-Range: "v1"\r\nConnection: close\r\n\r\n',
    );
    assert.throws(() => requestHeaders({ method: 'GET', url: 'http://h/', headers: { 'X-Bad': 'a\r\nb' } }), (e: unknown) => isOtaError(e, 'invalid-argument'));
    assert.throws(() => parseUrl('ftp://h/'), (e: unknown) => isOtaError(e, 'invalid-argument'));
  });
});
