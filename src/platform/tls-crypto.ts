/**
 * Bulk symmetric crypto for TLS in the agent: AES-128-GCM and HMAC-SHA-256 over whole buffers,
 * native on the device (Moddable `crypt`: BlockCipher "AES" + GCM, HMAC over Digest "SHA256";
 * modules/ota-tls-crypto.ts) and node:crypto in the dev kit (tools/node/node-tls-crypto.ts),
 * never per-byte JavaScript. Private-key operations are not here: they run in the A5000.
 */
export interface TlsCryptoPort {
  /** HMAC-SHA-256 (RFC 2104) of the concatenation of `parts` under `key`: 32 bytes. */
  hmacSha256(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array;
  /** AES-128-GCM (NIST SP 800-38D), 12-byte nonce, 16-byte tag: ciphertext || tag. */
  aes128GcmSeal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /** The plaintext of ciphertext || tag, or undefined when the tag does not verify. */
  aes128GcmOpen(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | undefined;
}
