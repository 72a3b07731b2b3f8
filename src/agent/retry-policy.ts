/**
 * The one retry policy (style rule 15): which failures are worth another attempt, how, and after
 * how long. Read by the agent's download step (src/agent/machine.ts) and by the download loop of
 * src/net/download.ts (bench, fault matrix), so what the fault matrix proves is what the agent does.
 *
 * An HTTP status arrives as data (`HttpStatusError`, or a backend's `BackendError`): the policy
 * reads `status` and `retryAfterS`, never a message.
 */
import { BackendError } from '../backend/json-http.js';
import { HttpStatusError, transientStatus } from '../net/http-status.js';
import { OtaError, reasonOf, type Reason } from '../util/errors.js';
import type { OtaReason } from './reasons.js';
import { backoffDelayMs } from './backoff.js';

/**
 * What to do after a failed attempt:
 * - `resume`: a fault of the link, the modem or the server's load; the flushed prefix is intact,
 *   so the next attempt asks for the first byte not yet in flash;
 * - `restart`: the server no longer has the bytes we asked for as we know them (416, a changed
 *   validator, a 200 to a ranged request that could not be used): start over at 0;
 * - `refresh-url`: the artifact URL expired (403/410): ask the backend for a fresh one;
 * - `fail`: retrying cannot help (the image is bad, the server refuses): end the deployment.
 */
export type RetryAction = 'resume' | 'restart' | 'refresh-url' | 'fail';

/**
 * Failures that leave the flushed prefix intact and may pass: the link, the modem and its AT
 * stream (noise lines, short reads, a reboot), TLS and DNS, the A5000's link, a flash read-back.
 */
const TRANSIENT: ReadonlySet<Reason> = new Set<Reason>([
  'timeout',
  'link-lost',
  'body-truncated',
  'backend-unavailable',
  'at-timeout',
  'at-error',
  // A noise line during a data command: the payload was not handed on; the flushed prefix stands.
  'at-garbled',
  // Too many response lines (noise) for one command: the same.
  'limit-exceeded',
  'line-too-long',
  'cme-error',
  'modem-unresponsive',
  'modem-reset',
  // Right after a reset the SIM may not answer yet (+CPIN missing): a later attempt finds it ready.
  'sim-not-ready',
  'modem-busy',
  'not-registered',
  'pdp-failed',
  'http-action-error',
  'http-malformed',
  'tls-failed',
  'dns-failed',
  'se-nack',
  't1-crc',
  't1-protocol',
  'flash-readback',
  // Anything not an OtaError (a platform binding's own exception): bounded by the attempt count.
  'platform-error',
] satisfies OtaReason[]);

/**
 * Whether a deployment that ended with `reason` may pass when the same offer comes again: a fault
 * of the link, the modem or the server's load, or the attempts it ran out of. Every other reason
 * (the image, the version policy, the device's hardware) fails the same way again.
 */
export function mayPassAgain(reason: string | undefined): boolean {
  return reason === undefined || reason === 'retries-exhausted' || (TRANSIENT as ReadonlySet<string>).has(reason);
}

/** Failures that void what was delivered: the next attempt starts at byte 0. */
const RESTART: ReadonlySet<Reason> = new Set<Reason>(['range-ignored', 'range-mismatch', 'range-not-satisfiable'] satisfies OtaReason[]);

/** The status and Retry-After an error carries, when it came from an HTTP status. */
export function httpStatusOf(error: unknown): { status: number; retryAfterS: number | undefined } | undefined {
  if (error instanceof HttpStatusError) return { status: error.status, retryAfterS: error.retryAfterS };
  if (error instanceof BackendError && error.status !== undefined) return { status: error.status, retryAfterS: error.retryAfterS };
  return undefined;
}

/** How to go on after `error` (see RetryAction). */
export function retryAction(error: unknown): RetryAction {
  const http = httpStatusOf(error);
  if (http) {
    if (http.status === 416) return 'restart';
    if (http.status === 403 || http.status === 410) return 'refresh-url';
    return transientStatus(http.status) ? 'resume' : 'fail';
  }
  const reason = reasonOf(error);
  if (reason === 'url-expired') return 'refresh-url';
  if (RESTART.has(reason)) return 'restart';
  return TRANSIENT.has(reason) ? 'resume' : 'fail';
}

export interface RetryLimits {
  /** Failed attempts in a row that moved nothing, before `retries-exhausted`. */
  maxAttempts: number;
  /** First retry delay; doubles per failure with full jitter. */
  baseMs: number;
  /** Longest retry delay (and the most a Retry-After is honoured). */
  capMs: number;
}

export interface RetryDecision {
  action: RetryAction;
  /** Failed attempts in a row without progress, this one included (what the journal keeps). */
  failures: number;
  /** Wait before the next attempt (0 for restart and refresh-url). */
  delayMs: number;
  /** Set when the attempts ran out: the error to end the deployment with. */
  exhausted?: OtaError;
}

export class RetryPolicy {
  readonly limits: RetryLimits;
  #random: () => number;

  constructor(limits: RetryLimits, random: () => number) {
    this.limits = limits;
    this.#random = random;
  }

  /**
   * After a failed attempt. `failuresBefore`: failures in a row before it; `progressed`: whether
   * the attempt moved the durable prefix (then the streak starts over: a long download over a
   * poor link may drop many times, each drop bounded by the byte budget, not by this count).
   */
  decide(error: unknown, failuresBefore: number, progressed: boolean): RetryDecision {
    const action = retryAction(error);
    const failures = progressed ? 1 : failuresBefore + 1;
    if (action === 'fail') return { action, failures, delayMs: 0 };
    if (failures >= this.limits.maxAttempts) {
      const exhausted = new OtaError('retries-exhausted', `${failures} failed attempts in a row, last: ${reasonOf(error)}${error instanceof Error ? ` (${error.message})` : ''}`, error);
      return { action: 'fail', failures, delayMs: 0, exhausted };
    }
    if (action !== 'resume') return { action, failures, delayMs: 0 };
    const retryAfterS = httpStatusOf(error)?.retryAfterS;
    const delayMs = backoffDelayMs(this.limits, failures, this.#random, retryAfterS === undefined ? undefined : retryAfterS * 1000);
    return { action, failures, delayMs };
  }

  /** Delay before retry number `attempt` of something other than a download (a report). */
  delayMs(attempt: number, error?: unknown): number {
    const retryAfterS = httpStatusOf(error)?.retryAfterS;
    return backoffDelayMs(this.limits, attempt, this.#random, retryAfterS === undefined ? undefined : retryAfterS * 1000);
  }
}
