/**
 * DigestPort on Moddable's `crypt` Digest (modules/crypt/digest/crypt.js + modCrypt.c;
 * documentation/crypt/crypt.md): `new Digest("SHA256")`, `write(buffer)` (typed arrays are
 * accepted: modCrypt.c resolves the buffer view), `close()` returns the digest as an ArrayBuffer.
 */
import { OtaError, type DigestPort, type Sha256 } from 'xs-ota';
import type { ByteBuffer } from 'ota-zephyr-io';

export interface CryptDigest {
  write(data: ByteBuffer): void;
  close(): ArrayBuffer;
}

export type CryptDigestConstructor = new (type: 'SHA256') => CryptDigest;

export class ModdableDigest implements DigestPort {
  readonly #Digest: CryptDigestConstructor;

  constructor(Digest: CryptDigestConstructor) {
    this.#Digest = Digest;
  }

  sha256(): Sha256 {
    const digest = new this.#Digest('SHA256');
    let closed = false;
    return {
      update(bytes: Uint8Array): void {
        if (closed) throw new OtaError('bad-state', 'sha256: update after digest');
        digest.write(bytes);
      },
      digest(): Uint8Array {
        if (closed) throw new OtaError('bad-state', 'sha256: digest twice');
        closed = true;
        return new Uint8Array(digest.close());
      },
    };
  }
}
