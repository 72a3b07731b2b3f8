/**
 * The SE05x key commands for the device's own identity: WriteECKey (generate, and a public point
 * for checking a peer's signature), ECDSASign, ECDHGenerateSharedSecret, DeleteSecureObject
 * (encodings as NXP's nano package sends them, lib/apdu/se05x_APDU_impl.c). Functions over an
 * Se05x session, not its methods: only TLS in the agent (src/tls/se-key-ops.ts) and the
 * provisioning tools use them, so a firmware without agent TLS carries none of this code.
 */
import { OtaError } from '../util/errors.js';
import {
  CLA_SE05X,
  CURVE_NIST_P256,
  ECDSA_P256_DER_MAX,
  INS_CRYPTO,
  INS_MGMT,
  INS_TRANSIENT,
  INS_WRITE,
  P1_DEFAULT,
  P1_EC,
  P1_KEY_PAIR,
  P1_PUBLIC,
  P1_SIGNATURE,
  P2_DEFAULT,
  P2_DELETE_OBJECT,
  P2_DH,
  P2_SIGN,
  SIG_ECDSA_SHA_256,
  objectName,
  tag1,
  type Se05x,
} from './se05x.js';
import { TAG_1, TAG_2, TAG_3, TAG_4 } from './tlv.js';

/**
 * WriteECKey with no key material: the SE generates a P-256 key pair in `objectId`
 * (`80 01 61 00 Lc 41 04 <id> 42 01 03`, nano Se05x_API_WriteECKey with P1_EC | P1_KEY_PAIR).
 * The private key never leaves the SE; read the public point with `readObject`. `transient`:
 * INS_WRITE | INS_TRANSIENT, the object lives until the session ends or the chip resets (an
 * ephemeral TLS key). Policies are the applet's default (any authenticated session may use it).
 */
export async function generateEcKey(se: Se05x, objectId: number, options: { transient?: boolean } = {}): Promise<void> {
  const ins = INS_WRITE | (options.transient ? INS_TRANSIENT : 0);
  await se.command(`WriteECKey ${objectName(objectId)}`, (b) => b.start(CLA_SE05X, ins, P1_EC | P1_KEY_PAIR, P2_DEFAULT).tlvUint(TAG_1, objectId, 4).tlvUint(TAG_2, CURVE_NIST_P256, 1).finish());
}

/**
 * ECDSASign `80 03 0C 09 Lc 41 04 <id> 42 01 21 43 20 <digest> 00` → the DER signature (TAG_1)
 * over a SHA-256 digest the host computed, made with the key pair in `objectId`. Returns a copy.
 */
export async function ecdsaSign(se: Se05x, objectId: number, digest: Uint8Array): Promise<Uint8Array> {
  if (digest.length !== 32) throw new OtaError('invalid-argument', `SHA-256 digest of ${digest.length} bytes`);
  const name = `ECDSASign ${objectName(objectId)}`;
  const rapdu = await se.command(name, (b) =>
    b.start(CLA_SE05X, INS_CRYPTO, P1_SIGNATURE, P2_SIGN).tlvUint(TAG_1, objectId, 4).tlvUint(TAG_2, SIG_ECDSA_SHA_256, 1).tlv(TAG_3, digest).finish({ shortLe: true }),
  );
  const signature = tag1(name, rapdu);
  if (signature.length < 8 || signature.length > ECDSA_P256_DER_MAX || signature[0] !== 0x30) {
    throw new OtaError('se-response-malformed', `ECDSASign: ${signature.length}-byte answer is not a DER P-256 signature`);
  }
  return signature.slice();
}

/**
 * ECDHGenerateSharedSecret `80 03 01 0F Lc 41 04 <id> 42 41 <04||X||Y> 00` → the 32-byte x
 * coordinate of the shared point, computed with the key pair in `objectId`. Returns a copy.
 */
export async function ecdh(se: Se05x, objectId: number, peerPublicKey: Uint8Array): Promise<Uint8Array> {
  if (peerPublicKey.length !== 65 || peerPublicKey[0] !== 0x04) {
    throw new OtaError('invalid-argument', `peer key of ${peerPublicKey.length} bytes, expected an uncompressed P-256 point`);
  }
  const name = `ECDH ${objectName(objectId)}`;
  const rapdu = await se.command(name, (b) => b.start(CLA_SE05X, INS_CRYPTO, P1_EC, P2_DH).tlvUint(TAG_1, objectId, 4).tlv(TAG_2, peerPublicKey).finish({ shortLe: true }));
  const secret = tag1(name, rapdu);
  if (secret.length !== 32) throw new OtaError('se-response-malformed', `ECDH returned ${secret.length} bytes, expected 32`);
  return secret.slice();
}

/**
 * WriteECKey with a public point: `80 01|80 21 00 Lc 41 04 <id> 42 01 03 44 41 <04||X||Y>`
 * (P1_EC | P1_PUBLIC). The object must not exist (a key written over keeps its curve: nano
 * sends no curve then; this driver writes fresh objects only). For verifying a peer's signature
 * in the SE (ECDSAVerify needs the key as an object).
 */
export async function writeEcPublicKey(se: Se05x, objectId: number, point: Uint8Array, options: { transient?: boolean } = {}): Promise<void> {
  if (point.length !== 65 || point[0] !== 0x04) throw new OtaError('invalid-argument', `public key of ${point.length} bytes, expected an uncompressed P-256 point`);
  const ins = INS_WRITE | (options.transient ? INS_TRANSIENT : 0);
  await se.command(`WriteECKey public ${objectName(objectId)}`, (b) =>
    b.start(CLA_SE05X, ins, P1_EC | P1_PUBLIC, P2_DEFAULT).tlvUint(TAG_1, objectId, 4).tlvUint(TAG_2, CURVE_NIST_P256, 1).tlv(TAG_4, point).finish(),
  );
}

/** DeleteSecureObject `80 04 00 28 06 41 04 <id>`. */
export async function deleteObject(se: Se05x, objectId: number): Promise<void> {
  await se.command(`DeleteSecureObject ${objectName(objectId)}`, (b) => b.start(CLA_SE05X, INS_MGMT, P1_DEFAULT, P2_DELETE_OBJECT).tlvUint(TAG_1, objectId, 4).finish());
}
