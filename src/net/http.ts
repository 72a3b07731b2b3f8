/**
 * The HTTP client the agent and its backends use, whatever carries it (the modem's built-in
 * HTTP(S) stack, or HTTP/1.1 over a modem TLS socket). Bodies stream: the client never holds a
 * whole body, and `onData` may return a promise to apply backpressure (a flash write).
 */
export type HttpMethod = 'GET' | 'POST' | 'PUT';

export interface HttpRequest {
  method: HttpMethod;
  /** Absolute http:// or https:// URL. */
  url: string;
  /** Extra request headers (lower- or mixed-case names; values ASCII). */
  headers?: Record<string, string>;
  body?: Uint8Array;
  /**
   * Ask for bytes from `start` (to `end` inclusive when given). With `ifRange` (an ETag or
   * Last-Modified), a server whose resource changed answers 200 with the whole new body.
   */
  range?: { start: number; end?: number; ifRange?: string };
  /** Whole-request deadline in ms (default: the client's). */
  timeoutMs?: number;
}

export interface HttpResponseHead {
  status: number;
  /** Response headers the client keeps (lower-case names), each capped by LIMITS.httpHeaderValueMax. */
  headers: Record<string, string>;
  /** Content-Length, when the server sent one. */
  contentLength?: number;
  /**
   * The byte range this body holds: for a 206, from Content-Range (checked against the request);
   * for a 200, `{start: 0, total: contentLength}`.
   */
  range?: { start: number; end: number; total?: number };
}

export interface HttpBodySink {
  /**
   * The request is with the modem and no byte of the answer was read yet: the link is idle for a
   * round trip, and the caller may spend it (the slot writer's erase-ahead). What arrives
   * meanwhile waits in the modem and the UART FIFO. Called at most once per connection attempt;
   * clients that cannot tell when that is (the modem's built-in HTTP) do not call it.
   */
  onSent?(): void;
  /** Called once, before any body byte. Throw to abandon the request (e.g. unexpected status). */
  onHead?(head: HttpResponseHead): void;
  /** A piece of the body, in order. The chunk is only valid during the call (copy to keep it). */
  onData(chunk: Uint8Array): void | Promise<void>;
}

export interface HttpClient {
  /**
   * Perform one request, streaming the body into `sink`. Resolves with the head once the whole
   * body was delivered. Rejects with an OtaError (`body-truncated`, `range-mismatch`,
   * `range-ignored`, `link-lost`, `timeout`, …) so the caller can decide whether to resume.
   */
  request(request: HttpRequest, sink: HttpBodySink): Promise<HttpResponseHead>;
}
