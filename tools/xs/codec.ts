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

/**
 * The engine's own UTF-8 codecs when it has them (Node; xsnap defines both globals). The bridge is
 * the test harness's, not the device's (on a device the ports are native bindings), so every XS
 * meter unit it spends is overhead in the figures of the agent it carries: src/util/bytes's
 * per-character loops cost about 4,000 units a message, the natives about 30. The JS ones stay
 * for an engine without them.
 */
const nativeEncoder = typeof TextEncoder === 'function' ? new TextEncoder() : undefined;
const nativeDecoder = typeof TextDecoder === 'function' ? new TextDecoder() : undefined;
const encodeText = (text: string): Uint8Array => (nativeEncoder ? nativeEncoder.encode(text) : utf8Encode(text));
const decodeText = (bytes: Uint8Array, start: number, end: number): string => (nativeDecoder ? nativeDecoder.decode(bytes.subarray(start, end)) : utf8Decode(bytes, start, end));

/** JSON.parse's reviver for a message with blobs: `{"$b": i}` becomes blob i. */
function blobReviver(blobs: Uint8Array[]): (key: string, v: unknown) => unknown {
  return (_key, v) => {
    if (v !== null && typeof v === 'object' && '$b' in v && Object.keys(v).length === 1) {
      const index = (v as { $b: number }).$b;
      const blob = blobs[index];
      if (blob === undefined) throw new RangeError(`xs message: no blob ${index}`);
      return blob;
    }
    return v;
  };
}

export function encodeMessage(value: Wire): Uint8Array {
  const blobs: Uint8Array[] = [];
  const json = JSON.stringify(value, function (this: unknown, _key: string, v: unknown) {
    if (v instanceof Uint8Array) {
      blobs.push(v);
      return { $b: blobs.length - 1 };
    }
    return v;
  });
  const text = encodeText(json === undefined ? 'null' : json);
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
  const json = decodeText(bytes, 4, 4 + jsonLength);
  // Without blobs there is nothing to revive (and a reviver costs a JS call per key); a `{"$b": i}`
  // in such a message still names a blob that is not there.
  if (blobs.length === 0) {
    if (json.includes('"$b"')) return JSON.parse(json, blobReviver(blobs));
    return JSON.parse(json);
  }
  return JSON.parse(json, blobReviver(blobs));
}
