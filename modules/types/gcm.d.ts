/**
 * The Moddable SDK's modules/crypt/etc/gcm.js (default export), missing from @moddable/typings:
 * AES-GCM over a native BlockCipher, `process(data, buf, iv, aad, encrypt)`; used by
 * modules/ota-tls-crypto.ts through modules/main.ts.
 */
declare module 'gcm' {
  export default class GCM {
    constructor(cipher: object, tagLength?: number);
    process(data: ArrayBuffer | Uint8Array, buf: undefined, iv: ArrayBuffer, aad: ArrayBuffer, encrypt: boolean): ArrayBuffer | Uint8Array | undefined;
  }
}
