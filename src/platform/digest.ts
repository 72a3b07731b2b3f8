/**
 * Streaming SHA-256, the device's native `crypt` Digest (hardware-accelerated on most MCUs).
 */
export interface Sha256 {
  /** Absorb bytes. The bytes are not retained after the call returns. */
  update(bytes: Uint8Array): void;
  /** The 32-byte digest. The context must not be used afterwards. */
  digest(): Uint8Array;
}

export interface DigestPort {
  sha256(): Sha256;
}
