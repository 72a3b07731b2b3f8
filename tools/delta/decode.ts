/**
 * The agent's VCDIFF decoder (src/delta/decoder.ts) run in Node over bytes in memory: the tools
 * check every delta they make with it, and list a delta's windows for `xs-ota image inspect`.
 */
import { bytesSource } from '../../src/delta/byte-source.js';
import { SectionCursor } from '../../src/delta/cursor.js';
import { VcdiffDecoder } from '../../src/delta/decoder.js';
import { readFileHeader, readWindowHeader, type WindowHeader } from '../../src/delta/format.js';

/** Rebuilds the target of `delta` from `source` (the limit guards against a hostile delta). */
export async function applyDelta(delta: Uint8Array, source: Uint8Array, targetLimit = 16 * 1024 * 1024, targetLength?: number): Promise<Uint8Array> {
  let target = new Uint8Array(64 * 1024);
  let length = 0;
  const decoder = new VcdiffDecoder({
    delta: bytesSource(delta),
    deltaLength: delta.length,
    source: bytesSource(source),
    sourceLength: source.length,
    targetLimit,
    targetLength,
    target: {
      write(bytes) {
        if (length + bytes.length > target.length) {
          const grown = new Uint8Array(Math.max(target.length * 2, length + bytes.length));
          grown.set(target.subarray(0, length));
          target = grown;
        }
        target.set(bytes, length);
        length += bytes.length;
      },
      read(offset, into) {
        into.set(target.subarray(offset, offset + into.length));
      },
    },
  });
  await decoder.decode();
  return target.slice(0, length);
}

/** The window headers of a delta (no decoding). */
export function listWindows(delta: Uint8Array): WindowHeader[] {
  const c = new SectionCursor(bytesSource(delta), 64, 'delta');
  c.reset(0, delta.length);
  readFileHeader(c);
  const windows: WindowHeader[] = [];
  while (c.remaining > 0) windows.push(readWindowHeader(c));
  return windows;
}
