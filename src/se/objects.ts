/**
 * The A5000 object ids the agent uses by default for its own identity (next to the image key
 * 0x7B000201, otaKeyId): one place, so the settings check (src/agent/config.ts) can refuse a
 * device certificate object that TLS would overwrite or delete as a transient key.
 */

/** An object id as NXP's tools and the agent's messages print it: 0x7B000304. */
export const objectName = (id: number): string => `0x${id.toString(16).padStart(8, '0').toUpperCase()}`;

/** The device key pair (otaDeviceKeyId's default), generated in the A5000 at provisioning. */
export const DEFAULT_DEVICE_KEY_ID = 0x7b000301;
/** The transient ECDHE key pair of a handshake (created and deleted by every handshake). */
export const DEFAULT_EPHEMERAL_KEY_ID = 0x7b000302;
/** The transient public key of a server signature being verified (created and deleted per signature). */
export const DEFAULT_PEER_KEY_ID = 0x7b000303;
/** The device certificate chain, a binary object written at provisioning (otaDeviceCert's default `se:0x7B000304`). */
export const DEFAULT_DEVICE_CERT_ID = 0x7b000304;

/** The prefix of an otaDeviceCert value naming an A5000 object: `se:0x7B000304`. */
const SE_OBJECT_PREFIX = 'se:';

/**
 * otaDeviceCert: the A5000 object id of an `se:0x…` value (1..0x7FFEFFFF, as otaDeviceKeyId),
 * undefined for a resource name, NaN for an `se:` value that is not a valid id.
 */
export function deviceCertObject(value: string): number | undefined {
  if (!value.startsWith(SE_OBJECT_PREFIX)) return undefined;
  const id = value.slice(SE_OBJECT_PREFIX.length);
  if (!/^0x[0-9a-fA-F]{1,8}$/.test(id)) return NaN;
  const n = Number(id);
  return n >= 1 && n <= 0x7ffeffff ? n : NaN;
}
