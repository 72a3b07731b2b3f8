/** What names an image as a delta's source or target: version, hash TLV, size, file SHA-256. */
import { createHash } from 'node:crypto';
import { DEFAULT_SLOT_SIZE, ImageStream } from '../../src/image/image-stream.js';
import { trailerSize } from '../../src/image/trailer.js';
import { formatVersion } from '../../src/image/version.js';
import { hex } from '../../src/util/bytes.js';
import { NodeDigest } from '../node/node-digest.js';

export interface ImageId {
  version: string;
  /** The SHA256 TLV (what the agent reads from the primary slot), hex. */
  imageHash: string;
  /** Header to last TLV. */
  imageSize: number;
  /** The file as served (equals imageSize for an unpadded image). */
  fileSize: number;
  fileSha256: string;
}

/**
 * Parses an MCUboot image file (throws the parser's OtaError when it is not one). Identity only:
 * the slot size defaults to one that fits any image (the slot check is `xs-ota image inspect`'s).
 */
export function imageId(bytes: Uint8Array, slotSize = Math.max(DEFAULT_SLOT_SIZE, 2 ** 26)): ImageId {
  const stream = new ImageStream({ digest: new NodeDigest(), slotSize, trailerSize: trailerSize() });
  stream.push(bytes);
  const parsed = stream.finish();
  return {
    version: formatVersion(parsed.header.version),
    imageHash: hex(parsed.expectedHash ?? parsed.computedHash),
    imageSize: parsed.imageSize,
    fileSize: bytes.length,
    fileSha256: createHash('sha256').update(bytes).digest('hex'),
  };
}

/** How an offer names a delta's source image (manifest `deltas[]` fields). */
export function deltaSourceOf(image: Uint8Array): { fromVersion: string; fromImageHash: string } {
  const id = imageId(image);
  return { fromVersion: id.version, fromImageHash: id.imageHash };
}
