/**
 * MCUboot TLV areas (bootutil image.h, imgtool 2.4.0 image.py). After header + body come an
 * optional protected area (info {u16 magic 0x6908, u16 tlv_tot}) and the unprotected area
 * (info {u16 magic 0x6907, u16 tlv_tot}); tlv_tot counts the 4-byte info too. Each TLV is
 * {u16 type, u16 len, value}, packed with no padding.
 */
import { OtaError } from '../util/errors.js';

export const TLV_INFO_MAGIC = 0x6907;
export const TLV_PROT_INFO_MAGIC = 0x6908;
export const TLV_INFO_SIZE = 4;
export const TLV_HEADER_SIZE = 4;

/** TLV type numbers (bootutil image.h). */
export const TLV = {
  KEYHASH: 0x01,
  PUBKEY: 0x02,
  SHA256: 0x10,
  SHA384: 0x11,
  SHA512: 0x12,
  RSA2048_PSS: 0x20,
  ECDSA224: 0x21,
  ECDSA_SIG: 0x22,
  RSA3072_PSS: 0x23,
  ED25519: 0x24,
  SIG_PURE: 0x25,
  ENC_RSA2048: 0x30,
  ENC_KW: 0x31,
  ENC_EC256: 0x32,
  ENC_X25519: 0x33,
  ENC_X25519_SHA512: 0x34,
  DEPENDENCY: 0x40,
  SEC_CNT: 0x50,
  BOOT_RECORD: 0x60,
  DECOMP_SIZE: 0x70,
  DECOMP_SHA: 0x71,
  DECOMP_SIGNATURE: 0x72,
  COMP_DEC_SIZE: 0x73,
  UUID_VID: 0x74,
  UUID_CID: 0x75,
} as const;

const NAMES: Record<number, string> = {};
for (const [name, type] of Object.entries(TLV)) NAMES[type] = name;

/** Name of a TLV type for reports: `SHA256`, or `VENDOR_0xa0` for vendor/custom types. */
export function tlvName(type: number): string {
  return NAMES[type] ?? (type >= 0xa0 ? `VENDOR_0x${type.toString(16)}` : `UNKNOWN_0x${type.toString(16)}`);
}

export interface Tlv {
  type: number;
  /** Offset of the TLV's 4-byte header in the image (the value follows it), as vectors.json records it. */
  offset: number;
  /** The value (a copy: it outlives the parser's buffers). */
  value: Uint8Array;
  /** True in the protected (hashed, signed) area. */
  protected: boolean;
}

/**
 * Splits a buffered TLV area body (after its info header) into TLVs. `base` is the image offset
 * of `area[0]`. Throws `tlv-malformed` when a TLV's header or value runs past the area.
 */
export function decodeTlvs(area: Uint8Array, base: number, isProtected: boolean): Tlv[] {
  const out: Tlv[] = [];
  let o = 0;
  while (o < area.length) {
    if (area.length - o < TLV_HEADER_SIZE) {
      throw new OtaError('tlv-malformed', `${area.length - o} stray bytes at ${base + o} (a TLV header needs 4)`);
    }
    const type = area[o] | (area[o + 1] << 8);
    const len = area[o + 2] | (area[o + 3] << 8);
    o += TLV_HEADER_SIZE;
    if (len > area.length - o) {
      throw new OtaError('tlv-malformed', `TLV ${tlvName(type)} at ${base + o - 4} claims ${len} bytes, ${area.length - o} left in its area`);
    }
    out.push({ type, offset: base + o - TLV_HEADER_SIZE, value: area.slice(o, o + len), protected: isProtected });
    o += len;
  }
  return out;
}

/** Encodes TLVs as an area with its info header (for the signer and tests). */
export function encodeTlvArea(magic: number, tlvs: { type: number; value: Uint8Array }[]): Uint8Array {
  let total = TLV_INFO_SIZE;
  for (const t of tlvs) total += TLV_HEADER_SIZE + t.value.length;
  if (total > 0xffff) throw new OtaError('invalid-argument', `TLV area of ${total} bytes exceeds u16 tlv_tot`);
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  v.setUint16(0, magic, true);
  v.setUint16(2, total, true);
  let o = TLV_INFO_SIZE;
  for (const t of tlvs) {
    v.setUint16(o, t.type, true);
    v.setUint16(o + 2, t.value.length, true);
    out.set(t.value, o + 4);
    o += 4 + t.value.length;
  }
  return out;
}

/** Size of the P-256 scalars r and s. */
const P256_SCALAR = 32;

/**
 * Checks that an ECDSA_SIG value is a well-formed, minimally encoded DER
 * `SEQUENCE { INTEGER r, INTEGER s }` with P-256-sized positive integers (X.690 §8.3: no
 * superfluous leading 0x00; a leading 0x00 only before a byte with the top bit set). A 48-byte
 * scalar means P-384, which the device cannot verify: `unsupported-signature`.
 * Throws `signature-malformed` otherwise.
 */
export function checkEcdsaDer(sig: Uint8Array): void {
  const bad = (why: string): never => {
    throw new OtaError('signature-malformed', `ECDSA_SIG: ${why}`);
  };
  if (sig.length < 8) bad(`${sig.length} bytes`);
  if (sig[0] !== 0x30) bad('not a SEQUENCE');
  // Short-form length only: a P-256 signature is at most 72 bytes, a P-384 one at most 104.
  if (sig[1] & 0x80) bad('long-form length');
  if (sig[1] !== sig.length - 2) bad(`SEQUENCE length ${sig[1]} for ${sig.length - 2} content bytes`);
  let o = 2;
  let widest = 0;
  for (const name of ['r', 's']) {
    if (o + 2 > sig.length) bad(`${name} missing`);
    if (sig[o] !== 0x02) bad(`${name} is not an INTEGER`);
    const len = sig[o + 1];
    if (len & 0x80) bad(`${name} long-form length`);
    o += 2;
    if (len === 0 || o + len > sig.length) bad(`${name} length ${len}`);
    if (sig[o] & 0x80) bad(`${name} is negative`);
    if (len > 1 && sig[o] === 0 && !(sig[o + 1] & 0x80)) bad(`${name} has a superfluous leading zero`);
    let significant = len;
    for (let i = 0; i < len && sig[o + i] === 0; i++) significant--;
    if (significant === 0) bad(`${name} is zero`);
    widest = Math.max(widest, significant);
    o += len;
  }
  if (o !== sig.length) bad(`${sig.length - o} bytes after s`);
  if (widest > P256_SCALAR) {
    throw new OtaError('unsupported-signature', `ECDSA_SIG scalar of ${widest} bytes (P-384?); the device verifies P-256 only`);
  }
}
