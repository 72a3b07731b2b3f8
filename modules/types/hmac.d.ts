/**
 * The Moddable SDK's modules/crypt/etc/hmac.js (default export), missing from @moddable/typings:
 * `new HMAC(hash, key)` over a native Digest, `update(...)`, `close()`; used by
 * modules/ota-tls-crypto.ts through modules/main.ts.
 */
declare module 'hmac' {
  export default class HMAC {
    constructor(hash: object, key: ArrayBuffer | Uint8Array);
    update(...data: (ArrayBuffer | Uint8Array)[]): void;
    close(): ArrayBuffer;
  }
}
