/**
 * `crypt` Digest, missing from @moddable/typings 5.6.0. Written from the Moddable SDK:
 * modules/crypt/digest/crypt.js (class Digest: write, close(more), reset, blockSize, outputSize,
 * process, update), modules/crypt/digest/modCrypt.c (write takes a string or any buffer view;
 * close returns an ArrayBuffer of outputSize bytes) and typings/crypt.d.ts of the current SDK.
 */
declare module 'crypt' {
  type DigestType = 'MD5' | 'SHA1' | 'SHA224' | 'SHA256' | 'SHA384' | 'SHA512';

  export class Digest {
    constructor(type: DigestType);
    write(message: string | ArrayBuffer | ArrayBufferView): void;
    update(message: string | ArrayBuffer | ArrayBufferView): void;
    close(more?: boolean): ArrayBuffer;
    reset(): void;
    process(...messages: (string | ArrayBuffer | ArrayBufferView)[]): ArrayBuffer;
    get blockSize(): number;
    get outputSize(): number;
  }
}
