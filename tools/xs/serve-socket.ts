/**
 * Byte streams for a guest running in XS: the host opens real sockets (Node `net`/`tls` through a
 * ByteStreamConnector, e.g. tools/node/node-byte-stream.ts with the device's client
 * certificate) and bridges their bytes, the way a Moddable binding bridges the modem's TLS socket.
 * The guest side is tools/xs/guest/socket.ts.
 *
 *   guest → host (synchronous):  socket.open {host, port, tls} → id
 *                                socket.write {id, bytes}   (queued on the host socket, in order)
 *                                socket.close {id}
 *   host → guest (events):       socket.opened {id}
 *                                socket.data {id, bytes}
 *                                socket.closed {id, reason?, detail?}   (once; reason absent after our close)
 *
 * `serveRealClock` serves the guest's remoteClock() on Node's real timers, for sessions that talk
 * to real processes (a broker) whose time virtual time cannot drive.
 */
import type { ByteStream, ByteStreamConnector } from '../../src/net/byte-stream.js';
import type { HttpClient, HttpRequest } from '../../src/net/http.js';
import { OtaError } from '../../src/util/errors.js';
import type { XsSession } from './session.js';

export interface SocketBridge {
  /** Sockets opened so far, and still open. */
  readonly opened: number;
  readonly open: number;
  /** Close every socket (test teardown). */
  closeAll(): void;
}

export function serveSockets(session: XsSession, connector: ByteStreamConnector, onError: (error: unknown) => void = () => undefined): SocketBridge {
  const streams = new Map<number, ByteStream>();
  let next = 1;
  let opened = 0;
  // Events are cranks of their own; a failed delivery is a test failure, reported via onError.
  const event = (name: string, args: unknown): void => void session.event(name, args).catch(onError);
  session.provide('socket.open', (a: { host: string; port: number; tls: boolean }) => {
    const id = next++;
    opened++;
    connector.connect({ host: a.host, port: a.port, tls: a.tls }).then(
      (stream) => {
        streams.set(id, stream);
        stream.onData((chunk) => event('socket.data', { id, bytes: chunk.slice() }));
        stream.onClose((error) => {
          streams.delete(id);
          event('socket.closed', { id, reason: error?.reason, detail: error?.detail });
        });
        event('socket.opened', { id });
      },
      (error: unknown) => {
        const e = error instanceof OtaError ? error : new OtaError('link-lost', String(error));
        event('socket.closed', { id, reason: e.reason, detail: e.detail });
      },
    );
    return id;
  });
  session.provide('socket.write', (a: { id: number; bytes: Uint8Array }) => {
    const stream = streams.get(a.id);
    if (!stream) throw new Error(`socket ${a.id} is not open`);
    // Ordered on the host socket; a failure ends the stream, which the guest hears as socket.closed.
    stream.write(a.bytes).catch(() => undefined);
    return null;
  });
  session.provide('socket.close', (a: { id: number }) => {
    const stream = streams.get(a.id);
    streams.delete(a.id);
    stream?.close();
    return null;
  });
  return {
    get opened() {
      return opened;
    },
    get open() {
      return streams.size;
    },
    closeAll() {
      for (const s of streams.values()) s.close();
      streams.clear();
    },
  };
}

/** The guest's clock on real time (Node timers), delivering `clock.timer` events. */
export function serveRealClock(session: XsSession, onError: (error: unknown) => void = () => undefined): { readonly active: number; clear(): void } {
  const timers = new Map<number, NodeJS.Timeout>();
  const origin = performance.now();
  session.provide('clock.now', () => performance.now() - origin);
  session.provide('clock.wall', () => Math.floor(Date.now() / 1000));
  session.provide('clock.set', (a: { id: number; ms: number }) => {
    timers.set(
      a.id,
      setTimeout(() => {
        timers.delete(a.id);
        session.event('clock.timer', { id: a.id }).catch(onError);
      }, a.ms),
    );
    return null;
  });
  session.provide('clock.clear', (a: { id: number }) => {
    const t = timers.get(a.id);
    if (t !== undefined) clearTimeout(t);
    timers.delete(a.id);
    return null;
  });
  return {
    get active() {
      return timers.size;
    },
    clear() {
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
    },
  };
}

/**
 * HTTP for a guest (tools/xs/guest/socket.ts `remoteHttp`): the host performs the request with
 * `http` and sends head, body chunks and the end as events, in order.
 *
 *   guest → host:  http.request {request} → id;  http.abort {id}
 *   host → guest:  http.head {id, head};  http.data {id, bytes};  http.done {id, reason?, detail?}
 */
export function serveHttp(session: XsSession, http: HttpClient, onError: (error: unknown) => void = () => undefined): void {
  let next = 1;
  const aborted = new Set<number>();
  const event = (name: string, args: { id: number }): void => {
    if (!aborted.has(args.id)) void session.event(name, args).catch(onError);
  };
  session.provide('http.request', (a: { request: HttpRequest }) => {
    const id = next++;
    http
      .request(a.request, {
        onHead: (head) => event('http.head', { id, head } as { id: number }),
        onData: (chunk) => event('http.data', { id, bytes: chunk.slice() } as { id: number }),
      })
      .then(
        () => event('http.done', { id }),
        (error: unknown) => {
          const e = error instanceof OtaError ? error : new OtaError('link-lost', String(error));
          event('http.done', { id, reason: e.reason, detail: e.detail } as { id: number });
        },
      );
    return id;
  });
  session.provide('http.abort', (a: { id: number }) => {
    aborted.add(a.id);
    return null;
  });
}
