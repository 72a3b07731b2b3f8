/**
 * Resumable download on top of any HttpClient (style rule 12, after Zephyr fota_http's
 * `source_matches` / `check_response` / `progress_save`):
 * - a download has an identity (URL, size, SHA-256, and the server's validator, ETag or
 *   Last-Modified); a saved offset is used only for the same identity;
 * - every request asks `Range: bytes=<offset>-<size-1>` with `If-Range: <validator>`;
 * - a 206 must start at the offset (checked by the client); a 200 means the server sent the whole,
 *   possibly new, resource: the sink starts over at 0; a 416 also starts over;
 * - after a link loss, a modem fault or a short body, the next request resumes at the first byte
 *   not yet delivered: never from zero unless the server forces it;
 * - progress is reported every `progressEvery` bytes and on every error, for the journal.
 */
import type { ClockPort } from '../platform/clock.js';
import { OtaError, isOtaError, reasonOf, type OtaReason } from '../util/errors.js';
import type { HttpClient, HttpResponseHead } from './http.js';

export interface DownloadIdentity {
  url: string;
  size: number;
  /** Expected SHA-256 (hex), from the manifest; checked by the caller over the stored image. */
  sha256?: string;
}

/** What the journal keeps about a download in progress. */
export interface DownloadState {
  identity: DownloadIdentity;
  /** Bytes durably delivered from the start. */
  offset: number;
  /** ETag (preferred) or Last-Modified of the bytes delivered so far. */
  validator?: string;
}

/** Where a saved download resumes for `identity`: its offset if it is the same download, else 0. */
export function resumeOffset(saved: DownloadState | undefined, identity: DownloadIdentity): number {
  if (!saved) return 0;
  const a = saved.identity;
  const same = a.url === identity.url && a.size === identity.size && (a.sha256 ?? '') === (identity.sha256 ?? '');
  if (!same || !Number.isSafeInteger(saved.offset) || saved.offset < 0 || saved.offset > identity.size) return 0;
  return saved.offset;
}

export interface DownloadSink {
  /** Bytes at `offset` of the image, in order (a promise is backpressure; the chunk is a view). */
  write(offset: number, chunk: Uint8Array): void | Promise<void>;
  /** Everything delivered so far is void: the next write is at 0. */
  restart(reason: string): void | Promise<void>;
}

export interface DownloadOptions {
  client: HttpClient;
  clock: ClockPort;
  identity: DownloadIdentity;
  /** Resume state (from `resumeOffset` and the journal). */
  offset?: number;
  validator?: string;
  sink: DownloadSink;
  /** Persist progress (journal); awaited. */
  onProgress?(state: DownloadState): void | Promise<void>;
  progressEvery?: number;
  /** Failed attempts in a row before giving up (style rule 15: bounded). */
  maxAttempts?: number;
  /** Backoff after a failure: base * 2^(n-1), capped. */
  backoffBaseMs?: number;
  backoffCapMs?: number;
  /** Bytes per request; undefined = the rest of the image in one request. */
  requestBytes?: number;
  /** Request headers (auth). */
  headers?: Record<string, string>;
}

export interface DownloadResult {
  /** Requests made (each Range request counts one, whatever the transport does below). */
  requests: number;
  /** Failed attempts that were resumed. */
  resumes: number;
  /** Times the server forced a start from zero. */
  restarts: number;
  /** Reasons of the failures that were resumed, in order. */
  failures: OtaReason[];
  validator?: string;
}

/** Failures worth another attempt from the same offset. */
const RETRYABLE: OtaReason[] = [
  'link-lost',
  'timeout',
  'at-timeout',
  'at-error',
  'at-garbled',
  'cme-error',
  'modem-unresponsive',
  'modem-reset',
  'modem-busy',
  'pdp-failed',
  'not-registered',
  'body-truncated',
  'range-mismatch',
  'http-malformed',
  'http-action-error',
  'tls-failed',
  'dns-failed',
  'platform-error',
  'limit-exceeded',
];

export async function download(options: DownloadOptions): Promise<DownloadResult> {
  const { client, clock, identity, sink } = options;
  const size = identity.size;
  if (!Number.isSafeInteger(size) || size <= 0) throw new OtaError('invalid-argument', `download size ${size}`);
  const maxAttempts = options.maxAttempts ?? 8;
  const progressEvery = options.progressEvery ?? 65_536;
  let offset = options.offset ?? 0;
  let validator = options.validator;
  if (offset < 0 || offset > size) throw new OtaError('invalid-argument', `resume offset ${offset} outside 0..${size}`);
  const result: DownloadResult = { requests: 0, resumes: 0, restarts: 0, failures: [] };
  let failed = 0;
  let lastSaved = offset;
  /** A 200 arrived for a request that did not start at 0: the sink restarts before the first byte. */
  let pendingRestart = false;
  const save = async () => {
    lastSaved = offset;
    await options.onProgress?.({ identity, offset, validator });
  };
  const restart = async (why: string) => {
    result.restarts++;
    offset = 0;
    validator = undefined;
    await sink.restart(why);
    await save();
  };

  while (offset < size) {
    const end = options.requestBytes === undefined ? size - 1 : Math.min(size - 1, offset + options.requestBytes - 1);
    const start = offset;
    result.requests++;
    try {
      await client.request(
        {
          method: 'GET',
          url: identity.url,
          headers: options.headers,
          range: { start, end, ifRange: start > 0 ? validator : undefined },
        },
        {
          onHead: (head: HttpResponseHead) => {
            if (head.status === 200) {
              const length = head.contentLength ?? head.range?.total;
              if (length !== undefined && length !== size) throw new OtaError('body-too-large', `server has ${length} bytes, manifest says ${size}`);
              // The sink restarts before the first body byte (onHead cannot wait for it).
              if (start > 0) pendingRestart = true;
            } else if (head.status === 206) {
              const total = head.range?.total;
              if (total !== undefined && total !== size) throw new OtaError('body-too-large', `server has ${total} bytes, manifest says ${size}`);
            } else {
              throw new OtaError('http-status', `${head.status} for ${identity.url}`);
            }
            const seen = head.headers['etag'] ?? head.headers['last-modified'];
            if (seen !== undefined) validator = seen;
          },
          onData: (chunk) => {
            if (pendingRestart) {
              pendingRestart = false;
              result.restarts++;
              offset = 0;
              const r = sink.restart('200 to a ranged request');
              if (r) return r.then(() => deliver(chunk));
            }
            return deliver(chunk);
          },
        },
      );
      failed = 0;
    } catch (error) {
      pendingRestart = false;
      if (isOtaError(error, 'range-not-satisfiable', 'range-ignored')) {
        // The server no longer has the bytes we asked for as we know them: start over.
        if (start === 0) throw error;
        await restart(reasonOf(error));
        continue;
      }
      if (!isOtaError(error, ...RETRYABLE)) {
        await save();
        throw error;
      }
      result.failures.push(reasonOf(error));
      // A failure after progress starts a fresh streak: only attempts that moved nothing add up.
      failed = offset > start ? 1 : failed + 1;
      await save();
      if (failed >= maxAttempts) throw new OtaError('retries-exhausted', `${failed} failed attempts in a row, last: ${reasonOf(error)}`, error);
      result.resumes++;
      const base = options.backoffBaseMs ?? 1_000;
      const wait = Math.min(options.backoffCapMs ?? 60_000, base * 2 ** (failed - 1));
      await new Promise<void>((resolve) => clock.setTimeout(resolve, wait));
      continue;
    }
    if (offset < end + 1 && offset < size) {
      // The body ended early without an error: resume.
      result.failures.push('body-truncated');
      result.resumes++;
    }
  }
  if (offset !== size) throw new OtaError('body-too-large', `delivered ${offset} bytes of ${size}`);
  await save();
  result.validator = validator;
  return result;

  function deliver(chunk: Uint8Array): void | Promise<void> {
    if (offset + chunk.length > size) throw new OtaError('body-too-large', `more than ${size} bytes`);
    const at = offset;
    offset += chunk.length;
    const w = sink.write(at, chunk);
    if (offset - lastSaved >= progressEvery) {
      if (w) return w.then(save);
      return save();
    }
    return w;
  }
}
