/**
 * A small HTTP/1.1 file server on loopback for the modem rig: Range (RFC 9110 §14), If-Range
 * with a strong ETag, 416 past the end, HEAD. The modem simulator's connections end here.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { acceptTls, type TlsAcceptor } from '../node/test-pki.js';

export interface RangeServer {
  port: number;
  /** Requests served, with their Range header. */
  log: { method: string; path: string; range?: string; ifRange?: string; status: number }[];
  /** The same port over TLS (test CA certificate): switch the certificate, count handshakes. */
  tls: TlsAcceptor;
  /** Replace the file (a new ETag: If-Range then answers 200). */
  setFile(path: string, body: Uint8Array, etag?: string): void;
  /**
   * Real milliseconds the server sits on each request before answering (a host too busy to
   * answer at once). Virtual-time figures must not move with it (the determinism spec).
   */
  answerDelayRealMs: number;
  close(): Promise<void>;
}

export async function startRangeServer(): Promise<RangeServer> {
  const files = new Map<string, { body: Uint8Array; etag: string }>();
  const log: RangeServer['log'] = [];
  const state = { answerDelayRealMs: 0 };
  const server: Server = createServer((req, res) => {
    if (state.answerDelayRealMs > 0) setTimeout(() => answer(req, res), state.answerDelayRealMs);
    else answer(req, res);
  });
  const answer = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0];
    const file = files.get(path);
    const range = req.headers.range;
    const ifRange = req.headers['if-range'] as string | undefined;
    const entry = { method: req.method ?? '', path, range, ifRange, status: 0 };
    log.push(entry);
    req.resume();
    if (!file) {
      entry.status = 404;
      res.writeHead(404, { 'Content-Length': '0' }).end();
      return;
    }
    const size = file.body.length;
    let start = 0;
    let end = size - 1;
    let status = 200;
    const m = range && (ifRange === undefined || ifRange === file.etag) ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
    if (m) {
      start = Number(m[1]);
      end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
      if (start >= size || end < start) {
        entry.status = 416;
        res.writeHead(416, { 'Content-Range': `bytes */${size}`, 'Content-Length': '0' }).end();
        return;
      }
      status = 206;
    }
    entry.status = status;
    const headers: Record<string, string> = {
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(end - start + 1),
      ETag: file.etag,
      'Accept-Ranges': 'bytes',
    };
    if (status === 206) headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    res.writeHead(status, headers);
    if (req.method === 'HEAD') res.end();
    else res.end(Buffer.from(file.body.buffer, file.body.byteOffset + start, end - start + 1));
  };
  // No idle close in real time: a close timed by the host's clock would reach the device at a
  // virtual instant that depends on the host's speed (the bench must not). Idle limits are the
  // device's (SocketHttpClient keepAlive) and the simulated modem's, in virtual time.
  server.keepAliveTimeout = 0;
  // https:// through the modem: TLS with the test certificate on the same port.
  const tls = acceptTls(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    log,
    tls,
    get answerDelayRealMs() {
      return state.answerDelayRealMs;
    },
    set answerDelayRealMs(ms: number) {
      state.answerDelayRealMs = ms;
    },
    setFile(path, body, etag = `"${body.length}-${body[0] ?? 0}-${body[body.length - 1] ?? 0}"`) {
      files.set(path, { body, etag });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
