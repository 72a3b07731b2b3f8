/** MCUboot image handling: the public surface other parts of the agent use. */
export { ImageStream, ParsedImage, DEFAULT_SLOT_SIZE, DEFAULT_TRAILER_SIZE, TLV_AREA_MAX } from './image-stream.js';
export type { ImageStreamOptions, VerifyOptions, SignatureEntry } from './image-stream.js';
export { decodeHeader, IMAGE_MAGIC, IMAGE_F, type ImageHeader } from './header.js';
export { TLV, tlvName, checkEcdsaDer, type Tlv } from './tlv.js';
export { compareVersions, formatVersion, parseVersion, checkVersionPolicy, type ImageVersion, type VersionPolicy } from './version.js';
export { decodeSwapState, swapTypeFor, swapTypeName, trailerSize, SWAP_TYPE, BOOT_MAGIC, type SwapState } from './trailer.js';
export type { SignatureVerifier, SignatureCheck, SignatureAlgorithm } from './signature.js';
