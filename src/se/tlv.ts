/**
 * SE05x TLVs (AN12413 §4.3; nano lib/apdu/se05x_tlv.c): a 1-byte tag, then a length of 1 byte
 * (≤ 0x7F), `81 LL` (≤ 0xFF) or `82 HH LL` (≤ 0xFFFF), then the value.
 */
import { OtaError } from '../util/errors.js';

export const TAG_1 = 0x41;
export const TAG_2 = 0x42;
export const TAG_3 = 0x43;
export const TAG_4 = 0x44;
export const TAG_5 = 0x45;
export const TAG_6 = 0x46;
export const TAG_7 = 0x47;
export const TAG_POLICY = 0x11;

/** Bytes the length field of a `length`-byte value takes. */
export function tlvLengthSize(length: number): number {
  return length <= 0x7f ? 1 : length <= 0xff ? 2 : 3;
}

/**
 * Writes tag, length and value at `at` in `into`; returns the offset after it. Throws RangeError
 * when it does not fit (the caller sized the buffer from its own limits: a bug, not input).
 */
export function writeTlv(into: Uint8Array, at: number, tag: number, value: Uint8Array): number {
  const length = value.length;
  if (length > 0xffff) throw new RangeError(`tlv: value of ${length} bytes`);
  const size = 1 + tlvLengthSize(length) + length;
  if (at + size > into.length) throw new RangeError(`tlv: ${size} bytes do not fit at ${at} of ${into.length}`);
  into[at++] = tag;
  if (length <= 0x7f) into[at++] = length;
  else if (length <= 0xff) {
    into[at++] = 0x81;
    into[at++] = length;
  } else {
    into[at++] = 0x82;
    into[at++] = length >> 8;
    into[at++] = length & 0xff;
  }
  into.set(value, at);
  return at + length;
}

/** One TLV found in a buffer: the value is `bytes[start..end)`. */
export interface Tlv {
  tag: number;
  start: number;
  end: number;
}

/**
 * Reads the TLV at `at` of `bytes[..limit)`. Throws se-response-malformed on a truncated header, a
 * length form other than the three above, or a value running past `limit`.
 */
export function readTlv(bytes: Uint8Array, at: number, limit = bytes.length): Tlv {
  if (at + 2 > limit) throw malformed(`TLV header truncated at ${at}`);
  const tag = bytes[at];
  const first = bytes[at + 1];
  let start = at + 2;
  let length = first;
  if (first === 0x81) {
    if (start + 1 > limit) throw malformed(`TLV length truncated at ${at}`);
    length = bytes[start];
    start += 1;
  } else if (first === 0x82) {
    if (start + 2 > limit) throw malformed(`TLV length truncated at ${at}`);
    length = (bytes[start] << 8) | bytes[start + 1];
    start += 2;
  } else if (first > 0x7f) {
    throw malformed(`TLV length form 0x${first.toString(16)} at ${at}`);
  }
  const end = start + length;
  if (end > limit) throw malformed(`TLV 0x${tag.toString(16)} of ${length} bytes runs past ${limit}`);
  return { tag, start, end };
}

/**
 * The value of the first TLV tagged `tag` in `bytes[..limit)`, after checking that the whole
 * buffer parses as TLVs (a response with trailing garbage is malformed, not half-believed).
 * Undefined when no TLV has that tag. The value is a view into `bytes`.
 */
export function findTlv(bytes: Uint8Array, tag: number, limit = bytes.length): Uint8Array | undefined {
  let found: Uint8Array | undefined;
  for (let at = 0; at < limit; ) {
    const tlv = readTlv(bytes, at, limit);
    if (tlv.tag === tag && found === undefined) found = bytes.subarray(tlv.start, tlv.end);
    at = tlv.end;
  }
  return found;
}

function malformed(detail: string): OtaError {
  return new OtaError('se-response-malformed', detail);
}
