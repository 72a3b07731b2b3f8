/**
 * A FlashPort over sectors [base, base + size) of another partition: the staging area for a
 * downloaded delta inside the secondary slot (staging.ts), written by an ordinary SlotWriter.
 */
import type { FlashPort, FlashStatus } from '../platform/flash.js';
import { OtaError } from '../util/errors.js';

export class FlashWindow implements FlashPort {
  readonly #inner: FlashPort;
  readonly #base: number;
  readonly #status: FlashStatus;

  constructor(inner: FlashPort, base: number, size: number) {
    const s = inner.status();
    if (base % s.blockLength !== 0 || size % s.blockLength !== 0 || base < 0 || size <= 0 || base + size > s.size) {
      throw new OtaError('invalid-argument', `flash window ${base}+${size} is not whole sectors inside ${s.size} bytes`);
    }
    this.#inner = inner;
    this.#base = base;
    this.#status = { size, blockLength: s.blockLength, writeAlign: s.writeAlign, eraseValue: s.eraseValue };
  }

  status(): FlashStatus {
    return this.#status;
  }

  read(offset: number, into: Uint8Array): void {
    this.#check(offset, into.length);
    this.#inner.read(this.#base + offset, into);
  }

  write(offset: number, bytes: Uint8Array): void {
    this.#check(offset, bytes.length);
    this.#inner.write(this.#base + offset, bytes);
  }

  eraseBlock(block: number): void {
    if (!(block >= 0 && (block + 1) * this.#status.blockLength <= this.#status.size)) throw new OtaError('invalid-argument', `sector ${block} outside the window`);
    this.#inner.eraseBlock(this.#base / this.#status.blockLength + block);
  }

  close(): void {}

  #check(offset: number, length: number): void {
    if (!(offset >= 0 && offset + length <= this.#status.size)) throw new OtaError('invalid-argument', `${length} bytes at ${offset} outside the ${this.#status.size}-byte window`);
  }
}
