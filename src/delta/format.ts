/**
 * VCDIFF (RFC 3284) file and window headers, as xdelta3 writes them with the flags the tools use
 * (tools/delta/encode.ts: `-S none -A`, windows of DELTA_WINDOW_BYTES):
 *
 *   header   d6 c3 c4 00, Hdr_Indicator (0; VCD_APPHEADER 0x04 is skipped if present)
 *   window   Win_Indicator (VCD_SOURCE 0x01 | VCD_TARGET 0x02 | VCD_ADLER32 0x04, xdelta3's
 *            extension), [source segment length, position], delta encoding length,
 *            target window length, Delta_Indicator (0: no secondary compression),
 *            data / instructions / addresses section lengths, [Adler-32, 4 bytes big-endian],
 *            then the three sections in that order.
 *
 * Every length is checked against the bytes that are really there before it is used.
 */
import { OtaError } from '../util/errors.js';
import type { SectionCursor } from './cursor.js';

export const VCDIFF_MAGIC = [0xd6, 0xc3, 0xc4] as const;
export const VCD_DECOMPRESS = 0x01;
export const VCD_CODETABLE = 0x02;
export const VCD_APPHEADER = 0x04;
export const VCD_SOURCE = 0x01;
export const VCD_TARGET = 0x02;
export const VCD_ADLER32 = 0x04;

/** True when `bytes` start with the VCDIFF magic (what `xs-ota image inspect` looks for). */
export function isVcdiff(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0xd6 && bytes[1] === 0xc3 && bytes[2] === 0xc4 && bytes[3] === 0x00;
}

/** Reads the file header; returns the offset of the first window. */
export function readFileHeader(c: SectionCursor): number {
  for (const m of VCDIFF_MAGIC) {
    if (c.byte() !== m) throw new OtaError('delta-malformed', 'not a VCDIFF file (magic d6 c3 c4)');
  }
  const version = c.byte();
  if (version !== 0) throw new OtaError('delta-unsupported', `VCDIFF version ${version}`);
  const indicator = c.byte();
  if (indicator & ~(VCD_DECOMPRESS | VCD_CODETABLE | VCD_APPHEADER)) throw new OtaError('delta-malformed', `header indicator 0x${indicator.toString(16)}`);
  if (indicator & VCD_DECOMPRESS) throw new OtaError('delta-unsupported', 'secondary compression (encode with -S none)');
  if (indicator & VCD_CODETABLE) throw new OtaError('delta-unsupported', 'a custom code table');
  // xdelta3's application header (file names): of no use to the device, skipped unread.
  if (indicator & VCD_APPHEADER) c.skip(c.varint());
  return c.position;
}

export interface WindowHeader {
  /** Delta offset of the Win_Indicator. */
  at: number;
  indicator: number;
  /** 'source': the segment is in the source image; 'target': in the target written before. */
  segment: 'none' | 'source' | 'target';
  segmentLength: number;
  segmentPosition: number;
  targetLength: number;
  dataStart: number;
  dataLength: number;
  instStart: number;
  instLength: number;
  addrStart: number;
  addrLength: number;
  /** Adler-32 of the window's target bytes, when the window carries one. */
  adler32: number | undefined;
  /** Delta offset just past the window. */
  end: number;
}

/** Reads one window header at the cursor (which spans the whole delta), checking its lengths. */
export function readWindowHeader(c: SectionCursor): WindowHeader {
  const at = c.position;
  const indicator = c.byte();
  if (indicator & ~(VCD_SOURCE | VCD_TARGET | VCD_ADLER32)) throw new OtaError('delta-malformed', `window indicator 0x${indicator.toString(16)} at ${at}`);
  if ((indicator & VCD_SOURCE) && (indicator & VCD_TARGET)) throw new OtaError('delta-malformed', `window at ${at} names both source and target`);
  let segment: WindowHeader['segment'] = 'none';
  let segmentLength = 0;
  let segmentPosition = 0;
  if (indicator & (VCD_SOURCE | VCD_TARGET)) {
    segment = indicator & VCD_SOURCE ? 'source' : 'target';
    segmentLength = c.varint();
    segmentPosition = c.varint();
  }
  const encodingLength = c.varint();
  const encodingStart = c.position;
  const end = encodingStart + encodingLength;
  if (encodingLength > c.remaining) throw new OtaError('delta-malformed', `window at ${at} claims ${encodingLength} bytes, ${c.remaining} remain`);
  const targetLength = c.varint();
  const deltaIndicator = c.byte();
  if (deltaIndicator !== 0) throw new OtaError('delta-unsupported', `compressed sections (Delta_Indicator 0x${deltaIndicator.toString(16)}) in window at ${at}`);
  const dataLength = c.varint();
  const instLength = c.varint();
  const addrLength = c.varint();
  let adler32: number | undefined;
  if (indicator & VCD_ADLER32) adler32 = ((c.byte() << 24) | (c.byte() << 16) | (c.byte() << 8) | c.byte()) >>> 0;
  const dataStart = c.position;
  if (dataStart + dataLength + instLength + addrLength !== end) {
    throw new OtaError('delta-malformed', `window at ${at}: sections of ${dataLength}+${instLength}+${addrLength} bytes do not fill its ${encodingLength}-byte encoding`);
  }
  const instStart = dataStart + dataLength;
  const addrStart = instStart + instLength;
  c.skip(end - dataStart);
  return { at, indicator, segment, segmentLength, segmentPosition, targetLength, dataStart, dataLength, instStart, instLength, addrStart, addrLength, adler32, end };
}
