/**
 * Signs an image the way MCUboot's imgtool 2.4.0 `sign` does (scripts/imgtool/image.py), byte
 * for byte except the randomized ECDSA signature: ECDSA P-256 with SHA-256, KEYHASH (or PUBKEY)
 * + SHA256 + ECDSA_SIG in the unprotected area, SEC_CNT and custom TLVs in the protected area,
 * optional padding to the slot with the trailer magic (and image_ok for --confirm).
 * Test vectors prove it: re-signing a vector's regenerated input with the vector's signature
 * injected gives the vector file exactly.
 */
import { createHash, createPrivateKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { encodeHeader, IMAGE_MAGIC } from '../../src/image/header.js';
import { encodeTlvArea, TLV, TLV_INFO_MAGIC, TLV_PROT_INFO_MAGIC } from '../../src/image/tlv.js';
import { BOOT_MAGIC, BOOT_FLAG_SET, BOOT_MAX_IMG_SECTORS, TRAILER_FROM_END, trailerSize } from '../../src/image/trailer.js';
import { parseVersion, type ImageVersion } from '../../src/image/version.js';
import { OtaError } from '../../src/util/errors.js';
import { p256KeyInfo } from '../node/node-signature-verifier.js';

export interface SignOptions {
  /** Private P-256 key (PEM). Without it the image is unsigned (SHA256 TLV only), as imgtool. */
  keyPem?: string;
  version: ImageVersion | string;
  /** --header-size (default 0x200). The input's first headerSize bytes must be zero unless padHeader. */
  headerSize?: number;
  /** --pad-header: prepend headerSize zero bytes to the input. */
  padHeader?: boolean;
  /** --align (default 8). */
  align?: number;
  /** --slot-size: refuse images that do not leave room for the trailer; needed for pad. */
  slotSize?: number;
  /** --pad: pad to slotSize with 0xff and write the trailer magic (MCUboot: TEST). */
  pad?: boolean;
  /** --confirm: pad and set image_ok (MCUboot: PERM). */
  confirm?: boolean;
  /** --security-counter: SEC_CNT protected TLV. */
  securityCounter?: number;
  /** --custom-tlv: protected vendor TLVs (type 0xa0..0xfffe), in order. */
  customTlvs?: { type: number; value: Uint8Array }[];
  /** --public-key-format: hash (KEYHASH, default) or full (PUBKEY). */
  publicKeyFormat?: 'hash' | 'full';
  /** -M/--max-sectors (default 128): trailer size. */
  maxSectors?: number;
  /** --load-addr (default 0). */
  loadAddr?: number;
  /**
   * --align-end: append erased-value (0xff) padding to the body, before hashing and signing, so
   * that the image's copy size (header + body + protected TLVs + TLV area: what MCUboot's
   * boot_read_image_size returns and swap_run swaps) is a multiple of this power of two. With
   * 0x10000, swap-using-scratch's sector groups (boot_copy_sz: as many sectors as the 64 KiB
   * scratch holds, from the image's last sector down) each cover one aligned 64 KiB block, which
   * a NOR driver erases with one block erase instead of sixteen sector erases (docs/flash-layout.md).
   */
  alignEnd?: number;
  /** Test hook: produce the signature over the signed region (default: node:crypto ECDSA P-256/SHA-256, DER). */
  signFn?: (region: Uint8Array, key: KeyObject) => Uint8Array;
}

export function signImage(input: Uint8Array, options: SignOptions): Uint8Array {
  const headerSize = options.headerSize ?? 0x200;
  const align = options.align ?? 8;
  const version = typeof options.version === 'string' ? parseVersion(options.version) : options.version;
  const pad = (options.pad ?? false) || (options.confirm ?? false);
  if (![1, 2, 4, 8, 16, 32].includes(align)) throw new OtaError('invalid-argument', `--align ${align}`);
  let payload: Uint8Array;
  if (options.padHeader) {
    payload = new Uint8Array(headerSize + input.length);
    payload.set(input, headerSize);
  } else {
    if (input.length < headerSize || input.subarray(0, headerSize).some((b) => b !== 0)) {
      throw new OtaError('invalid-argument', `input does not start with ${headerSize} zero bytes (use --pad-header)`);
    }
    payload = input.slice();
  }
  const prot: { type: number; value: Uint8Array }[] = [];
  if (options.securityCounter !== undefined) {
    // SEC_CNT is a u32 (imgtool: --security-counter, bootutil image_validate.c reads 4 bytes):
    // a value that does not fit must be refused, never truncated (4294967296 >>> 0 is 0).
    const c = options.securityCounter;
    if (!Number.isInteger(c) || c < 0 || c > 0xffffffff) {
      throw new OtaError('invalid-argument', `--security-counter ${c} is outside 0..4294967295 (SEC_CNT is a u32)`);
    }
    const v = new Uint8Array(4);
    new DataView(v.buffer).setUint32(0, options.securityCounter >>> 0, true);
    prot.push({ type: TLV.SEC_CNT, value: v });
  }
  for (const t of options.customTlvs ?? []) {
    if (t.type < 0xa0 || t.type > 0xfffe) throw new OtaError('invalid-argument', `custom TLV type 0x${t.type.toString(16)} outside 0xa0..0xfffe`);
    prot.push(t);
  }
  const protArea = prot.length > 0 ? encodeTlvArea(TLV_PROT_INFO_MAGIC, prot) : new Uint8Array(0);
  const key = options.keyPem ? createPrivateKey(options.keyPem) : undefined;
  const alignEnd = options.alignEnd;
  if (alignEnd !== undefined && !(Number.isInteger(alignEnd) && alignEnd >= 1 && alignEnd <= 0x1000000 && (alignEnd & (alignEnd - 1)) === 0)) {
    throw new OtaError('invalid-argument', `--align-end ${alignEnd} is not a power of two up to 0x1000000`);
  }
  // The ECDSA DER signature is 70..72 bytes (more rarely shorter), so the TLV area's length is
  // known only after signing: pad for an expected signature length, sign, and when the signature
  // came out another length, pad for that length and sign again (randomized ECDSA: each attempt
  // has a fresh length; MAX_ALIGN_END_ATTEMPTS bounds the loop, 2^-32-ish odds of running out).
  let sigLen = ECDSA_P256_DER_LIKELY_BYTES;
  for (let attempt = 0; ; attempt++) {
    const built = buildSigned(payload, headerSize, protArea, options, version, key, alignEnd === undefined ? 0 : sigLen, alignEnd);
    if (alignEnd === undefined || (built.region.length + built.tlvArea.length) % alignEnd === 0) {
      return finish(built.region, built.tlvArea, options, align, pad);
    }
    if (attempt + 1 >= MAX_ALIGN_END_ATTEMPTS) {
      throw new OtaError('invalid-argument', `--align-end ${alignEnd}: the signature never came out at a length that ends the image on the boundary`);
    }
    sigLen = built.sigLen;
  }
}

/** The DER length of most P-256 signatures (r or s has its top bit set: 71 bytes about half the time). */
const ECDSA_P256_DER_LIKELY_BYTES = 71;
/** Attempts at a signature of the padded-for length before --align-end gives up. */
const MAX_ALIGN_END_ATTEMPTS = 64;

/**
 * The signed region (header + body + alignEnd padding + protected TLVs) and the TLV area, with
 * the padding chosen for a signature of sigLen bytes (0: no padding).
 */
function buildSigned(
  input: Uint8Array,
  headerSize: number,
  protArea: Uint8Array,
  options: SignOptions,
  version: ImageVersion,
  key: KeyObject | undefined,
  sigLen: number,
  alignEnd: number | undefined,
): { region: Uint8Array; tlvArea: Uint8Array; sigLen: number } {
  let padLength = 0;
  if (alignEnd !== undefined) {
    const tlvLength = encodeTlvArea(TLV_INFO_MAGIC, tlvsOf(new Uint8Array(32), options, key, new Uint8Array(sigLen))).length;
    const unpadded = input.length + protArea.length + tlvLength;
    padLength = (alignEnd - (unpadded % alignEnd)) % alignEnd;
  }
  const payload = new Uint8Array(input.length + padLength).fill(0xff);
  payload.set(input);
  encodeHeader(
    { magic: IMAGE_MAGIC, loadAddr: options.loadAddr ?? 0, hdrSize: headerSize, protectTlvSize: protArea.length, imgSize: payload.length - headerSize, flags: 0, version },
    payload,
  );
  const region = new Uint8Array(payload.length + protArea.length);
  region.set(payload);
  region.set(protArea, payload.length);
  const digest = new Uint8Array(createHash('sha256').update(region).digest());
  const sig = key ? (options.signFn ? options.signFn(region, key) : new Uint8Array(cryptoSign('sha256', region, key))) : undefined;
  return { region, tlvArea: encodeTlvArea(TLV_INFO_MAGIC, tlvsOf(digest, options, key, sig)), sigLen: sig?.length ?? 0 };
}

/** SHA256, then KEYHASH (or PUBKEY) and ECDSA_SIG when signed: imgtool's order. */
function tlvsOf(digest: Uint8Array, options: SignOptions, key: KeyObject | undefined, sig: Uint8Array | undefined): { type: number; value: Uint8Array }[] {
  const tlvs: { type: number; value: Uint8Array }[] = [{ type: TLV.SHA256, value: digest }];
  if (key) {
    const info = p256KeyInfo(key);
    if ((options.publicKeyFormat ?? 'hash') === 'hash') tlvs.push({ type: TLV.KEYHASH, value: info.keyHash });
    else tlvs.push({ type: TLV.PUBKEY, value: info.spki });
    tlvs.push({ type: TLV.ECDSA_SIG, value: sig! });
  }
  return tlvs;
}

/** Slot fit (room for the trailer), then --pad/--confirm. */
function finish(region: Uint8Array, tlvArea: Uint8Array, options: SignOptions, align: number, pad: boolean): Uint8Array {
  const imageLength = region.length + tlvArea.length;
  const tsize = trailerSize(options.maxSectors ?? BOOT_MAX_IMG_SECTORS, align);
  if (options.slotSize !== undefined && imageLength + tsize > options.slotSize) {
    throw new OtaError('too-large', `image of ${imageLength} bytes + trailer ${tsize} exceeds the slot of ${options.slotSize}`);
  }
  if (pad && options.slotSize === undefined) throw new OtaError('invalid-argument', '--pad needs --slot-size');
  const out = new Uint8Array(pad ? options.slotSize! : imageLength).fill(0xff);
  out.set(region);
  out.set(tlvArea, region.length);
  if (pad) {
    out.set(BOOT_MAGIC, out.length - TRAILER_FROM_END.magic);
    if (options.confirm) out[out.length - TRAILER_FROM_END.imageOk] = BOOT_FLAG_SET;
  }
  return out;
}
