/**
 * The MCUboot vector set (imgtool 2.4.0 images, see test/fixtures/mcuboot/README.md), read from
 * XS_OTA_VECTORS_MCUBOOT when set, else the committed copy. Each entry's expected verdict is
 * mapped to the reason our parser/verifier must give.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { OtaReason } from '../../src/agent/reasons.js';
import { vectorDir } from './paths.js';

export const MCUBOOT_VECTORS_ENV = 'XS_OTA_VECTORS_MCUBOOT';

export interface McubootVector {
  file: string;
  expected_verdict: 'valid' | 'reject';
  failing_check: string | null;
  file_size: number;
  imgtool_command: string;
  key: string | null;
  padded: boolean;
  payload: { label: string; size: number; sha256: string };
  post_processing: string | null;
  sha256_hash_region_computed: string;
  sha256_tlv_value: string;
  keyhash_tlv_value?: string | null;
  slot_size: string;
  parsed: {
    header: { hdr_size: number; img_size: number; protect_tlv_size: number; version: string; flags: string };
    image_end: number;
    tlvs: { type: number; len: number; offset: number; value_hex: string; truncated: boolean }[];
    protected_tlvs: { type: number; len: number; offset: number; value_hex: string }[];
  };
  trailer: null | { image_ok: string; copy_done: string; swap_info: string; magic_present: boolean };
}

export interface McubootVectorSet {
  dir: string;
  trusted_key: string;
  keys: { name: string; private_pem: string; public_pem: string; keyhash_sha256_of_spki_der: string }[];
  vectors: McubootVector[];
}

export function loadMcubootVectors(): McubootVectorSet {
  const dir = vectorDir(MCUBOOT_VECTORS_ENV, 'mcuboot');
  const set = JSON.parse(readFileSync(path.join(dir, 'vectors.json'), 'utf8')) as Omit<McubootVectorSet, 'dir'>;
  return { ...set, dir };
}

export function vectorBytes(set: McubootVectorSet, file: string): Uint8Array {
  return new Uint8Array(readFileSync(path.join(set.dir, file)));
}

export function trustedPublicPem(set: McubootVectorSet): string {
  const key = set.keys.find((k) => k.name === set.trusted_key)!;
  return readFileSync(path.join(set.dir, key.public_pem), 'utf8');
}

export function privatePem(set: McubootVectorSet, name: string): string {
  const key = set.keys.find((k) => k.name === name)!;
  return readFileSync(path.join(set.dir, key.private_pem), 'utf8');
}

/**
 * The verdict for a vector whose failing_check has no mapping: it must be rejected, for any
 * reason (another set in the same format may word its checks differently).
 */
export const MUST_REJECT = 'rejected';

const unmappedReported = new Set<string>();

/**
 * The reason the agent must give for a rejected vector (from the README's failing-check text),
 * `undefined` for a valid one, or MUST_REJECT when the text is not one this mapping knows (the
 * text is printed once, so a run against another set shows what was only checked as "rejected").
 */
export function expectedReason(v: McubootVector): OtaReason | typeof MUST_REJECT | undefined {
  if (v.expected_verdict === 'valid') return undefined;
  const why = v.failing_check ?? '';
  if (/hash.*mismatch/i.test(why)) return 'hash-mismatch';
  if (/past end|truncat|incomplete/i.test(why)) return 'truncated';
  if (/unsigned|no KEYHASH/i.test(why)) return 'signature-missing';
  if (/KEYHASH/.test(why)) return 'key-mismatch';
  if (/signature verification fails/i.test(why)) return 'bad-signature';
  if (!unmappedReported.has(v.file)) {
    unmappedReported.add(v.file);
    console.log(`      [vectors] ${v.file}: failing_check '${why}' has no reason mapping: checked as "must be rejected"`);
  }
  return MUST_REJECT;
}

/** True when the verdict `got` ('valid' or a reason) is what `expected` (from expectedReason, or 'valid') asks. */
export function verdictMatches(expected: string, got: string): boolean {
  return expected === MUST_REJECT ? got !== 'valid' : got === expected;
}

/**
 * Signed images of the set that verify with its trusted key, as bytes up to the image end (no
 * slot padding): the fuzzers' seeds, whatever the files are called.
 */
export function validSignedImages(set: McubootVectorSet): { file: string; bytes: Uint8Array }[] {
  return set.vectors
    .filter((v) => v.expected_verdict === 'valid' && v.key === set.trusted_key)
    .map((v) => ({ file: v.file, bytes: vectorBytes(set, v.file).subarray(0, v.parsed.image_end) }));
}

/** The first vector whose expected reason is `reason` (e.g. a tampered body for 'hash-mismatch'), if the set has one. */
export function vectorWithReason(set: McubootVectorSet, reason: OtaReason): McubootVector | undefined {
  return set.vectors.find((v) => v.expected_verdict === 'reject' && expectedReason(v) === reason);
}

/** The imgtool input body per the README's label rule: SHA-256(label || u32le(i)) blocks. */
export function regenerateBody(label: string, size: number, sha256: (b: Uint8Array) => Uint8Array): Uint8Array {
  const out = new Uint8Array(size);
  const lab = new TextEncoder().encode(label);
  const block = new Uint8Array(lab.length + 4);
  block.set(lab);
  for (let i = 0, o = 0; o < size; i++, o += 32) {
    new DataView(block.buffer).setUint32(lab.length, i, true);
    const d = sha256(block);
    out.set(d.subarray(0, Math.min(32, size - o)), o);
  }
  return out;
}

/**
 * Split points worth testing for an image: every offset for small images; for large ones the
 * structural boundaries ±2 and a stride.
 */
export function splitPoints(v: McubootVector, length: number): number[] {
  if (length <= 8192) return Array.from({ length: length + 1 }, (_, i) => i);
  const h = v.parsed.header;
  const marks = [0, 32, h.hdr_size, h.hdr_size + h.img_size, h.hdr_size + h.img_size + h.protect_tlv_size, v.parsed.image_end, length];
  for (const t of v.parsed.tlvs) marks.push(t.offset - 4, t.offset, t.offset + t.len);
  const out = new Set<number>();
  for (const m of marks) for (let d = -2; d <= 2; d++) if (m + d >= 0 && m + d <= length) out.add(m + d);
  for (let i = 0; i <= length; i += 4093) out.add(i);
  return [...out].sort((a, b) => a - b);
}
