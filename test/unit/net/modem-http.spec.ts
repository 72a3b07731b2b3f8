/**
 * The modem HTTP clients (src/net/modem-http.ts) over fake modems: Range windows of the built-in
 * transport (short last window, 416 at a boundary, 200 = start over, a window longer than asked),
 * and HTTP/1.1 over a socket (Content-Range checked, chunked bodies, backpressure, early close).
 */
import assert from 'node:assert/strict';
import type { ByteSink, Modem, ModemSocket, NativeHttp, NativeHttpRequest } from '../../../src/modem/modem.js';
import type { HttpResponseHead } from '../../../src/net/http.js';
import { NativeHttpClient, SocketHttpClient, modemHttpClient } from '../../../src/net/modem-http.js';
import { isOtaError } from '../../../src/util/errors.js';
import { VirtualTime } from '../../../tools/devkit/parts/virtual-time.js';

const enc = (s: string) => new Uint8Array([...s].map((c) => c.charCodeAt(0)));

class FakeNative implements NativeHttp {
  windowMax = 2048;
  requests: NativeHttpRequest[] = [];
  #body: Uint8Array = new Uint8Array();
  constructor(
    readonly file: Uint8Array,
    readonly answer?: (range: [number, number], n: number) => { status: number; body: Uint8Array } | undefined,
  ) {}
  async request(r: NativeHttpRequest) {
    const n = this.requests.push(r);
    const m = /^bytes=(\d+)-(\d+)$/.exec(r.headers.find(([k]) => k === 'Range')?.[1] ?? '');
    const range: [number, number] = m ? [Number(m[1]), Number(m[2])] : [0, this.file.length - 1];
    const custom = this.answer?.(range, n);
    if (custom) {
      this.#body = custom.body;
      return { status: custom.status, length: custom.body.length };
    }
    if (range[0] >= this.file.length) {
      this.#body = new Uint8Array();
      return { status: 416, length: 0 };
    }
    this.#body = this.file.slice(range[0], Math.min(range[1], this.file.length - 1) + 1);
    return { status: 206, length: this.#body.length };
  }
  async read(offset: number, length: number, sink: ByteSink) {
    await sink(this.#body.subarray(offset, offset + length));
  }
  async close() {}
}

function fakeModem(parts: { native?: NativeHttp; socket?: () => ModemSocket }): Modem {
  return {
    model: 'sim7080',
    at: undefined as never,
    ready: async () => undefined,
    recover: async () => undefined,
    openSocket: async () => parts.socket!(),
    native: parts.native!,
    counters: { powerCycles: 0, starts: 0, bearerLosses: 0, resets: 0 },
  };
}

async function get(client: NativeHttpClient | SocketHttpClient, time: VirtualTime, range?: { start: number; end?: number }) {
  const body: number[] = [];
  let head: HttpResponseHead | undefined;
  const final = await time.runFor(
    client.request({ method: 'GET', url: 'https://h/f', range }, { onHead: (h) => (head = h), onData: (c) => void body.push(...c) }),
  );
  return { head: head!, final, body: new Uint8Array(body) };
}

const file = new Uint8Array(5000).map((_, i) => i & 0xff);

describe('net/modem-http NativeHttpClient', () => {
  it('fetches in Range windows and stops at a short window', async () => {
    const time = new VirtualTime();
    const native = new FakeNative(file);
    const r = await get(new NativeHttpClient({ modem: fakeModem({ native }), clock: time.clockPort() }), time);
    assert.deepEqual(r.body, file);
    assert.equal(r.head.status, 200);
    assert.deepEqual(native.requests.map((q) => q.headers.find(([k]) => k === 'Range')?.[1]), ['bytes=0-2047', 'bytes=2048-4095', 'bytes=4096-6143']);
  });

  it('ends at a 416 that falls exactly on a window boundary', async () => {
    const time = new VirtualTime();
    const native = new FakeNative(file.subarray(0, 4096));
    const r = await get(new NativeHttpClient({ modem: fakeModem({ native }), clock: time.clockPort() }), time);
    assert.equal(r.body.length, 4096);
  });

  it('reports 206 from the asked offset, and range-not-satisfiable for a first 416', async () => {
    const time = new VirtualTime();
    const client = new NativeHttpClient({ modem: fakeModem({ native: new FakeNative(file) }), clock: time.clockPort() });
    const r = await get(client, time, { start: 3000, end: 4999 });
    assert.equal(r.head.status, 206);
    assert.equal(r.head.range?.start, 3000);
    assert.deepEqual(r.body, file.subarray(3000));
    await assert.rejects(get(client, time, { start: 6000 }), (e: unknown) => isOtaError(e, 'range-not-satisfiable'));
  });

  it('passes a first 200 on as "start over"; a 200 after some windows is range-ignored', async () => {
    const time = new VirtualTime();
    const whole = new FakeNative(file, () => ({ status: 200, body: file }));
    const r = await get(new NativeHttpClient({ modem: fakeModem({ native: whole }), clock: time.clockPort() }), time, { start: 100 });
    assert.equal(r.head.status, 200);
    assert.equal(r.head.range?.start, 0);
    assert.deepEqual(r.body, file);
    const late = new FakeNative(file, (_range, n) => (n === 2 ? { status: 200, body: file } : undefined));
    await assert.rejects(get(new NativeHttpClient({ modem: fakeModem({ native: late }), clock: time.clockPort() }), time), (e: unknown) => isOtaError(e, 'range-ignored'));
  });

  it('rejects a window longer than asked (range-mismatch)', async () => {
    const time = new VirtualTime();
    const liar = new FakeNative(file, () => ({ status: 206, body: file }));
    await assert.rejects(get(new NativeHttpClient({ modem: fakeModem({ native: liar }), clock: time.clockPort() }), time), (e: unknown) => isOtaError(e, 'range-mismatch'));
  });
});

/** A built-in client that keeps the response headers (SIM7600 `AT+HTTPHEAD`): `head` writes them per request. */
class HeadedNative extends FakeNative {
  headReads = 0;
  last = { status: 0, length: 0 };
  constructor(
    file: Uint8Array,
    answer: ((range: [number, number], n: number) => { status: number; body: Uint8Array } | undefined) | undefined,
    readonly head: (status: number, length: number, n: number) => string,
  ) {
    super(file, answer);
  }
  override async request(r: NativeHttpRequest) {
    this.last = await super.request(r);
    return this.last;
  }
  async readHead(sink: ByteSink) {
    this.headReads++;
    await sink(enc(this.head(this.last.status, this.last.length, this.requests.length)));
  }
}

const statusText: Record<number, string> = { 200: 'OK', 206: 'Partial Content', 302: 'Found', 503: 'Service Unavailable' };
const headOf = (status: number, fields: string[]) => `HTTP/1.1 ${status} ${statusText[status] ?? 'X'}\r\n${fields.map((f) => `${f}\r\n`).join('')}\r\n`;

describe('net/modem-http NativeHttpClient with the response headers (AT+HTTPHEAD)', () => {
  it('a redirect carries its Location, an error its Retry-After; the first window its ETag and size; later windows cost no header read', async () => {
    const time = new VirtualTime();
    const moved = new HeadedNative(file, () => ({ status: 302, body: enc('moved') }), (st) => headOf(st, ['Location: https://objects.example.com/o?sig=1', 'Content-Length: 5']));
    const r1 = await get(new NativeHttpClient({ modem: fakeModem({ native: moved }), clock: time.clockPort() }), time);
    assert.equal(r1.head.status, 302);
    assert.equal(r1.head.headers['location'], 'https://objects.example.com/o?sig=1');

    const busy = new HeadedNative(file, () => ({ status: 503, body: new Uint8Array() }), (st) => headOf(st, ['Retry-After: 120', 'Content-Length: 0']));
    const r2 = await get(new NativeHttpClient({ modem: fakeModem({ native: busy }), clock: time.clockPort() }), time);
    assert.equal(r2.head.headers['retry-after'], '120');

    const windows = new HeadedNative(file, undefined, (st, len, n) => headOf(st, [`Content-Range: bytes ${(n - 1) * 2048}-${(n - 1) * 2048 + len - 1}/${file.length}`, 'ETag: "v7"']));
    const r3 = await get(new NativeHttpClient({ modem: fakeModem({ native: windows }), clock: time.clockPort() }), time);
    assert.deepEqual(r3.body, file);
    assert.equal(r3.head.headers['etag'], '"v7"');
    assert.equal(r3.head.range?.total, file.length, 'the size from the first Content-Range');
    assert.equal(windows.requests.length, 3);
    assert.equal(windows.headReads, 1, 'one AT+HTTPHEAD per request, not per window');
  });

  it('a header block that disagrees with +HTTPACTION, or does not end, is http-malformed; a quoted ETag is not sent back', async () => {
    const time = new VirtualTime();
    const liar = new HeadedNative(file, undefined, () => headOf(200, ['Content-Length: 5000']));
    await assert.rejects(get(new NativeHttpClient({ modem: fakeModem({ native: liar }), clock: time.clockPort() }), time), (e: unknown) => isOtaError(e, 'http-malformed'));
    const cut = new HeadedNative(file, undefined, () => 'HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-2047/5000\r\n');
    await assert.rejects(get(new NativeHttpClient({ modem: fakeModem({ native: cut }), clock: time.clockPort() }), time), (e: unknown) => isOtaError(e, 'http-malformed'));
    const native = new HeadedNative(file, () => ({ status: 200, body: enc('{}') }), (st) => headOf(st, ['Content-Length: 2']));
    const client = new NativeHttpClient({ modem: fakeModem({ native }), clock: time.clockPort() });
    await time.runFor(client.request({ method: 'GET', url: 'https://h/m', headers: { 'If-None-Match': '"abc"', 'X-Id': 'd"1' } }, { onData: () => undefined }));
    const sent = native.requests[0].headers.map(([k]) => k);
    assert.ok(!sent.includes('If-None-Match') && sent.includes('X-Id'), sent.join());
  });

  it('a 2xx to a POST is not followed by a header read; a refusal is', async () => {
    const time = new VirtualTime();
    let status = 200;
    const native = new HeadedNative(file, () => ({ status, body: new Uint8Array() }), (st) => headOf(st, ['Retry-After: 30', 'Content-Length: 0']));
    const client = new NativeHttpClient({ modem: fakeModem({ native }), clock: time.clockPort() });
    const post = () => time.runFor(client.request({ method: 'POST', url: 'https://h/f', body: enc('{}') }, { onData: () => undefined }));
    await post();
    assert.equal(native.headReads, 0);
    status = 503;
    const head = await post();
    assert.equal(native.headReads, 1);
    assert.equal(head.headers['retry-after'], '30');
  });
});

/** A socket that returns `response` in pieces of `piece` bytes, then closes. */
function fakeSocket(response: Uint8Array, piece = 333): { socket: ModemSocket; sent: Uint8Array[] } {
  let offset = 0;
  const sent: Uint8Array[] = [];
  const socket: ModemSocket = {
    closed: false,
    write: async (b) => void sent.push(b.slice()),
    read: async (sink) => {
      if (offset >= response.length) return 0;
      const n = Math.min(piece, response.length - offset);
      await sink(response.subarray(offset, offset + n));
      offset += n;
      return n;
    },
    close: async () => undefined,
  };
  return { socket, sent };
}

describe('net/modem-http SocketHttpClient', () => {
  it('writes the request head and streams a chunked body with backpressure', async () => {
    const time = new VirtualTime();
    const { socket, sent } = fakeSocket(enc('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nETag: "e"\r\n\r\n4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n'), 5);
    const client = new SocketHttpClient({ modem: fakeModem({ socket: () => socket }), clock: time.clockPort() });
    const body: number[] = [];
    const head = await time.runFor(
      client.request({ method: 'GET', url: 'https://h/f' }, { onData: (c) => new Promise<void>((res) => time.after(100, () => (body.push(...c), res()))) }),
    );
    assert.equal(head.headers.etag, '"e"');
    assert.equal(String.fromCharCode(...body), 'abcdefg');
    assert.match(String.fromCharCode(...sent[0]), /^GET \/f HTTP\/1\.1\r\nHost: h\r\n/);
  });

  it('tells the sink once the request is written and before any answer byte is read (onSent: the idle round trip)', async () => {
    const time = new VirtualTime();
    const { socket, sent } = fakeSocket(enc('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc'));
    const events: string[] = [];
    const read = socket.read;
    socket.read = (sink, ...rest) => {
      events.push('read');
      return read(sink, ...rest);
    };
    const client = new SocketHttpClient({ modem: fakeModem({ socket: () => socket }), clock: time.clockPort() });
    await time.runFor(
      client.request(
        { method: 'GET', url: 'https://h/f' },
        { onSent: () => events.push(`sent after ${sent.length} write(s)`), onHead: () => void events.push('head'), onData: () => undefined },
      ),
    );
    assert.deepEqual(events.slice(0, 3), ['sent after 1 write(s)', 'read', 'head']);
    assert.equal(events.filter((e) => e.startsWith('sent')).length, 1);
  });

  it('rejects a 206 whose Content-Range does not start at the asked offset', async () => {
    const time = new VirtualTime();
    const { socket } = fakeSocket(enc('HTTP/1.1 206 Partial\r\nContent-Range: bytes 0-3/10\r\nContent-Length: 4\r\n\r\nabcd'));
    const client = new SocketHttpClient({ modem: fakeModem({ socket: () => socket }), clock: time.clockPort() });
    await assert.rejects(time.runFor(client.request({ method: 'GET', url: 'https://h/f', range: { start: 4 } }, { onData: () => undefined })), (e: unknown) => isOtaError(e, 'range-mismatch'));
  });

  it('reports a body cut by the peer as body-truncated', async () => {
    const time = new VirtualTime();
    const { socket } = fakeSocket(enc('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
    const client = new SocketHttpClient({ modem: fakeModem({ socket: () => socket }), clock: time.clockPort() });
    await assert.rejects(time.runFor(client.request({ method: 'GET', url: 'https://h/f' }, { onData: () => undefined })), (e: unknown) => isOtaError(e, 'body-truncated'));
  });

  it('sends a POST body after the head', async () => {
    const time = new VirtualTime();
    const { socket, sent } = fakeSocket(enc('HTTP/1.1 204 No Content\r\n\r\n'));
    const client = new SocketHttpClient({ modem: fakeModem({ socket: () => socket }), clock: time.clockPort() });
    const head = await time.runFor(client.request({ method: 'POST', url: 'http://h:8080/report', headers: { 'Content-Type': 'application/json' }, body: enc('{"ok":1}') }, { onData: () => undefined }));
    assert.equal(head.status, 204);
    assert.match(String.fromCharCode(...sent[0]), /^POST \/report HTTP\/1\.1\r\nHost: h:8080\r\nContent-Type: application\/json\r\nContent-Length: 8\r\n/);
    assert.equal(String.fromCharCode(...sent[1]), '{"ok":1}');
  });
});

describe('net/modem-http modemHttpClient', () => {
  it('picks the transport the benchmark found fastest', () => {
    const clock = new VirtualTime().clockPort();
    const m = (model: 'sim7080' | 'sim7600', push?: boolean) => ({ ...fakeModem({}), model, push }) as Modem;
    assert.ok(modemHttpClient({ modem: m('sim7080'), clock }) instanceof SocketHttpClient);
    assert.ok(modemHttpClient({ modem: m('sim7600'), clock }) instanceof NativeHttpClient);
    assert.ok(modemHttpClient({ modem: m('sim7600', true), clock }) instanceof SocketHttpClient);
  });
});
