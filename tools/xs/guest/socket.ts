/**
 * ByteStreams inside XS, carried by the host (tools/xs/serve-socket.ts): the guest-side proxy of a
 * socket, as a Moddable binding of the modem's TLS socket would be. Implements the ByteStream
 * contract of src/net/byte-stream.ts: ordered writes, data in order, one onClose, total close().
 */
import type { ByteStream, ByteStreamConnector, StreamTarget } from '../../../src/net/byte-stream.js';
import type { HttpBodySink, HttpClient, HttpRequest, HttpResponseHead } from '../../../src/net/http.js';
import { OtaError } from '../../../src/util/errors.js';
import type { OtaReason } from '../../../src/agent/reasons.js';
import { hostCall, onHostEvent } from './bridge.js';

interface GuestSocket {
  opening?: { resolve: (s: ByteStream) => void; reject: (e: OtaError) => void };
  stream?: ByteStream;
  deliver(bytes: Uint8Array): void;
  ended(error?: OtaError): void;
}

const sockets = new Map<number, GuestSocket>();
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  onHostEvent('socket.opened', (a: { id: number }) => {
    const s = sockets.get(a.id);
    const opening = s?.opening;
    if (!s || !opening) return;
    s.opening = undefined;
    opening.resolve(s.stream!);
  });
  onHostEvent('socket.data', (a: { id: number; bytes: Uint8Array }) => sockets.get(a.id)?.deliver(a.bytes));
  onHostEvent('socket.closed', (a: { id: number; reason?: string; detail?: string }) => {
    const s = sockets.get(a.id);
    if (!s) return;
    sockets.delete(a.id);
    const error = a.reason ? new OtaError(a.reason as OtaReason, a.detail) : undefined;
    if (s.opening) {
      const opening = s.opening;
      s.opening = undefined;
      opening.reject(error ?? new OtaError('link-lost', 'closed while opening'));
    } else s.ended(error ?? new OtaError('link-lost', 'peer closed the connection'));
  });
}

export function remoteConnector(): ByteStreamConnector {
  install();
  return {
    connect(target: StreamTarget): Promise<ByteStream> {
      const id = hostCall<number>('socket.open', { host: target.host, port: target.port, tls: target.tls });
      let dataHandler: ((chunk: Uint8Array) => void) | undefined;
      let closeHandler: ((error?: OtaError) => void) | undefined;
      const early: Uint8Array[] = [];
      let ended: { error?: OtaError } | undefined;
      const end = (error?: OtaError): void => {
        if (ended) return;
        ended = { error };
        const h = closeHandler;
        closeHandler = undefined;
        h?.(error);
      };
      const stream: ByteStream = {
        write(bytes) {
          if (ended) return Promise.reject(new OtaError('closed', 'stream closed'));
          try {
            hostCall('socket.write', { id, bytes });
          } catch (error) {
            return Promise.reject(new OtaError('link-lost', String(error)));
          }
          return Promise.resolve();
        },
        onData(handler) {
          dataHandler = handler;
          while (early.length > 0 && !ended) handler(early.shift()!);
        },
        onClose(handler) {
          if (ended) handler(ended.error);
          else closeHandler = handler;
        },
        close() {
          if (ended) return;
          sockets.delete(id);
          hostCall('socket.close', { id });
          end();
        },
      };
      return new Promise<ByteStream>((resolve, reject) => {
        sockets.set(id, {
          opening: { resolve, reject },
          stream,
          deliver(bytes) {
            if (ended) return;
            if (dataHandler) dataHandler(bytes);
            else early.push(bytes);
          },
          ended: end,
        });
      });
    },
  };
}

// ---------------------------------------------------------------- HTTP, carried by the host

interface GuestRequest {
  sink: HttpBodySink;
  head?: HttpResponseHead;
  resolve: (head: HttpResponseHead) => void;
  reject: (error: OtaError) => void;
  failed: boolean;
}

const requests = new Map<number, GuestRequest>();
let httpInstalled = false;

/**
 * An HttpClient whose requests the host performs (tools/xs/serve-socket.ts `serveHttp`): head and
 * body come back as events, so the sink sees the same calls as with a device HTTP client.
 */
export function remoteHttp(): HttpClient {
  if (!httpInstalled) {
    httpInstalled = true;
    onHostEvent('http.head', (a: { id: number; head: HttpResponseHead }) => {
      const r = requests.get(a.id);
      if (!r || r.failed) return;
      r.head = a.head;
      try {
        r.sink.onHead?.(a.head);
      } catch (error) {
        fail(a.id, r, error);
      }
    });
    onHostEvent('http.data', (a: { id: number; bytes: Uint8Array }) => {
      const r = requests.get(a.id);
      if (!r || r.failed) return;
      try {
        const p = r.sink.onData(a.bytes);
        if (p instanceof Promise) p.catch((error: unknown) => fail(a.id, r, error));
      } catch (error) {
        fail(a.id, r, error);
      }
    });
    onHostEvent('http.done', (a: { id: number; reason?: string; detail?: string }) => {
      const r = requests.get(a.id);
      if (!r) return;
      requests.delete(a.id);
      if (r.failed) return;
      if (a.reason) r.reject(new OtaError(a.reason as OtaReason, a.detail));
      else r.resolve(r.head!);
    });
  }
  return {
    request(request: HttpRequest, sink: HttpBodySink): Promise<HttpResponseHead> {
      return new Promise((resolve, reject) => {
        const id = hostCall<number>('http.request', { request });
        requests.set(id, { sink, resolve, reject, failed: false });
      });
    },
  };
}

function fail(id: number, r: GuestRequest, error: unknown): void {
  r.failed = true;
  requests.delete(id);
  hostCall('http.abort', { id });
  r.reject(error instanceof OtaError ? error : new OtaError('aborted', String(error)));
}
