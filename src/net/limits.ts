/**
 * Limits of the HTTP layer over the modem. Buffers are allocated once at these sizes (style rules
 * 4-5); each comment gives the reason and what happens past the limit.
 */
export const LIMITS = {
  /**
   * Longest response status or header line, bytes. Servers send far less for the headers we use
   * (Content-Range, ETag, ...) except a redirect's Location (httpLocationMax); a longer line (a
   * cookie, say) is skipped whole, not kept: a line we keep past this limit is `header-too-long`.
   */
  httpLineMax: 2304,
  /** Longest header value kept (ETag, Last-Modified, Content-Range). A longer one is dropped, so a
   * truncated validator is never sent back in If-Range (Z-fh `append_value` does the same). */
  httpHeaderValueMax: 256,
  /**
   * Longest `Location` kept (a redirect to a pre-signed object-store URL with a session token runs
   * to 1.4 KiB; src/net/redirect.ts REDIRECT_URL_MAX). It sets httpLineMax (2304 = this + name and
   * slack). A longer one is dropped, and the redirect fails as `redirect-invalid`.
   */
  httpLocationMax: 2048,
  /** Header lines per response; past it: `header-too-long` (a server streaming headers forever). */
  httpHeaderCountMax: 64,
  /** Total header bytes per response; past it: `header-too-long`. */
  httpHeaderBytesMax: 16_384,
  /** Longest chunk-size line (RFC 9112 §7.1, hex size plus extensions); past it: `http-malformed`. */
  httpChunkLineMax: 128,
  /** Largest request head we build (method, path, Host, Range, If-Range, extra headers). */
  httpRequestHeadMax: 3072,
  /** Default whole-request timeout, ms, when the request names none. */
  httpTimeoutMs: 300_000,
} as const;
