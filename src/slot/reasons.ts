/** Failures of the flash slot writer and the MCUboot trailer. */
export type SlotReason =
  | 'flash-error'
  | 'flash-readback'
  | 'flash-misaligned'
  | 'slot-overflow'
  | 'trailer-invalid';
