/**
 * The agent's SignatureVerifier on the A5000: MCUboot's ECDSA P-256 check done inside the secure
 * element with the public key provisioned there. The SE receives only the image's SHA-256 and the
 * DER signature (one ECDSAVerify APDU of at most 122 bytes), never the image.
 *
 * On first use the verifier reads the key object and computes SHA-256 of its SubjectPublicKeyInfo
 * (the fixed 26-byte P-256 prefix || 04||X||Y), which is what imgtool puts in the KEYHASH TLV
 * (`--public-key-format hash`). An image whose KEYHASH differs is rejected with key-mismatch before
 * the SE is asked, so a device provisioned with the wrong key says so instead of "bad signature".
 */
import type { SignatureCheck, SignatureVerifier } from '../image/signature.js';
import type { DigestPort } from '../platform/digest.js';
import { bytesEqual, hex, unhex } from '../util/bytes.js';
import { OtaError } from '../util/errors.js';
import { ECDSA_P256_DER_MAX, type Se05x } from './se05x.js';

/** DER SubjectPublicKeyInfo prefix of an uncompressed NIST P-256 key (RFC 5480): SEQUENCE, id-ecPublicKey, prime256v1, BIT STRING. */
export const SPKI_P256_PREFIX = unhex('3059301306072a8648ce3d020106082a8648ce3d030107034200');
/** The OTA public key object of the vectors and of `xs-ota se provision` (nano test id style). */
export const DEFAULT_KEY_OBJECT_ID = 0x7b000201;

export interface Se05xImageVerifierOptions {
  se: Se05x;
  digest: DigestPort;
  /** Object id of the provisioned P-256 public key. */
  keyId?: number;
}

/** SPKI DER of an uncompressed P-256 point (65 bytes 04||X||Y). */
export function p256Spki(point: Uint8Array): Uint8Array {
  const spki = new Uint8Array(SPKI_P256_PREFIX.length + point.length);
  spki.set(SPKI_P256_PREFIX, 0);
  spki.set(point, SPKI_P256_PREFIX.length);
  return spki;
}

/**
 * Checks that `der` is an ECDSA-Sig-Value a P-256 verifier can read: SEQUENCE { INTEGER r,
 * INTEGER s }, short-form lengths, each INTEGER 1..33 bytes, nothing trailing. Throws
 * signature-malformed. (Whether r and s are in range is the SE's business: it answers "invalid".)
 */
export function checkDerSignature(der: Uint8Array): void {
  const bad = (why: string): OtaError => new OtaError('signature-malformed', `${why} in DER signature ${hex(der)}`);
  if (der.length < 8 || der.length > ECDSA_P256_DER_MAX) throw bad(`length ${der.length}`);
  if (der[0] !== 0x30 || der[1] !== der.length - 2) throw bad('bad SEQUENCE header');
  let at = 2;
  for (let n = 0; n < 2; n++) {
    if (at + 2 > der.length || der[at] !== 0x02) throw bad('missing INTEGER');
    const length = der[at + 1];
    if (length < 1 || length > 33 || at + 2 + length > der.length) throw bad(`INTEGER of length ${length}`);
    at += 2 + length;
  }
  if (at !== der.length) throw bad('trailing bytes');
}

export class Se05xImageVerifier implements SignatureVerifier {
  readonly keyId: number;
  #se: Se05x;
  #digest: DigestPort;
  /** SHA-256 of the provisioned key's SPKI, read once. */
  #keyHash: Uint8Array | undefined;

  constructor(options: Se05xImageVerifierOptions) {
    this.#se = options.se;
    this.#digest = options.digest;
    this.keyId = options.keyId ?? DEFAULT_KEY_OBJECT_ID;
  }

  /**
   * Resolves when the SE says the signature is valid for `imageHash` under the provisioned key and
   * that key is the one the image names. Rejects with key-mismatch, bad-signature,
   * signature-malformed, unsupported-signature, se-no-object (key not provisioned),
   * se-key-mismatch (the object is not a P-256 public key) or a transport reason.
   * @example await verifier.verify({ algorithm: 'ecdsa-p256', imageHash, keyHash, signature });
   */
  async verify(check: SignatureCheck): Promise<void> {
    if (check.algorithm !== 'ecdsa-p256') throw new OtaError('unsupported-signature', `algorithm ${String(check.algorithm)}`);
    if (check.imageHash.length !== 32) throw new OtaError('invalid-argument', `image hash of ${check.imageHash.length} bytes`);
    if (check.keyHash.length !== 32) throw new OtaError('key-mismatch', `KEYHASH of ${check.keyHash.length} bytes, not a SHA-256`);
    checkDerSignature(check.signature);
    const keyHash = await this.#provisionedKeyHash();
    if (!bytesEqual(keyHash, check.keyHash)) {
      throw new OtaError(
        'key-mismatch',
        `image KEYHASH ${hex(check.keyHash)} is not SHA-256 of the key in object 0x${this.keyId.toString(16)} (${hex(keyHash)}): image signed by another key, or the device is provisioned with the wrong one`,
      );
    }
    const valid = await this.#se.ecdsaVerify(this.keyId, check.imageHash, check.signature);
    if (!valid) throw new OtaError('bad-signature', `the A5000 rejected the ECDSA P-256 signature (key object 0x${this.keyId.toString(16)})`);
  }

  /** SHA-256 of the provisioned key's SPKI (read from the A5000 once): MCUboot's KEYHASH lookup. */
  provisionedKeyHash(): Promise<Uint8Array> {
    return this.#provisionedKeyHash();
  }

  async #provisionedKeyHash(): Promise<Uint8Array> {
    if (this.#keyHash) return this.#keyHash;
    const id = this.keyId;
    // CheckObjectExists first: "not provisioned" is a clearer report than ReadObject's SW 6985.
    if (!(await this.#se.checkObjectExists(id))) {
      throw new OtaError('se-no-object', `no key object 0x${id.toString(16)} in the A5000: provision the OTA public key (docs/provisioning-a5000.md)`);
    }
    const point = await this.#se.readObject(id);
    if (point.length !== 65 || point[0] !== 0x04) {
      throw new OtaError('se-key-mismatch', `object 0x${id.toString(16)} holds ${point.length} bytes, not an uncompressed P-256 point`);
    }
    const sha = this.#digest.sha256();
    sha.update(p256Spki(point));
    this.#keyHash = sha.digest();
    return this.#keyHash;
  }
}
