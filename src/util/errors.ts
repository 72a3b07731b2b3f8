/**
 * The agent's one error type. `reason` is a closed set of short kebab-case names, so a caller can
 * switch on it and the backend report can carry it verbatim; `detail` says what exactly was wrong
 * (the value received, the limit, the offset). Each subsystem owns its reasons in its own
 * `reasons.ts`; this file knows only the base class and the open Reason type.
 */
/**
 * A failure reason: a short kebab-case name. The type is open here on purpose: this file sits
 * below every subsystem and knows none of them. Each subsystem's closed set is its own
 * `reasons.ts`; their union, OtaReason, is assembled where reasons are reported and switched on
 * (src/agent/reasons.ts). test/unit/util/reasons.spec.ts checks that every reason src/ names is
 * in one of those sets.
 */
export type Reason = string;

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

export class OtaError<R extends Reason = Reason> extends Error {
  readonly reason: R;
  readonly detail: string | undefined;
  override readonly cause: unknown;

  constructor(reason: R, detail?: string, cause?: unknown) {
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
export function isOtaError<R extends Reason>(error: unknown, ...reasons: R[]): error is OtaError<R> {
  return error instanceof OtaError && (reasons.length === 0 || reasons.includes(error.reason as R));
}

/** The reason to report for any thrown value: an OtaError's own, else `platform-error`. */
export function reasonOf(error: unknown): Reason {
  return error instanceof OtaError ? error.reason : 'platform-error';
}

/** A one-line description of any thrown value, for logs and reports. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
