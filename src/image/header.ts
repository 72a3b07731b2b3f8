/**
 * MCUboot image header (bootutil/include/bootutil/image.h, `struct image_header`), 32 bytes,
 * little endian:
 *   0 ih_magic u32 (0x96f3b83d) · 4 ih_load_addr u32 · 8 ih_hdr_size u16 ·
 *   10 ih_protect_tlv_size u16 · 12 ih_img_size u32 · 16 ih_flags u32 ·
 *   20 ih_ver {u8 major, u8 minor, u16 revision, u32 build_num} · 28 _pad1 u32
 */
import { OtaError } from '../util/errors.js';
import type { ImageVersion } from './version.js';

export const IMAGE_MAGIC = 0x96f3b83d;
/** Size of `struct image_header`; ih_hdr_size may be larger (imgtool --header-size), never smaller. */
export const IMAGE_HEADER_SIZE = 32;

/** ih_flags bits (bootutil image.h / imgtool 2.4.0 image.py IMAGE_F). */
export const IMAGE_F = {
  PIC: 0x01,
  ENCRYPTED_AES128: 0x04,
  ENCRYPTED_AES256: 0x08,
  NON_BOOTABLE: 0x10,
  RAM_LOAD: 0x20,
  ROM_FIXED: 0x100,
  COMPRESSED_LZMA1: 0x200,
  COMPRESSED_LZMA2: 0x400,
  COMPRESSED_ARM_THUMB: 0x800,
} as const;

/**
 * Flags this device's MCUboot build handles: none. The dev kit's MCUboot swaps plain images in
 * place (no encryption, no RAM load, no compression, not position-independent XIP tricks), so
 * any flag means MCUboot would refuse or mis-handle the image; we refuse it first.
 */
export const SUPPORTED_FLAGS_DEFAULT = 0;

export interface ImageHeader {
  magic: number;
  loadAddr: number;
  hdrSize: number;
  protectTlvSize: number;
  imgSize: number;
  flags: number;
  version: ImageVersion;
}

/** Decodes the 32-byte header at `bytes[offset]`. Checks only the magic; sizes are the caller's policy. */
export function decodeHeader(bytes: Uint8Array, offset = 0): ImageHeader {
  if (bytes.length - offset < IMAGE_HEADER_SIZE) throw new OtaError('truncated', `header needs ${IMAGE_HEADER_SIZE} bytes`);
  const v = new DataView(bytes.buffer, bytes.byteOffset + offset, IMAGE_HEADER_SIZE);
  const magic = v.getUint32(0, true);
  if (magic !== IMAGE_MAGIC) {
    throw new OtaError('not-an-image', `header magic 0x${magic.toString(16).padStart(8, '0')}, expected 0x96f3b83d`);
  }
  return {
    magic,
    loadAddr: v.getUint32(4, true),
    hdrSize: v.getUint16(8, true),
    protectTlvSize: v.getUint16(10, true),
    imgSize: v.getUint32(12, true),
    flags: v.getUint32(16, true),
    version: { major: v.getUint8(20), minor: v.getUint8(21), revision: v.getUint16(22, true), build: v.getUint32(24, true) },
  };
}

/** Encodes a header into `into[offset..offset+32)` (the signer in tools/ and tests use it). */
export function encodeHeader(h: ImageHeader, into: Uint8Array, offset = 0): void {
  const v = new DataView(into.buffer, into.byteOffset + offset, IMAGE_HEADER_SIZE);
  v.setUint32(0, h.magic >>> 0, true);
  v.setUint32(4, h.loadAddr >>> 0, true);
  v.setUint16(8, h.hdrSize, true);
  v.setUint16(10, h.protectTlvSize, true);
  v.setUint32(12, h.imgSize >>> 0, true);
  v.setUint32(16, h.flags >>> 0, true);
  v.setUint8(20, h.version.major);
  v.setUint8(21, h.version.minor);
  v.setUint16(22, h.version.revision, true);
  v.setUint32(24, h.version.build >>> 0, true);
  v.setUint32(28, 0, true);
}
