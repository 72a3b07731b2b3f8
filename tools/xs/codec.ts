/**
 * Message codec between the Node host and an XS guest (used on both sides, so ES2022 only).
 *
 * A message is a JSON value whose `Uint8Array`s travel as raw blobs after the JSON:
 *   u32le jsonLength | JSON (UTF-8) | (u32le blobLength | blob)*
 * In the JSON a blob stands as `{"$b": index}`. Large payloads (flash sectors, UART bursts,
 * images) thus cross the pipe as bytes, never as hex or number arrays.
 */
import { utf8Decode, utf8Encode } from '../../src/util/bytes.js';

export type Wire = unknown;

export function encodeMessage(value: Wire): Uint8Array {
  const blobs: Uint8Array[] = [];
  const json = JSON.stringify(value, function (this: unknown, _key: string, v: unknown) {
    if (v instanceof Uint8Array) {
      blobs.push(v);
      return { $b: blobs.length - 1 };
    }
    return v;
  });
  const text = utf8Encode(json === undefined ? 'null' : json);
  let length = 4 + text.length;
  for (const b of blobs) length += 4 + b.length;
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  view.setUint32(0, text.length, true);
  out.set(text, 4);
  let o = 4 + text.length;
  for (const b of blobs) {
    view.setUint32(o, b.length, true);
    out.set(b, o + 4);
    o += 4 + b.length;
  }
  return out;
}

export function decodeMessage(bytes: Uint8Array): Wire {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4) throw new RangeError('xs message: shorter than its length field');
  const jsonLength = view.getUint32(0, true);
  if (4 + jsonLength > bytes.length) throw new RangeError('xs message: JSON runs past the end');
  const blobs: Uint8Array[] = [];
  let o = 4 + jsonLength;
  while (o < bytes.length) {
    if (o + 4 > bytes.length) throw new RangeError('xs message: truncated blob length');
    const n = view.getUint32(o, true);
    if (o + 4 + n > bytes.length) throw new RangeError('xs message: truncated blob');
    blobs.push(bytes.slice(o + 4, o + 4 + n));
    o += 4 + n;
  }
  return JSON.parse(utf8Decode(bytes, 4, 4 + jsonLength), (_key, v: unknown) => {
    if (v !== null && typeof v === 'object' && '$b' in v && Object.keys(v).length === 1) {
      const index = (v as { $b: number }).$b;
      const blob = blobs[index];
      if (blob === undefined) throw new RangeError(`xs message: no blob ${index}`);
      return blob;
    }
    return v;
  });
}
