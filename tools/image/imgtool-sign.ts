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
  encodeHeader(
    { magic: IMAGE_MAGIC, loadAddr: options.loadAddr ?? 0, hdrSize: headerSize, protectTlvSize: protArea.length, imgSize: payload.length - headerSize, flags: 0, version },
    payload,
  );
  const region = new Uint8Array(payload.length + protArea.length);
  region.set(payload);
  region.set(protArea, payload.length);
  const digest = new Uint8Array(createHash('sha256').update(region).digest());
  const tlvs: { type: number; value: Uint8Array }[] = [{ type: TLV.SHA256, value: digest }];
  if (options.keyPem) {
    const key = createPrivateKey(options.keyPem);
    const info = p256KeyInfo(key);
    if ((options.publicKeyFormat ?? 'hash') === 'hash') tlvs.push({ type: TLV.KEYHASH, value: info.keyHash });
    else tlvs.push({ type: TLV.PUBKEY, value: info.spki });
    const sig = options.signFn ? options.signFn(region, key) : new Uint8Array(cryptoSign('sha256', region, key));
    tlvs.push({ type: TLV.ECDSA_SIG, value: sig });
  }
  const tlvArea = encodeTlvArea(TLV_INFO_MAGIC, tlvs);
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
