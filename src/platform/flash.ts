/**
 * One flash partition (an MCUboot slot), shaped after Moddable's `embedded:storage/flash`.
 *
 * Offsets are relative to the partition start. NOR rules hold: erase sets a whole block to
 * `eraseValue`; a write can only clear bits, must start and end on `writeAlign` boundaries, and
 * must not be repeated on the same bytes without an erase in between.
 */
export interface FlashStatus {
  /** Partition size in bytes (a multiple of blockLength). */
  readonly size: number;
  /** Erase block (sector) size in bytes. */
  readonly blockLength: number;
  /** Program unit: writes start and end on multiples of it. */
  readonly writeAlign: number;
  /** Value of an erased byte (0xff on NOR). */
  readonly eraseValue: number;
}

export interface FlashPort {
  status(): FlashStatus;
  /** Fill `into` with the bytes at `offset`. Throws on a device error. */
  read(offset: number, into: Uint8Array): void;
  /** Program `bytes` at `offset` (aligned). Throws on a device error. */
  write(offset: number, bytes: Uint8Array): void;
  /** Erase block number `block` (offset block * blockLength). Throws on a device error. */
  eraseBlock(block: number): void;
  close(): void;
}
