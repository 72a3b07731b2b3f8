/**
 * The agent's side of MCUboot's trailer protocol (bootutil_public.c): mark the secondary slot
 * pending (test) or permanent, confirm the running image, read both slots' state, and tell after
 * a boot whether the new image runs or MCUboot reverted/rejected it.
 *
 * Flow for one update (docs/flash-layout.md):
 *   write secondary (SlotWriter) -> readSlotImage + verify -> markPending(secondary)
 *   -> reboot (MCUboot: TEST swap) -> bootOutcome(...) === 'new-testing' -> self-test
 *   -> confirmPrimary(primary). Without the confirm, the next reset reverts.
 */
import type { FlashPort } from '../platform/flash.js';
import { bytesEqual } from '../util/bytes.js';
import { OtaError } from '../util/errors.js';
import {
  BOOT_FLAG_SET,
  BOOT_MAGIC,
  decodeSwapState,
  flagUnit,
  SWAP_TYPE,
  swapInfoByte,
  swapTypeFor,
  TRAILER_FROM_END,
  TRAILER_INFO_SIZE,
  type SwapState,
} from '../image/trailer.js';
import { DEFAULT_TRAILER_SIZE, type ParsedImage } from '../image/image-stream.js';
import { readSlotSummary } from './slot-reader.js';

/** Reads a slot's trailer state (boot_read_swap_state). */
export function readSwapState(flash: FlashPort): SwapState {
  const s = flash.status();
  const last = new Uint8Array(TRAILER_INFO_SIZE);
  flash.read(s.size - TRAILER_INFO_SIZE, last);
  return decodeSwapState(last, s.eraseValue);
}

function writeUnit(flash: FlashPort, fromEnd: number, unit: Uint8Array): void {
  const s = flash.status();
  const at = s.size - fromEnd;
  // NOR: a unit can only be programmed once after an erase. Check instead of corrupting.
  const now = new Uint8Array(unit.length);
  flash.read(at, now);
  for (const b of now) {
    if (b !== s.eraseValue) throw new OtaError('trailer-invalid', `trailer unit at -${fromEnd} is not erased`);
  }
  try {
    flash.write(at, unit);
  } catch (error) {
    throw new OtaError('flash-error', `trailer write at -${fromEnd} failed`, error);
  }
  const back = new Uint8Array(unit.length);
  flash.read(at, back);
  if (!bytesEqual(back, unit)) throw new OtaError('flash-readback', `trailer unit at -${fromEnd}`);
}

/**
 * Schedules the (verified) image in the secondary slot for MCUboot: TEST (swap, revert unless
 * confirmed) or, with `permanent`, PERM. Writes in MCUboot's own order (bootutil_public.c
 * boot_set_next, MCUBOOT_MAGIC_UNSET case): magic, then image_ok (PERM only), then swap_info.
 * The magic is what MCUboot acts on; once it has landed, the request stands.
 *
 * Re-staging after a power cut part-way (the machine re-verifies from flash, then calls this
 * again) continues instead of failing, and never needs a download:
 * - magic good: the request stands (as boot_set_next); the units after it that are still erased
 *   are written now, so a PERM cut after its magic still becomes PERM, not TEST;
 * - magic torn (bad), or magic unset over units that are not erased (a torn unit, or an older
 *   agent's order: swap_info before magic): the trailer sector(s) are erased and written
 *   afresh, provided the verified image ends below them (ImageStream refuses images reaching
 *   the trailer sector by default); otherwise `trailer-invalid`.
 * Call only after readSlotImage + verify on the written slot; pass that result as `verified` to
 * have the slot's SHA256 TLV checked against it first (and to allow the trailer repair).
 */
export function markPending(secondary: FlashPort, options: { permanent?: boolean; verified?: ParsedImage; trailerSize?: number } = {}): void {
  const trailerSize = options.trailerSize ?? DEFAULT_TRAILER_SIZE;
  if (options.verified) {
    // Guard against staging a slot other than the one verified (rewritten since, or another image).
    const onFlash = readSlotSummary(secondary, trailerSize);
    if (!options.verified.hashOk || !onFlash?.sha256 || !bytesEqual(onFlash.sha256, options.verified.computedHash)) {
      throw new OtaError('hash-mismatch', 'the secondary slot does not hold the verified image');
    }
  }
  const s = secondary.status();
  const units: [number, Uint8Array][] = [[TRAILER_FROM_END.magic, BOOT_MAGIC]];
  if (options.permanent) units.push([TRAILER_FROM_END.imageOk, flagUnit(BOOT_FLAG_SET, s.eraseValue)]);
  units.push([TRAILER_FROM_END.swapInfo, flagUnit(swapInfoByte(options.permanent ? SWAP_TYPE.PERM : SWAP_TYPE.TEST), s.eraseValue)]);
  const state = readSwapState(secondary);
  if (state.magic === 'good') {
    // Our own interrupted stage (or an earlier complete one): finish what is still erased.
    for (const [fromEnd, unit] of units.slice(1)) if (isErasedUnit(secondary, fromEnd, unit.length)) writeUnit(secondary, fromEnd, unit);
    return;
  }
  const dirty = state.magic === 'bad' || units.some(([fromEnd, unit]) => !isErasedUnit(secondary, fromEnd, unit.length));
  if (dirty) {
    const first = Math.floor((s.size - trailerSize) / s.blockLength);
    if (!options.verified || options.verified.imageSize > first * s.blockLength) {
      throw new OtaError('trailer-invalid', `secondary trailer is ${state.magic === 'bad' ? 'torn (bad magic)' : 'partly written'} and cannot be erased without the verified image clear of its sector`);
    }
    for (let block = first; block < s.size / s.blockLength; block++) secondary.eraseBlock(block);
  }
  for (const [fromEnd, unit] of units) writeUnit(secondary, fromEnd, unit);
}

function isErasedUnit(flash: FlashPort, fromEnd: number, length: number): boolean {
  const s = flash.status();
  const now = new Uint8Array(length);
  flash.read(s.size - fromEnd, now);
  for (const b of now) if (b !== s.eraseValue) return false;
  return true;
}

/**
 * Confirms the running image (boot_set_confirmed): sets image_ok in the primary trailer so
 * MCUboot will not revert. No-op when already confirmed or when the primary never went through
 * a swap (magic unset: a factory-flashed image counts as confirmed).
 */
export function confirmPrimary(primary: FlashPort): void {
  const state = readSwapState(primary);
  if (state.magic === 'unset') return;
  if (state.magic === 'bad') throw new OtaError('trailer-state', 'primary trailer magic is corrupt; cannot confirm');
  if (state.imageOk !== 'unset') return;
  writeUnit(primary, TRAILER_FROM_END.imageOk, flagUnit(BOOT_FLAG_SET, primary.status().eraseValue));
}

export interface BootState {
  primary: SwapState;
  secondary: SwapState;
  /** The swap MCUboot would do on the next reset (before validating the secondary). */
  nextSwap: number;
  /** The running image will stay: confirmed (image_ok) or never swapped in (magic unset). */
  primaryConfirmed: boolean;
}

export function readBootState(primary: FlashPort, secondary: FlashPort): BootState {
  const p = readSwapState(primary);
  const s = readSwapState(secondary);
  return { primary: p, secondary: s, nextSwap: swapTypeFor(p, s), primaryConfirmed: p.magic === 'unset' || p.imageOk === 'set' };
}

/**
 * What happened to an update after a reset, judged by where its image (SHA256 TLV) now is:
 * - `new-testing`: the new image runs, unconfirmed: self-test, then confirmPrimary (else revert)
 * - `new-confirmed`: the new image runs and stays
 * - `pending`: still in the secondary, marked pending: MCUboot has not swapped yet
 * - `reverted`: the new image is back in the secondary, unmarked: MCUboot reverted it
 * - `rejected`: the image is nowhere: MCUboot found it invalid and erased the secondary
 */
export type BootOutcome = 'new-testing' | 'new-confirmed' | 'pending' | 'reverted' | 'rejected';

export function bootOutcome(primary: FlashPort, secondary: FlashPort, imageSha256: Uint8Array, trailerSize = DEFAULT_TRAILER_SIZE): BootOutcome {
  const state = readBootState(primary, secondary);
  const running = readSlotSummary(primary, trailerSize);
  if (running?.sha256 && bytesEqual(running.sha256, imageSha256)) return state.primaryConfirmed ? 'new-confirmed' : 'new-testing';
  const staged = readSlotSummary(secondary, trailerSize);
  if (staged?.sha256 && bytesEqual(staged.sha256, imageSha256)) return state.secondary.magic === 'good' ? 'pending' : 'reverted';
  return 'rejected';
}
