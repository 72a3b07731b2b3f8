/**
 * The device's client certificate chain as stored in one A5000 binary object: DER X.509
 * certificates back to back, leaf first (as a TLS Certificate message lists them). Read once at
 * boot into a buffer of DEVICE_CERT_CHAIN_MAX bytes; anything that is not a sequence of complete
 * DER SEQUENCEs is hostile input and a typed error.
 */
import { OtaError } from '../util/errors.js';

/** Bytes for the whole chain: a P-256 leaf plus one intermediate is 500-900 bytes. */
export const DEVICE_CERT_CHAIN_MAX = 2048;
/** Certificates in one chain (leaf + intermediates). */
export const DEVICE_CERT_CHAIN_DEPTH = 4;

/** Splits `der` into its certificates (views into `der`); config-invalid when it is not a chain. */
export function parseDerChain(der: Uint8Array): Uint8Array[] {
  if (der.length === 0) throw new OtaError('config-invalid', 'device certificate: empty');
  if (der.length > DEVICE_CERT_CHAIN_MAX) throw new OtaError('config-invalid', `device certificate: ${der.length} bytes > ${DEVICE_CERT_CHAIN_MAX}`);
  const chain: Uint8Array[] = [];
  for (let at = 0; at < der.length; ) {
    if (chain.length === DEVICE_CERT_CHAIN_DEPTH) throw new OtaError('config-invalid', `device certificate: more than ${DEVICE_CERT_CHAIN_DEPTH} certificates`);
    const end = at + sequenceLength(der, at);
    // A certificate is SEQUENCE { tbsCertificate SEQUENCE, signatureAlgorithm, signature }.
    const body = at + headerLength(der, at);
    if (der[body] !== 0x30) throw new OtaError('config-invalid', `device certificate ${chain.length}: no tbsCertificate`);
    if (body + sequenceLength(der, body) > end) throw new OtaError('config-invalid', `device certificate ${chain.length}: tbsCertificate overruns`);
    chain.push(der.subarray(at, end));
    at = end;
  }
  return chain;
}

function headerLength(der: Uint8Array, at: number): number {
  const first = der[at + 1];
  return first < 0x80 ? 2 : 2 + (first & 0x7f);
}

/** The whole TLV's length (header + content) of the SEQUENCE at `at`, checked against the end. */
function sequenceLength(der: Uint8Array, at: number): number {
  if (der[at] !== 0x30 || at + 2 > der.length) throw new OtaError('config-invalid', `device certificate: no DER SEQUENCE at byte ${at}`);
  const first = der[at + 1];
  let length = first;
  let header = 2;
  if (first >= 0x80) {
    const n = first & 0x7f;
    if (n === 0 || n > 2 || at + 2 + n > der.length) throw new OtaError('config-invalid', `device certificate: bad DER length at byte ${at}`);
    length = 0;
    for (let i = 0; i < n; i++) length = (length << 8) | der[at + 2 + i];
    header += n;
  }
  if (at + header + length > der.length) throw new OtaError('config-invalid', `device certificate: DER at byte ${at} claims ${length} bytes past the end`);
  return header + length;
}
