/**
 * SignatureVerifier for Node tools and the simulated dev kit: the same contract as the A5000
 * (src/se), which verifies ECDSA P-256 over a 32-byte digest it is handed. node:crypto cannot
 * verify a pre-hashed digest (crypto.verify always hashes its input), so the key handling
 * (PEM/DER parsing, SPKI export, SHA-256) is node:crypto and the ECDSA verification equation is
 * the dev kit's one BigInt implementation (tools/node/p256.ts, shared with the simulated A5000).
 * Tests cross-check it against crypto.verify on the whole signed region.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { OtaError } from '../../src/util/errors.js';
import { bytesEqual, hex, unhex } from '../../src/util/bytes.js';
import { p256VerifyDigest } from './p256.js';
import { checkEcdsaDer } from '../../src/image/tlv.js';
import type { SignatureCheck, SignatureVerifier } from '../../src/image/signature.js';

/** ECDSA P-256 verification of `digest` (32 bytes) with the public point (x, y). */
export function ecdsaP256VerifyDigest(digest: Uint8Array, sigDer: Uint8Array, x: bigint, y: bigint): boolean {
  const point = new Uint8Array(65);
  point[0] = 0x04;
  point.set(unhex(x.toString(16).padStart(64, '0')), 1);
  point.set(unhex(y.toString(16).padStart(64, '0')), 33);
  return p256VerifyDigest(point, digest, sigDer);
}

/** The SPKI DER of a public (or private) P-256 key in PEM or DER, and its SHA-256 (the KEYHASH). */
export function p256KeyInfo(key: string | Uint8Array | KeyObject): { spki: Uint8Array; keyHash: Uint8Array; x: bigint; y: bigint } {
  const pub =
    typeof key === 'string'
      ? createPublicKey(key)
      : key instanceof Uint8Array
        ? createPublicKey({ key: Buffer.from(key), format: 'der', type: 'spki' })
        : key.type === 'public'
          ? key
          : createPublicKey(key);
  if (pub.asymmetricKeyType !== 'ec' || pub.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new OtaError('unsupported-signature', `key is ${pub.asymmetricKeyType} ${pub.asymmetricKeyDetails?.namedCurve ?? ''}, not P-256`);
  }
  const spki = new Uint8Array(pub.export({ format: 'der', type: 'spki' }));
  const jwk = pub.export({ format: 'jwk' });
  const x = BigInt('0x' + Buffer.from(jwk.x!, 'base64url').toString('hex'));
  const y = BigInt('0x' + Buffer.from(jwk.y!, 'base64url').toString('hex'));
  return { spki, keyHash: new Uint8Array(createHash('sha256').update(spki).digest()), x, y };
}

export class NodeSignatureVerifier implements SignatureVerifier {
  readonly keyHash: Uint8Array;
  readonly #x: bigint;
  readonly #y: bigint;
  /** Number of verifications done (a deterministic figure for tests). */
  calls = 0;

  /** `publicKey`: PEM (public or private) or SPKI DER of the provisioned P-256 key. */
  constructor(publicKey: string | Uint8Array) {
    const info = p256KeyInfo(publicKey);
    this.keyHash = info.keyHash;
    this.#x = info.x;
    this.#y = info.y;
  }

  async verify(check: SignatureCheck): Promise<void> {
    this.verifySync(check);
  }

  async provisionedKeyHash(): Promise<Uint8Array> {
    return this.keyHash;
  }

  /** The same check, synchronous (the XS bridge serves it as a host call). */
  verifySync(check: SignatureCheck): void {
    this.calls++;
    if (check.algorithm !== 'ecdsa-p256') throw new OtaError('unsupported-signature', String(check.algorithm));
    if (check.imageHash.length !== 32) throw new OtaError('invalid-argument', `imageHash of ${check.imageHash.length} bytes`);
    if (!bytesEqual(check.keyHash, this.keyHash)) {
      throw new OtaError('key-mismatch', `KEYHASH ${hex(check.keyHash)} is not the provisioned key ${hex(this.keyHash)}`);
    }
    checkEcdsaDer(check.signature);
    if (!ecdsaP256VerifyDigest(check.imageHash, check.signature, this.#x, this.#y)) {
      throw new OtaError('bad-signature', 'ECDSA P-256 signature does not verify with the provisioned key');
    }
  }
}
