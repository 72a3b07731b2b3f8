/**
 * ECDSA P-256 verification of a prehashed digest, for the simulated A5000 (Node only).
 *
 * The SE05x ECDSAVerify takes a digest the host computed (SIG_ECDSA_SHA_256), and node:crypto
 * cannot verify over a digest: `crypto.verify('sha256' | null, data, ecKey, sig)` always hashes
 * `data` first (checked on Node 20), and WebCrypto does the same. So the verification equation is
 * done here with BigInt (SEC 1 v2 §4.1.4, FIPS 186-4 §6.4), in Jacobian coordinates. The spec in
 * test/unit/devkit/p256.spec.ts cross-checks it against node:crypto signatures.
 */

/** NIST P-256 (FIPS 186-4 D.1.2.3). */
const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const A = P - 3n;
const B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const GX = 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n;
const GY = 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n;

type Jacobian = [bigint, bigint, bigint];

const mod = (a: bigint, m: bigint): bigint => {
  const r = a % m;
  return r < 0n ? r + m : r;
};

function inverse(a: bigint, m: bigint): bigint {
  // Extended Euclid; a is non-zero mod m here.
  let [r0, r1] = [mod(a, m), m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return mod(s0, m);
}

function double([x, y, z]: Jacobian): Jacobian {
  if (y === 0n || z === 0n) return [0n, 1n, 0n];
  const yy = mod(y * y, P);
  const s = mod(4n * x * yy, P);
  const zz = mod(z * z, P);
  const m = mod(3n * x * x + A * zz * zz, P);
  const x3 = mod(m * m - 2n * s, P);
  const y3 = mod(m * (s - x3) - 8n * yy * yy, P);
  const z3 = mod(2n * y * z, P);
  return [x3, y3, z3];
}

function add(p: Jacobian, q: Jacobian): Jacobian {
  if (p[2] === 0n) return q;
  if (q[2] === 0n) return p;
  const z1z1 = mod(p[2] * p[2], P);
  const z2z2 = mod(q[2] * q[2], P);
  const u1 = mod(p[0] * z2z2, P);
  const u2 = mod(q[0] * z1z1, P);
  const s1 = mod(p[1] * q[2] * z2z2, P);
  const s2 = mod(q[1] * p[2] * z1z1, P);
  if (u1 === u2) return s1 === s2 ? double(p) : [0n, 1n, 0n];
  const h = mod(u2 - u1, P);
  const r = mod(s2 - s1, P);
  const hh = mod(h * h, P);
  const hhh = mod(h * hh, P);
  const v = mod(u1 * hh, P);
  const x3 = mod(r * r - hhh - 2n * v, P);
  const y3 = mod(r * (v - x3) - s1 * hhh, P);
  const z3 = mod(p[2] * q[2] * h, P);
  return [x3, y3, z3];
}

function multiply(point: Jacobian, k: bigint): Jacobian {
  let result: Jacobian = [0n, 1n, 0n];
  let addend = point;
  while (k > 0n) {
    if (k & 1n) result = add(result, addend);
    addend = double(addend);
    k >>= 1n;
  }
  return result;
}

function bigintOf(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

/** The curve point of an uncompressed 04||X||Y key, or undefined when it is not on P-256. */
export function p256Point(raw: Uint8Array): [bigint, bigint] | undefined {
  if (raw.length !== 65 || raw[0] !== 0x04) return undefined;
  const x = bigintOf(raw.subarray(1, 33));
  const y = bigintOf(raw.subarray(33, 65));
  if (x >= P || y >= P) return undefined;
  if (mod(y * y - (x * x * x + A * x + B), P) !== 0n) return undefined;
  return [x, y];
}

/** r and s of a DER ECDSA-Sig-Value, or undefined when it is not strict DER. */
export function parseDerSignature(der: Uint8Array): [bigint, bigint] | undefined {
  if (der.length < 8 || der[0] !== 0x30 || der[1] !== der.length - 2 || der[1] > 0x7f) return undefined;
  let at = 2;
  const out: bigint[] = [];
  for (let i = 0; i < 2; i++) {
    if (der[at] !== 0x02) return undefined;
    const length = der[at + 1];
    if (length < 1 || length > 33 || at + 2 + length > der.length) return undefined;
    const value = der.subarray(at + 2, at + 2 + length);
    if (value[0] & 0x80) return undefined; // negative
    if (length > 1 && value[0] === 0 && !(value[1] & 0x80)) return undefined; // not minimal
    out.push(bigintOf(value));
    at += 2 + length;
  }
  if (at !== der.length) return undefined;
  return [out[0], out[1]];
}

/**
 * True when `derSignature` is a valid ECDSA P-256 signature over the 32-byte `digest` for the
 * uncompressed public key `publicKey` (04||X||Y). Malformed input is simply "not valid".
 */
export function p256VerifyDigest(publicKey: Uint8Array, digest: Uint8Array, derSignature: Uint8Array): boolean {
  const q = p256Point(publicKey);
  const rs = parseDerSignature(derSignature);
  if (!q || !rs || digest.length !== 32) return false;
  const [r, s] = rs;
  if (r < 1n || r >= N || s < 1n || s >= N) return false;
  const e = bigintOf(digest); // 256-bit digest, 256-bit order: no truncation (SEC 1 §4.1.4 step 3)
  const w = inverse(s, N);
  const u1 = mod(e * w, N);
  const u2 = mod(r * w, N);
  const sum = add(multiply([GX, GY, 1n], u1), multiply([q[0], q[1], 1n], u2));
  if (sum[2] === 0n) return false;
  const zi = inverse(sum[2], P);
  const x = mod(sum[0] * zi * zi, P);
  return mod(x, N) === r;
}
