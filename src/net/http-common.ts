/**
 * What both modem HTTP clients share: URL parsing, the request head, and the Range checks of
 * style rule 12 (a 206 must start at the offset asked for; a 200 to a ranged request means the
 * body starts over at 0; a 416 is its own error).
 */
import { asciiEncode } from '../util/bytes.js';
import { OtaError } from '../util/errors.js';
import type { HttpRequest, HttpResponseHead } from './http.js';
import { LIMITS } from './limits.js';

export interface ParsedUrl {
  scheme: 'http' | 'https';
  host: string;
  port: number;
  /** Path and query, starting with `/`. */
  path: string;
}

/** `http[s]://host[:port][/path]` (no user info, no fragment kept). */
export function parseUrl(url: string): ParsedUrl {
  const m = /^(https?):\/\/([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?([/?][^#\s]*)?(?:#.*)?$/.exec(url);
  if (!m) throw new OtaError('invalid-argument', `URL '${url.slice(0, 80)}'`);
  const scheme = m[1] as 'http' | 'https';
  const port = m[3] === undefined ? (scheme === 'https' ? 443 : 80) : Number(m[3]);
  if (port < 1 || port > 65535) throw new OtaError('invalid-argument', `URL port ${port}`);
  let path = m[4] ?? '/';
  if (path.startsWith('?')) path = '/' + path;
  return { scheme, host: m[2], port, path };
}

/** `Range` (and `If-Range`) header pairs for a request, plus its own headers; names as given. */
export function requestHeaders(request: HttpRequest): [string, string][] {
  const out: [string, string][] = [];
  for (const name of Object.keys(request.headers ?? {})) {
    const value = request.headers![name];
    if (/[\r\n]/.test(name + value) || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      throw new OtaError('invalid-argument', `header '${name.slice(0, 40)}'`);
    }
    out.push([name, value]);
  }
  if (request.range) {
    const { start, end, ifRange } = request.range;
    if (!Number.isSafeInteger(start) || start < 0 || (end !== undefined && (!Number.isSafeInteger(end) || end < start))) {
      throw new OtaError('invalid-argument', `range ${start}-${end ?? ''}`);
    }
    out.push(['Range', `bytes=${start}-${end ?? ''}`]);
    if (ifRange !== undefined) {
      if (/[\r\n]/.test(ifRange)) throw new OtaError('invalid-argument', 'If-Range value');
      out.push(['If-Range', ifRange]);
    }
  }
  return out;
}

/** The HTTP/1.1 request head as bytes (RFC 9112 §3). */
export function requestHead(request: HttpRequest, url: ParsedUrl, headers: [string, string][], keepAlive = false): Uint8Array {
  const defaultPort = url.scheme === 'https' ? 443 : 80;
  let text = `${request.method} ${url.path} HTTP/1.1\r\nHost: ${url.host}${url.port === defaultPort ? '' : `:${url.port}`}\r\n`;
  for (const [name, value] of headers) text += `${name}: ${value}\r\n`;
  if (request.body) text += `Content-Length: ${request.body.length}\r\n`;
  // HTTP/1.1 connections persist unless one side says close (RFC 9112 §9.3): the socket client
  // keeps one open between back-to-back GETs to the same origin; everything else closes.
  text += keepAlive ? '\r\n' : 'Connection: close\r\n\r\n';
  if (text.length > LIMITS.httpRequestHeadMax) throw new OtaError('invalid-argument', `request head of ${text.length} bytes > ${LIMITS.httpRequestHeadMax}`);
  try {
    return asciiEncode(text);
  } catch {
    throw new OtaError('invalid-argument', 'request head is not ASCII');
  }
}

/**
 * Check a response head against the request's Range (style rule 12, RFC 9110 §14-15):
 * - 206: Content-Range must start at the requested offset and end within the requested end;
 * - 200 to a ranged request: the server sent the whole (possibly new) resource: the caller
 *   starts over at 0 (head.range.start is 0);
 * - 416: `range-not-satisfiable` (the caller decides: start over, or done).
 */
export function checkRange(request: HttpRequest, head: HttpResponseHead): void {
  const asked = request.range;
  if (head.status === 416) {
    throw new OtaError('range-not-satisfiable', `416 for bytes=${asked?.start ?? ''}-${asked?.end ?? ''}${head.range?.total !== undefined ? ` (size ${head.range.total})` : ''}`);
  }
  if (head.status !== 206) return;
  const got = head.range;
  if (!asked || !got) throw new OtaError('range-mismatch', `206 for a request without Range`);
  if (got.start !== asked.start) throw new OtaError('range-mismatch', `asked from ${asked.start}, Content-Range starts at ${got.start}`);
  if (asked.end !== undefined && got.end > asked.end) throw new OtaError('range-mismatch', `asked up to ${asked.end}, Content-Range ends at ${got.end}`);
}
