/**
 * The secondary slot, erased ahead while the agent is idle (mcumgr's `image erase` done by the
 * agent itself): a NOR sector erase (45 ms typical, 400 ms worst) blocks the MCU, so an erase in
 * series with reception stalls the UART; erased between polls, when nothing else needs the MCU,
 * it costs the next download nothing.
 *
 * This wraps the secondary slot's FlashPort; every writer of the slot (the slot writer, the
 * delta's staging area, the trailer) goes through it. What it knows:
 * - `erasedBytes`: bytes from the slot start known to read as erased because this object erased
 *   them, in this boot or (through the persisted mark) a previous one, with no write since. A
 *   fresh download (offset 0) skips erasing them (SlotWriterOptions.erasedBytes).
 * - The mark (key `ERASED_MARK_KEY`) is written only once the whole slot is erased, and deleted
 *   before the first write that follows, so a power cut at any point leaves either no mark or a
 *   true one: a cut during the idle erase leaves none (the erase starts again), a cut after the
 *   delete and before or during a write leaves none (the writer erases as it would anyway).
 * - A write outside the agent (SWD, a bootloader's serial recovery) does not delete the mark. The
 *   mark is therefore only believed when the slot's first and last bytes (where an image header
 *   and an MCUboot trailer would be) read as erased; a slot that fails that check is erased again.
 *
 * Never erased here: what the caller says it must keep (the running image on trial, a held
 * download-only image, a pending swap). The state machine decides when idle erasing is allowed
 * (src/agent/machine.ts); this object only does the erasing, one unit per call.
 */
import type { FlashPort, FlashStatus } from '../platform/flash.js';
import type { KeyValuePort } from '../platform/key-value.js';
import { OtaError } from '../util/errors.js';
import { eraseRange } from './erase-range.js';

/** Key-value key of the "whole secondary slot erased" mark; its value is the slot size in decimal. */
export const ERASED_MARK_KEY = 'xs-ota.erased';

/** Bytes at each end of the slot read to believe the mark (an image header is 32, a trailer's magic the last 16). */
const BLANK_PROBE_BYTES = 32;

export class ErasedAheadSlot implements FlashPort {
  readonly #flash: FlashPort;
  readonly #store: KeyValuePort;
  readonly #status: FlashStatus;
  /** Bytes [0, #erased) erased by this object and not written since. */
  #erased = 0;
  /** Whether the mark is (believed) in the store, so the first write deletes it. */
  #marked = false;

  constructor(flash: FlashPort, store: KeyValuePort) {
    this.#flash = flash;
    this.#store = store;
    this.#status = flash.status();
    let value: string | undefined;
    try {
      value = store.read(ERASED_MARK_KEY);
    } catch {
      value = undefined;
    }
    if (value === undefined) return;
    // Hostile flash contents: the mark is believed only as the exact decimal slot size, and only
    // when the slot's ends still read as erased.
    this.#marked = true;
    if (value === String(this.#status.size) && this.#endsBlank()) this.#erased = this.#status.size;
  }

  /** Bytes from the slot start known erased (0 after any write through this port). */
  get erasedBytes(): number {
    return this.#erased;
  }

  /**
   * Erase the next unit above `erasedBytes`: a whole large block where the port has one and it is
   * aligned, else one sector. Writes the mark when the slot is complete. Returns whether there is
   * more to erase. Throws `flash-error` (the mark stays unwritten).
   */
  eraseStep(): boolean {
    const { size, blockLength } = this.#status;
    if (this.#erased >= size) return false;
    const at = this.#erased;
    const large = this.#status.largeBlockLength ?? 0;
    const unit = this.#flash.eraseBlocks && large > blockLength && at % large === 0 && at + large <= size ? large : blockLength;
    try {
      eraseRange(this.#flash, at / blockLength, (at + unit) / blockLength);
      this.#erased = at + unit;
    } catch (error) {
      throw new OtaError('flash-error', `idle erase of the secondary slot at ${at} failed`, error);
    }
    if (this.#erased < size) return true;
    try {
      this.#store.write(ERASED_MARK_KEY, String(size));
      this.#marked = true;
    } catch {
      // Not persisted: this boot still knows; the next one erases again.
    }
    return false;
  }

  status(): FlashStatus {
    return this.#status;
  }

  read(offset: number, into: Uint8Array): void {
    this.#flash.read(offset, into);
  }

  write(offset: number, bytes: Uint8Array): void {
    this.#forget(offset);
    this.#flash.write(offset, bytes);
  }

  eraseBlock(block: number): void {
    this.#flash.eraseBlock(block);
  }

  eraseBlocks(first: number, end: number): void {
    eraseRange(this.#flash, first, end);
  }

  close(): void {
    this.#flash.close();
  }

  /**
   * Before any write: the slot is no longer erased from the written sector on (below it stays
   * known erased: a delta staged at the slot's top leaves the target's area erased), and the
   * store must not say the whole slot is.
   */
  #forget(offset: number): void {
    const sector = offset - (offset % this.#status.blockLength);
    if (sector < this.#erased) this.#erased = Math.max(0, sector);
    if (!this.#marked) return;
    // Deleted before the write reaches the flash: if the delete fails, the write must not happen.
    try {
      this.#store.delete(ERASED_MARK_KEY);
    } catch (error) {
      throw new OtaError('flash-error', 'could not delete the erased-slot mark before writing the secondary slot', error);
    }
    this.#marked = false;
  }

  #endsBlank(): boolean {
    const { size, eraseValue } = this.#status;
    const probe = new Uint8Array(Math.min(BLANK_PROBE_BYTES, size));
    for (const at of [0, size - probe.length]) {
      try {
        this.#flash.read(at, probe);
      } catch {
        return false;
      }
      for (let i = 0; i < probe.length; i++) if (probe[i] !== eraseValue) return false;
    }
    return true;
  }
}
