/**
 * A scripted HttpClient for backend unit tests: answers each request from a table of canned
 * responses (any bytes, any headers, any chunking), and records the requests with their bodies, so
 * a test can serve hostile JSON and check exactly what the backend sent.
 */
import type { HttpBodySink, HttpClient, HttpRequest, HttpResponseHead } from '../../src/net/http.js';

export interface CannedResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | Uint8Array | object;
  /** Deliver the body in chunks of this size (default: one chunk). */
  chunkSize?: number;
  /** Leave Content-Length out of the head (as a chunked response). */
  noLength?: boolean;
}

export interface SentRequest extends HttpRequest {
  /** The request body parsed as JSON, when there was one. */
  json?: unknown;
}

type Route = CannedResponse | ((request: HttpRequest) => CannedResponse);

export class ScriptedHttp implements HttpClient {
  readonly sent: SentRequest[] = [];
  #routes = new Map<string, Route>();

  /** Answer `METHOD url` (exact URL, query included) with `response`. */
  on(method: string, url: string, response: Route): this {
    this.#routes.set(`${method} ${url}`, response);
    return this;
  }

  async request(request: HttpRequest, sink: HttpBodySink): Promise<HttpResponseHead> {
    const entry: SentRequest = { ...request };
    if (request.body) entry.json = JSON.parse(new TextDecoder().decode(request.body));
    this.sent.push(entry);
    const route = this.#routes.get(`${request.method} ${request.url}`);
    const canned: CannedResponse = route === undefined ? { status: 404 } : typeof route === 'function' ? route(request) : route;
    const body =
      canned.body === undefined
        ? new Uint8Array(0)
        : canned.body instanceof Uint8Array
          ? canned.body
          : new TextEncoder().encode(typeof canned.body === 'string' ? canned.body : JSON.stringify(canned.body));
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(canned.headers ?? {})) headers[k.toLowerCase()] = v;
    const head: HttpResponseHead = { status: canned.status, headers };
    if (!canned.noLength) head.contentLength = body.length;
    sink.onHead?.(head);
    const size = canned.chunkSize ?? Math.max(1, body.length);
    for (let at = 0; at < body.length; at += size) await sink.onData(body.slice(at, at + size));
    return head;
  }
}
