/**
 * MCUboot image trailer, swap modes (docs/design.md "Image Trailer", bootutil_public.c), with
 * BOOT_MAX_ALIGN 8 and the 16-byte magic. Offsets from the slot's end:
 *
 *   -16 magic 77c295f360d2ef7f3552500f2cb67980
 *   -24 image_ok   (u8 + 7 bytes 0xff)   0x01 set, erased = unset, anything else bad
 *   -32 copy_done  (u8 + 7 bytes 0xff)
 *   -40 swap_info  (u8 + 7 bytes 0xff)   low nibble swap type, high nibble image number
 *   -48 swap_size  (u32 + 4 bytes 0xff)
 *   below: the swap status area, max_sectors * 3 write units (one per sector-swap step)
 *
 * Trailer size = max_sectors * 3 * align + 4 * BOOT_MAX_ALIGN + 16 = 3120 for 128 sectors, align 8.
 */
import { unhex } from '../util/bytes.js';

export const BOOT_MAGIC = unhex('77c295f360d2ef7f3552500f2cb67980');
export const BOOT_MAGIC_SIZE = 16;
export const BOOT_MAX_ALIGN = 8;
/** MCUBOOT_MAX_IMG_SECTORS of the dev kit's MCUboot build (and imgtool's -M default). */
export const BOOT_MAX_IMG_SECTORS = 128;
/** Swap steps per sector group (bootutil_priv.h BOOT_STATUS_STATE_COUNT). */
export const BOOT_STATUS_STATE_COUNT = 3;
export const BOOT_FLAG_SET = 0x01;

/** Offsets of the trailer fields from the slot's end. */
export const TRAILER_FROM_END = { magic: 16, imageOk: 24, copyDone: 32, swapInfo: 40, swapSize: 48 } as const;
/** The fixed part of the trailer (swap_size .. magic). */
export const TRAILER_INFO_SIZE = 48;

/** bootutil BOOT_SWAP_TYPE_* values. */
export const SWAP_TYPE = { NONE: 1, TEST: 2, PERM: 3, REVERT: 4, FAIL: 5, PANIC: 0xff } as const;
export type SwapTypeName = 'none' | 'test' | 'perm' | 'revert' | 'fail' | 'panic';

export function swapTypeName(t: number): SwapTypeName {
  switch (t) {
    case SWAP_TYPE.TEST:
      return 'test';
    case SWAP_TYPE.PERM:
      return 'perm';
    case SWAP_TYPE.REVERT:
      return 'revert';
    case SWAP_TYPE.FAIL:
      return 'fail';
    case SWAP_TYPE.PANIC:
      return 'panic';
    default:
      return 'none';
  }
}

/** Trailer size for a slot (boot_trailer_sz): 3120 for the dev kit. */
export function trailerSize(maxSectors = BOOT_MAX_IMG_SECTORS, writeAlign = BOOT_MAX_ALIGN): number {
  return maxSectors * BOOT_STATUS_STATE_COUNT * writeAlign + TRAILER_INFO_SIZE;
}

/** Scratch-area trailer (boot_scratch_trailer_sz): one sector group's status + the fixed part. */
export function scratchTrailerSize(writeAlign = BOOT_MAX_ALIGN): number {
  return BOOT_STATUS_STATE_COUNT * writeAlign + TRAILER_INFO_SIZE;
}

export type MagicState = 'good' | 'unset' | 'bad';
export type FlagState = 'set' | 'unset' | 'bad';

/** `struct boot_swap_state` as boot_read_swap_state decodes it. */
export interface SwapState {
  magic: MagicState;
  /** BOOT_SWAP_TYPE_*; NONE when swap_info is erased or out of range. */
  swapType: number;
  imageNum: number;
  copyDone: FlagState;
  imageOk: FlagState;
}

function isErased(bytes: Uint8Array, erased: number): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== erased) return false;
  return true;
}

function flag(byte: number, erased: number): FlagState {
  if (byte === erased) return 'unset';
  return byte === BOOT_FLAG_SET ? 'set' : 'bad';
}

/**
 * Decodes the last 48 bytes of a slot (or scratch area) exactly as boot_read_swap_state does:
 * an all-erased magic is `unset`, the right magic `good`, anything else `bad`; a flag byte is
 * `set` only when it is 0x01.
 */
export function decodeSwapState(last48: Uint8Array, eraseValue = 0xff): SwapState {
  if (last48.length !== TRAILER_INFO_SIZE) throw new RangeError(`trailer info is ${TRAILER_INFO_SIZE} bytes`);
  const at = (fromEnd: number) => TRAILER_INFO_SIZE - fromEnd;
  const magic = last48.subarray(at(TRAILER_FROM_END.magic));
  let magicState: MagicState = 'bad';
  if (isErased(magic, eraseValue)) magicState = 'unset';
  else {
    let same = true;
    for (let i = 0; i < BOOT_MAGIC_SIZE; i++) if (magic[i] !== BOOT_MAGIC[i]) same = false;
    if (same) magicState = 'good';
  }
  const info = last48[at(TRAILER_FROM_END.swapInfo)];
  let swapType: number = info & 0x0f;
  let imageNum = info >> 4;
  if (info === eraseValue || swapType > SWAP_TYPE.REVERT) {
    swapType = SWAP_TYPE.NONE;
    imageNum = 0;
  }
  return {
    magic: magicState,
    swapType,
    imageNum,
    copyDone: flag(last48[at(TRAILER_FROM_END.copyDone)], eraseValue),
    imageOk: flag(last48[at(TRAILER_FROM_END.imageOk)], eraseValue),
  };
}

/**
 * The swap MCUboot will do for this pair of trailers (bootutil_public.c boot_swap_tables, checked
 * in order; the first match wins):
 *   secondary magic good, image_ok unset                              -> TEST
 *   secondary magic good, image_ok set                                -> PERM
 *   primary magic good, image_ok unset, copy_done set (secondary: any) -> REVERT
 *   otherwise                                                          -> NONE
 * (mcu-tools/mcuboot @2d4bacc3: the REVERT row's secondary magic is BOOT_MAGIC_ANY; rows above
 * it catch a good secondary first. MCUboot then validates the secondary before a swap.)
 */
export function swapTypeFor(primary: SwapState, secondary: SwapState): number {
  if (secondary.magic === 'good' && secondary.imageOk === 'unset') return SWAP_TYPE.TEST;
  if (secondary.magic === 'good' && secondary.imageOk === 'set') return SWAP_TYPE.PERM;
  if (primary.magic === 'good' && primary.imageOk === 'unset' && primary.copyDone === 'set') {
    return SWAP_TYPE.REVERT;
  }
  return SWAP_TYPE.NONE;
}

/** A flag's 8-byte write unit: the flag byte, then erased bytes (boot_write_trailer_flag). */
export function flagUnit(value: number, eraseValue = 0xff, align = BOOT_MAX_ALIGN): Uint8Array {
  const unit = new Uint8Array(align).fill(eraseValue);
  unit[0] = value;
  return unit;
}

/** swap_info byte: image number in the high nibble, swap type in the low one (BOOT_SET_SWAP_INFO). */
export function swapInfoByte(swapType: number, imageNum = 0): number {
  return ((imageNum & 0x0f) << 4) | (swapType & 0x0f);
}
