/**
 * Byte helpers for agent code. XS and Node share ES2022 and typed arrays, nothing more: no
 * Buffer, no TextEncoder on every device build, no Uint8Array hex methods (XS 13 lacks them).
 * Strings that cross a wire in this agent are ASCII (AT commands, HTTP headers, JSON with
 * escapes), UTF-8 where a server may send text.
 */

const HEX = '0123456789abcdef';

/** Lower-case hex of `bytes` (logs, reports, test output). */
export function hex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    out += HEX[b >> 4] + HEX[b & 15];
  }
  return out;
}

/** Bytes of a hex string (either case, no separators). Throws RangeError on odd length or a non-hex digit. */
export function unhex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0) throw new RangeError(`hex: odd length ${hex.length}`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = hexDigit(hex.charCodeAt(2 * i));
    const lo = hexDigit(hex.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) throw new RangeError(`hex: bad digit at ${2 * i}`);
    out[i] = (hi << 4) | lo;
  }
  return out;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** ASCII bytes of `text`. Throws RangeError on a code unit above 0x7f (a bug, not input). */
export function asciiEncode(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) throw new RangeError(`ascii: non-ASCII code unit at ${i}`);
    out[i] = c;
  }
  return out;
}

/**
 * Text of ASCII bytes. Bytes above 0x7f (line noise) become U+FFFD so that a garbled modem line
 * stays one visible, non-matching string.
 */
export function asciiDecode(bytes: Uint8Array, start = 0, end = bytes.length): string {
  const text = new TextBuilder();
  for (let i = start; i < end; i++) {
    const b = bytes[i];
    text.push(b < 0x80 ? b : 0xfffd);
  }
  return text.done();
}

/**
 * Code units per `String.fromCharCode` call. Each argument is a slot on XS's JS stack, and the
 * device has `creation.stack` (512) slots in all, about 190 of them XS's own: a call with 256
 * arguments took 272 on its own. The pieces are joined per PIECE_UNITS, so that the text is not
 * copied once per call either.
 */
const CALL_UNITS = 16;
const PIECE_UNITS = 512;

/** Builds a string from UTF-16 code units with bounded stack and few copies. */
export class TextBuilder {
  readonly #units: number[] = [];
  #piece = '';
  #out = '';

  push(unit: number): void {
    this.#units.push(unit);
    if (this.#units.length === CALL_UNITS) this.#flushUnits();
  }

  done(): string {
    this.#flushUnits();
    this.#out += this.#piece;
    this.#piece = '';
    return this.#out;
  }

  #flushUnits(): void {
    if (this.#units.length === 0) return;
    // At most CALL_UNITS arguments, never a whole text's.
    this.#piece += String.fromCharCode.apply(null, this.#units);
    this.#units.length = 0;
    if (this.#piece.length >= PIECE_UNITS) {
      this.#out += this.#piece;
      this.#piece = '';
    }
  }
}

/** UTF-8 bytes of `text` (lone surrogates become U+FFFD). */
export function utf8Encode(text: string): Uint8Array {
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) length += 1;
    else if (c < 0x800) length += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && isLow(text.charCodeAt(i + 1))) {
      length += 4;
      i++;
    } else length += 3;
  }
  const out = new Uint8Array(length);
  let o = 0;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      out[o++] = c;
    } else if (c < 0x800) {
      out[o++] = 0xc0 | (c >> 6);
      out[o++] = 0x80 | (c & 63);
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && isLow(text.charCodeAt(i + 1))) {
      c = 0x10000 + ((c - 0xd800) << 10) + (text.charCodeAt(++i) - 0xdc00);
      out[o++] = 0xf0 | (c >> 18);
      out[o++] = 0x80 | ((c >> 12) & 63);
      out[o++] = 0x80 | ((c >> 6) & 63);
      out[o++] = 0x80 | (c & 63);
    } else {
      if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
      out[o++] = 0xe0 | (c >> 12);
      out[o++] = 0x80 | ((c >> 6) & 63);
      out[o++] = 0x80 | (c & 63);
    }
  }
  return out;
}

function isLow(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** Text of UTF-8 bytes; malformed sequences become U+FFFD. */
export function utf8Decode(bytes: Uint8Array, start = 0, end = bytes.length): string {
  const text = new TextBuilder();
  let i = start;
  while (i < end) {
    const b = bytes[i];
    let cp = 0xfffd;
    let need = 0;
    if (b < 0x80) {
      cp = b;
    } else if (b >= 0xc2 && b < 0xe0) {
      need = 1;
      cp = b & 31;
    } else if (b >= 0xe0 && b < 0xf0) {
      need = 2;
      cp = b & 15;
    } else if (b >= 0xf0 && b < 0xf5) {
      need = 3;
      cp = b & 7;
    }
    i++;
    if (need > 0) {
      if (i + need > end) {
        cp = 0xfffd;
        i = end;
      } else {
        let ok = true;
        for (let k = 0; k < need; k++) {
          const cont = bytes[i + k];
          if ((cont & 0xc0) !== 0x80) {
            ok = false;
            break;
          }
          cp = (cp << 6) | (cont & 63);
        }
        if (ok) {
          i += need;
          const min = need === 1 ? 0x80 : need === 2 ? 0x800 : 0x10000;
          if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) cp = 0xfffd;
        } else cp = 0xfffd;
      }
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      text.push(0xd800 + (cp >> 10));
      text.push(0xdc00 + (cp & 0x3ff));
    } else text.push(cp);
  }
  return text.done();
}

/** Constant-time-ish equality of two byte strings (digests, key hashes). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** One new array holding `parts` in order (for small, bounded pieces only: frames, APDUs). */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
