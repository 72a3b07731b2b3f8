/** The A5000 secure element: T=1-over-I2C link, SE05x applet commands, image signature verifier. */
export { parseAtr, type Atr } from './atr.js';
export { crc16X25 } from './crc16.js';
export { T1Link, T1_LIMITS, type T1Limits, type T1LinkOptions, type T1Stats } from './t1-link.js';
export { Se05x, SeStatusError, SE05X_APPLET_AID, type Se05xOptions, type VersionInfo } from './se05x.js';
export { Se05xImageVerifier, DEFAULT_KEY_OBJECT_ID, SPKI_P256_PREFIX, p256Spki, checkDerSignature, type Se05xImageVerifierOptions } from './image-verifier.js';
export type { SeReason } from './reasons.js';
