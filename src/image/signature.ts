/**
 * How the image code asks for a signature check. The device implements it with the A5000
 * (src/se/image-verifier.ts); Node tools implement it with node:crypto. The verifier receives only
 * the image digest, the key hash and the signature (a few hundred bytes), never the image.
 */
export type SignatureAlgorithm = 'ecdsa-p256';

export interface SignatureCheck {
  algorithm: SignatureAlgorithm;
  /** SHA-256 over header + body + protected TLVs (the SHA256 TLV value, already checked). */
  imageHash: Uint8Array;
  /** KEYHASH TLV: SHA-256 of the signing key's SubjectPublicKeyInfo DER. */
  keyHash: Uint8Array;
  /** ECDSA_SIG TLV value: the DER signature as imgtool wrote it. */
  signature: Uint8Array;
}

export interface SignatureVerifier {
  /**
   * Resolves when `signature` over `imageHash` verifies with the provisioned key, and that key's
   * SPKI SHA-256 equals `keyHash`. Rejects with an OtaError otherwise: `key-mismatch`,
   * `bad-signature`, `signature-malformed`, `unsupported-signature`, or the transport's reason.
   */
  verify(check: SignatureCheck): Promise<void>;
  /**
   * SHA-256 of the provisioned key's SubjectPublicKeyInfo DER: MCUboot's KEYHASH lookup
   * (bootutil_find_key) decides which signatures count before any is verified
   * (src/image/mcuboot-rules.ts). Without it, the image's own KEYHASH is trusted to name the
   * key, and a second signature under another key is verified instead of skipped.
   */
  provisionedKeyHash?(): Promise<Uint8Array>;
}
