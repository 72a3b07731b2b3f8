/**
 * An HttpClient inside XS whose requests cross to the host (tools/xs/serve-http.ts), the way a
 * Moddable binding would hand them to the modem: `http.request` starts one, and the head, each
 * body chunk and the end come back as host events. A sink that throws (or rejects) abandons the
 * request (`http.abort`), as the interface asks. Body chunks are delivered one event at a time and
 * the host waits for each event's crank, so a sink's promise chain keeps the bytes in order.
 */
import type { HttpBodySink, HttpClient, HttpRequest, HttpResponseHead } from '../../../src/net/http.js';
import { OtaError } from '../../../src/util/errors.js';
import type { OtaReason } from '../../../src/agent/reasons.js';
import { hostCall, onHostEvent } from './bridge.js';

interface Pending {
  sink: HttpBodySink;
  resolve: (head: HttpResponseHead) => void;
  reject: (error: unknown) => void;
  head?: HttpResponseHead;
  chain: Promise<void>;
  failed: boolean;
}

export function remoteHttp(): HttpClient {
  const pending = new Map<number, Pending>();
  const fail = (id: number, p: Pending, error: unknown): void => {
    if (p.failed) return;
    p.failed = true;
    pending.delete(id);
    hostCall('http.abort', { id });
    p.reject(error);
  };
  onHostEvent('http.head', (a: { id: number; head: HttpResponseHead }) => {
    const p = pending.get(a.id);
    if (!p) return;
    p.head = a.head;
    try {
      p.sink.onHead?.(a.head);
    } catch (error) {
      fail(a.id, p, error);
    }
  });
  onHostEvent('http.data', (a: { id: number; chunk: Uint8Array }) => {
    const p = pending.get(a.id);
    if (!p) return;
    p.chain = p.chain.then(() => {
      if (!p.failed) return p.sink.onData(a.chunk);
    });
    p.chain.catch((error) => fail(a.id, p, error));
  });
  onHostEvent('http.done', (a: { id: number }) => {
    const p = pending.get(a.id);
    if (!p) return;
    p.chain.then(() => {
      if (p.failed) return;
      pending.delete(a.id);
      p.resolve(p.head!);
    });
  });
  onHostEvent('http.error', (a: { id: number; reason: string; detail?: string }) => {
    const p = pending.get(a.id);
    if (!p) return;
    pending.delete(a.id);
    p.failed = true;
    p.reject(new OtaError(a.reason as OtaReason, a.detail));
  });
  return {
    request(request: HttpRequest, sink: HttpBodySink): Promise<HttpResponseHead> {
      return new Promise<HttpResponseHead>((resolve, reject) => {
        const id = hostCall<number>('http.request', { request });
        pending.set(id, { sink, resolve, reject, chain: Promise.resolve(), failed: false });
      });
    },
  };
}
