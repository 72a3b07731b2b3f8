/**
 * SignatureVerifier for Node tools and the simulated dev kit: the same contract as the A5000
 * (src/se), which verifies ECDSA P-256 over a 32-byte digest it is handed. node:crypto cannot
 * verify a pre-hashed digest (crypto.verify always hashes its input), so the key handling
 * (PEM/DER parsing, SPKI export, SHA-256) is node:crypto and the ECDSA verification equation
 * (SEC 1 v2 §4.1.4) is computed here over BigInt on the NIST P-256 curve (FIPS 186-4 D.1.2.3).
 * Tests cross-check it against crypto.verify on the whole signed region.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { OtaError } from '../../src/util/errors.js';
import { bytesEqual, hex } from '../../src/util/bytes.js';
import { checkEcdsaDer } from '../../src/image/tlv.js';
import type { SignatureCheck, SignatureVerifier } from '../../src/image/signature.js';

const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const A = P - 3n;
const GX = 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n;
const GY = 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n;

type Point = { x: bigint; y: bigint } | null;

function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

function inv(a: bigint, m: bigint): bigint {
  let [r0, r1] = [mod(a, m), m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return mod(s0, m);
}

function add(p: Point, q: Point): Point {
  if (!p) return q;
  if (!q) return p;
  if (p.x === q.x) {
    if (mod(p.y + q.y, P) === 0n) return null;
    const l = mod((3n * p.x * p.x + A) * inv(2n * p.y, P), P);
    const x = mod(l * l - 2n * p.x, P);
    return { x, y: mod(l * (p.x - x) - p.y, P) };
  }
  const l = mod((q.y - p.y) * inv(q.x - p.x, P), P);
  const x = mod(l * l - p.x - q.x, P);
  return { x, y: mod(l * (p.x - x) - p.y, P) };
}

function mul(k: bigint, p: Point): Point {
  let r: Point = null;
  let q = p;
  while (k > 0n) {
    if (k & 1n) r = add(r, q);
    q = add(q, q);
    k >>= 1n;
  }
  return r;
}

function big(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt('0x' + hex(bytes));
}

/** r and s of a DER ECDSA signature (already checked by checkEcdsaDer). */
function derScalars(sig: Uint8Array): [bigint, bigint] {
  const rLen = sig[3];
  const r = sig.subarray(4, 4 + rLen);
  const sLen = sig[5 + rLen];
  const s = sig.subarray(6 + rLen, 6 + rLen + sLen);
  return [big(r), big(s)];
}

/** ECDSA P-256 verification of `digest` (32 bytes) with the public point (x, y). */
export function ecdsaP256VerifyDigest(digest: Uint8Array, sigDer: Uint8Array, x: bigint, y: bigint): boolean {
  const [r, s] = derScalars(sigDer);
  if (r <= 0n || r >= N || s <= 0n || s >= N) return false;
  const e = big(digest);
  const w = inv(s, N);
  const u1 = mod(e * w, N);
  const u2 = mod(r * w, N);
  const pt = add(mul(u1, { x: GX, y: GY }), mul(u2, { x, y }));
  return pt !== null && mod(pt.x, N) === r;
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
