/**
 * Reads an image back from a slot: streams it from flash through the image parser (so the hash
 * is recomputed from what is really on flash before the slot may be staged), and reads the
 * header/hash TLV of a slot cheaply to tell which image a slot holds.
 */
import type { DigestPort } from '../platform/digest.js';
import type { FlashPort } from '../platform/flash.js';
import { isOtaError } from '../util/errors.js';
import { decodeHeader, IMAGE_HEADER_SIZE, IMAGE_MAGIC, type ImageHeader } from '../image/header.js';
import { DEFAULT_TRAILER_SIZE, ImageStream, type ParsedImage } from '../image/image-stream.js';
import { TLV, TLV_INFO_MAGIC, TLV_INFO_SIZE, TLV_PROT_INFO_MAGIC } from '../image/tlv.js';

export interface ReadSlotOptions {
  digest: DigestPort;
  trailerSize?: number;
  /** Read buffer; default one sector, allocated per call. Pass one to reuse it. */
  buffer?: Uint8Array;
  supportedFlags?: number;
  /** ImageStream allowLastSector: accept an image reaching the trailer sector (default false). */
  allowLastSector?: boolean;
}

/**
 * Largest flash read of the re-hashes (resume, the check from flash before staging), bytes. A
 * read has no alignment or size rule of its own (the port reads any range, like Zephyr's
 * flash_read), so this buffer need not be a sector: 1 KiB keeps it small in RAM (a 4 KiB sector
 * buffer was 3 KiB more at the update's peak) for 4 reads and digest updates per sector instead
 * of one, each a native call on a device (memory-mapped or SPI flash, the crypt Digest).
 */
export const SLOT_READ_PIECE_MAX = 1024;

/**
 * Streams the image in `flash` through an ImageStream and returns the parsed result (structure
 * checked, hash computed from flash). Throws the parser's reasons; `truncated` if the slot holds
 * no complete image.
 */
export function readSlotImage(flash: FlashPort, options: ReadSlotOptions): ParsedImage {
  const status = flash.status();
  const trailer = options.trailerSize ?? DEFAULT_TRAILER_SIZE;
  const stream = new ImageStream({
    digest: options.digest,
    slotSize: status.size,
    trailerSize: trailer,
    supportedFlags: options.supportedFlags,
    sectorSize: status.blockLength,
    allowLastSector: options.allowLastSector,
  });
  // Never a sector-sized buffer: a sector is 64 KiB on the named board.
  const buffer = options.buffer ?? new Uint8Array(Math.min(SLOT_READ_PIECE_MAX, status.blockLength));
  const limit = status.size - trailer;
  feedFromFlash(flash, stream, 0, limit, buffer);
  return stream.finish();
}

/**
 * Feeds `stream` from flash bytes [from, to) (stopping when the image ends): the resume path
 * re-hashes what an earlier session wrote before new bytes arrive.
 */
export function feedFromFlash(flash: FlashPort, stream: { push(c: Uint8Array): number; readonly done: boolean }, from: number, to: number, buffer: Uint8Array): void {
  let at = from;
  while (at < to && !stream.done) {
    const n = Math.min(buffer.length, to - at);
    const view = buffer.subarray(0, n);
    flash.read(at, view);
    stream.push(view);
    at += n;
  }
}

/** What a slot holds, read from its header and TLV area only (no hashing). */
export interface SlotSummary {
  header: ImageHeader;
  /** Header to last TLV. */
  imageSize: number;
  /** The SHA256 TLV value: identifies the image. */
  sha256: Uint8Array | undefined;
}

/**
 * The header and SHA256 TLV of the image in a slot, or undefined when the slot holds no
 * well-formed image (erased, partly written, garbage). Reads under 300 bytes.
 */
export function readSlotSummary(flash: FlashPort, trailerSize = DEFAULT_TRAILER_SIZE): SlotSummary | undefined {
  const status = flash.status();
  const head = new Uint8Array(IMAGE_HEADER_SIZE);
  flash.read(0, head);
  if ((head[0] | (head[1] << 8) | (head[2] << 16) | (head[3] << 24)) >>> 0 !== IMAGE_MAGIC) return undefined;
  let header: ImageHeader;
  try {
    header = decodeHeader(head);
  } catch (error) {
    if (isOtaError(error)) return undefined;
    throw error;
  }
  const room = status.size - trailerSize;
  let off = header.hdrSize + header.imgSize;
  const info = new Uint8Array(TLV_INFO_SIZE);
  const readInfo = (): [number, number] | undefined => {
    if (off + TLV_INFO_SIZE > room) return undefined;
    flash.read(off, info);
    return [info[0] | (info[1] << 8), info[2] | (info[3] << 8)];
  };
  let i = readInfo();
  if (!i) return undefined;
  if (header.protectTlvSize > 0) {
    if (i[0] !== TLV_PROT_INFO_MAGIC) return undefined;
    off += header.protectTlvSize;
    i = readInfo();
    if (!i) return undefined;
  }
  if (i[0] !== TLV_INFO_MAGIC || i[1] < TLV_INFO_SIZE) return undefined;
  const end = off + i[1];
  if (end > room) return undefined;
  let sha256: Uint8Array | undefined;
  let at = off + TLV_INFO_SIZE;
  const tlvHead = new Uint8Array(4);
  while (at + 4 <= end) {
    flash.read(at, tlvHead);
    const type = tlvHead[0] | (tlvHead[1] << 8);
    const len = tlvHead[2] | (tlvHead[3] << 8);
    if (at + 4 + len > end) return undefined;
    if (type === TLV.SHA256 && len === 32 && !sha256) {
      sha256 = new Uint8Array(32);
      flash.read(at + 4, sha256);
    }
    at += 4 + len;
  }
  return { header, imageSize: end, sha256 };
}


