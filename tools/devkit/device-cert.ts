/**
 * The factory step that stores a device certificate chain in the A5000: the PEM chain (leaf
 * first) as DER certificates back to back in one binary object, checked by the agent's own
 * parseDerChain, written with the agent's WriteBinary. `xs-ota se cert` and the dev kit's
 * provisioning (device-identity.ts) both write through here, so the dev kit's device reads at
 * boot exactly what the CLI would have written.
 */
import { parseDerChain } from '../../src/se/cert-chain.js';
import type { Se05x } from '../../src/se/se05x.js';

/** The DER certificates of a PEM text, back to back; throws when there is none. */
export function pemChainDer(pemText: string, name = 'the PEM text'): Uint8Array {
  const blocks = [...pemText.matchAll(/-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/g)].map((m) => Buffer.from(m[1].replace(/\s+/g, ''), 'base64'));
  if (blocks.length === 0) throw new Error(`${name}: no CERTIFICATE block`);
  return new Uint8Array(Buffer.concat(blocks));
}

/** Writes `der` (checked as a chain first) into binary object `objectId`; returns how many certificates. */
export async function writeDeviceCertificate(se: Se05x, objectId: number, der: Uint8Array): Promise<number> {
  const chain = parseDerChain(der);
  await se.writeBinary(objectId, der);
  return chain.length;
}
