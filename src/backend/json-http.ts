/**
 * JSON over the agent's HttpClient, bounded: the body is read as it arrives by a streaming reader
 * (src/backend/json-reader.ts) that builds only the fields the caller names, so no buffer holds
 * the body and `bodyMax` bounds the bytes read, not an allocation. Everything a server sends is
 * hostile, so this module also holds the field validators the backends use: each names the field
 * it rejects, so a `backend-protocol` report says exactly what the server got wrong.
 */
import type { HttpClient, HttpRequest, HttpResponseHead } from '../net/http.js';
import { unhex, utf8Encode } from '../util/bytes.js';
import { nameErrorClass, OtaError, type Reason } from '../util/errors.js';
import { JsonReader, type JsonKeep } from './json-reader.js';

export type { JsonKeep } from './json-reader.js';

/**
 * Default cap on a JSON body, bytes read (no buffer of this size exists). Sized from hawkBit's own
 * OpenAPI example deploymentBase (DdiDeploymentBase: 3 modules, 2 artifacts each, 4 links per
 * artifact: 5.5 KB compact) with its links made 1.4 KiB pre-signed object-store URLs: 2 modules x
 * 2 artifacts = 24.5 KB (1 module image + signature with pre-signed links: 12.5 KB; the old 8 KiB
 * cap failed even that). 32 KiB holds the 2 x 2 case with room; 3 x 2 pre-signed (36.5 KB) needs
 * the `bodyMax` setting. Overflow: `body-too-large`, the request is abandoned (no partial parse),
 * and hawkBit's deployment is answered closed/failure naming the limit.
 * (test/unit/backend/hawkbit-ddi.spec.ts measures these sizes.)
 */
export const JSON_BODY_MAX = 32 * 1024;

/**
 * Cap on any URL a server hands us (links, artifact URLs), characters. Pre-signed S3/CDN URLs with a
 * security token run to about 1.2 KiB. Longer: `backend-protocol` naming the field.
 */
export const URL_MAX = 2048;

/** Cap on a short identifier or version string from a server. Longer: `backend-protocol`. */
export const ID_MAX = 128;

/**
 * Longest string the reader builds, characters: the largest urlMax a device may set (8192). Each
 * field's own limit (URL_MAX, ID_MAX) is checked by its validator, which names the field; this
 * only bounds what one string may cost before that check.
 */
export const JSON_STRING_MAX = 8192;

// Retry-After parsing lives with the HTTP status error (core: src/net/http-status.ts).
import { parseRetryAfter } from '../net/http-status.js';
export { RETRY_AFTER_MAX_S, parseRetryAfter } from '../net/http-status.js';

/** An OtaError that also carries what the server said about when to retry. */
export class BackendError extends OtaError {
  /** HTTP status that caused it, when it came from a status. */
  readonly status: number | undefined;
  /** Retry-After in seconds (delta-seconds form only), clamped to RETRY_AFTER_MAX_S. */
  readonly retryAfterS: number | undefined;

  constructor(reason: Reason, detail: string, status?: number, retryAfterS?: number) {
    super(reason, detail);
    this.status = status;
    this.retryAfterS = retryAfterS;
  }
}
nameErrorClass(BackendError, 'BackendError'); // on the prototype: built-ins are frozen on the device

/**
 * The typed error for an HTTP status a backend did not expect. 5xx, 408 and 429 are transient
 * (`backend-unavailable`, with Retry-After); 410 is hawkBit's "action no longer active"
 * (`backend-gone`); 401/403 and other 4xx mean the server refuses this request
 * (`backend-rejected`); anything else is `http-status`.
 */
export function statusError(head: HttpResponseHead, what: string): BackendError {
  const status = head.status;
  const detail = `${what}: HTTP ${status}`;
  if (status >= 500 || status === 408 || status === 429) {
    const retry = parseRetryAfter(head.headers['retry-after']);
    return new BackendError('backend-unavailable', retry === undefined ? detail : `${detail}, retry after ${retry} s`, status, retry);
  }
  if (status === 410) return new BackendError('backend-gone', detail, status);
  if (status >= 400) return new BackendError('backend-rejected', detail, status);
  return new BackendError('http-status', detail, status);
}

export interface JsonResponse {
  status: number;
  head: HttpResponseHead;
  /** The parsed body, for a 2xx with a non-empty body; undefined otherwise. */
  value: unknown;
}

export interface JsonHttpOptions {
  /** Body cap, bytes read (default JSON_BODY_MAX). */
  bodyMax?: number;
  /** Per-request deadline handed to the HttpClient (default: the client's). */
  timeoutMs?: number;
}

/**
 * Bounded JSON requests over an HttpClient. Requests run one at a time, in call order (the
 * backends' protocols are sequential, and one body is read at a time).
 *
 * @example
 * const json = new JsonHttp(http, { bodyMax: 4096 });
 * const { status, value } = await json.request({ method: 'GET', url });
 * const { value: only } = await json.request({ method: 'GET', url }, undefined, { id: true });
 */
export class JsonHttp {
  readonly bodyMax: number;
  #http: HttpClient;
  #timeoutMs: number | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(http: HttpClient, options: JsonHttpOptions = {}) {
    const bodyMax = options.bodyMax ?? JSON_BODY_MAX;
    if (!Number.isInteger(bodyMax) || bodyMax < 64 || bodyMax > 1024 * 1024) {
      throw new OtaError('config-invalid', `bodyMax: ${bodyMax} (64..1048576)`);
    }
    this.bodyMax = bodyMax;
    this.#http = http;
    this.#timeoutMs = options.timeoutMs;
  }

  /**
   * Perform `request` (with `json`, when given, as an application/json body). The body of a 2xx is
   * read (capped) as it arrives, keeping what `pattern` names (default: all of it); other statuses'
   * bodies are drained and dropped, so the caller maps the status (see `statusError`).
   */
  request(request: HttpRequest, json?: unknown, pattern: JsonKeep = true): Promise<JsonResponse> {
    const run = this.#queue.then(() => this.#run(request, json, pattern));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #run(request: HttpRequest, json: unknown, pattern: JsonKeep): Promise<JsonResponse> {
    const headers: Record<string, string> = { accept: 'application/json', ...request.headers };
    let body = request.body;
    if (json !== undefined) {
      body = utf8Encode(JSON.stringify(json));
      headers['content-type'] = 'application/json';
    }
    const reader = new JsonReader(pattern, { stringMax: JSON_STRING_MAX });
    const max = this.bodyMax;
    let length = 0;
    let keep = false;
    const head = await this.#http.request(
      { ...request, headers, body, timeoutMs: request.timeoutMs ?? this.#timeoutMs },
      {
        onHead: (h) => {
          keep = h.status >= 200 && h.status < 300;
          // Refuse at once when the server announces more than we hold: no byte is buffered.
          if (keep && h.contentLength !== undefined && h.contentLength > max) {
            throw new OtaError('body-too-large', `${request.method} ${request.url}: Content-Length ${h.contentLength} > ${max}`);
          }
        },
        onData: (chunk) => {
          if (!keep) return;
          if (length + chunk.length > max) {
            throw new OtaError('body-too-large', `${request.method} ${request.url}: body over ${max} bytes`);
          }
          length += chunk.length;
          readJson(() => reader.write(chunk), request.url);
        },
      },
    );
    let value: unknown;
    if (keep && length > 0) value = readJson(() => reader.end(), request.url);
    return { status: head.status, head, value };
  }
}

/** The reader's step, its typed error prefixed with the request's URL (as every body error is). */
function readJson(step: () => unknown, url: string): unknown {
  try {
    return step();
  } catch (error) {
    if (error instanceof OtaError) throw new OtaError(error.reason, `${url}: ${error.detail ?? error.reason}`);
    throw error;
  }
}

// ---- field validators: each names the field (JSON path) it rejects ----

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function bad(name: string, expected: string, value: unknown): OtaError {
  return new OtaError('backend-protocol', `${name}: expected ${expected}, got ${typeName(value)}`);
}

/** A plain JSON object (not null, not an array). */
export function objectField(value: unknown, name: string): Record<string, unknown> {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  throw bad(name, 'object', value);
}

/** A JSON array of at most `max` items. */
export function arrayField(value: unknown, name: string, max: number): unknown[] {
  if (!Array.isArray(value)) throw bad(name, 'array', value);
  if (value.length > max) throw new OtaError('backend-protocol', `${name}: ${value.length} items > ${max}`);
  return value;
}

/** A string of 1..max characters. */
export function stringField(value: unknown, name: string, max = ID_MAX): string {
  if (typeof value !== 'string') throw bad(name, 'string', value);
  if (value.length === 0 || value.length > max) throw new OtaError('backend-protocol', `${name}: length ${value.length} not in 1..${max}`);
  return value;
}

/** An id the protocol may send as a string or a non-negative integer; returned as a string. */
export function idField(value: unknown, name: string): string {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return String(value);
  return stringField(value, name);
}

/** An integer in min..max. */
export function integerField(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw bad(name, 'integer', value);
  if (value < min || value > max) throw new OtaError('backend-protocol', `${name}: ${value} not in ${min}..${max}`);
  return value;
}

/** One of the listed strings. */
export function enumField<T extends string>(value: unknown, name: string, allowed: readonly T[]): T {
  if (typeof value !== 'string') throw bad(name, allowed.join('|'), value);
  if (!(allowed as readonly string[]).includes(value)) {
    throw new OtaError('backend-protocol', `${name}: '${value.slice(0, 32)}' not one of ${allowed.join('|')}`);
  }
  return value as T;
}

/** An absolute http(s) URL of at most `max` (URL_MAX) characters, without spaces or control characters. */
export function urlField(value: unknown, name: string, max = URL_MAX): string {
  const url = stringField(value, name, max);
  // Printable ASCII without `"` and `\` (RFC 3986 has neither; they arrive percent-encoded): the
  // URL is kept in the journal and quoted into AT commands, which carry no escapes.
  if (!/^https?:\/\/[^/\s?#]+(?:[/?#][^\s]*)?$/i.test(url) || /[^\x21-\x7e]|["\\]/.test(url)) {
    throw new OtaError('backend-protocol', `${name}: not an absolute http(s) URL`);
  }
  return url;
}

/** A SHA-256 as 64 hex digits (either case); returned as bytes. */
export function sha256Field(value: unknown, name: string): Uint8Array {
  const text = stringField(value, name, 64);
  if (!/^[0-9a-fA-F]{64}$/.test(text)) throw new OtaError('backend-protocol', `${name}: not 64 hex digits`);
  return unhex(text);
}

/** `scheme://host[:port]` of an absolute URL (already validated by urlField). */
export function urlOrigin(url: string): string {
  const match = /^(https?:\/\/[^/?#]+)/i.exec(url);
  if (!match) throw new OtaError('invalid-argument', `not an absolute URL: ${url.slice(0, 64)}`);
  return match[1];
}
