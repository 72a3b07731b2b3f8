/**
 * ECDSA P-256 and ECDH on P-256 over prehashed digests, for the simulated A5000 (Node only), on
 * @noble/curves (audited, constant-time scalar multiplication) instead of a hand-written curve.
 *
 * The SE05x takes a digest the host computed (SIG_ECDSA_SHA_256: ECDSASign and ECDSAVerify never
 * hash), and node:crypto cannot sign or verify a digest (`crypto.sign`/`verify` always hash their
 * input, WebCrypto too), so noble's `prehash: false` is what matches the chip. Signatures are DER,
 * as the SE05x returns them; high-S signatures are accepted (the SE05x and MCUboot's imgtool do not
 * normalise S). test/unit/devkit/p256.spec.ts cross-checks every function against node:crypto.
 */
import { p256 } from '@noble/curves/nist.js';

/** The affine point (x, y) of an uncompressed P-256 public key (04||X||Y), or undefined when it is not one. */
export function p256Point(publicKey: Uint8Array): [bigint, bigint] | undefined {
  if (publicKey.length !== 65 || publicKey[0] !== 0x04) return undefined;
  try {
    const point = p256.Point.fromBytes(publicKey);
    point.assertValidity();
    return [point.x, point.y];
  } catch {
    return undefined;
  }
}

/**
 * True when `derSignature` is a valid ECDSA P-256 signature over the 32-byte `digest` for the
 * uncompressed public key `publicKey` (04||X||Y). Malformed input is simply "not valid".
 */
export function p256VerifyDigest(publicKey: Uint8Array, digest: Uint8Array, derSignature: Uint8Array): boolean {
  if (digest.length !== 32 || !p256Point(publicKey)) return false;
  try {
    return p256.verify(derSignature, digest, publicKey, { prehash: false, format: 'der', lowS: false });
  } catch {
    return false;
  }
}

/** A key pair: the 32-byte scalar and the uncompressed public point. */
export interface P256KeyPair {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

/**
 * A key pair from `seed` (at least 40 bytes of the SE's random source; FIPS 186-5 A.2.1 reduces
 * it to a scalar in [1, n-1] without bias), so a seeded simulator generates the same key each run.
 */
export function p256KeyFromSeed(seed: Uint8Array): P256KeyPair {
  const secretKey = p256.utils.randomSecretKey(seed);
  return { secretKey, publicKey: p256.getPublicKey(secretKey, false) };
}

/** The uncompressed public point of a 32-byte secret scalar. */
export function p256PublicKey(secretKey: Uint8Array): Uint8Array {
  return p256.getPublicKey(secretKey, false);
}

/** ECDSA P-256 over a 32-byte digest (no hashing: the SE05x contract), DER, RFC 6979 nonce. */
export function p256SignDigest(secretKey: Uint8Array, digest: Uint8Array): Uint8Array {
  if (digest.length !== 32) throw new RangeError(`digest of ${digest.length} bytes, expected 32`);
  return p256.sign(digest, secretKey, { prehash: false, format: 'der', lowS: false });
}

/**
 * ECDH on P-256 (SEC 1 §3.3.1): the x coordinate of secretKey x peer, 32 bytes, as the SE05x's
 * ECDHGenerateSharedSecret returns it. Throws RangeError when `peer` is not a point on the curve.
 */
export function p256Ecdh(secretKey: Uint8Array, peer: Uint8Array): Uint8Array {
  if (!p256Point(peer)) throw new RangeError('peer public key is not an uncompressed P-256 point');
  return p256.getSharedSecret(secretKey, peer, true).slice(1);
}
