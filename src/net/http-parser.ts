/**
 * HTTP/1.1 response parser (RFC 9112), resumable over chunks of any size (style rule 8): status
 * line, header fields into a fixed line buffer, then the body by Content-Length, by chunked
 * transfer coding (§7.1), or until the connection closes (§6.3 rule 8). Body bytes are handed on as
 * views of the pushed chunk; a consumer that returns a promise pauses the parser.
 */
import { asciiDecode } from '../util/bytes.js';
import { OtaError } from '../util/errors.js';
import type { HttpResponseHead } from './http.js';
import { LIMITS } from './limits.js';

const CR = 0x0d;
const LF = 0x0a;

/** Header fields the clients keep (lower case); the rest are skipped. */
const KEPT = new Set([
  'content-length',
  'content-range',
  'transfer-encoding',
  'etag',
  'last-modified',
  'content-type',
  'location',
  'connection',
  'retry-after',
  'date',
]);

const S_STATUS = 0;
const S_HEADER = 1;
const S_BODY_LENGTH = 2;
const S_CHUNK_SIZE = 3;
const S_CHUNK_DATA = 4;
const S_CHUNK_DATA_END = 5;
const S_TRAILER = 6;
const S_BODY_CLOSE = 7;
const S_DONE = 8;

export interface HttpParserEvents {
  /** The head, once all header fields arrived (throw to abandon). */
  onHead(head: HttpResponseHead): void;
  /** Body bytes in order (a view, valid during the call or until the returned promise settles). */
  onBody(chunk: Uint8Array): void | Promise<void>;
}

export class HttpResponseParser {
  readonly #events: HttpParserEvents;
  readonly #line = new Uint8Array(LIMITS.httpLineMax);
  #length = 0;
  #overflow = false;
  #state = S_STATUS;
  #status = 0;
  #headers: Record<string, string> = {};
  #headerCount = 0;
  #headerBytes = 0;
  #remaining = 0;
  #bodyBytes = 0;
  #wait: Promise<void> | undefined;
  /** HEAD requests and 1xx/204/304 responses have no body whatever the headers say (RFC 9112 §6.3). */
  #noBody = false;
  head: HttpResponseHead | undefined;

  constructor(events: HttpParserEvents) {
    this.#events = events;
  }

  /** For a response to HEAD: no body follows the header fields. */
  expectNoBody(): void {
    this.#noBody = true;
  }

  /** The whole message arrived. */
  get done(): boolean {
    return this.#state === S_DONE;
  }

  /** Bytes of a Content-Length body still to come (undefined before the head or for other framings). */
  get lengthRemaining(): number | undefined {
    return this.#state === S_BODY_LENGTH ? this.#remaining : undefined;
  }

  /** Body bytes delivered so far. */
  get bodyBytes(): number {
    return this.#bodyBytes;
  }

  takeWait(): Promise<void> | undefined {
    const wait = this.#wait;
    this.#wait = undefined;
    return wait;
  }

  /** The connection closed: completes a read-until-close body, else the message is truncated. */
  finish(): void {
    if (this.#state === S_BODY_CLOSE) {
      this.#state = S_DONE;
      return;
    }
    if (this.#state !== S_DONE) {
      throw new OtaError('body-truncated', `connection closed ${this.#state < S_BODY_LENGTH ? 'in the header' : `after ${this.#bodyBytes} body bytes`}`);
    }
  }

  /**
   * Consume response bytes; returns how many were used (fewer than given only when a body
   * consumer paused the parser, or the message ended: bytes after it are not this response's).
   */
  push(chunk: Uint8Array): number {
    let i = 0;
    const end = chunk.length;
    while (i < end && this.#state !== S_DONE) {
      const state = this.#state;
      if (state === S_BODY_LENGTH || state === S_CHUNK_DATA || state === S_BODY_CLOSE) {
        const n = state === S_BODY_CLOSE ? end - i : Math.min(this.#remaining, end - i);
        const view = chunk.subarray(i, i + n);
        i += n;
        this.#remaining -= n;
        this.#bodyBytes += n;
        if (this.#remaining === 0) {
          if (state === S_BODY_LENGTH) this.#state = S_DONE;
          else if (state === S_CHUNK_DATA) this.#state = S_CHUNK_DATA_END;
        }
        const wait = this.#events.onBody(view);
        if (wait) {
          this.#wait = wait;
          return i;
        }
        continue;
      }
      const b = chunk[i++];
      if (b === LF) {
        this.#endLine();
        continue;
      }
      if (b === CR) continue;
      if (this.#overflow) continue;
      const max = state === S_CHUNK_SIZE || state === S_CHUNK_DATA_END ? LIMITS.httpChunkLineMax : this.#line.length;
      if (this.#length >= max) {
        if (state === S_HEADER || state === S_TRAILER) {
          this.#overflow = true;
          continue;
        }
        throw new OtaError(state === S_STATUS ? 'header-too-long' : 'http-malformed', `line longer than ${max} bytes`);
      }
      this.#line[this.#length++] = b;
    }
    return i;
  }

  #endLine(): void {
    const length = this.#length;
    const overflow = this.#overflow;
    this.#length = 0;
    this.#overflow = false;
    switch (this.#state) {
      case S_STATUS: {
        if (length === 0) return; // tolerate a stray CRLF before the status line (RFC 9112 §2.2)
        const text = asciiDecode(this.#line, 0, length);
        const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(text);
        if (!m) throw new OtaError('http-malformed', `status line '${text.slice(0, 40)}'`);
        this.#status = Number(m[1]);
        this.#state = S_HEADER;
        return;
      }
      case S_HEADER:
        if (length === 0 && !overflow) {
          this.#startBody();
          return;
        }
        this.#headerLine(length, overflow);
        return;
      case S_CHUNK_SIZE: {
        const text = asciiDecode(this.#line, 0, length);
        const m = /^([0-9a-fA-F]{1,8})[ \t]*(?:;.*)?$/.exec(text);
        if (!m) throw new OtaError('http-malformed', `chunk size '${text.slice(0, 20)}'`);
        const size = parseInt(m[1], 16);
        if (size === 0) {
          this.#state = S_TRAILER;
        } else {
          this.#remaining = size;
          this.#state = S_CHUNK_DATA;
        }
        return;
      }
      case S_CHUNK_DATA_END:
        if (length !== 0) throw new OtaError('http-malformed', 'chunk data not followed by CRLF');
        this.#state = S_CHUNK_SIZE;
        return;
      case S_TRAILER:
        if (length === 0 && !overflow) this.#state = S_DONE;
        return;
      default:
        return;
    }
  }

  #headerLine(length: number, overflow: boolean): void {
    this.#headerBytes += length + 2;
    if (++this.#headerCount > LIMITS.httpHeaderCountMax || this.#headerBytes > LIMITS.httpHeaderBytesMax) {
      throw new OtaError('header-too-long', `more than ${LIMITS.httpHeaderCountMax} header lines or ${LIMITS.httpHeaderBytesMax} bytes`);
    }
    const line = this.#line;
    let colon = -1;
    for (let k = 0; k < length; k++) {
      if (line[k] === 0x3a) {
        colon = k;
        break;
      }
    }
    if (colon <= 0) {
      if (overflow) return; // a long line we would not keep anyway
      throw new OtaError('http-malformed', 'header line without a name');
    }
    const name = asciiDecode(line, 0, colon).toLowerCase();
    if (!KEPT.has(name)) return;
    if (overflow) {
      // A kept field we could not read whole: never use a truncated validator or length.
      if (name === 'content-length' || name === 'content-range' || name === 'transfer-encoding') {
        throw new OtaError('header-too-long', `${name} longer than ${LIMITS.httpLineMax} bytes`);
      }
      return;
    }
    const value = asciiDecode(line, colon + 1, length).trim();
    // A redirect's Location may be a long pre-signed URL (src/net/redirect.ts).
    if (value.length > (name === 'location' ? LIMITS.httpLocationMax : LIMITS.httpHeaderValueMax)) {
      if (name === 'content-length' || name === 'content-range' || name === 'transfer-encoding') {
        throw new OtaError('header-too-long', `${name} longer than ${LIMITS.httpHeaderValueMax} bytes`);
      }
      return;
    }
    const prior = this.#headers[name];
    if (prior !== undefined && prior !== value && (name === 'content-length' || name === 'content-range')) {
      // RFC 9112 §6.3 rule 5: differing Content-Length values make the message unusable.
      throw new OtaError('http-malformed', `conflicting ${name}: '${prior}' and '${value}'`);
    }
    this.#headers[name] = prior !== undefined && name === 'transfer-encoding' ? `${prior}, ${value}` : value;
  }

  #startBody(): void {
    const headers = this.#headers;
    const status = this.#status;
    const head: HttpResponseHead = { status, headers };
    let contentLength: number | undefined;
    if (headers['content-length'] !== undefined) {
      if (!/^\d{1,15}$/.test(headers['content-length'])) throw new OtaError('http-malformed', `Content-Length '${headers['content-length']}'`);
      contentLength = Number(headers['content-length']);
      head.contentLength = contentLength;
    }
    const range = parseContentRange(headers['content-range']);
    if (status === 206) {
      if (!range || range.start < 0) throw new OtaError('range-mismatch', `206 without a usable Content-Range ('${headers['content-range'] ?? ''}')`);
      head.range = { start: range.start, end: range.end, total: range.total };
      if (contentLength !== undefined && contentLength !== range.end - range.start + 1) {
        throw new OtaError('range-mismatch', `Content-Length ${contentLength} does not match Content-Range ${headers['content-range']}`);
      }
    } else if (status === 200 && contentLength !== undefined) {
      head.range = { start: 0, end: contentLength - 1, total: contentLength };
    } else if (status === 416 && range) {
      head.range = { start: range.start, end: range.end, total: range.total };
    }
    this.head = head;
    this.#events.onHead(head);
    const chunked = headers['transfer-encoding'] !== undefined && /(^|,)\s*chunked\s*$/i.test(headers['transfer-encoding']);
    if (this.#noBody || status === 204 || status === 304 || (status >= 100 && status < 200)) {
      this.#state = S_DONE;
    } else if (chunked) {
      this.#state = S_CHUNK_SIZE;
    } else if (contentLength !== undefined) {
      this.#remaining = contentLength;
      this.#state = contentLength === 0 ? S_DONE : S_BODY_LENGTH;
    } else {
      this.#state = S_BODY_CLOSE;
    }
  }
}

/**
 * `Content-Range: bytes <first>-<last>/<complete|*>` or `bytes *\/<complete>` (RFC 9110 §14.4).
 * Returns start -1 for the unsatisfied form; undefined when absent or malformed.
 */
export function parseContentRange(value: string | undefined): { start: number; end: number; total?: number } | undefined {
  if (value === undefined) return undefined;
  const m = /^bytes[ ]+(?:(\d{1,15})-(\d{1,15})|\*)\/(\d{1,15}|\*)$/.exec(value.trim());
  if (!m) return undefined;
  const total = m[3] === '*' ? undefined : Number(m[3]);
  if (m[1] === undefined) return total === undefined ? undefined : { start: -1, end: -1, total };
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start || (total !== undefined && end >= total)) return undefined;
  return total === undefined ? { start, end } : { start, end, total };
}
