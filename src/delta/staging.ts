/**
 * Where a downloaded delta waits while it is decoded: the sectors at the top of the secondary
 * slot's image area, just below the sector that holds MCUboot's trailer.
 *
 * Why it must be staged: a VCDIFF window sends all its ADD/RUN data, then all its instructions,
 * then all its addresses (RFC 3284 §4.3); the first instruction is needed before the first data
 * byte can be placed, so decoding as the bytes arrive would hold a whole data section (up to the
 * window, 16 KiB and more) in RAM. Staged in flash, the decoder reads the three sections in step
 * through small buffers (decoder.ts) whatever the window sizes.
 *
 * Why that space is free: the rebuilt image is written from the slot's start upward and is
 * refused before it reaches the staging area (`targetLimit` = its base), so the two never meet;
 * the trailer sector is not used (SlotWriter.begin erases it for the target). The space must hold
 * the full image and the delta at once: an offer whose delta does not fit is taken in full (an
 * image of unknown size that turns out not to fit below the staging area fails `delta-no-room`
 * while decoding, and is then taken in full).
 * The staged bytes stay there until the next download overwrites them; MCUboot ignores bytes past
 * the image (and swaps them harmlessly).
 */
import type { FlashStatus } from '../platform/flash.js';

export interface StagingArea {
  /** Slot offset of the first staging sector (the target must end at or below it). */
  base: number;
  /** Whole sectors. */
  size: number;
}

/**
 * The staging area for `deltaSize` bytes in a slot of `status` with `trailerSize` bytes of
 * trailer, or undefined when it and a `targetSize`-byte image do not both fit.
 */
export function stagingArea(status: FlashStatus, trailerSize: number, deltaSize: number, targetSize: number | undefined): StagingArea | undefined {
  const block = status.blockLength;
  const imageEnd = status.size - trailerSize;
  const top = imageEnd - (imageEnd % block);
  const size = Math.ceil(deltaSize / block) * block;
  const base = top - size;
  // An image of unknown size (IoTConnect states none) needs at least its header's sector below.
  const targetEnd = targetSize === undefined ? block : Math.ceil(targetSize / block) * block;
  if (!(deltaSize > 0) || (targetSize !== undefined && !(targetSize > 0)) || base < targetEnd) return undefined;
  return { base, size };
}
