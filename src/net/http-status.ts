/**
 * An HTTP status the caller did not ask for, kept as data (as `SeStatusError` keeps the ISO 7816
 * status word): the retry policy reads `status` and `retryAfterS`, never a message.
 */
import { OtaError } from '../util/errors.js';

/**
 * Largest Retry-After honoured, seconds (RFC 9110 §10.2.3 puts no bound on it). A hostile or
 * broken server must not park the device for days; larger values are clamped to this.
 */
export const RETRY_AFTER_MAX_S = 24 * 3600;

/**
 * Retry-After as seconds. RFC 9110 §10.2.3 allows delta-seconds or an HTTP-date; the device may not
 * know the wall-clock time, so only delta-seconds is honoured (a date yields undefined).
 */
export function parseRetryAfter(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (!/^[0-9]{1,10}$/.test(text)) return undefined;
  return Math.min(Number(text), RETRY_AFTER_MAX_S);
}

/**
 * The reason an artifact status carries in reports: 416 is its own (RFC 9110 §15.5.17), 403/410
 * mean a pre-signed or expiring URL is no longer valid (hawkBit, S3, CDNs), anything else is
 * `http-status` with the number in `status`.
 */
function reasonForStatus(status: number): 'range-not-satisfiable' | 'url-expired' | 'http-status' {
  if (status === 416) return 'range-not-satisfiable';
  if (status === 403 || status === 410) return 'url-expired';
  return 'http-status';
}

export class HttpStatusError extends OtaError {
  /** The status line's code. */
  readonly status: number;
  /** Retry-After (delta-seconds), clamped to RETRY_AFTER_MAX_S; undefined when absent or a date. */
  readonly retryAfterS: number | undefined;

  constructor(status: number, what: string, retryAfterS?: number) {
    super(reasonForStatus(status), `${what} answered ${status}${retryAfterS === undefined ? '' : `, retry after ${retryAfterS} s`}`);
    this.status = status;
    this.retryAfterS = retryAfterS;
  }
}

/** Whether a status is worth a later attempt at the same request (RFC 9110: 408, 429, 5xx). */
export function transientStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status <= 599);
}
