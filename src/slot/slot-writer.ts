/**
 * Writes an image into a flash slot as it arrives, the way Zephyr's stream_flash/flash_img do:
 * each erase unit is erased just before the first write into it (never the whole slot up front),
 * writes start and end on the write alignment, at most one partial write unit is held back
 * between chunks, and the MCUboot trailer area is never written.
 *
 * Erase unit: where the port offers a large erase (FlashStatus.largeBlockLength with
 * eraseBlocks: a 64 KiB block erase on SPI NOR, 150 ms against 16 x 45 ms for its sectors) and
 * the whole aligned block lies below `eraseEnd`, the block is erased at once; elsewhere (a block
 * that would reach past the image or into the trailer, the rest of a block after a resume) one
 * sector. `eraseAhead()` erases the next unit early, while the link is idle (the round trip of a
 * request), so the erase is not in series with reception; it never erases past `eraseEnd` nor
 * more than one unit ahead of the data.
 *
 * Read-back is off by default: the installer (src/agent/slot-installer.ts) re-hashes the whole
 * slot from flash with the platform's native SHA-256 before it marks anything pending, which
 * checks every byte that a read-back would, once, at native speed. A per-write read-back in
 * JavaScript cost about half the agent's CPU per received byte on XS (issue 12, item 5). With
 * `readBack: true` (a caller without that re-hash) each write is read back and compared word by
 * word.
 *
 * Resuming after a reset: construct with `startOffset` = a `durableOffset` saved earlier (a
 * sector boundary); the sector there is erased again and the caller re-sends bytes from it.
 * Nothing at or above the resume point is trusted to be erased (a block erase or an erase-ahead
 * cut by the reset leaves it torn): every unit there is erased again before its first write.
 *
 * @example
 *   const w = new SlotWriter({ flash: secondary });
 *   w.begin();
 *   for (const chunk of download) w.write(chunk);
 *   w.flush();
 *   journal.offset = w.durableOffset;   // persisted by the agent every sector or so
 */
import type { FlashPort, FlashStatus } from '../platform/flash.js';
import { OtaError } from '../util/errors.js';
import { DEFAULT_TRAILER_SIZE } from '../image/image-stream.js';
import { eraseRange } from './erase-range.js';

export interface SlotWriterOptions {
  flash: FlashPort;
  /** Bytes at the slot end reserved for MCUboot's trailer (3120 for the dev kit). */
  trailerSize?: number;
  /** Resume offset: a multiple of the sector size. Default 0 (a new image). */
  startOffset?: number;
  /** Read back and compare after every write (default false: the installer re-hashes the slot from flash). */
  readBack?: boolean;
  /**
   * No erase ahead of the data reaches this offset: the end of the image the offer states (rounded
   * up to a sector here), or the base of a delta's staging area. Default (and at most): the
   * trailer's first sector. A write past it still erases its own sector just before it.
   */
  eraseEnd?: number;
  /**
   * Bytes from the slot start known to read as erased (the idle erase's prefix,
   * src/slot/erased-ahead.ts): a fresh write (startOffset 0) does not erase them again, and skips
   * the trailer erase when they cover the whole slot. Ignored on a resume: after a reset nothing
   * at or above the resume point is trusted.
   */
  erasedBytes?: number;
}

/**
 * Largest single write, and the read-back buffer's length: a chunk larger than this is written
 * in pieces, so the writer's memory grows neither with the caller's chunk size nor with the
 * flash's erase page (64 KiB on the named board). 4 KiB: a sector on 4 KiB-sector boards, as before.
 */
export const SLOT_WRITE_PIECE_MAX = 4096;

function maxPiece(status: FlashStatus): number {
  return Math.min(SLOT_WRITE_PIECE_MAX, status.blockLength);
}

export class SlotWriter {
  readonly #flash: FlashPort;
  readonly #status: FlashStatus;
  /** Last byte (exclusive) image data may occupy: the trailer starts here. */
  readonly #limit: number;
  readonly #unit: Uint8Array;
  readonly #check: Uint8Array;
  readonly #readBack: boolean;
  readonly #pieceMax: number;
  readonly #startOffset: number;
  #unitFill = 0;
  /** Next flash offset to program (always write-aligned). */
  #programmed: number;
  /** Sectors erased by this writer, as [first, next) plus the trailer sector set. */
  #erasedUpTo: number;
  #trailerErasedFrom = Infinity;
  /** The trailer's sectors are inside the known-erased prefix (the whole slot was erased ahead). */
  readonly #trailerKnownErased: boolean;
  /** Large erase unit in bytes (0: sectors only) and the bound of erases ahead of the data. */
  readonly #large: number;
  readonly #eraseEnd: number;
  #began = false;
  #flushed = false;

  constructor(options: SlotWriterOptions) {
    this.#flash = options.flash;
    const s = (this.#status = options.flash.status());
    const trailer = options.trailerSize ?? DEFAULT_TRAILER_SIZE;
    this.#limit = s.size - trailer;
    if (this.#limit <= 0 || this.#limit % s.writeAlign !== 0) {
      throw new OtaError('invalid-argument', `trailer of ${trailer} bytes in a ${s.size}-byte slot with write alignment ${s.writeAlign}`);
    }
    const start = options.startOffset ?? 0;
    if (start % s.blockLength !== 0 || start < 0 || start > this.#limit) {
      throw new OtaError('invalid-argument', `resume offset ${start} is not a sector boundary inside the image area`);
    }
    this.#startOffset = start;
    this.#programmed = start;
    this.#erasedUpTo = start;
    this.#unit = new Uint8Array(s.writeAlign);
    this.#readBack = options.readBack ?? false;
    this.#pieceMax = maxPiece(s);
    // The compare buffer exists only when it is used (one sector of RAM saved otherwise).
    this.#check = new Uint8Array(this.#readBack ? this.#pieceMax : 0);
    const large = s.largeBlockLength ?? 0;
    this.#large = options.flash.eraseBlocks && large > s.blockLength && large % s.blockLength === 0 ? large : 0;
    const trailerSector = this.#limit - (this.#limit % s.blockLength);
    const end = options.eraseEnd ?? trailerSector;
    if (!(end >= 0)) throw new OtaError('invalid-argument', `erase bound ${end}`);
    this.#eraseEnd = Math.min(trailerSector, Math.ceil(end / s.blockLength) * s.blockLength);
    const erased = start === 0 ? Math.min(s.size, Math.max(0, options.erasedBytes ?? 0)) : 0;
    this.#erasedUpTo = Math.max(start, Math.min(trailerSector, erased - (erased % s.blockLength)));
    this.#trailerKnownErased = erased >= s.size;
  }

  /** Bytes of image the slot can hold (slot size minus trailer). */
  get capacity(): number {
    return this.#limit;
  }

  /** Image bytes accepted so far, counted from the slot's start (resume offset included). */
  get written(): number {
    return this.#programmed + this.#unitFill;
  }

  /**
   * The offset to resume from after a reset: the start of the sector holding the first byte
   * not yet programmed. Everything below it is on flash and was read back.
   */
  get durableOffset(): number {
    return this.#programmed - (this.#programmed % this.#status.blockLength);
  }

  /**
   * Prepares the slot. A fresh write (offset 0) first erases the trailer's sector(s), so no stale
   * "pending" marker from an earlier attempt can make MCUboot try a half-written image.
   */
  begin(): void {
    if (this.#began) throw new OtaError('bad-state', 'SlotWriter.begin twice');
    this.#began = true;
    const { blockLength, size } = this.#status;
    const first = this.#limit - (this.#limit % blockLength);
    if (first >= this.#startOffset) {
      if (!this.#trailerKnownErased) for (let at = first; at < size; at += blockLength) this.#erase(at / blockLength);
      this.#trailerErasedFrom = first;
    }
  }

  /** Appends image bytes. Throws `slot-overflow` (before writing any of them) if they do not fit. */
  write(chunk: Uint8Array): void {
    if (!this.#began) this.begin();
    if (this.#flushed) throw new OtaError('bad-state', 'SlotWriter.write after flush');
    if (this.written + chunk.length > this.#limit) {
      throw new OtaError('slot-overflow', `${this.written + chunk.length} bytes exceed the ${this.#limit} before the trailer`);
    }
    const align = this.#status.writeAlign;
    let i = 0;
    if (this.#unitFill > 0) {
      const take = Math.min(align - this.#unitFill, chunk.length);
      this.#unit.set(chunk.subarray(0, take), this.#unitFill);
      this.#unitFill += take;
      i = take;
      if (this.#unitFill === align) {
        this.#program(this.#unit);
        this.#unitFill = 0;
      }
    }
    const bulkEnd = i + (chunk.length - i) - ((chunk.length - i) % align);
    while (i < bulkEnd) {
      // A piece never crosses a sector boundary, so each erase unit is erased right before its first write into it.
      const sectorLeft = this.#status.blockLength - (this.#programmed % this.#status.blockLength);
      const n = Math.min(bulkEnd - i, sectorLeft, this.#pieceMax);
      this.#program(chunk.subarray(i, i + n));
      i += n;
    }
    if (i < chunk.length) {
      this.#unit.set(chunk.subarray(i), 0);
      this.#unitFill = chunk.length - i;
    }
  }

  /** Writes the held-back partial unit, padded with the erase value. Returns the image length. */
  flush(): number {
    if (!this.#began) this.begin();
    const length = this.written;
    if (!this.#flushed && this.#unitFill > 0) {
      this.#unit.fill(this.#status.eraseValue, this.#unitFill);
      this.#program(this.#unit);
      this.#unitFill = 0;
    }
    this.#flushed = true;
    return length;
  }

  /**
   * The link is idle (a request is on its way, nothing to read yet): erase the next unit the data
   * will need, unless one is already erased ahead of the data or it would reach `eraseEnd`.
   * Returns whether it erased. A no-op before `begin` and after `flush`.
   */
  eraseAhead(): boolean {
    if (!this.#began || this.#flushed) return false;
    const at = this.#erasedUpTo;
    // Bounded: at most one erase unit beyond the one the data is filling.
    if (at - this.#programmed >= (this.#large || this.#status.blockLength)) return false;
    if (at >= this.#eraseEnd || at >= this.#trailerErasedFrom) return false;
    this.#eraseUnit(at);
    return true;
  }

  #erase(sector: number): void {
    try {
      this.#flash.eraseBlock(sector);
    } catch (error) {
      throw new OtaError('flash-error', `erase of sector ${sector} failed`, error);
    }
  }

  /** Erases the unit starting at sector boundary `at`: a whole large block where it fits below `eraseEnd`, else one sector. */
  #eraseUnit(at: number): void {
    const { blockLength } = this.#status;
    const large = this.#large;
    if (large > 0 && at % large === 0 && at + large <= this.#eraseEnd) {
      try {
        eraseRange(this.#flash, at / blockLength, (at + large) / blockLength);
      } catch (error) {
        throw new OtaError('flash-error', `erase of the ${large}-byte block at ${at} failed`, error);
      }
      this.#erasedUpTo = at + large;
      return;
    }
    this.#erase(at / blockLength);
    this.#erasedUpTo = at + blockLength;
  }

  #program(bytes: Uint8Array): void {
    const at = this.#programmed;
    if (at >= this.#erasedUpTo && at < this.#trailerErasedFrom) this.#eraseUnit(at - (at % this.#status.blockLength));
    try {
      this.#flash.write(at, bytes);
    } catch (error) {
      throw new OtaError('flash-error', `write of ${bytes.length} bytes at ${at} failed`, error);
    }
    if (this.#readBack) this.#verify(at, bytes);
    this.#programmed = at + bytes.length;
  }

  /**
   * Reads `bytes.length` back from `at` and compares. The compare buffer is first filled with
   * the complement of what was written, so a read that silently returns nothing cannot pass
   * (Zephyr stream_flash does the same). Word-wise where both buffers are word-aligned.
   */
  #verify(at: number, bytes: Uint8Array): void {
    const check = this.#check.subarray(0, bytes.length);
    const words = bytes.byteOffset % 4 === 0 && bytes.length % 4 === 0 ? bytes.length / 4 : 0;
    const want = words > 0 ? new Uint32Array(bytes.buffer, bytes.byteOffset, words) : undefined;
    const got = words > 0 ? new Uint32Array(check.buffer, check.byteOffset, words) : undefined;
    if (want && got) for (let k = 0; k < words; k++) got[k] = ~want[k];
    else for (let k = 0; k < bytes.length; k++) check[k] = ~bytes[k] & 0xff;
    try {
      this.#flash.read(at, check);
    } catch (error) {
      throw new OtaError('flash-error', `read-back at ${at} failed`, error);
    }
    let k = 0;
    if (want && got) {
      while (k < words && got[k] === want[k]) k++;
      k = k < words ? k * 4 : bytes.length;
    }
    for (; k < bytes.length; k++) {
      if (check[k] !== bytes[k]) throw new OtaError('flash-readback', `byte ${at + k} reads 0x${check[k].toString(16)}, wrote 0x${bytes[k].toString(16)}`);
    }
  }

  /** The offset this writer started at (0, or the resume offset). */
  get startOffset(): number {
    return this.#startOffset;
  }
}
