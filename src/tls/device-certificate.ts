/**
 * The device certificate chain the agent's TLS presents (otaControlTls agent), read once at boot
 * (startAgent, before createAgent): from an A5000 binary object (`otaDeviceCert` `se:0x…`, the
 * fleet's way: written at provisioning beside the key) or from a build resource (PEM). Both end
 * as DER certificates checked by parseDerChain, and the leaf's public key is compared with the
 * device key object's (ReadObject answers its public point): a certificate issued for another
 * key would otherwise surface only as an opaque TLS alert from the server.
 */
import { DEVICE_CERT_CHAIN_MAX, parseDerChain } from '../se/cert-chain.js';
import { objectName, type Se05x } from '../se/se05x.js';
import { bytesEqual } from '../util/bytes.js';
import { OtaError, isOtaError } from '../util/errors.js';
import { pemBlocks } from './pem.js';
import { parseCertificate } from './x509.js';

/** The chain read at boot, or why it could not be (the agent still runs; each TLS connect fails with it). */
export type DeviceCertificate = { readonly chain: Uint8Array[] } | { readonly error: OtaError };

/** Where the chain is: an A5000 object, or the PEM text of a build resource. */
export type DeviceCertificateSource = { readonly object: number } | { readonly pem: Uint8Array; readonly name: string };

/**
 * Reads and checks the chain. Throws OtaError, its detail starting with `otaDeviceCert <source>:`:
 * se-no-object (no such object), limit-exceeded (larger than DEVICE_CERT_CHAIN_MAX),
 * config-invalid (not a DER chain), tls-certificate-malformed (a leaf we cannot read),
 * tls-certificate-key-mismatch (the leaf is not for the key at `deviceKeyId`).
 */
export async function readDeviceCertificate(se: Se05x, source: DeviceCertificateSource, deviceKeyId: number): Promise<Uint8Array[]> {
  const where = 'object' in source ? `se:${objectName(source.object)}` : source.name;
  try {
    const chain = 'object' in source ? await readObjectChain(se, source.object) : pemChain(source.pem);
    const leaf = parseCertificate(chain[0]).publicKey;
    const key = await se.readObject(deviceKeyId);
    if (!bytesEqual(leaf, key)) throw new OtaError('tls-certificate-key-mismatch', `the leaf certificate's public key is not that of otaDeviceKeyId ${objectName(deviceKeyId)} (a certificate issued for another key)`);
    return chain;
  } catch (error) {
    if (!isOtaError(error)) throw error;
    throw new OtaError(error.reason, `otaDeviceCert ${where}: ${error.detail ?? error.reason}`, error);
  }
}

/** The object into a buffer of DEVICE_CERT_CHAIN_MAX (only at boot), then kept at its own size. */
async function readObjectChain(se: Se05x, object: number): Promise<Uint8Array[]> {
  const buffer = new Uint8Array(DEVICE_CERT_CHAIN_MAX);
  const size = await se.readBinaryInto(object, buffer);
  return parseDerChain(buffer.slice(0, size));
}

/** A resource's PEM blocks, back to back, checked as the object's bytes are. */
function pemChain(pem: Uint8Array): Uint8Array[] {
  const blocks = pemBlocks(pem);
  let total = 0;
  for (const block of blocks) total += block.length;
  if (total > DEVICE_CERT_CHAIN_MAX) throw new OtaError('limit-exceeded', `${total} bytes of DER > ${DEVICE_CERT_CHAIN_MAX}`);
  const der = new Uint8Array(total);
  let at = 0;
  for (const block of blocks) {
    der.set(block, at);
    at += block.length;
  }
  return parseDerChain(der);
}
