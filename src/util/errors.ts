/**
 * The agent's one error type. `reason` is a closed set of short kebab-case names, so a caller can
 * switch on it and the backend report can carry it verbatim; `detail` says what exactly was wrong
 * (the value received, the limit, the offset). Each subsystem owns its reasons in its own
 * `reasons.ts`; this file only joins them.
 */
import type { AgentReason } from '../agent/reasons.js';
import type { BackendReason } from '../backend/reasons.js';
import type { DeltaReason } from '../delta/reasons.js';
import type { ImageReason } from '../image/reasons.js';
import type { ModemReason } from '../modem/reasons.js';
import type { MqttReason } from '../net/mqtt/reasons.js';
import type { NetReason } from '../net/reasons.js';
import type { SeReason } from '../se/reasons.js';
import type { SlotReason } from '../slot/reasons.js';
import type { TlsReason } from '../tls/reasons.js';

/** Reasons that belong to no single subsystem. */
export type CommonReason =
  | 'invalid-argument'
  | 'bad-state'
  | 'timeout'
  | 'aborted'
  | 'closed'
  | 'limit-exceeded'
  | 'platform-error'
  | 'config-invalid';

export type OtaReason =
  | CommonReason
  | AgentReason
  | BackendReason
  | DeltaReason
  | ImageReason
  | ModemReason
  | MqttReason
  | NetReason
  | SeReason
  | SlotReason
  | TlsReason;

export class OtaError extends Error {
  readonly reason: OtaReason;
  readonly detail: string | undefined;
  override readonly cause: unknown;

  constructor(reason: OtaReason, detail?: string, cause?: unknown) {
    super(detail === undefined ? reason : `${reason}: ${detail}`);
    this.reason = reason;
    this.detail = detail;
    this.cause = cause;
  }
}

/**
 * Give an error class its `name`, on its prototype. Never assign the name in a constructor: on
 * the device the built-ins are frozen after preload, so `Error.prototype.name` is read-only and
 * assigning it through an instance throws `TypeError: set name: not writable` in strict code (an
 * assignment cannot shadow an inherited read-only property). A prototype property also costs no
 * slot per error. Attributes as `Error.prototype.name`'s.
 */
export function nameErrorClass(errorClass: { readonly prototype: Error }, name: string): void {
  Object.defineProperty(errorClass.prototype, 'name', { value: name, writable: true, enumerable: false, configurable: true });
}

nameErrorClass(OtaError, 'OtaError');

/** True when `error` is an OtaError, optionally with one of `reasons`. */
export function isOtaError(error: unknown, ...reasons: OtaReason[]): error is OtaError {
  return error instanceof OtaError && (reasons.length === 0 || reasons.includes(error.reason));
}

/** The reason to report for any thrown value: an OtaError's own, else `platform-error`. */
export function reasonOf(error: unknown): OtaReason {
  return error instanceof OtaError ? error.reason : 'platform-error';
}

/** A one-line description of any thrown value, for logs and reports. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
