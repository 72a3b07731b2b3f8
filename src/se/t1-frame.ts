/**
 * T=1-over-I2C blocks (NXP UM11225, the SE05x/A5000 variant with a 1-byte LEN):
 *
 *   NAD(1) | PCB(1) | LEN(1) | INF(LEN) | CRC(2, CRC-16/X-25, low byte first)
 *
 * NAD is 0x5A host→SE and 0xA5 SE→host (nano SEND_PACKET_SOF / RECIEVE_PACKET_SOF). PCB:
 *   I-block  0 N(S) M 00000        0x00 0x40, chained (M=1) 0x20 0x60
 *   R-block  1 0 0 N(R) 0 0 e e    0x80/0x90 ack, +1 CRC error, +2 other error
 *   S-block  1 1 r ccccc           r (0x20) set in responses; ccccc the command below
 */
import { crc16X25 } from './crc16.js';

export const NAD_HOST_TO_SE = 0x5a;
export const NAD_SE_TO_HOST = 0xa5;

/**
 * Largest INF either side may put in one block. UM11225 caps IFSC/IFSD at 254 (0xFE, what the
 * SE05x ATRs advertise); a LEN above it is a protocol error (the frame is NACKed, never buffered).
 */
export const T1_INF_MAX = 254;
/** NAD + PCB + LEN. */
export const T1_HEADER_LENGTH = 3;
/** Header + largest INF + CRC: every frame buffer is this size, allocated once. */
export const T1_FRAME_MAX = T1_HEADER_LENGTH + T1_INF_MAX + 2;

/** S-block command codes (low 5 bits of PCB), UM11225 Table 10; DEEP_POWER_DOWN is nano-only. */
export const S_RESYNCH = 0x00;
export const S_IFS = 0x01;
export const S_ABORT = 0x02;
export const S_WTX = 0x03;
export const S_END_OF_APDU_SESSION = 0x05;
export const S_CHIP_RESET = 0x06;
export const S_GET_ATR = 0x07;
export const S_INTERFACE_SOFT_RESET = 0x0f;
export const S_DEEP_POWER_DOWN = 0x1f;

/** R-block error field. */
export const R_OK = 0;
export const R_CRC_ERROR = 1;
export const R_OTHER_ERROR = 2;

/** PCB of an I-block with sequence bit `ns` and the More bit. */
export function iPcb(ns: number, more: boolean): number {
  return ((ns & 1) << 6) | (more ? 0x20 : 0);
}

/** PCB of an R-block acknowledging up to `nr` (the N(S) expected next), with an error code. */
export function rPcb(nr: number, error: number): number {
  return 0x80 | ((nr & 1) << 4) | (error & 3);
}

/** PCB of an S-block: `command` from the S_* codes, `response` for the 0x20 answer form. */
export function sPcb(command: number, response: boolean): number {
  return 0xc0 | (response ? 0x20 : 0) | (command & 0x1f);
}

export type BlockKind = 'I' | 'R' | 'S';

export function blockKind(pcb: number): BlockKind {
  if ((pcb & 0x80) === 0) return 'I';
  return (pcb & 0x40) === 0 ? 'R' : 'S';
}

/** I-block N(S). */
export const pcbNs = (pcb: number): number => (pcb >> 6) & 1;
/** I-block More bit. */
export const pcbMore = (pcb: number): boolean => (pcb & 0x20) !== 0;
/** R-block N(R). */
export const pcbNr = (pcb: number): number => (pcb >> 4) & 1;
/** R-block error code (R_OK, R_CRC_ERROR, R_OTHER_ERROR; 3 is reserved). */
export const pcbRError = (pcb: number): number => pcb & 3;
/** S-block command code. */
export const pcbSCommand = (pcb: number): number => pcb & 0x1f;
/** S-block response bit. */
export const pcbSResponse = (pcb: number): boolean => (pcb & 0x20) !== 0;

/** True when `pcb` is a PCB UM11225 defines (reserved bits clear). */
export function pcbValid(pcb: number): boolean {
  switch (blockKind(pcb)) {
    case 'I':
      return (pcb & 0x1f) === 0;
    case 'R':
      return (pcb & 0x2c) === 0 && (pcb & 3) !== 3;
    case 'S':
      return true;
  }
}

/**
 * Encodes one block into `into` (at least T1_HEADER_LENGTH + infLength + 2 bytes) and returns its
 * length. INF is `inf[infStart..infEnd)`, so a chained APDU is framed from a view, without a copy.
 */
export function encodeFrame(
  into: Uint8Array,
  nad: number,
  pcb: number,
  inf?: Uint8Array,
  infStart = 0,
  infEnd = inf ? inf.length : 0,
): number {
  const length = infEnd - infStart;
  if (length < 0 || length > T1_INF_MAX) throw new RangeError(`t1: INF length ${length} outside 0..${T1_INF_MAX}`);
  into[0] = nad;
  into[1] = pcb;
  into[2] = length;
  if (inf && length > 0) into.set(inf.subarray(infStart, infEnd), T1_HEADER_LENGTH);
  const end = T1_HEADER_LENGTH + length;
  const crc = crc16X25(into, 0, end);
  into[end] = crc & 0xff;
  into[end + 1] = crc >>> 8;
  return end + 2;
}

/** What a decoded frame turned out to be. */
export type FrameStatus = 'pending' | 'ok' | 'bad-nad' | 'bad-length' | 'bad-crc';

/**
 * Resumable decoder of one block, fed any chunking of the I2C reads (nano reads 2+1+LEN+2 bytes,
 * Nitrokey 3+LEN+2). `push` consumes bytes up to the end of the frame and stops there; once
 * `status` is not 'pending' the frame is complete (or known bad) and `reset()` starts the next.
 * The frame is kept in one buffer of T1_FRAME_MAX bytes owned by the decoder.
 */
export class T1FrameDecoder {
  readonly nad: number;
  #buffer = new Uint8Array(T1_FRAME_MAX);
  #have = 0;
  #total = T1_HEADER_LENGTH;
  #status: FrameStatus = 'pending';
  #infMax: number;

  /** `nad`: the NAD this side expects; `infMax`: the largest LEN accepted (our IFSD, ≤ 254). */
  constructor(nad: number, infMax = T1_INF_MAX) {
    this.nad = nad;
    this.#infMax = Math.min(infMax, T1_INF_MAX);
  }

  get status(): FrameStatus {
    return this.#status;
  }

  /** Bytes still needed to complete the frame (0 once it is complete or bad). */
  get needed(): number {
    return this.#status === 'pending' ? this.#total - this.#have : 0;
  }

  get pcb(): number {
    return this.#buffer[1];
  }

  get length(): number {
    return this.#buffer[2];
  }

  /** The INF of a complete frame: a view into the decoder's buffer, valid until `reset()`. */
  get inf(): Uint8Array {
    return this.#buffer.subarray(T1_HEADER_LENGTH, T1_HEADER_LENGTH + this.#buffer[2]);
  }

  /** The whole frame as received so far (a view). */
  get bytes(): Uint8Array {
    return this.#buffer.subarray(0, this.#have);
  }

  reset(): void {
    this.#have = 0;
    this.#total = T1_HEADER_LENGTH;
    this.#status = 'pending';
  }

  /** Feeds bytes; returns how many were consumed (never past the end of the frame). */
  push(chunk: Uint8Array, start = 0, end = chunk.length): number {
    let i = start;
    while (i < end && this.#status === 'pending') {
      const take = Math.min(end - i, this.#total - this.#have);
      this.#buffer.set(chunk.subarray(i, i + take), this.#have);
      // The NAD is checked as soon as it arrives: a frame from the wrong direction (or line noise)
      // must not make us wait for a LEN it never meant.
      if (this.#have === 0 && this.#buffer[0] !== this.nad) {
        this.#have = 1;
        this.#status = 'bad-nad';
        return i - start + 1;
      }
      this.#have += take;
      i += take;
      if (this.#have === T1_HEADER_LENGTH && this.#total === T1_HEADER_LENGTH) {
        const length = this.#buffer[2];
        if (length > this.#infMax) {
          this.#status = 'bad-length';
          break;
        }
        this.#total = T1_HEADER_LENGTH + length + 2;
      } else if (this.#have === this.#total) {
        const end2 = this.#total - 2;
        const crc = this.#buffer[end2] | (this.#buffer[end2 + 1] << 8);
        this.#status = crc === crc16X25(this.#buffer, 0, end2) ? 'ok' : 'bad-crc';
      }
    }
    return i - start;
  }
}
