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
  /**
   * The part's larger erase unit, bytes (a 64 KiB block erase on SPI NOR: W25Q64JV tBE2 150 ms
   * against 16 x 45 ms for its sectors), a multiple of blockLength, when `eraseBlocks` erases an
   * aligned run of that length (partition offsets) in one operation. Absent: erasing a range
   * costs what its sectors cost one by one (internal SoC flash), or the port has no eraseBlocks.
   */
  readonly largeBlockLength?: number;
}

export interface FlashPort {
  status(): FlashStatus;
  /** Fill `into` with the bytes at `offset`. Throws on a device error. */
  read(offset: number, into: Uint8Array): void;
  /** Program `bytes` at `offset` (aligned). Throws on a device error. */
  write(offset: number, bytes: Uint8Array): void;
  /** Erase block number `block` (offset block * blockLength). Throws on a device error. */
  eraseBlock(block: number): void;
  /**
   * Erase blocks [first, end) in one call, as ECMA-419's `eraseBlock(start, end)` and Zephyr's
   * flash_area_erase over a range: the driver uses the part's large erase (largeBlockLength)
   * for every aligned large block inside the range. Optional; the slot writer falls back to
   * eraseBlock per sector without it. A power cut during it may leave every block of the range
   * torn (partly erased), so nothing in the range may be trusted after a reset.
   */
  eraseBlocks?(first: number, end: number): void;
  close(): void;
}
