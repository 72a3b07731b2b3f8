/**
 * Serves HTTP to an agent running inside XS (the host side of tools/xs/guest/http.ts): each guest
 * request is performed by a Node HttpClient (normally NodeHttpClient against the reference
 * server) and its head, body chunks and end are delivered as guest events, one crank at a time.
 * Chunks are cut to `chunkMax` bytes, what a modem's HTTPREAD would hand over. Errors cross with
 * their OtaError reason.
 */
import type { HttpClient, HttpRequest } from '../../src/net/http.js';
import type { XsSession } from './session.js';

export interface ServeHttpOptions {
  /** Largest body chunk handed to the guest per event, bytes (default 1024). */
  chunkMax?: number;
  /** Called with each guest event promise (virtual time tracks them). */
  track?: (work: Promise<unknown>) => void;
}

export function serveHttp(session: XsSession, client: HttpClient, options: ServeHttpOptions = {}): void {
  const chunkMax = options.chunkMax ?? 1024;
  let nextId = 1;
  const aborted = new Set<number>();
  const deliver = (name: string, args: unknown): Promise<void> => {
    const work = session.event(name, args);
    options.track?.(work);
    return work;
  };
  session.provide('http.abort', (a: { id: number }) => void aborted.add(a.id));
  session.provide('http.request', (a: { request: HttpRequest }) => {
    const id = nextId++;
    // Events are queued behind the crank that is running this call, so the guest has registered
    // the request before its head arrives.
    let queue: Promise<void> = Promise.resolve();
    const send = (name: string, args: unknown): Promise<void> => (queue = queue.then(() => deliver(name, args)));
    client
      .request(a.request, {
        onHead: (head) => {
          if (aborted.has(id)) throw new Error('aborted by the guest');
          void send('http.head', { id, head });
        },
        onData: async (chunk) => {
          for (let at = 0; at < chunk.length; at += chunkMax) {
            if (aborted.has(id)) throw new Error('aborted by the guest');
            await send('http.data', { id, chunk: chunk.slice(at, at + chunkMax) });
          }
        },
      })
      .then(
        () => send('http.done', { id }),
        (error: { reason?: string; message?: string; detail?: string }) =>
          aborted.has(id) ? undefined : send('http.error', { id, reason: error.reason ?? 'link-lost', detail: error.detail ?? error.message }),
      )
      .catch(() => undefined)
      .finally(() => aborted.delete(id));
    return id;
  });
}
