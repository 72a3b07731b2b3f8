/**
 * The download engine (style rule 12, after Zephyr fota_http's `source_matches` /
 * `check_response` / `progress_save`). The agent's download step (src/agent/machine.ts) runs
 * `downloadAttempt`; `download` below wraps it in the retry policy's loop for the bench and the
 * fault matrix, so the engine they prove is the one the agent runs.
 *
 * One attempt asks for the artifact in segments (HTTP Range), from the durable prefix:
 * - every request from a non-zero offset sends `Range: bytes=<offset>-[<end>]` with `If-Range:
 *   <validator>` (ETag, else Last-Modified), so a changed resource answers 200, never mixed bytes;
 * - a 206 must start at the offset (checked by the client) and name the total we expect;
 * - a 200 means the server sent the whole, possibly new, resource: the sink starts over at 0 and
 *   takes this body (no request is wasted); a 416 or a changed validator also start over at 0;
 * - any other status is an `HttpStatusError` (status and Retry-After as data);
 * - between segments the connection is free: `between` may stop the attempt (a cancel check).
 * A stream fault (link loss, a noise line, a short read, a modem reboot) throws; the caller's
 * retry policy decides, and the next attempt resumes at the sink's durable prefix.
 */
import type { ClockPort } from '../platform/clock.js';
import { OtaError, reasonOf, type Reason } from '../util/errors.js';
import type { HttpClient, HttpResponseHead } from './http.js';
import { HttpStatusError, parseRetryAfter } from './http-status.js';
import { RetryPolicy } from '../agent/retry-policy.js';
import { xorshift32 } from '../agent/backoff.js';
import { startAsJob } from '../util/stack.js';

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

/** Start-overs one attempt may make (416, a changed validator): a server that keeps doing it fails the attempt. */
export const MAX_RESTARTS_PER_ATTEMPT = 2;

/** What an attempt knows; updated in place, so the caller still has it when the attempt throws. */
export interface AttemptProgress {
  /** Next byte to ask for (bytes delivered to the sink from 0). */
  position: number;
  /** The artifact's size: as the backend stated it, else from the first response. */
  size: number | undefined;
  /** ETag or Last-Modified of the bytes delivered. */
  validator: string | undefined;
  requests: number;
  restarts: number;
}

export interface AttemptOptions {
  client: HttpClient;
  url: string;
  /** Request headers (credentials for the artifact host). */
  headers?: Record<string, string>;
  sink: DownloadSink;
  /** Where to start and what is known; `position` is the durable prefix. Updated in place. */
  progress: AttemptProgress;
  /** Bytes for the next request (undefined: the rest). `last` is what the previous segment took. */
  segmentBytes?(last: { bytes: number; ms: number } | undefined): number | undefined;
  clock?: ClockPort;
  /** Between two segments: resolve false to stop the attempt here (the deployment was cancelled). */
  between?(position: number): Promise<boolean>;
  /** The total the server states, before any byte of it is taken: throw to refuse it (a size limit). */
  checkTotal?(total: number): void;
  /** A segment's request is on its way and its answer not yet read: the link is idle for a round trip (HttpBodySink.onSent). */
  idle?(): void;
}

/** How an attempt ended without an error: the whole artifact delivered, or stopped by `between`. */
export type AttemptEnd = 'complete' | 'stopped';

/** One attempt: segments from `progress.position` until the artifact is complete (see the top). */
export async function downloadAttempt(options: AttemptOptions): Promise<AttemptEnd> {
  const { client, sink, progress: p } = options;
  let restartsHere = 0;
  let last: { bytes: number; ms: number } | undefined;
  for (;;) {
    const from = p.position;
    const started = options.clock?.now() ?? 0;
    const want = options.segmentBytes?.(last);
    // With a known size every request names its last byte (a longer body is refused by the
    // client's Content-Range check); without one, the rest is asked for open-ended.
    const sizeEnd = p.size === undefined ? undefined : p.size - 1;
    const end = want === undefined ? sizeEnd : sizeEnd === undefined ? from + want - 1 : Math.min(sizeEnd, from + want - 1);
    let range: { start: number; end?: number; ifRange?: string } | undefined;
    if (from > 0) range = end === undefined ? { start: from, ifRange: p.validator } : { start: from, end, ifRange: p.validator };
    else if (end !== undefined) range = { start: 0, end };
    /** A 200 to a ranged request: the sink restarts before the first byte (onHead cannot wait). */
    let restartFirst = false;
    let whole = false;
    p.requests++;
    try {
      // The request starts as a job of its own: the client's layers (redirects, the modem's
      // readiness, the socket) do not stack on the agent's download step and this attempt.
      await startAsJob(() => client.request(
        { method: 'GET', url: options.url, headers: options.headers, range },
        {
          onSent: options.idle,
          onHead: (head: HttpResponseHead) => {
            if (head.status !== 200 && head.status !== 206) {
              throw new HttpStatusError(head.status, 'artifact', parseRetryAfter(head.headers['retry-after']));
            }
            const validator = head.headers['etag'] ?? head.headers['last-modified'];
            if (head.status === 206 && from > 0 && validator !== undefined && p.validator !== undefined && validator !== p.validator) {
              // If-Range should have made a changed resource answer 200: these bytes are not ours.
              throw new OtaError('range-mismatch', `artifact validator changed from ${p.validator} to ${validator}`);
            }
            const total = head.range?.total ?? (head.status === 200 ? head.contentLength : undefined);
            if (total !== undefined) {
              if (p.size !== undefined && total !== p.size) throw new OtaError('backend-protocol', `server has ${total} bytes, backend said ${p.size}`);
              options.checkTotal?.(total);
              p.size = total;
            }
            if (validator !== undefined) p.validator = validator;
            whole = head.status === 200;
            if (whole && from > 0) restartFirst = true;
          },
          onData: (chunk: Uint8Array) => {
            if (restartFirst) {
              restartFirst = false;
              p.restarts++;
              p.position = 0;
              const r = sink.restart('200 to a ranged request');
              if (r) return r.then(() => deliver(chunk));
            }
            return deliver(chunk);
          },
        },
      ));
    } catch (error) {
      const reason = reasonOf(error);
      if (from > 0 && (reason === 'range-not-satisfiable' || reason === 'range-mismatch') && restartsHere < MAX_RESTARTS_PER_ATTEMPT) {
        // The server no longer has the bytes we asked for as we know them: start over at 0.
        restartsHere++;
        p.restarts++;
        p.position = 0;
        p.validator = undefined;
        await sink.restart(reason);
        continue;
      }
      throw error;
    }
    if (p.size !== undefined && p.position > p.size) throw new OtaError('body-too-large', `delivered ${p.position} bytes of ${p.size}`);
    if (p.size !== undefined && p.position === p.size) return 'complete';
    if (whole) {
      // A 200 carries the whole artifact: short of the known size is a truncated body.
      if (p.size !== undefined) throw new OtaError('body-truncated', `the body ended at ${p.position} of ${p.size} bytes`);
      p.size = p.position;
      return 'complete';
    }
    // Without a known total, the end of an open-ended body, or a segment shorter than asked, is
    // the end of the artifact.
    if (p.size === undefined && (end === undefined || p.position <= end)) {
      p.size = p.position;
      return 'complete';
    }
    // A body that ended early without an error is resumed by the next request.
    if (p.position === from) throw new OtaError('body-truncated', `the request from ${from} brought no bytes`);
    last = { bytes: p.position - from, ms: (options.clock?.now() ?? 0) - started };
    // Its own job too: the caller's check (cancel poll, progress report) starts from the job queue.
    const between = options.between;
    const position = p.position;
    if (between && !(await startAsJob(() => between(position)))) return 'stopped';
  }

  function deliver(chunk: Uint8Array): void | Promise<void> {
    if (p.size !== undefined && p.position + chunk.length > p.size) throw new OtaError('body-too-large', `more than ${p.size} bytes`);
    const at = p.position;
    p.position += chunk.length;
    return sink.write(at, chunk);
  }
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
  /** Failed attempts in a row that moved nothing, before `retries-exhausted` (style rule 15). */
  maxAttempts?: number;
  /** Backoff after a failure (full jitter, RetryPolicy): base * 2^(n-1), capped. */
  backoffBaseMs?: number;
  backoffCapMs?: number;
  /** Jitter seed (deterministic in tests and the bench). */
  seed?: number;
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
  failures: Reason[];
  validator?: string;
}

/**
 * Attempts until the artifact is complete, as the retry policy says (the agent's step does the
 * same, one attempt per step, with the journal between): resume at the delivered prefix after a
 * stream fault, start over when the server forces it, give up after `maxAttempts` failures that
 * moved nothing.
 */
export async function download(options: DownloadOptions): Promise<DownloadResult> {
  const { client, clock, identity, sink } = options;
  const size = identity.size;
  if (!Number.isSafeInteger(size) || size <= 0) throw new OtaError('invalid-argument', `download size ${size}`);
  const progressEvery = options.progressEvery ?? 65_536;
  const start = options.offset ?? 0;
  if (start < 0 || start > size) throw new OtaError('invalid-argument', `resume offset ${start} outside 0..${size}`);
  const policy = new RetryPolicy(
    { maxAttempts: options.maxAttempts ?? 8, baseMs: options.backoffBaseMs ?? 1_000, capMs: options.backoffCapMs ?? 60_000 },
    xorshift32(options.seed ?? 1),
  );
  const p: AttemptProgress = { position: start, size, validator: options.validator, requests: 0, restarts: 0 };
  const result: DownloadResult = { requests: 0, resumes: 0, restarts: 0, failures: [] };
  let lastSaved = start;
  let failures = 0;
  const save = async () => {
    lastSaved = p.position;
    await options.onProgress?.({ identity, offset: p.position, validator: p.validator });
  };
  const counting: DownloadSink = {
    write: (offset, chunk) => {
      const w = sink.write(offset, chunk);
      if (offset + chunk.length - lastSaved < progressEvery) return w;
      return w ? w.then(save) : save();
    },
    restart: async (why) => {
      await sink.restart(why);
      await save();
    },
  };
  for (;;) {
    const from = p.position;
    try {
      await downloadAttempt({ client, clock, url: identity.url, headers: options.headers, sink: counting, progress: p, segmentBytes: () => options.requestBytes });
      break;
    } catch (error) {
      await save();
      const decision = policy.decide(error, failures, p.position > from);
      failures = decision.failures;
      if (decision.exhausted) throw decision.exhausted;
      if (decision.action === 'fail') throw error;
      result.failures.push(reasonOf(error));
      if (decision.action === 'restart') {
        p.position = 0;
        p.validator = undefined;
        await counting.restart(reasonOf(error));
        p.restarts++;
        continue;
      }
      // 'refresh-url' has nobody to ask here (the agent asks its backend): it fails the download.
      if (decision.action === 'refresh-url') throw error;
      result.resumes++;
      await new Promise<void>((resolve) => clock.setTimeout(resolve, decision.delayMs));
    }
  }
  if (p.position !== size) throw new OtaError('body-too-large', `delivered ${p.position} bytes of ${size}`);
  await save();
  result.requests = p.requests;
  result.restarts = p.restarts;
  result.validator = p.validator;
  return result;
}
