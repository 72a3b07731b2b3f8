/**
 * Resumable download (src/net/download.ts) over an in-memory HttpClient that behaves as RFC 9110
 * servers do (Range, If-Range, 416) and fails on demand: resume where it stopped, start over only
 * when the server forces it, bounded retries.
 */
import assert from 'node:assert/strict';
import { download, resumeOffset } from '../../../src/net/download.js';
import type { HttpBodySink, HttpClient, HttpRequest, HttpResponseHead } from '../../../src/net/http.js';
import { checkRange } from '../../../src/net/http-common.js';
import { HttpStatusError } from '../../../src/net/http-status.js';
import { OtaError, isOtaError } from '../../../src/util/errors.js';
import { VirtualTime } from '../../../tools/devkit/parts/virtual-time.js';

class MemoryServer implements HttpClient {
  requests: HttpRequest[] = [];
  /** Per request: throw after delivering this many body bytes. */
  failAfter: (number | undefined)[] = [];
  etag = '"v1"';
  ignoreRange = false;
  constructor(public body: Uint8Array) {}

  async request(req: HttpRequest, sink: HttpBodySink): Promise<HttpResponseHead> {
    const n = this.requests.push(req);
    const size = this.body.length;
    const r = req.range;
    let head: HttpResponseHead;
    let start = 0;
    let end = size - 1;
    if (r && !this.ignoreRange && (r.ifRange === undefined || r.ifRange === this.etag)) {
      if (r.start >= size) {
        head = { status: 416, headers: {}, range: { start: -1, end: -1, total: size } };
        checkRange(req, head);
      }
      start = r.start;
      end = Math.min(r.end ?? size - 1, size - 1);
      head = { status: 206, headers: { etag: this.etag }, contentLength: end - start + 1, range: { start, end, total: size } };
    } else {
      head = { status: 200, headers: { etag: this.etag }, contentLength: size, range: { start: 0, end: size - 1, total: size } };
    }
    checkRange(req, head!);
    sink.onHead?.(head!);
    const fail = this.failAfter[n - 1];
    for (let o = start; o <= end; o += 1000) {
      const piece = this.body.subarray(o, Math.min(end + 1, o + 1000));
      if (fail !== undefined && o - start + piece.length > fail) {
        await sink.onData(piece.subarray(0, Math.max(0, fail - (o - start))));
        throw new OtaError('link-lost', 'test drop');
      }
      await sink.onData(piece);
    }
    return head!;
  }
}

function image(n: number): Uint8Array {
  return new Uint8Array(n).map((_, i) => (i * 7 + (i >> 8)) & 0xff);
}

async function run(server: MemoryServer, extra: Partial<Parameters<typeof download>[0]> = {}) {
  const time = new VirtualTime();
  const got = new Uint8Array(server.body.length);
  const writes: number[] = [];
  const restarts: string[] = [];
  const progress: number[] = [];
  const result = await time.runFor(
    download({
      client: server,
      clock: time.clockPort(),
      identity: { url: 'https://h/fw.bin', size: server.body.length },
      sink: {
        write: (o, c) => {
          writes.push(o);
          got.set(c, o);
        },
        restart: (why) => {
          restarts.push(why);
        },
      },
      onProgress: (s) => {
        progress.push(s.offset);
      },
      ...extra,
    }),
  );
  return { result, got, writes, restarts, progress };
}

describe('net/download', () => {
  it('fetches the whole image with one request naming its last byte', async () => {
    const server = new MemoryServer(image(50_000));
    const { result, got } = await run(server);
    assert.deepEqual(got, server.body);
    assert.equal(result.requests, 1);
    assert.deepEqual(server.requests[0].range, { start: 0, end: 49_999 });
  });

  it('asks in segments of requestBytes, each resuming with If-Range', async () => {
    const server = new MemoryServer(image(50_000));
    const { result, got } = await run(server, { requestBytes: 20_000 });
    assert.deepEqual(got, server.body);
    assert.equal(result.requests, 3);
    assert.deepEqual(server.requests.map((r) => r.range), [{ start: 0, end: 19_999 }, { start: 20_000, end: 39_999, ifRange: '"v1"' }, { start: 40_000, end: 49_999, ifRange: '"v1"' }]);
  });

  it('a noise line mid-body (at-garbled) resumes at the next byte, as a link loss does', async () => {
    const server = new MemoryServer(image(30_000));
    const request = server.request.bind(server);
    let calls = 0;
    server.request = async (req, sink) => {
      if (++calls > 1) return request(req, sink);
      server.requests.push(req);
      sink.onHead?.({ status: 200, headers: { etag: server.etag }, contentLength: 30_000, range: { start: 0, end: 29_999, total: 30_000 } });
      await sink.onData(server.body.subarray(0, 7_000));
      throw new OtaError('at-garbled', 'unexpected line during AT+SHREAD');
    };
    const { result, got, restarts } = await run(server);
    assert.deepEqual(got, server.body);
    assert.deepEqual(restarts, []);
    assert.deepEqual(result.failures, ['at-garbled']);
    assert.deepEqual(server.requests[1].range, { start: 7_000, end: 29_999, ifRange: '"v1"' });
  });

  it('a 503 is an HttpStatusError read by the retry policy: Retry-After is honoured', async () => {
    const server = new MemoryServer(image(5_000));
    const request = server.request.bind(server);
    let calls = 0;
    const time = new VirtualTime();
    const seen: number[] = [];
    server.request = async (req, sink) => {
      seen.push(time.now());
      if (++calls > 1) return request(req, sink);
      sink.onHead?.({ status: 503, headers: { 'retry-after': '90' } });
      throw new Error('unreachable: onHead throws');
    };
    const got = new Uint8Array(5_000);
    await time.runFor(
      download({ client: server, clock: time.clockPort(), identity: { url: 'https://h/x', size: 5_000 }, sink: { write: (o, c) => void got.set(c, o), restart: () => undefined }, backoffCapMs: 600_000 }),
    );
    assert.deepEqual(got, server.body);
    assert.ok(seen[1] - seen[0] >= 90_000, `waited ${seen[1] - seen[0]} ms`);
  });

  it('a 404 is not retried: the HttpStatusError carries the status', async () => {
    const server = new MemoryServer(image(5_000));
    server.request = async (_req, sink) => {
      sink.onHead?.({ status: 404, headers: {} });
      throw new Error('unreachable');
    };
    await assert.rejects(run(server), (e: unknown) => e instanceof HttpStatusError && e.status === 404 && e.reason === 'http-status');
  });

  it('resumes after link loss at the next byte with If-Range, never from zero', async () => {
    const server = new MemoryServer(image(50_000));
    server.failAfter = [12_345, 20_000];
    const { result, got, restarts } = await run(server);
    assert.deepEqual(got, server.body);
    assert.deepEqual(restarts, []);
    assert.deepEqual(server.requests.map((r) => r.range?.start ?? 0), [0, 12_345, 32_345]);
    assert.equal(server.requests[1].range?.ifRange, '"v1"');
    assert.deepEqual(result.failures, ['link-lost', 'link-lost']);
  });

  it('resumes from a saved offset, and starts over when If-Range says the resource changed (200)', async () => {
    const server = new MemoryServer(image(30_000));
    server.etag = '"v2"';
    const { got, restarts, writes } = await run(server, { offset: 10_000, validator: '"v1"' });
    assert.deepEqual(got, server.body);
    assert.deepEqual(restarts, ['200 to a ranged request']);
    assert.equal(writes[0], 0);
  });

  it('starts over on 416 for a resumed offset', async () => {
    const server = new MemoryServer(image(5_000));
    const big = new MemoryServer(image(5_000));
    big.request = async (req, sink) => {
      if (req.range && req.range.start === 4_000 && big.requests.length === 0) {
        big.requests.push(req);
        throw new OtaError('range-not-satisfiable', '416');
      }
      return MemoryServer.prototype.request.call(big, req, sink);
    };
    const { got, restarts } = await run(big, { offset: 4_000 });
    assert.deepEqual(got, server.body);
    assert.deepEqual(restarts, ['range-not-satisfiable']);
  });

  it('gives up after maxAttempts failures that make no progress (retries-exhausted)', async () => {
    const server = new MemoryServer(image(5_000));
    server.failAfter = [0, 0, 0, 0];
    await assert.rejects(run(server, { maxAttempts: 3 }), (e: unknown) => isOtaError(e, 'retries-exhausted'));
  });

  it('refuses a server whose size differs from the manifest', async () => {
    const server = new MemoryServer(image(5_000));
    server.ignoreRange = true;
    const time = new VirtualTime();
    await assert.rejects(
      time.runFor(download({ client: server, clock: time.clockPort(), identity: { url: 'https://h/x', size: 4_000 }, sink: { write: () => undefined, restart: () => undefined } })),
      (e: unknown) => isOtaError(e, 'backend-protocol'),
    );
  });

  it('resumeOffset keeps the offset only for the same identity', () => {
    const id = { url: 'https://h/a', size: 100, sha256: 'ab' };
    assert.equal(resumeOffset({ identity: id, offset: 40 }, id), 40);
    assert.equal(resumeOffset({ identity: { ...id, sha256: 'cd' }, offset: 40 }, id), 0);
    assert.equal(resumeOffset({ identity: id, offset: 400 }, id), 0);
    assert.equal(resumeOffset(undefined, id), 0);
  });
});
