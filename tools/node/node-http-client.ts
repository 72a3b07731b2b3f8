/**
 * The agent's HttpClient (src/net/http.ts) over node:http / node:https, for tests and the dev kit
 * in Node. It keeps the interface's promises exactly, so a backend that passes over this client
 * passes over the modem's:
 *  - bodies stream into the sink; a promise from `onData` pauses the socket (backpressure);
 *  - response headers are lower-cased, and one longer than HEADER_VALUE_MAX is dropped (a cut ETag
 *    would make a later If-Range wrong);
 *  - a ranged request is checked (RFC 9110 §14): a 206 must carry `Content-Range: bytes a-b/len`
 *    starting at the asked offset and not past the asked end (`range-mismatch`), a 200 to a request
 *    from a non-zero offset without If-Range means the server ignored Range (`range-ignored`), a 200
 *    with If-Range means the resource changed and the body is the whole new one (range start 0);
 *  - HTTP statuses (404, 416, 503...) are not errors here: the head goes to the caller, who decides;
 *  - a body shorter than its Content-Length is `body-truncated`, a connection lost before the
 *    head is `link-lost`, the deadline is `timeout`.
 */
import http from 'node:http';
import https from 'node:https';
import type { HttpBodySink, HttpClient, HttpRequest, HttpResponseHead } from '../../src/net/http.js';
import { OtaError } from '../../src/util/errors.js';

/** Longest response header value kept, characters (what a modem's header buffer would hold). */
export const HEADER_VALUE_MAX = 1024;
/** Default whole-request deadline, ms. */
export const DEFAULT_TIMEOUT_MS = 30_000;

export interface NodeHttpClientOptions {
  /** Default deadline per request (ms). */
  timeoutMs?: number;
  /** Extra CA certificates (PEM) for https. */
  ca?: string | string[];
  /** Called for each request, for tests that count traffic. */
  onRequest?: (request: HttpRequest) => void;
}

/** Parse `bytes a-b/len` or `bytes a-b/*` (RFC 9110 §14.4); undefined if malformed. */
export function parseContentRange(value: string | undefined): { start: number; end: number; total?: number } | undefined {
  if (value === undefined) return undefined;
  const match = /^bytes ([0-9]{1,15})-([0-9]{1,15})\/([0-9]{1,15}|\*)$/.exec(value.trim());
  if (!match) return undefined;
  const start = Number(match[1]);
  const end = Number(match[2]);
  const total = match[3] === '*' ? undefined : Number(match[3]);
  if (end < start || (total !== undefined && end >= total)) return undefined;
  return total === undefined ? { start, end } : { start, end, total };
}

export class NodeHttpClient implements HttpClient {
  #timeoutMs: number;
  #ca: string | string[] | undefined;
  #onRequest: ((request: HttpRequest) => void) | undefined;

  constructor(options: NodeHttpClientOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#ca = options.ca;
    this.#onRequest = options.onRequest;
  }

  request(request: HttpRequest, sink: HttpBodySink): Promise<HttpResponseHead> {
    this.#onRequest?.(request);
    return new Promise<HttpResponseHead>((resolve, reject) => {
      let url: URL;
      try {
        url = new URL(request.url);
        if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
      } catch {
        reject(new OtaError('invalid-argument', `not an http(s) URL: ${request.url.slice(0, 80)}`));
        return;
      }
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(request.headers ?? {})) headers[name.toLowerCase()] = value;
      if (request.range) {
        const { start, end, ifRange } = request.range;
        headers['range'] = `bytes=${start}-${end ?? ''}`;
        if (ifRange !== undefined) headers['if-range'] = ifRange;
      }
      if (request.body) headers['content-length'] = String(request.body.length);

      let settled = false;
      let head: HttpResponseHead | undefined;
      let received = 0;
      const fail = (error: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        reject(error);
      };
      const transport = url.protocol === 'https:' ? https : http;
      const req = transport.request(url, { method: request.method, headers, ca: this.#ca, agent: false }, (res) => {
        try {
          head = this.#head(request, res);
          sink.onHead?.(head);
        } catch (error) {
          fail(error);
          return;
        }
        const expected = head.contentLength;
        let chain: Promise<void> = Promise.resolve();
        res.on('data', (data: Buffer) => {
          if (settled) return;
          received += data.length;
          const chunk = new Uint8Array(data.buffer, data.byteOffset, data.length);
          let result: void | Promise<void>;
          try {
            result = sink.onData(chunk);
          } catch (error) {
            fail(error);
            return;
          }
          if (result instanceof Promise) {
            res.pause();
            chain = result.then(
              () => {
                if (!settled) res.resume();
              },
              (error) => fail(error),
            );
          }
        });
        res.on('end', () => {
          void chain.then(() => {
            if (settled) return;
            if (!res.complete || (expected !== undefined && received < expected)) {
              fail(new OtaError('body-truncated', `${request.url}: ${received} of ${expected ?? '?'} body bytes`));
              return;
            }
            settled = true;
            clearTimeout(timer);
            resolve(head!);
          });
        });
        res.on('error', () => undefined); // reported through 'close' below
        res.on('close', () => {
          if (!res.complete) {
            void chain.then(() => fail(new OtaError('body-truncated', `${request.url}: connection closed after ${received} of ${expected ?? '?'} body bytes`)));
          }
        });
      });
      const timer = setTimeout(
        () => fail(new OtaError('timeout', `${request.method} ${request.url}: no answer in ${request.timeoutMs ?? this.#timeoutMs} ms`)),
        request.timeoutMs ?? this.#timeoutMs,
      );
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (head !== undefined) fail(new OtaError('body-truncated', `${request.url}: ${error.code ?? error.message} after ${received} body bytes`, error));
        else if (error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN') fail(new OtaError('dns-failed', `${url.hostname}: ${error.code}`, error));
        else if (/certificate|SSL|TLS/i.test(`${error.code} ${error.message}`)) fail(new OtaError('tls-failed', error.message, error));
        else fail(new OtaError('link-lost', `${request.method} ${request.url}: ${error.code ?? error.message}`, error));
      });
      req.end(request.body ? Buffer.from(request.body.buffer, request.body.byteOffset, request.body.length) : undefined);
    });
  }

  #head(request: HttpRequest, res: http.IncomingMessage): HttpResponseHead {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(res.headers)) {
      if (value === undefined) continue;
      const text = Array.isArray(value) ? value.join(', ') : value;
      if (text.length <= HEADER_VALUE_MAX) headers[name.toLowerCase()] = text;
    }
    const status = res.statusCode ?? 0;
    const head: HttpResponseHead = { status, headers };
    const lengthText = headers['content-length'];
    if (lengthText !== undefined) {
      if (!/^[0-9]{1,15}$/.test(lengthText)) throw new OtaError('http-malformed', `Content-Length: ${lengthText.slice(0, 32)}`);
      head.contentLength = Number(lengthText);
    }
    const asked = request.range;
    if (status === 206) {
      const range = parseContentRange(headers['content-range']);
      if (!range) throw new OtaError('range-mismatch', `206 with Content-Range '${headers['content-range'] ?? ''}'`);
      if (asked) {
        if (range.start !== asked.start) throw new OtaError('range-mismatch', `asked from ${asked.start}, got ${range.start}-${range.end}`);
        if (asked.end !== undefined && range.end > asked.end) throw new OtaError('range-mismatch', `asked to ${asked.end}, got ${range.start}-${range.end}`);
      }
      if (head.contentLength !== undefined && head.contentLength !== range.end - range.start + 1) {
        throw new OtaError('range-mismatch', `Content-Length ${head.contentLength} for range ${range.start}-${range.end}`);
      }
      head.range = range;
    } else if (status === 200) {
      if (asked && asked.start > 0 && asked.ifRange === undefined) {
        throw new OtaError('range-ignored', `asked from ${asked.start}, server sent the whole body (200)`);
      }
      if (head.contentLength !== undefined && head.contentLength > 0) head.range = { start: 0, end: head.contentLength - 1, total: head.contentLength };
    }
    return head;
  }
}
