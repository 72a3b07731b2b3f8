/**
 * Erases blocks [first, end) of a flash port: in one call where the port has `eraseBlocks` (the
 * driver then uses the part's large erase for aligned runs), else block by block.
 */
import type { FlashPort } from '../platform/flash.js';

export function eraseRange(flash: FlashPort, first: number, end: number): void {
  if (end <= first) return;
  if (flash.eraseBlocks) flash.eraseBlocks(first, end);
  else for (let block = first; block < end; block++) flash.eraseBlock(block);
}
