/**
 * Runs xdelta3 (Debian package `xdelta3`) with the flags the agent's decoder accepts, exactly:
 *
 *   xdelta3 -e -9 -S none -A -W 16384 -f -s OLD NEW OUT
 *
 * -e encode · -9 best matching · `-S none` no secondary compression (the device has no
 * LZMA/DJW; the decoder refuses VCD_DECOMPRESS) · `-A` no application header (xdelta3 would put
 * the file names there) · `-W 16384` target windows of 16 KiB: four 4 KiB sectors, so every
 * window but the last ends on a sector boundary and a power cut during decoding resumes at the
 * last completed window (src/delta/delta-installer.ts) · `-f` overwrite OUT. Left at xdelta3's
 * default: the Adler-32 of every window (VCD_ADLER32; `-n` would drop it, and the decoder checks
 * it), source window `-B` 64 MiB (the whole old image is one source).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const XDELTA3 = 'xdelta3';
/** Target window of the tools' deltas (xdelta3 -W): a multiple of the 4 KiB sector. */
export const DELTA_WINDOW_BYTES = 16384;
export const XDELTA3_FLAGS = ['-e', '-9', '-S', 'none', '-A', '-W', String(DELTA_WINDOW_BYTES), '-f'] as const;

/** Whether xdelta3 is installed (tests that need it skip outside CI without it). */
export function haveXdelta3(): boolean {
  try {
    execFileSync(XDELTA3, ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** xdelta3 -e of two files on disk into `out`. */
export function encodeFiles(from: string, to: string, out: string): void {
  execFileSync(XDELTA3, [...XDELTA3_FLAGS, '-s', from, to, out], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** xdelta3 -e of two images in memory. */
export function encodeDelta(from: Uint8Array, to: Uint8Array): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'xs-ota-delta-'));
  try {
    writeFileSync(join(dir, 'from'), from);
    writeFileSync(join(dir, 'to'), to);
    encodeFiles(join(dir, 'from'), join(dir, 'to'), join(dir, 'out'));
    return new Uint8Array(readFileSync(join(dir, 'out')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
