/** Failures of the flash slot writer and the MCUboot trailer. */
export type SlotReason =
  | 'flash-error'
  | 'flash-readback'
  | 'flash-misaligned'
  | 'slot-overflow'
  | 'trailer-invalid'
  /** A trailer write was asked for in a state MCUboot would not accept (e.g. confirm with a bad magic). */
  | 'trailer-state';
