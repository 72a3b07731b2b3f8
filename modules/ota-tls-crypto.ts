/**
 * TlsCryptoPort on Moddable's `crypt` (modules/crypt of the Moddable SDK; the same pieces its own
 * TLS uses, modules/crypt/tls_common.json): AES-128-GCM as `new GCM(new BlockCipher("AES", key))`
 * from module "gcm" (modules/crypt/etc/gcm.js: native AES block cipher, CTR mode and GHASH; only
 * the per-record setup is JavaScript), HMAC-SHA-256 as `new HMAC(new Digest("SHA256"), key)` from
 * module "hmac" (modules/crypt/etc/hmac.js: the data goes through the native Digest; only the
 * 64-byte key pads are prepared in JavaScript).
 *
 * The classes are passed in (modules/main.ts imports "crypt", "gcm" and "hmac"; the manifest must
 * include them), as ModdableDigest takes Digest, so this file type-checks without the SDK.
 *
 * Not yet run on a device: written from the SDK sources above. gcm.js `process(data, buf, iv,
 * aad, encrypt)` concatenates ArrayBuffers (XS's ArrayBuffer.prototype.concat) on `iv` and the
 * ciphertext, and takes `subarray` of the data when decrypting, hence the conversions below.
 */
import type { TlsCryptoPort } from 'xs-ota';

export interface CryptBlockCipher {
  readonly blockSize: number;
}
export type CryptBlockCipherConstructor = new (name: 'AES', key: ArrayBuffer) => CryptBlockCipher;
export interface CryptGcm {
  process(data: ArrayBuffer | Uint8Array, buf: undefined, iv: ArrayBuffer, aad: ArrayBuffer, encrypt: boolean): ArrayBuffer | Uint8Array | undefined;
}
export type CryptGcmConstructor = new (cipher: CryptBlockCipher, tagLength?: number) => CryptGcm;
export interface CryptHashForHmac {
  readonly blockSize: number;
}
export type CryptDigestConstructor = new (type: 'SHA256') => CryptHashForHmac;
export interface CryptHmac {
  update(...data: (ArrayBuffer | Uint8Array)[]): void;
  close(): ArrayBuffer;
}
export type CryptHmacConstructor = new (hash: CryptHashForHmac, key: ArrayBuffer | Uint8Array) => CryptHmac;

export interface ModdableTlsCryptoClasses {
  BlockCipher: CryptBlockCipherConstructor;
  GCM: CryptGcmConstructor;
  HMAC: CryptHmacConstructor;
  Digest: CryptDigestConstructor;
}

/** An ArrayBuffer holding exactly `bytes` (a view's buffer may be larger or shared). */
function own(bytes: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy.buffer;
}

export class ModdableTlsCrypto implements TlsCryptoPort {
  readonly #c: ModdableTlsCryptoClasses;

  constructor(classes: ModdableTlsCryptoClasses) {
    this.#c = classes;
  }

  hmacSha256(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
    const hmac = new this.#c.HMAC(new this.#c.Digest('SHA256'), own(key));
    for (const part of parts) hmac.update(own(part));
    return new Uint8Array(hmac.close());
  }

  aes128GcmSeal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const gcm = new this.#c.GCM(new this.#c.BlockCipher('AES', own(key)), 16);
    const out = gcm.process(own(plaintext), undefined, own(nonce), own(aad), true);
    if (!out) throw new Error('gcm: no output');
    return out instanceof Uint8Array ? out : new Uint8Array(out);
  }

  aes128GcmOpen(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | undefined {
    if (sealed.length < 16) return undefined;
    const gcm = new this.#c.GCM(new this.#c.BlockCipher('AES', own(key)), 16);
    // A copy: gcm.js decrypts in place when `buf` is the data.
    const out = gcm.process(new Uint8Array(own(sealed)), undefined, own(nonce), own(aad), false);
    if (!out) return undefined;
    return out instanceof Uint8Array ? out.slice() : new Uint8Array(out);
  }
}
