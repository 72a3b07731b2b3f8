/**
 * The simulated modem's real network I/O: HTTP requests and TCP sockets to a server on loopback.
 *
 * Real I/O runs in real time; virtual time must not move while it is under way, so every piece is
 * handed to `VirtualTime.track`. Results are then delivered at virtual instants computed by the
 * radio model (NetworkModel), so the timing the device sees does not depend on how fast the host
 * machine is. TLS is real: with `TlsParams` a connection is a verified node:tls session (./tls.ts),
 * as the module itself runs TLS and the UART carries plaintext.
 */
import type * as net from 'node:net';
import type { VirtualTime } from '../virtual-time.js';
import { type ConnectFailure, openConnection, type TlsParams } from './tls.js';
import type { Endpoint, NetworkModel } from './types.js';
import { ExchangeTracker } from './exchange.js';
import type { CloudWork } from '../../../node/cloud-work.js';
import type { TapConnection, TlsTaps } from '../mqtt-tls-tap.js';
import { Tls13Observer } from '../tls13-observer.js';
import type { TlsObserve } from './types.js';

interface Pending {
  resolve: () => void;
  timer: NodeJS.Timeout | undefined;
  /** Answers owed when the send was made: the wait ends when that many are in. */
  want: number;
  /** MQTT: the acknowledgements owed are in (the quiet window runs). */
  acked?: boolean;
  /** Bytes arrived since the send. */
  sawData?: boolean;
}

export interface FetchRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  /** Host name as the device gave it (goes into the Host header). */
  host: string;
  port: number;
  path: string;
  /** Header lines in order (name, value). */
  headers: [string, string][];
  body?: Uint8Array;
  /** Largest body buffered; a longer one yields `too-large`. */
  bodyMax: number;
}

export type FetchResult =
  | {
      kind: 'ok';
      status: number;
      /** The whole response header block, status line to the empty line, as received. */
      head: Uint8Array;
      body: Uint8Array;
      /** The server asked to close the connection (or closed it). */
      closed: boolean;
      /** Request bytes put on the wire. */
      sentBytes: number;
    }
  | { kind: 'too-large'; status: number; length: number }
  | { kind: 'dns' }
  | { kind: 'connect' }
  /** The TLS checks failed (certificate chain, expiry, name). */
  | { kind: 'tls'; failure: Exclude<ConnectFailure, 'connect'> }
  | { kind: 'reset'; received: number };

/** TCP maximum segment size on an LTE bearer (1500-byte MTU minus IP/TCP headers; many
 * networks use a smaller MTU, which only changes burst granularity here). */
export const MSS = 1460;

/** Virtual time a transfer of `bytes` takes at `bps`, ms. */
export function transferMs(bytes: number, bps: number): number {
  return (bytes * 8 * 1000) / bps;
}

/**
 * One HTTP/1.1 request over a fresh loopback connection (TLS with `tls`), response read whole
 * (store and forward, as the modems' built-in clients do). Own framing rather than node:http so
 * the request carries exactly the headers the device configured.
 */
export async function fetchOnce(target: Endpoint, req: FetchRequest, tls?: TlsParams): Promise<FetchResult> {
  const opened = await openConnection(target, tls);
  if ('failure' in opened) return opened.failure === 'connect' ? { kind: 'connect' } : { kind: 'tls', failure: opened.failure };
  return exchange(opened.socket, req);
}

function exchange(socket: net.Socket, req: FetchRequest): Promise<FetchResult> {
  return new Promise<FetchResult>((resolve) => {
    let done = false;
    const finish = (r: FetchResult) => {
      if (done) return;
      done = true;
      socket.destroy();
      resolve(r);
    };
    const lines = [`${req.method} ${req.path} HTTP/1.1`, `Host: ${req.host}`];
    for (const [k, v] of req.headers) lines.push(`${k}: ${v}`);
    if (req.body) lines.push(`Content-Length: ${req.body.length}`);
    const head = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
    const parser = new ResponseReader(req.method === 'HEAD', req.bodyMax);
    socket.on('data', (chunk: Buffer) => {
      const r = parser.push(chunk);
      if (r === 'too-large') finish({ kind: 'too-large', status: parser.status, length: parser.contentLength ?? -1 });
      else if (r === 'done')
        finish({
          kind: 'ok',
          status: parser.status,
          head: parser.head!,
          body: parser.body(),
          closed: parser.connectionClose,
          sentBytes: head.length + (req.body?.length ?? 0),
        });
    });
    socket.on('error', () => finish({ kind: 'reset', received: parser.received }));
    socket.on('close', () => {
      if (parser.headDone && parser.contentLength === undefined && !parser.chunked) {
        // Body delimited by close.
        finish({
          kind: 'ok',
          status: parser.status,
          head: parser.head!,
          body: parser.body(),
          closed: true,
          sentBytes: head.length,
        });
      }
      finish({ kind: 'reset', received: parser.received });
    });
    socket.write(head);
    if (req.body) socket.write(req.body);
  });
}

/** Incremental HTTP/1.1 response reader (Content-Length, chunked, or close-delimited). */
export class ResponseReader {
  status = 0;
  head: Uint8Array | undefined;
  headDone = false;
  contentLength: number | undefined;
  chunked = false;
  connectionClose = false;
  received = 0;
  #headBuf: number[] = [];
  #parts: Uint8Array[] = [];
  #bodyLen = 0;
  #chunkText = '';

  constructor(
    private readonly noBody: boolean,
    private readonly bodyMax: number,
  ) {}

  push(chunk: Uint8Array): 'more' | 'done' | 'too-large' {
    let i = 0;
    this.received += chunk.length;
    if (!this.headDone) {
      for (; i < chunk.length; i++) {
        this.#headBuf.push(chunk[i]);
        const n = this.#headBuf.length;
        if (n >= 4 && this.#headBuf[n - 4] === 13 && this.#headBuf[n - 3] === 10 && this.#headBuf[n - 2] === 13 && this.#headBuf[n - 1] === 10) {
          i++;
          this.#parseHead();
          break;
        }
      }
      if (!this.headDone) return 'more';
      if (this.contentLength !== undefined && this.contentLength > this.bodyMax && !this.noBody) return 'too-large';
      if (this.#complete()) return 'done';
    }
    const rest = chunk.subarray(i);
    if (rest.length > 0) {
      this.#parts.push(rest.slice());
      this.#bodyLen += rest.length;
      if (this.chunked) this.#chunkText += Buffer.from(rest).toString('latin1');
    }
    if (this.#bodyLen > this.bodyMax && !this.chunked) return 'too-large';
    return this.#complete() ? 'done' : 'more';
  }

  #parseHead(): void {
    this.head = Uint8Array.from(this.#headBuf);
    const text = Buffer.from(this.head).toString('latin1');
    const lines = text.split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
    this.status = m ? Number(m[1]) : 0;
    for (const line of lines.slice(1)) {
      const c = line.indexOf(':');
      if (c < 0) continue;
      const k = line.slice(0, c).trim().toLowerCase();
      const v = line.slice(c + 1).trim();
      if (k === 'content-length') this.contentLength = Number(v);
      if (k === 'transfer-encoding' && /chunked/i.test(v)) this.chunked = true;
      if (k === 'connection' && /close/i.test(v)) this.connectionClose = true;
    }
    this.headDone = true;
    if (this.noBody || this.status === 204 || this.status === 304 || (this.status >= 100 && this.status < 200)) this.contentLength = 0;
  }

  #complete(): boolean {
    if (!this.headDone) return false;
    if (this.chunked) return this.#chunkText.endsWith('0\r\n\r\n');
    return this.contentLength !== undefined && this.#bodyLen >= this.contentLength;
  }

  /** The body (de-chunked). */
  body(): Uint8Array {
    const all = Buffer.concat(this.#parts);
    if (!this.chunked) return new Uint8Array(all.subarray(0, this.contentLength ?? all.length));
    const out: Buffer[] = [];
    let i = 0;
    for (;;) {
      const eol = all.indexOf('\r\n', i, 'latin1');
      if (eol < 0) break;
      const size = parseInt(all.subarray(i, eol).toString('latin1'), 16);
      if (!(size > 0)) break;
      out.push(all.subarray(eol + 2, eol + 2 + size));
      i = eol + 2 + size + 2;
    }
    return new Uint8Array(Buffer.concat(out));
  }
}

export interface SocketEvents {
  /** Bytes became available to the device (virtual time). */
  onData(bytes: Uint8Array): void;
  /** The peer closed (after all its data was delivered), or the connection broke. */
  onClose(reason: 'peer' | 'error'): void;
  /** The device began an MQTT control packet of this type (§2.2.1, e.g. 12 PINGREQ) at this virtual ms. */
  onMqttSent?(type: number, at: number): void;
}

/**
 * Real seconds a socket waits for an answer the protocol says is owed before giving up on it (a
 * hang guard: a server that never answers is a bug in the dev kit, not a timing to simulate).
 * Counted in `SimSocket.guardExpiries`; the determinism spec requires it to stay 0.
 */
export const ANSWER_GUARD_REAL_MS = 30_000;

/**
 * A modem TCP socket on a real loopback connection. Inbound bytes are released to the modem at
 * virtual instants: first byte one RTT after the send that provoked it, then at the downlink rate.
 *
 * Virtual time stands still exactly while the server owes an answer (./exchange.ts counts HTTP
 * requests and responses, MQTT packets and their acknowledgements), so the instants the device
 * sees do not depend on how fast the host answered. HTTP needs nothing more: that is what the
 * bench runs. MQTT's acknowledgements are counted too, but a cloud behind the broker answers a
 * PUBLISH with another PUBLISH from another client, which no count on this connection can
 * foresee: with `work` (tools/node/cloud-work.ts, the dev kit gives the same one to the cloud
 * double) the wait also lasts until the cloud took every message the broker acknowledged and
 * every answer it owes arrived; without it (a broker with no double), once the acknowledgements
 * are in, after `quietMs` of real silence. TLS terminated in the agent (the socket carries
 * records) to one of the dev kit's TLS taps (`taps`, tools/devkit/parts/mqtt-tls-tap.ts: the MQTT
 * tap before mosquitto, the reference server's own TLS for hawkBit DDI) waits on the tap's
 * counts: every byte sent taken by the tap, nothing owed in the plaintext MQTT or HTTP exchange, every
 * byte the tap wrote arrived here, and the cloud idle. TLS in the agent to a listener the dev kit
 * does not terminate (mosquitto's own, `observe`) is read with the device's key
 * (tools/devkit/parts/tls13-observer.ts): the wait lasts while the server's handshake flight or an
 * MQTT answer is owed, or the cloud has work, as for plaintext MQTT. Any other protocol the tracker does not
 * know waits for `quietMs` of real silence (ten times that before any data), counted in
 * `quietSettles`.
 */
export class SimSocket {
  #socket: net.Socket | undefined;
  #events: SocketEvents;
  #closed = false;
  #exchange = new ExchangeTracker();
  /** Virtual instant the last scheduled inbound byte arrives. */
  #arrivalAt = 0;
  #sendAt = 0;
  #peerClosed = false;
  /** Waits ended by the real-time hang guard (must stay 0: see ANSWER_GUARD_REAL_MS). */
  static guardExpiries = 0;
  /** Waits ended by a window of real silence (a protocol nothing here can count). */
  static quietSettles = 0;
  /** Bytes sent / received on the loopback connection, and its ports (for the TLS tap). */
  #sentBytes = 0;
  #receivedBytes = 0;
  #targetPort = 0;
  #localPort = 0;
  #unwatchTaps: (() => void) | undefined;

  constructor(
    private readonly time: VirtualTime,
    private readonly model: () => NetworkModel,
    events: SocketEvents,
    private readonly quietMs: number,
    private readonly work?: CloudWork,
    private readonly taps?: TlsTaps,
    private readonly observe?: TlsObserve,
  ) {
    this.#events = events;
  }

  /** The agent's TLS to an observed listener, read with the device's key (see the class comment). */
  #observer: Tls13Observer | undefined;
  /** Waits ended by an observer's counts, and observers that could not read their connection. */
  static observedSettles = 0;
  static observerFailures = 0;

  /** While waits are pending: re-check them when the cloud's work changes. */
  #unwatch: (() => void) | undefined;

  /** Why the last `connect` failed (undefined after a success). */
  failure: ConnectFailure | undefined;

  /** Connects for real (a verified TLS session with `tls`); resolves true on success. Track it. */
  async connect(target: Endpoint, tls?: TlsParams): Promise<boolean> {
    const opened = await openConnection(target, tls);
    if ('failure' in opened) {
      this.failure = opened.failure;
      return false;
    }
    const socket = opened.socket;
    this.#socket = socket;
    this.#targetPort = target.port;
    this.#localPort = socket.localPort ?? 0;
    if (this.observe?.ports.includes(target.port)) this.#observer = new Tls13Observer(this.observe.ecdhFor, this.observe.ticketsAfterFinished);
    if (this.#closed) socket.destroy(); // closed by the device while connecting
    socket.on('error', () => this.#onEnd('error'));
    socket.on('data', (chunk: Buffer) => this.#onData(new Uint8Array(chunk)));
    socket.on('end', () => this.#onEnd('peer'));
    socket.on('close', () => this.#onEnd('peer'));
    return true;
  }

  /**
   * Sends bytes; the returned promise resolves when every answer owed so far is in (or the peer
   * closed). Track it: virtual time then waits for the server's answer, however long the host
   * takes to produce it.
   */
  send(bytes: Uint8Array): Promise<void> {
    if (!this.#socket || this.#closed) return Promise.resolve();
    const m = this.model();
    this.#sendAt = this.time.now() + transferMs(bytes.length, m.uplinkBps) + m.rttMs;
    for (const type of this.#exchange.sent(bytes)) this.#events.onMqttSent?.(type, this.time.now());
    this.#observed()?.sent(bytes);
    this.#sentBytes += bytes.length;
    this.#socket.write(bytes);
    return new Promise<void>((resolve) => {
      const pending: Pending = { resolve, timer: undefined, want: this.#exchange.owed };
      this.#arm(pending, false);
      this.#pending.push(pending);
      if (this.work && !this.#unwatch) this.#unwatch = this.work.watch(() => this.#check());
      if (this.#tapped() && !this.#unwatchTaps) this.#unwatchTaps = this.taps!.watch(() => this.#check());
      this.#check();
    });
  }

  #pending: Pending[] = [];

  /**
   * Whether this connection carries TLS records to one of the dev kit's TLS taps (its waits end on
   * the tap's counts). A port may take plaintext too (the reference server's: the modem's own TLS
   * hands this socket plaintext, which the tracker reads), so only what the tracker cannot read counts.
   */
  #tapped(): boolean {
    return this.#exchange.protocol === 'unknown' && this.taps?.taps(this.#targetPort) === true;
  }

  /** The observer while it reads its connection (after a failure the quiet rule applies, counted). */
  #observed(): Tls13Observer | undefined {
    const o = this.#observer;
    if (!o || o.failed === undefined) return o;
    SimSocket.observerFailures++;
    this.#observer = undefined;
    // Pending waits were armed with the hang guard: from here on the quiet rule.
    for (const p of this.#pending) this.#arm(p, p.sawData === true);
    return undefined;
  }

  /** The tap's counts say nothing more is coming for what was sent (see the class comment). */
  #tapDone(tap: TapConnection | undefined): boolean {
    if (!tap) return false; // not accepted yet: the ClientHello's answer is still owed
    if (tap.closed) return this.#receivedBytes >= tap.rawOut;
    const x = tap.exchange;
    return tap.rawIn >= this.#sentBytes && tap.pendingWrites === 0 && x.answered >= x.owed && !x.closeOwed && this.#receivedBytes >= tap.rawOut && (this.work?.idle ?? true);
  }

  /** (Re)arms a pending wait's real-time timer: the hang guard, or the quiet fallback. */
  #arm(p: Pending, afterData: boolean): void {
    if (p.timer !== undefined) clearTimeout(p.timer);
    const x = this.#exchange;
    if (x.protocol === 'http' || (x.protocol === 'mqtt' && (x.answered < p.want || this.work !== undefined)) || this.#tapped() || this.#observed()) {
      p.timer = setTimeout(() => {
        SimSocket.guardExpiries++;
        this.#settle(p);
      }, ANSWER_GUARD_REAL_MS);
    } else if (x.protocol === 'mqtt') {
      // Acknowledgements in; the cloud behind the broker may still be answering at the
      // application level (a reply to a PUBLISH is another PUBLISH, from another client): that
      // is not countable here, so a quiet window follows (see the class comment).
      p.timer = setTimeout(() => this.#quietSettle(p), afterData || p.sawData ? this.quietMs : this.quietMs * 10);
    } else p.timer = setTimeout(() => this.#quietSettle(p), afterData ? this.quietMs : this.quietMs * 10);
  }

  #quietSettle(p: Pending): void {
    SimSocket.quietSettles++;
    this.#settle(p);
  }

  #settle(p: Pending): void {
    if (p.timer !== undefined) clearTimeout(p.timer);
    this.#release(this.#segmentBytes);
    const i = this.#pending.indexOf(p);
    if (i >= 0) this.#pending.splice(i, 1);
    if (this.#pending.length === 0) {
      this.#unwatch?.();
      this.#unwatch = undefined;
      this.#unwatchTaps?.();
      this.#unwatchTaps = undefined;
    }
    p.resolve();
  }

  #check(): void {
    const x = this.#exchange;
    const observer = this.#observed();
    if (observer) {
      const done = observer.settled && (this.work?.idle ?? true);
      for (const p of [...this.#pending]) {
        if (done) SimSocket.observedSettles++;
        if (done || this.#peerClosed || this.#closed) this.#settle(p);
      }
      return;
    }
    if (this.#tapped()) {
      const done = this.#tapDone(this.taps!.find(this.#localPort));
      for (const p of [...this.#pending]) if (done || this.#peerClosed || this.#closed) this.#settle(p);
      return;
    }
    for (const p of [...this.#pending]) {
      const answered = x.protocol === 'http' && x.answered >= p.want && !x.closeOwed;
      // MQTT with the cloud's work counted: acknowledged, and the cloud has nothing more coming.
      const cloudDone = x.protocol === 'mqtt' && x.answered >= p.want && !x.closeOwed && this.work?.idle === true;
      if (answered || cloudDone || this.#peerClosed || this.#closed) this.#settle(p);
      else if (x.protocol === 'mqtt' && x.answered >= p.want && !p.acked) {
        p.acked = true;
        this.#arm(p, true);
      }
    }
  }

  #onData(chunk: Uint8Array): void {
    if (this.#closed) return;
    const observer = this.#observed();
    // The MQTT inside the observed TLS, or the plaintext: the cloud's work counts from it.
    const x = observer ? observer.exchange : this.#exchange;
    const pubacks = x.pubacksIn;
    const publishes = x.publishesIn;
    if (observer) {
      this.#exchange.received(chunk);
      observer.received(chunk);
    } else x.received(chunk);
    this.#receivedBytes += chunk.length;
    // The loopback's write boundaries mean nothing on the radio: re-cut the stream into TCP
    // segments of one MSS, each arriving when its last byte would at the downlink rate.
    this.#segment.push(chunk);
    this.#segmentBytes += chunk.length;
    while (this.#segmentBytes >= MSS) this.#release(MSS);
    for (const p of this.#pending) {
      p.sawData = true;
      this.#arm(p, true);
    }
    // After the bytes are queued: a change here may settle a wait, which releases them.
    this.work?.acknowledged(x.pubacksIn - pubacks);
    this.work?.arrived(x.publishesIn - publishes);
    this.#check();
    // Nothing waits for a response: release the tail now rather than sit on it.
    if (this.#pending.length === 0) this.#release(this.#segmentBytes);
  }

  #segment: Uint8Array[] = [];
  #segmentBytes = 0;

  /** Schedules the first `n` buffered bytes as one segment. */
  #release(n: number): void {
    if (n <= 0) return;
    const seg = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const head = this.#segment[0];
      const take = Math.min(n - filled, head.length);
      seg.set(head.subarray(0, take), filled);
      filled += take;
      if (take === head.length) this.#segment.shift();
      else this.#segment[0] = head.subarray(take);
    }
    this.#segmentBytes -= n;
    const m = this.model();
    const start = Math.max(this.#arrivalAt, this.#sendAt, this.time.now());
    this.#arrivalAt = start + transferMs(n, m.downlinkBps);
    this.time.at(this.#arrivalAt, () => {
      if (!this.#closed) this.#events.onData(seg);
    });
  }

  #onEnd(reason: 'peer' | 'error'): void {
    if (this.#peerClosed) return;
    this.#peerClosed = true;
    this.#exchange.peerClosed();
    this.#release(this.#segmentBytes);
    const at = Math.max(this.#arrivalAt, this.time.now());
    this.time.at(at, () => {
      if (!this.#closed) {
        this.#closed = true;
        this.#events.onClose(reason);
      }
    });
    this.#check();
  }

  /** Local close (the device asked, or the bearer went): no more events. */
  close(): void {
    this.#closed = true;
    this.#socket?.destroy();
    this.#check();
  }

  get open(): boolean {
    return !this.#closed;
  }
}
