/**
 * A forward reader over one section [start, end) of the delta, through a small buffer refilled
 * from the ByteSource: the decoder holds three (data, instructions, addresses), so a window's
 * sections are read in step without any of them in RAM. Reading past `end` throws
 * `delta-overrun`: a section length that lies is caught here.
 */
import { OtaError } from '../util/errors.js';
import type { ByteSource } from './byte-source.js';

/** VCDIFF integers are base-128 big-endian (RFC 3284 §2); the decoder takes at most 31 bits. */
export const VARINT_MAX = 0x7fff_ffff;

export class SectionCursor {
  readonly #source: ByteSource;
  readonly #buffer: Uint8Array;
  readonly #name: string;
  /** Absolute delta offset of #buffer[0]. */
  #bufferAt = 0;
  #bufferLength = 0;
  #pos = 0;
  #end = 0;

  constructor(source: ByteSource, bufferSize: number, name: string) {
    this.#source = source;
    this.#buffer = new Uint8Array(bufferSize);
    this.#name = name;
  }

  /** Reads [start, end) from now on. */
  reset(start: number, end: number): void {
    this.#pos = start;
    this.#end = end;
    this.#bufferLength = 0;
    this.#bufferAt = start;
  }

  get position(): number {
    return this.#pos;
  }

  get remaining(): number {
    return this.#end - this.#pos;
  }

  byte(): number {
    if (this.#pos >= this.#end) throw new OtaError('delta-overrun', `${this.#name} section ends at ${this.#end}`);
    let k = this.#pos - this.#bufferAt;
    if (k < 0 || k >= this.#bufferLength) {
      this.#fill();
      k = 0;
    }
    this.#pos++;
    return this.#buffer[k];
  }

  varint(): number {
    let value = 0;
    for (let i = 0; i < 5; i++) {
      const b = this.byte();
      value = value * 128 + (b & 0x7f);
      if ((b & 0x80) === 0) {
        if (value > VARINT_MAX) throw new OtaError('delta-malformed', `integer ${value} at ${this.#pos} exceeds 31 bits`);
        return value;
      }
    }
    throw new OtaError('delta-malformed', `integer longer than 5 bytes at ${this.#pos}`);
  }

  /** Bytes [pos, pos+n) as a view of the buffer, n <= the buffer size; advances. */
  take(n: number): Uint8Array {
    if (n > this.#end - this.#pos) throw new OtaError('delta-overrun', `${n} bytes past the ${this.#name} section's end ${this.#end}`);
    let k = this.#pos - this.#bufferAt;
    if (k < 0 || k + n > this.#bufferLength) {
      this.#fill();
      k = 0;
    }
    this.#pos += n;
    return this.#buffer.subarray(k, k + n);
  }

  get bufferSize(): number {
    return this.#buffer.length;
  }

  /** Skips n bytes (an application header). */
  skip(n: number): void {
    if (n > this.#end - this.#pos) throw new OtaError('delta-overrun', `${n} bytes past the ${this.#name} section's end ${this.#end}`);
    this.#pos += n;
  }

  #fill(): void {
    const n = Math.min(this.#buffer.length, this.#end - this.#pos);
    this.#source.read(this.#pos, this.#buffer.subarray(0, n));
    this.#bufferAt = this.#pos;
    this.#bufferLength = n;
  }
}
