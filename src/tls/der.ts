/**
 * A DER reader (X.690) for certificates: definite lengths only, at most 4 length bytes, every
 * element inside its parent. Malformed input throws `tls-certificate-malformed`.
 */
import { OtaError } from '../util/errors.js';

export interface DerElement {
  tag: number;
  /** Start of the element (its tag byte) in the buffer. */
  start: number;
  /** Start of the contents. */
  body: number;
  /** End (exclusive). */
  end: number;
}

export function readDer(bytes: Uint8Array, at: number, limit = bytes.length): DerElement {
  const bad = (why: string): never => {
    throw new OtaError('tls-certificate-malformed', `DER at ${at}: ${why}`);
  };
  if (at + 2 > limit) bad('truncated header');
  const tag = bytes[at];
  if ((tag & 0x1f) === 0x1f) bad('multi-byte tag');
  let length = bytes[at + 1];
  let body = at + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0 || n > 4) bad(`length of ${n} bytes`);
    if (body + n > limit) bad('truncated length');
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + bytes[body + i];
    body += n;
  }
  if (body + length > limit) bad(`length ${length} past its parent`);
  return { tag, start: at, body, end: body + length };
}

/** The children of a constructed element. */
export function derChildren(bytes: Uint8Array, parent: DerElement): DerElement[] {
  const out: DerElement[] = [];
  for (let at = parent.body; at < parent.end; ) {
    const e = readDer(bytes, at, parent.end);
    out.push(e);
    at = e.end;
  }
  return out;
}

/** Expects `tag` at `e`. */
export function expectTag(e: DerElement | undefined, tag: number, what: string): DerElement {
  if (!e || e.tag !== tag) throw new OtaError('tls-certificate-malformed', `${what}: tag ${e ? `0x${e.tag.toString(16)}` : 'missing'}, expected 0x${tag.toString(16)}`);
  return e;
}

/** The dotted form of an OBJECT IDENTIFIER's contents. */
export function oidText(bytes: Uint8Array, e: DerElement): string {
  const parts: number[] = [];
  let v = 0;
  for (let i = e.body; i < e.end; i++) {
    v = v * 128 + (bytes[i] & 0x7f);
    if (!(bytes[i] & 0x80)) {
      if (parts.length === 0) parts.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}
