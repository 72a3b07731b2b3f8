/**
 * Adler-32 (RFC 1950 §8.2), the per-window checksum xdelta3 writes with its VCD_ADLER32 window
 * indicator bit (0x04): computed over the window's target bytes, stored big-endian.
 */
const MOD = 65521;
/** Bytes summed before a reduction: 5552 is zlib's NMAX, the most that cannot overflow 2^32. */
const NMAX = 5552;

export class Adler32 {
  #a = 1;
  #b = 0;

  reset(): void {
    this.#a = 1;
    this.#b = 0;
  }

  update(bytes: Uint8Array): void {
    let a = this.#a;
    let b = this.#b;
    let i = 0;
    while (i < bytes.length) {
      const end = Math.min(bytes.length, i + NMAX);
      for (; i < end; i++) {
        a += bytes[i];
        b += a;
      }
      a %= MOD;
      b %= MOD;
    }
    this.#a = a;
    this.#b = b;
  }

  /** The checksum so far, as an unsigned 32-bit number. */
  value(): number {
    return ((this.#b << 16) | this.#a) >>> 0;
  }
}
