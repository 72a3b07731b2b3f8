/**
 * The TLS 1.3 key schedule for TLS_AES_128_GCM_SHA256 (RFC 8446 §7.1, §7.3), without PSK:
 * HKDF (RFC 5869) on the TlsCryptoPort's HMAC-SHA-256. Checked against RFC 8448 §3.
 *
 *   early     = HKDF-Extract(0, 0)
 *   handshake = HKDF-Extract(Derive-Secret(early, "derived", ""), (EC)DHE)
 *   master    = HKDF-Extract(Derive-Secret(handshake, "derived", ""), 0)
 */
import type { TlsCryptoPort } from '../platform/tls-crypto.js';
import { asciiEncode } from '../util/bytes.js';

export const HASH_LENGTH = 32;
export const KEY_LENGTH = 16;
export const IV_LENGTH = 12;
const ZEROS = new Uint8Array(HASH_LENGTH);
/** SHA-256 of the empty string (Derive-Secret(…, "derived", "") hashes no messages). */
export const EMPTY_HASH = new Uint8Array([
  0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
  0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
]);

export function hkdfExtract(crypto: TlsCryptoPort, salt: Uint8Array, ikm: Uint8Array): Uint8Array {
  return crypto.hmacSha256(salt.length === 0 ? ZEROS : salt, ikm);
}

/** HKDF-Expand for up to 255 x 32 bytes; TLS uses at most 32. */
export function hkdfExpand(crypto: TlsCryptoPort, prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let t: Uint8Array = new Uint8Array(0);
  for (let i = 0, at = 0; at < length; i++) {
    t = crypto.hmacSha256(prk, t, info, new Uint8Array([i + 1]));
    out.set(t.subarray(0, Math.min(HASH_LENGTH, length - at)), at);
    at += HASH_LENGTH;
  }
  return out;
}

/** HKDF-Expand-Label (RFC 8446 §7.1): HkdfLabel = length u16, "tls13 " + label <7..255>, context <0..255>. */
export function expandLabel(crypto: TlsCryptoPort, secret: Uint8Array, label: string, context: Uint8Array, length: number): Uint8Array {
  const l = asciiEncode(`tls13 ${label}`);
  const info = new Uint8Array(2 + 1 + l.length + 1 + context.length);
  info[0] = length >> 8;
  info[1] = length & 0xff;
  info[2] = l.length;
  info.set(l, 3);
  info[3 + l.length] = context.length;
  info.set(context, 4 + l.length);
  return hkdfExpand(crypto, secret, info, length);
}

/** Derive-Secret(secret, label, messages) with the transcript hash already computed. */
export function deriveSecret(crypto: TlsCryptoPort, secret: Uint8Array, label: string, transcriptHash: Uint8Array): Uint8Array {
  return expandLabel(crypto, secret, label, transcriptHash, HASH_LENGTH);
}

export interface TrafficKeys {
  key: Uint8Array;
  iv: Uint8Array;
}

/** [sender]_write_key and _iv of a traffic secret (RFC 8446 §7.3). */
export function trafficKeys(crypto: TlsCryptoPort, secret: Uint8Array): TrafficKeys {
  return { key: expandLabel(crypto, secret, 'key', new Uint8Array(0), KEY_LENGTH), iv: expandLabel(crypto, secret, 'iv', new Uint8Array(0), IV_LENGTH) };
}

/** finished_key and the Finished verify_data over a transcript hash (RFC 8446 §4.4.4). */
export function finishedMac(crypto: TlsCryptoPort, baseSecret: Uint8Array, transcriptHash: Uint8Array): Uint8Array {
  const finishedKey = expandLabel(crypto, baseSecret, 'finished', new Uint8Array(0), HASH_LENGTH);
  return crypto.hmacSha256(finishedKey, transcriptHash);
}

/** The next application traffic secret (RFC 8446 §7.2, KeyUpdate). */
export function nextTrafficSecret(crypto: TlsCryptoPort, secret: Uint8Array): Uint8Array {
  return expandLabel(crypto, secret, 'traffic upd', new Uint8Array(0), HASH_LENGTH);
}

export interface HandshakeSecrets {
  handshake: Uint8Array;
  clientHandshake: Uint8Array;
  serverHandshake: Uint8Array;
}

/** From the (EC)DHE shared secret and Hash(ClientHello..ServerHello). */
export function handshakeSecrets(crypto: TlsCryptoPort, sharedSecret: Uint8Array, helloHash: Uint8Array): HandshakeSecrets {
  const early = hkdfExtract(crypto, new Uint8Array(0), ZEROS);
  const handshake = hkdfExtract(crypto, deriveSecret(crypto, early, 'derived', EMPTY_HASH), sharedSecret);
  return {
    handshake,
    clientHandshake: deriveSecret(crypto, handshake, 'c hs traffic', helloHash),
    serverHandshake: deriveSecret(crypto, handshake, 's hs traffic', helloHash),
  };
}

export interface ApplicationSecrets {
  master: Uint8Array;
  clientApplication: Uint8Array;
  serverApplication: Uint8Array;
}

/** From the handshake secret and Hash(ClientHello..server Finished). */
export function applicationSecrets(crypto: TlsCryptoPort, handshake: Uint8Array, serverFinishedHash: Uint8Array): ApplicationSecrets {
  const master = hkdfExtract(crypto, deriveSecret(crypto, handshake, 'derived', EMPTY_HASH), ZEROS);
  return {
    master,
    clientApplication: deriveSecret(crypto, master, 'c ap traffic', serverFinishedHash),
    serverApplication: deriveSecret(crypto, master, 's ap traffic', serverFinishedHash),
  };
}
