/**
 * ISO 7816-4 command APDUs as NXP's nano package encodes them for the SE05x (DoAPDUTxRx in
 * lib/apdu/se05x_APDU_impl.c): a body shorter than 0xFF bytes gets a 1-byte Lc and no Le; a
 * longer body gets an extended Lc `00 HH LL`; commands flagged extended (ReadObject, GetRandom)
 * get an extended Lc and Le `00 00` (case 4E: "up to 65536 bytes"). Following nano exactly keeps
 * our bytes identical to the recorded vectors.
 */
import { OtaError } from '../util/errors.js';
import { writeTlv } from './tlv.js';

/** ISO 7816-4 status word for success. */
export const SW_OK = 0x9000;

/**
 * Builds command APDUs in one buffer allocated at construction: TLVs go to a body buffer, and
 * `finish` writes header, Lc, body and Le into the command buffer and returns a view of it.
 */
export class ApduBuilder {
  #body: Uint8Array;
  #command: Uint8Array;
  #bodyLength = 0;
  #header = [0, 0, 0, 0];

  /** `capacity`: the longest command APDU (header + Lc + body + Le). */
  constructor(capacity: number) {
    this.#body = new Uint8Array(capacity);
    this.#command = new Uint8Array(capacity);
  }

  start(cla: number, ins: number, p1: number, p2: number): this {
    this.#header = [cla, ins, p1, p2];
    this.#bodyLength = 0;
    return this;
  }

  tlv(tag: number, value: Uint8Array): this {
    this.#bodyLength = this.#fit(() => writeTlv(this.#body, this.#bodyLength, tag, value));
    return this;
  }

  /** A big-endian unsigned TLV of `size` bytes (object ids are u32, sizes u16, algorithms u8). */
  tlvUint(tag: number, value: number, size: 1 | 2 | 4): this {
    const bytes = new Uint8Array(size);
    for (let i = 0; i < size; i++) bytes[i] = (value >>> (8 * (size - 1 - i))) & 0xff;
    return this.tlv(tag, bytes);
  }

  /** Raw body bytes (SELECT's AID). */
  raw(bytes: Uint8Array): this {
    this.#bodyLength = this.#fit(() => {
      this.#body.set(bytes, this.#bodyLength);
      return this.#bodyLength + bytes.length;
    });
    return this;
  }

  /** The command: `extended` as nano's `length_extended`; `shortLe` appends a 1-byte Le 00 (SELECT). */
  finish(options: { extended?: boolean; shortLe?: boolean } = {}): Uint8Array {
    const cmd = this.#command;
    const n = this.#bodyLength;
    const extended = options.extended === true;
    const size = 4 + (n === 0 ? 0 : n < 0xff && !extended ? 1 : 3) + n + (extended ? 2 : options.shortLe ? 1 : 0);
    if (size > cmd.length) throw new OtaError('limit-exceeded', `command APDU of ${size} bytes > ${cmd.length}`);
    cmd.set(this.#header, 0);
    let at = 4;
    if (n > 0) {
      if (n < 0xff && !extended) cmd[at++] = n;
      else {
        cmd[at++] = 0;
        cmd[at++] = n >> 8;
        cmd[at++] = n & 0xff;
      }
      cmd.set(this.#body.subarray(0, n), at);
      at += n;
    }
    if (extended) {
      cmd[at++] = 0;
      cmd[at++] = 0;
    } else if (options.shortLe) cmd[at++] = 0;
    return cmd.subarray(0, at);
  }

  #fit(write: () => number): number {
    try {
      return write();
    } catch (error) {
      if (error instanceof RangeError) throw new OtaError('limit-exceeded', `APDU body: ${error.message}`);
      throw error;
    }
  }
}

/** The status word at the end of an R-APDU (callers checked it has at least 2 bytes). */
export function statusWord(rapdu: Uint8Array): number {
  return (rapdu[rapdu.length - 2] << 8) | rapdu[rapdu.length - 1];
}
