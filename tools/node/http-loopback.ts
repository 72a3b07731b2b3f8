/**
 * A small HTTP/1.1 server on loopback for modem and download tests: serves one byte buffer with
 * Range (RFC 9110 §14), ETag and If-Range (§13.1.5), 416 for an unsatisfiable range, keep-alive,
 * and fault knobs (truncate the body, drop the connection, answer 5xx). The port speaks TLS too,
 * with the test certificate (tools/node/test-pki.ts), for https:// URLs through the modem.
 *
 * Written on node:net rather than node:http so the response bytes are exactly what is listed
 * here (no Date or Keep-Alive headers): the modem transcripts compare them byte for byte.
 *
 * ```ts
 * const server = await startHttpLoopback({ body: image, path: '/fw/app.bin' });
 * // server.endpoint -> { host: '127.0.0.1', port }; server.requests -> what was asked
 * server.faults.truncateAt = 1000; // next response ends after 1000 body bytes (clean FIN)
 * await server.close();
 * ```
 */
import { createHash } from 'node:crypto';
import * as net from 'node:net';
import { acceptTls, type ServerCertificate, type TlsAcceptor } from './test-pki.js';

export interface HttpLoopbackFaults {
  /** End the next response after this many body bytes (Content-Length promised more; FIN). One-shot. */
  truncateAt?: number;
  /** Destroy the connection (RST) after this many body bytes of the next response. One-shot. */
  dropAt?: number;
  /** Answer the next `times` (default 1) requests with this status and an empty body. */
  status5xx?: { status: number; times?: number };
}

export interface HttpLoopbackOptions {
  /** The bytes served. */
  body: Uint8Array;
  /** Only this path is served (others 404); default: every path. */
  path?: string;
  /** ETag to send and to match If-Range against; default a hash of the body; false: none. */
  etag?: string | false;
  /** Content-Type header (default application/octet-stream). */
  contentType?: string;
  /** Send `Connection: close` (and close) when a response reaches the end of the body. */
  closeAtEof?: boolean;
  faults?: HttpLoopbackFaults;
  /** Certificate TLS clients see (the port speaks TLS and plain TCP, tools/node/test-pki.ts). */
  certificate?: ServerCertificate;
}

export interface LoopbackRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  status: number;
}

export interface HttpLoopback {
  readonly endpoint: { host: string; port: number };
  readonly url: string;
  readonly requests: LoopbackRequest[];
  faults: HttpLoopbackFaults;
  /** The same port over TLS (test CA): switch the certificate, count handshakes. */
  readonly tls: TlsAcceptor;
  /** Replace the served bytes (a new image version: the ETag changes with it). */
  setBody(body: Uint8Array): void;
  close(): Promise<void>;
}

const REASON: Record<number, string> = {
  200: 'OK',
  206: 'Partial Content',
  404: 'Not Found',
  405: 'Method Not Allowed',
  416: 'Range Not Satisfiable',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/** Largest request header block accepted (bytes); past it the connection is closed. */
const REQUEST_HEAD_MAX = 16_384;

export async function startHttpLoopback(options: HttpLoopbackOptions): Promise<HttpLoopback> {
  let body = options.body;
  const etagOf = (b: Uint8Array) => (options.etag === false ? undefined : (options.etag ?? `"${createHash('sha256').update(b).digest('hex').slice(0, 16)}"`));
  let etag = etagOf(body);
  const requests: LoopbackRequest[] = [];
  const sockets = new Set<net.Socket>();
  const state: { faults: HttpLoopbackFaults } = { faults: options.faults ?? {} };

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) {
          if (pending.length > REQUEST_HEAD_MAX) socket.destroy();
          return;
        }
        const head = pending.subarray(0, end).toString('latin1');
        // Request bodies (small POSTs) are skipped by Content-Length.
        const lenMatch = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        const bodyLen = lenMatch ? Number(lenMatch[1]) : 0;
        if (pending.length < end + 4 + bodyLen) return;
        pending = pending.subarray(end + 4 + bodyLen);
        if (!respond(socket, head)) return;
      }
    });
  });

  /** Writes one response; false when the connection was closed. */
  function respond(socket: net.Socket, head: string): boolean {
    const [requestLine, ...lines] = head.split('\r\n');
    const [method, path] = requestLine.split(' ');
    const headers: Record<string, string> = {};
    for (const l of lines) {
      const c = l.indexOf(':');
      if (c > 0) headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
    }
    const log: LoopbackRequest = { method, path, headers, status: 0 };
    requests.push(log);
    const f = state.faults;
    const total = body.length;
    let status = 200;
    let start = 0;
    let end = total - 1;
    const extra: string[] = [];
    if (f.status5xx) {
      status = f.status5xx.status;
      const times = (f.status5xx.times ?? 1) - 1;
      if (times <= 0) delete f.status5xx;
      else f.status5xx.times = times;
    } else if (method !== 'GET' && method !== 'HEAD') status = 405;
    else if (options.path !== undefined && path !== options.path) status = 404;
    else {
      const range = headers['range'];
      const ifRange = headers['if-range'];
      // If-Range: the range applies only when the validator still matches (RFC 9110 §13.1.5).
      const rangeApplies = range !== undefined && (ifRange === undefined || (etag !== undefined && ifRange === etag));
      if (rangeApplies) {
        const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
        if (m && (m[1] !== '' || m[2] !== '')) {
          if (m[1] === '') {
            const n = Number(m[2]);
            start = Math.max(0, total - n);
          } else {
            start = Number(m[1]);
            end = m[2] === '' ? total - 1 : Math.min(total - 1, Number(m[2]));
          }
          if (start >= total || (m[1] === '' && Number(m[2]) === 0) || end < start) {
            status = 416;
            extra.push(`Content-Range: bytes */${total}`);
          } else {
            status = 206;
            extra.push(`Content-Range: bytes ${start}-${end}/${total}`);
          }
        }
        // A syntactically invalid Range is ignored: 200 with the whole body.
      }
    }
    log.status = status;
    const payload = status === 200 || status === 206 ? body.subarray(start, end + 1) : new Uint8Array(0);
    const close = options.closeAtEof === true && (status === 200 || status === 206) && end === total - 1;
    const out = [`HTTP/1.1 ${status} ${REASON[status] ?? 'Status'}`];
    if (status === 200 || status === 206) out.push(`Content-Type: ${options.contentType ?? 'application/octet-stream'}`);
    out.push(...extra);
    out.push(`Content-Length: ${payload.length}`);
    if (etag !== undefined && (status === 200 || status === 206)) out.push(`ETag: ${etag}`);
    out.push(`Connection: ${close ? 'close' : 'keep-alive'}`);
    socket.write(Buffer.from(out.join('\r\n') + '\r\n\r\n', 'latin1'));
    if (method === 'HEAD') {
      if (close) socket.end();
      return !close;
    }
    if (f.truncateAt !== undefined && f.truncateAt < payload.length) {
      socket.end(payload.subarray(0, f.truncateAt));
      delete f.truncateAt;
      return false;
    }
    if (f.dropAt !== undefined && f.dropAt < payload.length) {
      socket.write(payload.subarray(0, f.dropAt), () => socket.resetAndDestroy());
      delete f.dropAt;
      return false;
    }
    if (close) {
      socket.end(payload);
      return false;
    }
    socket.write(payload);
    return true;
  }

  const tls = acceptTls(server, { certificate: options.certificate });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    endpoint: { host: '127.0.0.1', port },
    url: `http://127.0.0.1:${port}`,
    requests,
    tls,
    get faults() {
      return state.faults;
    },
    set faults(f) {
      state.faults = f;
    },
    setBody(b: Uint8Array) {
      body = b;
      etag = etagOf(b);
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
