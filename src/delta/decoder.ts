/**
 * Streaming VCDIFF (RFC 3284) decoder for what xdelta3 writes with the tools' flags: the default
 * code table, the near/same address cache, ADD/RUN/COPY, VCD_SOURCE and VCD_TARGET windows, and
 * xdelta3's per-window Adler-32, which is checked before the next window starts.
 *
 * It reads the delta through a ByteSource (on the device: the delta staged in flash, see
 * staging.ts), COPY sources from the source image (the primary slot) or from the target written
 * so far, and hands the target to a TargetSink in pieces that are multiples of the write unit.
 *
 * RAM is fixed whatever the window sizes (DECODER_RAM_BYTES): a window's three sections are read
 * in step by three small cursors, never held; a COPY moves through one small buffer.
 *
 * @example
 *   const d = new VcdiffDecoder({ delta, deltaLength, source: primary, sourceLength, target, targetLimit });
 *   const { targetLength } = await d.decode();
 */
import { OtaError } from '../util/errors.js';
import { Adler32 } from './adler32.js';
import type { ByteSource } from './byte-source.js';
import { ADD, COPY, DEFAULT_CODE_TABLE, NOOP, RUN, S_NEAR, S_SAME } from './code-table.js';
import { SectionCursor } from './cursor.js';
import { readFileHeader, readWindowHeader, type WindowHeader } from './format.js';

/** Buffer sizes, bytes. Each cursor refill is one flash read; larger buffers mean fewer reads. */
export const DECODER_BUFFERS = {
  header: 32,
  data: 256,
  inst: 128,
  addr: 64,
  /** One piece of a COPY or RUN. */
  copy: 256,
  /** Target bytes held before they go to the sink: a multiple of every write alignment up to 512. */
  output: 512,
} as const;

/**
 * Live XS heap slots one decoder holds (its objects, fields, cursors and typed-array headers):
 * measured 187 on the 64-bit engine and 211 on the 32-bit device profile inside XS by the bench's `delta` section (a full collection with and without a
 * decoder), budgeted with a margin; the bench reports the measured count beside this budget.
 */
export const DECODER_SLOTS_BUDGET = 224;

/**
 * The decoder's RAM on a 32-bit XS engine (16-byte slots): its buffers, the address cache (near 4
 * + same 768 entries, 4 bytes each) and its slots. The code table (1536 bytes) is shared and lives
 * in ROM once preloaded.
 */
export const DECODER_RAM_BYTES = (() => {
  const b = DECODER_BUFFERS;
  return b.header + b.data + b.inst + b.addr + b.copy + b.output + (S_NEAR + S_SAME * 256) * 4 + DECODER_SLOTS_BUDGET * 16;
})();

/** Where decoding stands between windows: enough to resume after a reset. */
export interface WindowProgress {
  /** Windows completed. */
  windows: number;
  /** Delta offset of the next window. */
  deltaOffset: number;
  /** Target bytes completed (all handed to the sink). */
  targetOffset: number;
}

export interface TargetSink {
  /** Next target bytes; a multiple of the output unit except the very last piece. A view: copy it. */
  write(bytes: Uint8Array): void | Promise<void>;
  /** Target bytes already written (offsets from the target's start). */
  read(offset: number, into: Uint8Array): void;
}

export interface DecoderOptions {
  delta: ByteSource;
  deltaLength: number;
  /** The image the delta was made from (the primary slot), and its length. */
  source: ByteSource;
  sourceLength: number;
  target: TargetSink;
  /** Most target bytes allowed (room in the slot); beyond: `delta-no-room`, before writing them. */
  targetLimit: number;
  /**
   * The target's length when known (the full image's size from the offer). VCDIFF has no total
   * length: a delta cut at a window boundary decodes to a shorter target, refused here.
   */
  targetLength?: number;
  /** Output unit, bytes: a divisor of DECODER_BUFFERS.output (the slot's write alignment). */
  writeAlign?: number;
  /** Start at this window (a saved WindowProgress); the sink already holds targetOffset bytes. */
  resume?: WindowProgress;
  /** After each window's checksum passed and its bytes went to the sink. */
  onWindow?(progress: WindowProgress, window: WindowHeader): void | Promise<void>;
}

export interface DecodeResult {
  windows: number;
  targetLength: number;
}

export class VcdiffDecoder {
  readonly #o: DecoderOptions;
  readonly #header: SectionCursor;
  readonly #data: SectionCursor;
  readonly #inst: SectionCursor;
  readonly #addr: SectionCursor;
  readonly #copy = new Uint8Array(DECODER_BUFFERS.copy);
  readonly #out = new Uint8Array(DECODER_BUFFERS.output);
  readonly #near = new Uint32Array(S_NEAR);
  readonly #same = new Uint32Array(S_SAME * 256);
  readonly #adler = new Adler32();
  #nextNear = 0;
  #outFill = 0;
  /** Target bytes handed to the sink. */
  #flushed = 0;
  /** Target offset where the current window starts. */
  #windowStart = 0;
  /** Bytes of the current window produced. */
  #windowPos = 0;
  #w: WindowHeader | undefined;

  constructor(options: DecoderOptions) {
    const align = options.writeAlign ?? 8;
    if (!(align > 0) || DECODER_BUFFERS.output % align !== 0) throw new OtaError('invalid-argument', `write alignment ${align}`);
    this.#o = options;
    this.#header = new SectionCursor(options.delta, DECODER_BUFFERS.header, 'window header');
    this.#data = new SectionCursor(options.delta, DECODER_BUFFERS.data, 'data');
    this.#inst = new SectionCursor(options.delta, DECODER_BUFFERS.inst, 'instructions');
    this.#addr = new SectionCursor(options.delta, DECODER_BUFFERS.addr, 'addresses');
  }

  async decode(): Promise<DecodeResult> {
    const o = this.#o;
    this.#header.reset(0, o.deltaLength);
    const first = readFileHeader(this.#header);
    let windows = 0;
    if (o.resume) {
      const r = o.resume;
      if (r.deltaOffset < first || r.deltaOffset > o.deltaLength || r.targetOffset < 0 || r.targetOffset > o.targetLimit) {
        throw new OtaError('invalid-argument', `resume at delta ${r.deltaOffset}, target ${r.targetOffset}`);
      }
      this.#header.reset(r.deltaOffset, o.deltaLength);
      this.#flushed = r.targetOffset;
      windows = r.windows;
    }
    while (this.#header.remaining > 0) {
      const w = readWindowHeader(this.#header);
      await this.#window(w);
      windows++;
      await o.onWindow?.({ windows, deltaOffset: w.end, targetOffset: this.#flushed + this.#outFill }, w);
    }
    if (this.#outFill > 0) await this.#flushOut();
    if (o.targetLength !== undefined && this.#flushed !== o.targetLength) {
      throw new OtaError('delta-malformed', `the delta builds ${this.#flushed} bytes, the image has ${o.targetLength}`);
    }
    return { windows, targetLength: this.#flushed };
  }

  async #window(w: WindowHeader): Promise<void> {
    const o = this.#o;
    this.#w = w;
    this.#windowStart = this.#flushed + this.#outFill;
    this.#windowPos = 0;
    if (w.segment === 'source' && w.segmentPosition + w.segmentLength > o.sourceLength) {
      throw new OtaError('delta-address', `window at ${w.at}: source segment ${w.segmentPosition}+${w.segmentLength} beyond the ${o.sourceLength}-byte source`);
    }
    if (w.segment === 'target' && w.segmentPosition + w.segmentLength > this.#windowStart) {
      throw new OtaError('delta-address', `window at ${w.at}: target segment ${w.segmentPosition}+${w.segmentLength} beyond the ${this.#windowStart} bytes written`);
    }
    if (this.#windowStart + w.targetLength > o.targetLimit) {
      throw new OtaError('delta-no-room', `window at ${w.at} brings the target to ${this.#windowStart + w.targetLength} bytes, room for ${o.targetLimit}`);
    }
    this.#data.reset(w.dataStart, w.dataStart + w.dataLength);
    this.#inst.reset(w.instStart, w.instStart + w.instLength);
    this.#addr.reset(w.addrStart, w.addrStart + w.addrLength);
    // RFC 3284 §5.1: the address cache starts empty in every window.
    this.#near.fill(0);
    this.#same.fill(0);
    this.#nextNear = 0;
    this.#adler.reset();
    const table = DEFAULT_CODE_TABLE;
    while (this.#inst.remaining > 0) {
      const k = this.#inst.byte() * 6;
      for (let half = 0; half < 6; half += 3) {
        const type = table[k + half];
        if (type === NOOP) continue;
        let size = table[k + half + 1];
        if (size === 0) size = this.#inst.varint();
        if (size > w.targetLength - this.#windowPos) {
          throw new OtaError('delta-overrun', `window at ${w.at}: a ${size}-byte instruction at ${this.#windowPos} of ${w.targetLength}`);
        }
        if (type === ADD) await this.#add(size);
        else if (type === RUN) await this.#run(size);
        else if (type === COPY) await this.#copyInstruction(size, table[k + half + 2]);
      }
    }
    if (this.#windowPos !== w.targetLength) throw new OtaError('delta-malformed', `window at ${w.at} built ${this.#windowPos} of ${w.targetLength} bytes`);
    if (this.#data.remaining !== 0 || this.#addr.remaining !== 0) {
      throw new OtaError('delta-malformed', `window at ${w.at} left ${this.#data.remaining} data and ${this.#addr.remaining} address bytes unused`);
    }
    if (w.adler32 !== undefined && this.#adler.value() !== w.adler32) {
      throw new OtaError('delta-checksum', `window at ${w.at}: Adler-32 ${this.#adler.value().toString(16)}, expected ${w.adler32.toString(16)}`);
    }
  }

  async #add(size: number): Promise<void> {
    let left = size;
    while (left > 0) {
      const n = Math.min(left, this.#data.bufferSize);
      await this.#emit(this.#data.take(n));
      left -= n;
    }
  }

  async #run(size: number): Promise<void> {
    const b = this.#data.byte();
    const piece = this.#copy.subarray(0, Math.min(size, this.#copy.length));
    piece.fill(b);
    let left = size;
    while (left > 0) {
      const n = Math.min(left, piece.length);
      await this.#emit(piece.subarray(0, n));
      left -= n;
    }
  }

  /** RFC 3284 §5.3: decode the address in `mode`, check it, update the cache, copy. */
  async #copyInstruction(size: number, mode: number): Promise<void> {
    const w = this.#w!;
    const here = w.segmentLength + this.#windowPos;
    let addr: number;
    if (mode === 0) addr = this.#addr.varint();
    else if (mode === 1) addr = here - this.#addr.varint();
    else if (mode < 2 + S_NEAR) addr = this.#near[mode - 2] + this.#addr.varint();
    else addr = this.#same[(mode - 2 - S_NEAR) * 256 + this.#addr.byte()];
    if (!(addr >= 0 && addr < here)) throw new OtaError('delta-address', `window at ${w.at}: COPY from ${addr}, only ${here} bytes addressable`);
    this.#near[this.#nextNear] = addr;
    this.#nextNear = (this.#nextNear + 1) % S_NEAR;
    this.#same[addr % (S_SAME * 256)] = addr;
    let left = size;
    while (left > 0) {
      let n: number;
      if (addr < w.segmentLength) {
        n = Math.min(left, w.segmentLength - addr, this.#copy.length);
        const piece = this.#copy.subarray(0, n);
        if (w.segment === 'source') this.#o.source.read(w.segmentPosition + addr, piece);
        else this.#readTarget(w.segmentPosition + addr, piece);
      } else {
        // Inside this window: at most the bytes already produced (an overlapping COPY repeats them).
        const t = addr - w.segmentLength;
        n = Math.min(left, this.#windowPos - t, this.#copy.length);
        this.#readTarget(this.#windowStart + t, this.#copy.subarray(0, n));
      }
      await this.#emit(this.#copy.subarray(0, n));
      addr += n;
      left -= n;
    }
  }

  /** Target bytes [offset, offset+into.length): from the sink below #flushed, from #out above. */
  #readTarget(offset: number, into: Uint8Array): void {
    const inFlash = Math.max(0, Math.min(into.length, this.#flushed - offset));
    if (inFlash > 0) this.#o.target.read(offset, into.subarray(0, inFlash));
    if (inFlash < into.length) {
      const from = offset + inFlash - this.#flushed;
      into.set(this.#out.subarray(from, from + into.length - inFlash), inFlash);
    }
  }

  async #emit(bytes: Uint8Array): Promise<void> {
    this.#adler.update(bytes);
    this.#windowPos += bytes.length;
    let i = 0;
    while (i < bytes.length) {
      const n = Math.min(this.#out.length - this.#outFill, bytes.length - i);
      this.#out.set(bytes.subarray(i, i + n), this.#outFill);
      this.#outFill += n;
      i += n;
      if (this.#outFill === this.#out.length) await this.#flushOut();
    }
  }

  async #flushOut(): Promise<void> {
    const n = this.#outFill;
    await this.#o.target.write(this.#out.subarray(0, n));
    this.#flushed += n;
    this.#outFill = 0;
  }
}
