/**
 * HTTP redirects (RFC 9110 §15.4) for every request the agent makes: the manifest or DDI poll,
 * feedback, and the artifact download. A CDN or an object store answers an artifact GET with 302
 * and a pre-signed `Location` on another host; a moved server answers 301/308. Without this layer
 * such an answer ends the deployment (`artifact answered 302`) or makes every poll fail.
 *
 * Rules (each a reason below):
 * - 301, 302, 303, 307 and 308 are followed, at most `maxRedirects` (default 5) per request; one
 *   more is `too-many-redirects`. Zephyr's fota_http follows 3, NCS 10.
 * - `Location` may be absolute, scheme-relative (`//host/p`), absolute-path (`/p`), relative
 *   (`p`, `../p`) or query-only (`?q`): resolved against the URL that answered (RFC 3986 §5.2).
 *   The result must be an http(s) URL of printable ASCII without `"` or `\` (it is quoted into AT
 *   commands and may be kept in the journal) and at most `urlMax` characters: else
 *   `redirect-invalid`.
 * - 303 turns any method into a GET without body; 301, 302, 307 and 308 keep method and body (the
 *   agent's only bodies are small JSON feedback, and a feedback silently turned into a GET would
 *   be lost). Range and If-Range go with every hop: they belong to the resource, not the host.
 * - Credentials (`Authorization`) go only to the origin the request started at, or to an origin
 *   listed in `credentialOrigins`: a CDN or object store gets a pre-signed URL that carries its own
 *   authorisation, and must never see the device's token.
 * - The last hop's URL is kept (for at most `RESUME_ENTRIES` original URLs) so that the next
 *   request for the same original URL, a resumed download, goes there directly. A kept URL is used
 *   only while it works: when it answers 401, 403, 404 or 410 (an expired pre-signed URL), it is
 *   forgotten and the request goes to the original URL again, which resolves it afresh.
 * - A redirect's own body is read and dropped, at most `REDIRECT_BODY_MAX` bytes.
 */
import type { LogPort } from '../platform/log.js';
import { OtaError } from '../util/errors.js';
import { startAsJob } from '../util/stack.js';
import type { HttpBodySink, HttpClient, HttpRequest, HttpResponseHead } from './http.js';

/** Redirects followed per request by default (RFC 9110 sets no number; fota_http 3, NCS 10). */
export const REDIRECTS_MAX = 5;
/** Longest URL a redirect may lead to by default, characters (a pre-signed S3 URL with a session token runs to 1.4 KiB). */
export const REDIRECT_URL_MAX = 2048;
/** Original URLs whose last hop is kept for resume (the artifact, the poll root, the deployment). */
export const RESUME_ENTRIES = 4;
/** Body bytes of a redirect (or of a kept URL's refusal) read and dropped before giving up. */
export const REDIRECT_BODY_MAX = 16 * 1024;

const REDIRECT_STATUSES = [301, 302, 303, 307, 308];
/** What a kept (resolved) URL answers when it is no longer valid: go back to the original. */
const STALE_STATUSES = [401, 403, 404, 410];

export interface RedirectOptions {
  /** Redirects followed per request, 0..10 (default REDIRECTS_MAX). 0: none is followed. */
  maxRedirects?: number;
  /** Longest URL a redirect may lead to, characters (default REDIRECT_URL_MAX). */
  urlMax?: number;
  /**
   * Origins (`scheme://host[:port]`, port only when not the scheme's default) that may receive the
   * credentials of a request that started at another origin. Default none: same origin only.
   */
  credentialOrigins?: readonly string[];
  log?: LogPort;
}

/** `scheme://host[:port]` of an absolute URL, lower-case, the default port left out. */
export function originOf(url: string): string {
  const m = /^(https?):\/\/([^/?#]+)/i.exec(url);
  if (!m) throw new OtaError('invalid-argument', `not an absolute URL: ${url.slice(0, 64)}`);
  const scheme = m[1].toLowerCase();
  let authority = m[2].toLowerCase();
  const at = authority.lastIndexOf('@');
  if (at >= 0) authority = authority.slice(at + 1);
  if ((scheme === 'https' && authority.endsWith(':443')) || (scheme === 'http' && authority.endsWith(':80'))) {
    authority = authority.slice(0, authority.lastIndexOf(':'));
  }
  return `${scheme}://${authority}`;
}

/** RFC 3986 §5.2.4: remove `.` and `..` segments from a path. */
function removeDotSegments(path: string): string {
  const input = path.split('/');
  const output: string[] = [];
  for (let i = 0; i < input.length; i++) {
    const segment = input[i];
    const last = i === input.length - 1;
    if (segment === '.') {
      if (last) output.push('');
    } else if (segment === '..') {
      if (output.length > 1) output.pop();
      if (last) output.push('');
    } else {
      output.push(segment);
    }
  }
  const joined = output.join('/');
  return path.startsWith('/') && !joined.startsWith('/') ? '/' + joined : joined;
}

/**
 * Resolve a `Location` value against the URL that sent it (RFC 3986 §5.2.2, for http(s) bases).
 * The fragment of the reference is dropped (it never reaches a server).
 */
export function resolveLocation(base: string, location: string): string {
  const ref = location.trim().replace(/#.*$/, '');
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(ref)) return ref; // absolute (any scheme: checked by the caller)
  const m = /^(https?:)\/\/([^/?#]*)([^?#]*)(\?[^#]*)?/i.exec(base);
  if (!m) throw new OtaError('invalid-argument', `base URL '${base.slice(0, 64)}'`);
  const [, scheme, authority, basePath, baseQuery] = m;
  if (ref.startsWith('//')) return scheme + ref;
  if (ref === '') return `${scheme}//${authority}${basePath}${baseQuery ?? ''}`;
  if (ref.startsWith('?')) return `${scheme}//${authority}${basePath || '/'}${ref}`;
  const q = ref.indexOf('?');
  const refPath = q < 0 ? ref : ref.slice(0, q);
  const refQuery = q < 0 ? '' : ref.slice(q);
  let path: string;
  if (refPath.startsWith('/')) path = removeDotSegments(refPath);
  else {
    const dir = basePath === '' ? '/' : basePath.slice(0, basePath.lastIndexOf('/') + 1);
    path = removeDotSegments(dir + refPath);
  }
  return `${scheme}//${authority}${path}${refQuery}`;
}

/** The checks every URL a redirect leads to must pass (see the module comment). */
export function checkRedirectUrl(url: string, urlMax: number): string {
  if (url.length > urlMax) throw new OtaError('redirect-invalid', `Location of ${url.length} characters > ${urlMax}`);
  if (!/^https?:\/\/[^/\s?#]+(?:[/?][^\s]*)?$/i.test(url)) throw new OtaError('redirect-invalid', `Location '${url.slice(0, 48)}' is not an http(s) URL`);
  if (/[^\x21-\x7e]|["\\]/.test(url)) throw new OtaError('redirect-invalid', 'Location has characters outside printable ASCII, or a quote or backslash');
  return url;
}

function withoutCredentials(headers: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!headers) return headers;
  const out: Record<string, string> = {};
  for (const name of Object.keys(headers)) if (name.toLowerCase() !== 'authorization') out[name] = headers[name];
  return out;
}

/** What one hop answered: the caller's head (delivered), or where to go next. */
interface Hop {
  /** The answer handed to the caller's sink. */
  head?: HttpResponseHead;
  /** A redirect: its Location (unresolved) and status. */
  next?: string;
  status?: number;
  /** A kept URL that is no longer valid: the status it answered. */
  stale?: number;
}

/**
 * An HttpClient that follows redirects over another one.
 *
 * @example
 * const http = new RedirectingHttpClient(modemHttpClient({ modem, clock }), { maxRedirects: 5 });
 * await http.request({ method: 'GET', url: artifactUrl, range: { start: 4096 } }, sink);
 */
export class RedirectingHttpClient implements HttpClient {
  readonly maxRedirects: number;
  readonly urlMax: number;
  /** Counters for tests and logs: redirects followed, kept URLs used, kept URLs found stale. */
  readonly stats = { followed: 0, keptUsed: 0, keptStale: 0 };
  #inner: HttpClient;
  #credentialOrigins: Set<string>;
  #log: LogPort | undefined;
  /** Original URL -> URL of its last hop, oldest first (bounded by RESUME_ENTRIES). */
  #kept = new Map<string, string>();

  constructor(inner: HttpClient, options: RedirectOptions = {}) {
    const max = options.maxRedirects ?? REDIRECTS_MAX;
    if (!Number.isInteger(max) || max < 0 || max > 10) throw new OtaError('config-invalid', `maxRedirects: ${String(max)} (0..10)`);
    const urlMax = options.urlMax ?? REDIRECT_URL_MAX;
    if (!Number.isInteger(urlMax) || urlMax < 64 || urlMax > 8192) throw new OtaError('config-invalid', `urlMax: ${String(urlMax)} (64..8192)`);
    this.#inner = inner;
    this.maxRedirects = max;
    this.urlMax = urlMax;
    this.#credentialOrigins = new Set((options.credentialOrigins ?? []).map((o) => originOf(o)));
    this.#log = options.log;
  }

  /** The URL a request for `url` goes to first (its kept last hop, or itself). */
  keptLocation(url: string): string | undefined {
    return this.#kept.get(url);
  }

  async request(request: HttpRequest, sink: HttpBodySink): Promise<HttpResponseHead> {
    const original = request.url;
    const startOrigin = originOf(original);
    const kept = request.method === 'GET' ? this.#kept.get(original) : undefined;
    if (kept !== undefined) {
      this.stats.keptUsed++;
      const hop = await this.#hop({ ...request, url: kept, headers: this.#headersFor(request.headers, startOrigin, kept) }, sink, true);
      if (hop.head) return hop.head;
      this.#kept.delete(original);
      if (hop.stale !== undefined) {
        // A pre-signed URL expired (or the object moved): the original resolves it afresh.
        this.stats.keptStale++;
        this.#log?.log('info', 'http.redirect-stale', { status: hop.stale });
      } else {
        return this.#follow(request, startOrigin, kept, hop.next!, hop.status!, 1, sink);
      }
    }
    const hop = await this.#hop(request, sink, false);
    if (hop.head) return hop.head;
    return this.#follow(request, startOrigin, original, hop.next!, hop.status!, 1, sink);
  }

  async #follow(request: HttpRequest, startOrigin: string, from: string, location: string, status: number, hops: number, sink: HttpBodySink): Promise<HttpResponseHead> {
    let current = from;
    let next = location;
    let answer = status;
    let method = request.method;
    let body = request.body;
    for (let n = hops; ; n++) {
      if (n > this.maxRedirects) throw new OtaError('too-many-redirects', `more than ${this.maxRedirects} redirects from ${request.url.slice(0, 64)}`);
      const url = checkRedirectUrl(resolveLocation(current, next), this.urlMax);
      if (answer === 303 && method !== 'GET') {
        method = 'GET';
        body = undefined;
      }
      this.stats.followed++;
      this.#log?.log('info', 'http.redirect', { status: answer, to: originOf(url), hop: n });
      // Kept for the next request of the same resource (a resumed download) while it answers,
      // from its head on: a body cut by the link is exactly when the resume needs it.
      const keep = method === 'GET' ? (h: HttpResponseHead) => void (h.status >= 200 && h.status < 300 && this.#keep(request.url, url)) : undefined;
      const hop = await this.#hop({ ...request, method, body, url, headers: this.#headersFor(request.headers, startOrigin, url) }, sink, false, keep);
      if (hop.head) return hop.head;
      current = url;
      next = hop.next!;
      answer = hop.status!;
    }
  }

  #keep(original: string, url: string): void {
    this.#kept.delete(original);
    this.#kept.set(original, url);
    while (this.#kept.size > RESUME_ENTRIES) this.#kept.delete(this.#kept.keys().next().value as string);
  }

  #headersFor(headers: Record<string, string> | undefined, startOrigin: string, url: string): Record<string, string> | undefined {
    const origin = originOf(url);
    if (origin === startOrigin || this.#credentialOrigins.has(origin)) return headers;
    return withoutCredentials(headers);
  }

  /**
   * One request. A redirect (with a Location) or, for a kept URL, a refusal is not handed to the
   * caller's sink: its body is read and dropped, and the caller goes on.
   */
  async #hop(request: HttpRequest, sink: HttpBodySink, viaKept: boolean, onAnswer?: (head: HttpResponseHead) => void): Promise<Hop> {
    let next: string | undefined;
    let stale: number | undefined;
    let dropped = 0;
    // The inner client's request starts as a job of its own: its layers (the modem's readiness,
    // the socket) do not stack on the caller's (agent, download or JSON request, these hops).
    const head = await startAsJob(() => this.#inner.request(request, {
      onSent: () => sink.onSent?.(),
      onHead: (h) => {
        if (this.maxRedirects > 0 && REDIRECT_STATUSES.includes(h.status) && h.headers['location'] !== undefined) {
          next = h.headers['location'];
          return;
        }
        if (REDIRECT_STATUSES.includes(h.status) && this.maxRedirects > 0) {
          // A redirect whose Location the client could not keep (too long for its header limits) or that has none.
          throw new OtaError('redirect-invalid', `${h.status} without a usable Location (at most ${this.urlMax} characters)`);
        }
        if (viaKept && STALE_STATUSES.includes(h.status)) {
          stale = h.status;
          return;
        }
        onAnswer?.(h);
        sink.onHead?.(h);
      },
      onData: (chunk) => {
        if (next === undefined && stale === undefined) return sink.onData(chunk);
        dropped += chunk.length;
        if (dropped > REDIRECT_BODY_MAX) throw new OtaError('body-too-large', `redirect body over ${REDIRECT_BODY_MAX} bytes`);
        return undefined;
      },
    }));
    if (next !== undefined) return { next, status: head.status };
    if (stale !== undefined) return { stale };
    return { head };
  }
}
