/**
 * Monotonic time and one-shot timers (Moddable `timer` on the device; virtual time in the
 * simulated dev kit, so a long download takes seconds of test time).
 */
export type TimerId = number;

export interface ClockPort {
  /** Milliseconds since an arbitrary origin; never goes backwards. */
  now(): number;
  /** Wall-clock seconds since 1970 when known (network time), else undefined. */
  wallClock(): number | undefined;
  /** Run `callback` once, `ms` from now. */
  setTimeout(callback: () => void, ms: number): TimerId;
  clearTimeout(id: TimerId): void;
}
