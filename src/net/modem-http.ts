/**
 * The agent's HttpClient over the modem, two ways:
 * - `SocketHttpClient`: HTTP/1.1 written by the agent over a modem TCP/TLS socket (SIM7080 `AT+CA*`,
 *   SIM7600 `AT+CCH*`). One request streams the whole image: the modem forwards bytes as they come,
 *   so the radio and the UART work at the same time.
 * - `NativeHttpClient`: the modem's own HTTP(S) stack (SIM7080 `AT+SH*`, SIM7600 `AT+HTTP*`). It
 *   buffers a whole response before the agent can read it, and large bodies fail (602 on SIM7080,
 *   706 on SIM767x: simcom-at.md pitfall 3), so a GET is fetched in Range windows.
 * Both check Range answers (style rule 12) and hand the body on in order with backpressure.
 */
import type { ClockPort } from '../platform/clock.js';
import { OtaError, isOtaError } from '../util/errors.js';
import type { Modem, ModemSocket, NativeHttpRequest } from '../modem/modem.js';
import type { HttpBodySink, HttpClient, HttpRequest, HttpResponseHead } from './http.js';
import { checkRange, parseUrl, requestHead, requestHeaders } from './http-common.js';
import { HttpResponseParser } from './http-parser.js';
import { LIMITS } from './limits.js';
import type { SocketOpener } from './stream-socket.js';
import { startAsJob } from '../util/stack.js';

/** Failures after which the modem's state is unknown: recover it before the next request. */
const MODEM_FAULTS = ['at-timeout', 'modem-unresponsive', 'platform-error', 'limit-exceeded'] as const;

/** Counters for logs and the benchmark. */
export interface HttpClientStats {
  requests: number;
  bodyBytes: number;
  recoveries: number;
}

abstract class ModemHttpBase implements HttpClient {
  readonly stats: HttpClientStats = { requests: 0, bodyBytes: 0, recoveries: 0 };
  protected readonly modem: Modem;
  protected readonly clock: ClockPort;
  protected readonly timeoutMs: number;
  #recover = false;

  constructor(options: { modem: Modem; clock: ClockPort; timeoutMs?: number }) {
    this.modem = options.modem;
    this.clock = options.clock;
    this.timeoutMs = options.timeoutMs ?? LIMITS.httpTimeoutMs;
  }

  async request(request: HttpRequest, sink: HttpBodySink): Promise<HttpResponseHead> {
    if (this.#recover) {
      this.#recover = false;
      this.stats.recoveries++;
      await this.modem.recover();
    } else {
      await this.modem.ready();
    }
    try {
      return await this.perform(request, sink);
    } catch (error) {
      if (isOtaError(error, ...MODEM_FAULTS)) this.#recover = true;
      throw error;
    }
  }

  protected abstract perform(request: HttpRequest, sink: HttpBodySink): Promise<HttpResponseHead>;
}

/**
 * A GET may reuse the connection of the previous GET to the same origin if that one ended by its
 * length less than this long ago. Back-to-back requests (the agent's segment, cancel poll, next
 * segment) save a TLS set-up each (seconds on Cat-M); an older connection may have been dropped by
 * the server (node 5 s, nginx 75 s) or a NAT without the modem knowing, and finding out would cost
 * a read timeout, so it is closed and a new one opened.
 */
const REUSE_WITHIN_MS = 15_000;

/** The reused connection was dead before any response byte: the caller retries on a new one. */
class StaleConnection extends Error {}

export class SocketHttpClient extends ModemHttpBase {
  /** Longest silence of the socket while a response is due, ms. */
  readonly idleMs: number;
  /** Requests sent on a kept connection / retried on a new one because the kept one was dead. */
  readonly reuse = { reused: 0, stale: 0 };
  /** The connection of the last GET, kept open (see REUSE_WITHIN_MS). */
  #kept: { origin: string; socket: ModemSocket; since: number } | undefined;

  /** Keep connections between GETs (default true; false: one connection per request). */
  readonly keepAlive: boolean;
  /**
   * Where connections come from: the modem's socket (its TLS) by default; the hawkBit control
   * channel with otaControlTls agent passes sockets over TLS in the agent (src/net/stream-socket.ts).
   */
  readonly #open: SocketOpener;

  constructor(options: { modem: Modem; clock: ClockPort; timeoutMs?: number; idleMs?: number; keepAlive?: boolean; openSocket?: SocketOpener }) {
    super(options);
    this.idleMs = options.idleMs ?? 60_000;
    this.keepAlive = options.keepAlive ?? true;
    this.#open = options.openSocket ?? ((host, port, tls) => this.modem.openSocket(host, port, tls));
  }

  protected async perform(request: HttpRequest, sink: HttpBodySink): Promise<HttpResponseHead> {
    const url = parseUrl(request.url);
    const origin = `${url.scheme}://${url.host}:${url.port}`;
    // perf (issue 15): every method may ride a kept connection (a report or poll after a segment
    // then costs no TLS set-up: seconds on Cat-M). A GET that finds it dead is sent again on a new
    // one; any other request only when the dead connection refused the request itself (nothing
    // reached the server), else its error stands (a POST sent twice would be reported twice).
    const reusable = this.keepAlive;
    const kept = this.#kept;
    this.#kept = undefined;
    if (kept) {
      const fresh = this.clock.now() - kept.since <= REUSE_WITHIN_MS;
      if (reusable && fresh && kept.origin === origin && !kept.socket.closed) {
        this.reuse.reused++;
        try {
          return await startAsJob(() => this.#exchange(kept.socket, request, url, origin, sink, true));
        } catch (error) {
          if (!(error instanceof StaleConnection)) throw error;
          this.reuse.stale++;
        }
      } else {
        await kept.socket.close();
      }
    }
    const socket = await this.#open(url.host, url.port, url.scheme === 'https');
    return startAsJob(() => this.#exchange(socket, request, url, origin, sink, false));
  }

  /**
   * Started as a job of its own (startAsJob, both calls above): its frame is large (the parser,
   * the feed closure and their state), and its request head and first send then do not stack on
   * the request's layers (agent, download, redirects, this client).
   */
  async #exchange(socket: ModemSocket, request: HttpRequest, url: ReturnType<typeof parseUrl>, origin: string, sink: HttpBodySink, reused: boolean): Promise<HttpResponseHead> {
    const keepAlive = this.keepAlive;
    const head = requestHead(request, url, requestHeaders(request), keepAlive);
    let written = false;
    const deadline = this.clock.now() + (request.timeoutMs ?? this.timeoutMs);
    this.stats.requests++;
    let received = 0;
    let trailing = false;
    let keep = false;
    try {
      await socket.write(head);
      if (request.body) await socket.write(request.body);
      written = true;
      sink.onSent?.();
      const parser = new HttpResponseParser({
        onHead: (h) => {
          checkRange(request, h);
          sink.onHead?.(h);
        },
        onBody: (chunk) => {
          this.stats.bodyBytes += chunk.length;
          return sink.onData(chunk);
        },
      });
      // Feed one socket block through the parser, pausing where the body sink pauses. Bytes after
      // the message are not this response's: the connection is not kept then.
      const feed = (chunk: Uint8Array): void | Promise<void> => {
        received += chunk.length;
        let offset = 0;
        while (offset < chunk.length && !parser.done) {
          offset += parser.push(chunk.subarray(offset));
          const wait = parser.takeWait();
          if (wait) {
            const rest = chunk.subarray(offset);
            received -= rest.length; // counted again when the rest is fed
            return wait.then(() => feed(rest));
          }
        }
        if (offset < chunk.length) trailing = true;
      };
      let closedByPeer = false;
      while (!parser.done) {
        if (this.clock.now() > deadline) throw new OtaError('timeout', `request not complete after ${request.timeoutMs ?? this.timeoutMs} ms`);
        // perf (issue 15): the parser tells the socket how many bytes end this message, so a pushed
        // block that ends it is handed on at once (no quiet hold at the response's end).
        const n = await socket.read(feed, this.idleMs, () => parser.lengthRemaining);
        if (n === 0) {
          closedByPeer = true;
          parser.finish();
        }
      }
      const response = parser.head!;
      keep = keepAlive && !closedByPeer && !trailing && !socket.closed && (response.headers['connection'] ?? '').toLowerCase() !== 'close';
      if (keep) this.#kept = { origin, socket, since: this.clock.now() };
      return response;
    } catch (error) {
      // A kept connection the server or the network had already dropped fails before any byte
      // of the answer: not this request's failure.
      const resendable = request.method === 'GET' || !written;
      if (reused && resendable && received === 0 && isOtaError(error, 'link-lost', 'body-truncated', 'timeout', 'closed', 'at-error', 'cme-error')) {
        await socket.close();
        throw new StaleConnection();
      }
      throw error;
    } finally {
      if (!keep) await socket.close();
    }
  }
}

/**
 * Conditional headers whose value an AT string cannot carry: an ETag is a quoted string, and no
 * `AT+HTTPPARA`/`AT+SHAHEAD` argument has an escape for `"` (M7080/M7600). Sending none costs a
 * full answer (200, not 304) or, for If-Range, the size and digest checks catch a changed body.
 */
function carriable(headers: [string, string][]): [string, string][] {
  return headers.filter(([name, value]) => !value.includes('"') || !/^if-(none-match|range)$/i.test(name));
}

export class NativeHttpClient extends ModemHttpBase {
  /** Requests the built-in stack cannot carry, sent by the agent's HTTP/1.1 over the modem's socket. */
  #socket: SocketHttpClient | undefined;

  /** Counters of the requests that went over the socket (undefined: none did). */
  get socketStats(): HttpClientStats | undefined {
    return this.#socket?.stats;
  }

  protected async perform(request: HttpRequest, sink: HttpBodySink): Promise<HttpResponseHead> {
    const url = parseUrl(request.url);
    const native = this.modem.native;
    const timeoutMs = request.timeoutMs ?? this.timeoutMs;
    const base: NativeHttpRequest = { method: request.method, scheme: url.scheme, host: url.host, port: url.port, path: url.path, headers: [], timeoutMs };
    // backend hook (issue 13): a URL longer than the stack's command takes (a 1.3 KiB pre-signed
    // Location), or a method it lacks (SIM7600: PUT, hawkBit's configData), would fail every
    // attempt; the same modem's socket carries any request.
    if (native.carries && !native.carries(base)) return this.#overSocket(request, sink);
    const before = this.stats.requests;
    try {
      return await this.#native(request, sink, base);
    } catch (error) {
      // The firmware refused the URL command of the first window (its limit is below the
      // driver's): nothing reached the server or the sink, so the same request goes over the
      // socket, no attempt lost. The driver remembers the limit (its `carries`) and logged it.
      if (isOtaError(error, 'url-refused') && this.stats.requests === before + 1) {
        this.stats.requests = before;
        return this.#overSocket(request, sink);
      }
      throw error;
    }
  }

  /**
   * The request over the modem's socket, the agent's HTTP/1.1. The manuals do not say whether
   * HTTP* and CCH* connections can be open at once, so the built-in session ends first, and the
   * socket's connection ends with its request.
   */
  async #overSocket(request: HttpRequest, sink: HttpBodySink): Promise<HttpResponseHead> {
    await this.modem.native.close();
    this.#socket ??= new SocketHttpClient({ modem: this.modem, clock: this.clock, timeoutMs: this.timeoutMs, keepAlive: false });
    return this.#socket.request(request, sink);
  }

  async #native(request: HttpRequest, sink: HttpBodySink, base: NativeHttpRequest): Promise<HttpResponseHead> {
    const native = this.modem.native;
    const own = carriable(requestHeaders({ ...request, range: undefined }));
    if (request.method !== 'GET' || request.body) {
      // Not windowed: one request, body buffered in the modem (keep bodies small: pitfall 11).
      this.stats.requests++;
      const { status, length } = await native.request({ ...base, headers: carriable(requestHeaders(request)), body: request.body });
      // A feedback's 2xx has nothing the agent reads in its headers: no AT+HTTPHEAD round trip.
      const fields = status >= 200 && status < 300 ? undefined : await this.#headers(status);
      const head: HttpResponseHead = { status, headers: fields?.headers ?? {}, contentLength: length };
      checkRange(request, head);
      sink.onHead?.(head);
      await native.read(0, length, (chunk) => this.#data(sink, chunk));
      return head;
    }
    return this.#windows(request, sink, base, own);
  }

  #data(sink: HttpBodySink, chunk: Uint8Array): void | Promise<void> {
    this.stats.bodyBytes += chunk.length;
    return sink.onData(chunk);
  }

  /**
   * The header fields of the last answer, where the stack gives them (SIM7600 `AT+HTTPHEAD`):
   * Location, ETag, Retry-After, Content-Range, read by the same parser as a socket's answer.
   * Undefined where it does not (SIM7080's SH* reports no headers for a GET, LG-HTTPS7xxx).
   */
  async #headers(status: number): Promise<HttpResponseHead | undefined> {
    const native = this.modem.native;
    if (!native.readHead) return undefined;
    let head: HttpResponseHead | undefined;
    const parser = new HttpResponseParser({ onHead: (h) => void (head = h), onBody: () => undefined });
    parser.expectNoBody();
    await native.readHead((chunk) => {
      let offset = 0;
      while (offset < chunk.length && !parser.done) offset += parser.push(chunk.subarray(offset));
    });
    if (!head) throw new OtaError('http-malformed', 'AT+HTTPHEAD: the header block does not end');
    if (head.status !== status) throw new OtaError('http-malformed', `AT+HTTPHEAD says ${head.status}, +HTTPACTION ${status}`);
    return head;
  }

  /**
   * GET in Range windows of `native.windowMax`. Each window is checked by its status and length:
   * a 206 may not be longer than asked; a shorter one, or a 416 at a window boundary, ends the
   * body. The first answer's header fields are read where the stack gives them (a redirect's
   * Location, the ETag, Retry-After, the size in Content-Range); later windows' are not (one AT
   * round trip each, for fields the first answer already gave).
   */
  async #windows(request: HttpRequest, sink: HttpBodySink, base: NativeHttpRequest, own: [string, string][]): Promise<HttpResponseHead> {
    const native = this.modem.native;
    const askedStart = request.range?.start ?? 0;
    const askedEnd = request.range?.end;
    // Only a Last-Modified date can go into If-Range here (see carriable).
    const ifRange = request.range?.ifRange !== undefined && !request.range.ifRange.includes('"') ? request.range.ifRange : undefined;
    let offset = askedStart;
    let head: HttpResponseHead | undefined;
    for (;;) {
      const window = Math.min(native.windowMax, askedEnd === undefined ? native.windowMax : askedEnd - offset + 1);
      const end = offset + window - 1;
      const headers: [string, string][] = [...own, ['Range', `bytes=${offset}-${end}`]];
      if (ifRange !== undefined) headers.push(['If-Range', ifRange]);
      this.stats.requests++;
      const { status, length } = await native.request({ ...base, headers });
      const fields = head ? undefined : await this.#headers(status);
      if (status === 416) {
        if (!head) throw new OtaError('range-not-satisfiable', `416 for bytes=${offset}-${end}`);
        return head; // the previous window ended exactly at the end of the resource
      }
      if (status === 200) {
        // The server ignored Range, or If-Range saw a changed resource: the whole body is in the
        // modem. Usable only as the first answer: it starts over at 0 (style rule 12).
        if (head) throw new OtaError('range-ignored', `200 to bytes=${offset}-${end} after ${offset - askedStart} bytes`);
        head = { status: 200, headers: fields?.headers ?? {}, contentLength: length, range: { start: 0, end: length - 1, total: length } };
        sink.onHead?.(head);
        await native.read(0, length, (chunk) => this.#data(sink, chunk));
        return head;
      }
      if (status !== 206) {
        if (head) throw new OtaError('http-status', `${status} for window bytes=${offset}-${end}`);
        head = { status, headers: fields?.headers ?? {}, contentLength: length };
        sink.onHead?.(head);
        await native.read(0, length, (chunk) => this.#data(sink, chunk));
        return head;
      }
      if (length > window || length === 0) throw new OtaError('range-mismatch', `asked ${window} bytes from ${offset}, window holds ${length}`);
      if (!head) {
        if (fields?.range && fields.range.start !== offset) throw new OtaError('range-mismatch', `asked from ${offset}, Content-Range starts at ${fields.range.start}`);
        const shortFirst = length < window;
        const headers = fields?.headers ?? {};
        head = request.range
          ? { status: 206, headers, range: { start: askedStart, end: shortFirst ? askedStart + length - 1 : (askedEnd ?? Number.MAX_SAFE_INTEGER) } }
          : { status: 200, headers, range: { start: 0, end: shortFirst ? length - 1 : Number.MAX_SAFE_INTEGER } };
        if (shortFirst) head.range!.total = askedEnd === undefined ? askedStart + length : undefined;
        // The resource's size, where Content-Range gave it: the download knows it from byte 0.
        if (fields?.range?.total !== undefined && head.range!.total === undefined) head.range!.total = fields.range.total;
        sink.onHead?.(head);
      }
      await native.read(0, length, (chunk) => this.#data(sink, chunk));
      offset += length;
      if (length < window || (askedEnd !== undefined && offset > askedEnd)) return head;
    }
  }
}

/**
 * The HttpClient for a modem, on the transport the benchmark found fastest for it (`xs-ota bench`,
 * 1 MiB at 115200 / 921600 baud on the simulated dev kit, goodput as a ratio of the bottleneck):
 * - with RTS/CTS wired (the driver's `flowControl: 'rts-cts'` turns push on): the socket with data
 *   pushed by the modem, SIM7080 `AT+CAOPEN` recv_mode 1 0.956 / 0.916 (network-bound), SIM7600
 *   `AT+CCHSET=1,0` 0.972 / 0.906; no read command per block;
 * - without RTS/CTS (push would overrun the UART whenever a flash write holds the reader):
 *   SIM7080 the TLS socket read with `AT+CARECV` (0.882 / 0.918; SH* windows 0.682 / 0.531,
 *   store and forward); SIM7600 the built-in HTTP client in 60 KiB windows (0.913 / 0.643),
 *   which beats `AT+CCHRECV` reads of 2048 bytes at a time (0.890 / 0.561).
 * A SIM7080 whose firmware refuses recv_mode reads with AT+CARECV on the same socket client.
 */
export function modemHttpClient(options: { modem: Modem; clock: ClockPort; timeoutMs?: number }): HttpClient {
  return options.modem.model === 'sim7600' ? sim7600HttpClient(options) : sim7080HttpClient(options);
}

// One function per modem, so that a firmware built for one modem (build option OTA_MODEM,
// src/agent/modem-part.ts) carries only the client its modem uses: a SIM7080 build no
// NativeHttpClient.

/** SIM7080: always the socket (push with RTS/CTS, AT+CARECV reads without). */
export function sim7080HttpClient(options: { modem: Modem; clock: ClockPort; timeoutMs?: number }): HttpClient {
  return new SocketHttpClient(options);
}

/** SIM7600: the pushing socket with RTS/CTS, else the built-in HTTP client in Range windows. */
export function sim7600HttpClient(options: { modem: Modem; clock: ClockPort; timeoutMs?: number }): HttpClient {
  return (options.modem as Modem & { push?: boolean }).push ? new SocketHttpClient(options) : new NativeHttpClient(options);
}
