/**
 * ECMA-419 storage modules, missing from @moddable/typings 5.6.0. Written from the Moddable SDK's
 * typings/embedded/storage/flash.d.ts and typings/embedded/storage/key-value.d.ts, checked against
 * the Zephyr bindings modules/io/flash/zephyr/flash-zephyr.{js,c} and
 * modules/io/storage/zephyr/storage-zephyr.{js,c}: `read(key)` returns undefined for a missing key
 * (settings_get_val_len() == 0), which the SDK typing leaves out.
 */
declare module 'embedded:storage/flash' {
  type ByteBuffer = ArrayBuffer | ArrayBufferView;

  export interface FlashOpenOptions {
    path: string;
    mode?: 'r' | 'r+';
  }

  export interface FlashStatus {
    size: number;
    blockLength: number;
    blocks: number;
    writeAlign: number;
    eraseValue: number;
  }

  export class Flash {
    close(): void;
    eraseBlock(start: number, end?: number): void;
    read(byteLength: number, byteOffset: number): ArrayBuffer;
    read(buffer: ByteBuffer, byteOffset: number): number;
    write(buffer: ByteBuffer, byteOffset: number): void;
    status(): FlashStatus;
    format: 'buffer';
  }

  const FlashStorage: {
    open(options: FlashOpenOptions): Flash;
    [Symbol.iterator](): IterableIterator<string>;
  };
  export default FlashStorage;
}

declare module 'embedded:storage/key-value' {
  type ByteBuffer = ArrayBuffer | ArrayBufferView;

  export type StorageFormat = 'buffer' | 'string' | 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'uint64' | 'int64';

  export interface StorageOpenOptions {
    path: string;
    mode?: 'r' | 'r+';
    format?: StorageFormat;
  }

  export class Storage {
    close(): void;
    delete(key: string): void;
    read(key: string): ArrayBuffer | string | number | bigint | undefined;
    read(key: string, buffer: ByteBuffer): number | undefined;
    write(key: string, value: ByteBuffer | string | number | bigint): void;
    [Symbol.iterator](): IterableIterator<string>;
    format: StorageFormat;
  }

  const KeyValueStorage: {
    open(options: StorageOpenOptions): Storage;
  };
  export default KeyValueStorage;
}
