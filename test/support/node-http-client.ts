/**
 * The HttpClient interface (src/net/http.ts) on Node's http/https, for backend tests that talk to
 * a loopback server without a simulated modem in between.
 */
import http from 'node:http';
import https from 'node:https';
import type { HttpBodySink, HttpClient, HttpRequest, HttpResponseHead } from '../../src/net/http.js';
import { OtaError } from '../../src/util/errors.js';

export class NodeHttpClient implements HttpClient {
  readonly requests: string[] = [];

  request(request: HttpRequest, sink: HttpBodySink): Promise<HttpResponseHead> {
    this.requests.push(`${request.method} ${request.url}`);
    return new Promise((resolve, reject) => {
      const lib = request.url.startsWith('https:') ? https : http;
      const headers: Record<string, string> = { ...(request.headers ?? {}) };
      if (request.range) headers.range = `bytes=${request.range.start}-${request.range.end ?? ''}`;
      const req = lib.request(request.url, { method: request.method, headers, timeout: request.timeoutMs ?? 10_000 }, (res) => {
        const head: HttpResponseHead = { status: res.statusCode ?? 0, headers: {} };
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') head.headers[k] = v;
        if (res.headers['content-length']) head.contentLength = Number(res.headers['content-length']);
        try {
          sink.onHead?.(head);
        } catch (error) {
          res.destroy();
          reject(error);
          return;
        }
        let failed = false;
        res.on('data', (chunk: Buffer) => {
          if (failed) return;
          try {
            const r = sink.onData(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
            if (r instanceof Promise) r.catch((e) => ((failed = true), res.destroy(), reject(e)));
          } catch (error) {
            failed = true;
            res.destroy();
            reject(error);
          }
        });
        res.on('end', () => !failed && resolve(head));
        res.on('error', (e) => reject(new OtaError('body-truncated', e.message, e)));
      });
      req.on('timeout', () => req.destroy(new OtaError('timeout', request.url)));
      req.on('error', (e) => reject(e instanceof OtaError ? e : new OtaError('link-lost', e.message, e)));
      req.end(request.body);
    });
  }
}
