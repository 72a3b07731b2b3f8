/**
 * Node stand-ins for Moddable's Zephyr bindings, each following the C source it is named after
 * (Moddable-OpenSource/moddable), so the port shells in modules/ are tested against the
 * behaviour they will meet on the device, not against their own assumptions.
 */
import { createHash, type Hash } from 'node:crypto';
import type { ZephyrFlash, ZephyrFlashStorage } from '../../modules/ota-flash.js';
import type { ZephyrKeyValueStorage, ZephyrKeyValueStore } from '../../modules/ota-key-value.js';
import type { ByteBuffer, ZephyrI2c, ZephyrI2cOptions, ZephyrSerial, ZephyrSerialOptions } from '../../modules/ota-zephyr-io.js';

function bytesOf(buffer: ByteBuffer): Uint8Array {
  return buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
}

/**
 * modules/io/serial/zephyr/serial.c: 256-byte RX and TX rings; `read(buffer)` copies what is
 * there and returns the count, or undefined when the ring is empty; `write` throws "output full"
 * when the ring lacks room for the whole buffer; callbacks are posted, not called inline.
 */
export class FakeZephyrSerial implements ZephyrSerial {
  static instances: FakeZephyrSerial[] = [];
  readonly options: ZephyrSerialOptions;
  readonly rx: number[] = [];
  readonly sent: number[] = [];
  txSpace: number;
  closed = false;

  constructor(options: ZephyrSerialOptions, readonly ringSize = 256) {
    this.options = options;
    this.txSpace = ringSize;
    FakeZephyrSerial.instances.push(this);
  }

  /** What modMessagePostToMachine delivers after construction when onWritable is set. */
  postWritable(): void {
    if (!this.closed) this.options.onWritable?.(this.txSpace);
  }

  /** The ISR moved `count` bytes to the UART FIFO. */
  drainTx(count: number): void {
    this.txSpace = Math.min(this.ringSize, this.txSpace + count);
    this.postWritable();
  }

  receive(bytes: number[]): void {
    const room = this.ringSize - this.rx.length;
    this.rx.push(...bytes.slice(0, room));
    if (bytes.length > room) this.options.onError?.(-12); // -ENOMEM: RX ring overflow
    this.options.onReadable?.(this.rx.length);
  }

  read(into: Uint8Array): number | undefined {
    if (this.closed) throw new Error('closed');
    if (this.rx.length === 0) return undefined;
    const count = Math.min(into.length, this.rx.length);
    into.set(this.rx.splice(0, count));
    return count;
  }

  write(bytes: ByteBuffer): void {
    if (this.closed) throw new Error('closed');
    const view = bytesOf(bytes);
    if (this.txSpace < view.length) throw new Error('output full');
    this.txSpace -= view.length;
    this.sent.push(...view);
  }

  close(): void {
    this.closed = true;
  }
}

/**
 * modules/io/i2c/zephyr/_i2c.c: each transfer throws on any negative errno ("write failed",
 * "read failed"); `nackNext` makes the next transfers fail the way an address NACK (-EIO) does.
 */
export class FakeZephyrI2c implements ZephyrI2c {
  readonly options: ZephyrI2cOptions;
  readonly written: Uint8Array[] = [];
  response = new Uint8Array(0);
  nackNext = 0;
  closed = false;

  constructor(options: ZephyrI2cOptions) {
    this.options = options;
  }

  #transfer(what: string): void {
    if (this.nackNext > 0) {
      this.nackNext--;
      throw new Error(`${what} failed`);
    }
  }

  write(bytes: ByteBuffer): void {
    this.#transfer('write');
    this.written.push(bytesOf(bytes).slice());
  }

  read(into: Uint8Array): number {
    this.#transfer('read');
    into.set(this.response.subarray(0, into.length));
    return into.length;
  }

  writeRead(bytes: ByteBuffer, into: Uint8Array): number {
    this.#transfer('write/read');
    this.written.push(bytesOf(bytes).slice());
    into.set(this.response.subarray(0, into.length));
    return into.length;
  }

  close(): void {
    this.closed = true;
  }
}

/**
 * modules/io/flash/zephyr/flash-zephyr.c over a NOR partition: `open({path})` finds a partition by
 * its label property or throws "can't find partition"; `eraseBlock(start, end)` erases
 * [start, end) blocks; `read(buffer, offset)`; `write(buffer, offset)` programs (clears bits only).
 */
export class FakeFlashStorage implements ZephyrFlashStorage {
  readonly partitions = new Map<string, FakeZephyrFlash>();

  add(label: string, size: number, blockLength = 4096, writeAlign = 8): FakeZephyrFlash {
    const flash = new FakeZephyrFlash(size, blockLength, writeAlign);
    this.partitions.set(label, flash);
    return flash;
  }

  open(options: { path: string; mode?: 'r' | 'r+' }): ZephyrFlash {
    const flash = this.partitions.get(options.path);
    if (flash === undefined) throw new Error("can't find partition");
    return flash;
  }
}

export class FakeZephyrFlash implements ZephyrFlash {
  readonly bytes: Uint8Array;
  readonly erased: number[] = [];
  closed = false;

  constructor(readonly size: number, readonly blockLength: number, readonly writeAlign: number) {
    this.bytes = new Uint8Array(size).fill(0xff);
  }

  read(buffer: ByteBuffer, byteOffset: number): number {
    const view = bytesOf(buffer);
    view.set(this.bytes.subarray(byteOffset, byteOffset + view.length));
    return view.length;
  }

  write(buffer: ByteBuffer, byteOffset: number): void {
    const view = bytesOf(buffer);
    if (byteOffset + view.length > this.size) throw new Error('write failed');
    for (let i = 0; i < view.length; i++) this.bytes[byteOffset + i] &= view[i];
  }

  eraseBlock(start: number, end = start + 1): void {
    for (let block = start; block < end; block++) {
      this.bytes.fill(0xff, block * this.blockLength, (block + 1) * this.blockLength);
      this.erased.push(block);
    }
  }

  status() {
    return {
      size: this.size,
      blockLength: this.blockLength,
      blocks: this.size / this.blockLength,
      writeAlign: this.writeAlign,
      eraseValue: 0xff,
    };
  }

  close(): void {
    this.closed = true;
  }
}

/**
 * modules/io/storage/zephyr/storage-zephyr.c: a domain per open; a missing key reads as
 * undefined; a value stored in another format throws TypeError("mismatch"); `failWrites` makes
 * settings_save_one fail ("setting error").
 */
export class FakeKeyValueStorage implements ZephyrKeyValueStorage {
  readonly values = new Map<string, string | number>();
  failWrites = false;

  open(options: { path: string; mode?: 'r' | 'r+'; format?: 'string' }): ZephyrKeyValueStore {
    const domain = options.path;
    const readOnly = options.mode === 'r';
    return {
      read: (key) => {
        const value = this.values.get(`${domain}/${key}`);
        if (typeof value === 'number') throw new TypeError('mismatch');
        return value;
      },
      write: (key, value) => {
        if (readOnly) throw new Error('read-only');
        if (this.failWrites) throw new Error('setting error');
        this.values.set(`${domain}/${key}`, value);
      },
      delete: (key) => {
        if (readOnly) throw new Error('read-only');
        this.values.delete(`${domain}/${key}`);
      },
      close: () => {},
    };
  }
}

/** modules/crypt/digest/crypt.js Digest("SHA256") on Node's hash: write, then close once. */
export class FakeDigest {
  #hash: Hash | undefined = createHash('sha256');

  constructor(type: 'SHA256') {
    if (type !== 'SHA256') throw new Error('crypt: unsupported digest');
  }

  write(data: ByteBuffer): void {
    if (this.#hash === undefined) throw new Error("crypt: can't call digest write after close");
    this.#hash.update(bytesOf(data));
  }

  close(): ArrayBuffer {
    const out = new Uint8Array(this.#hash!.digest());
    this.#hash = undefined;
    return out.buffer;
  }
}
