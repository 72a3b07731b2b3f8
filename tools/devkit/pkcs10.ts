/**
 * A PKCS#10 certificate signing request (RFC 2986) for a P-256 key whose private half is in the
 * A5000: the CertificationRequestInfo is built here, its SHA-256 is signed by the SE (ECDSASign
 * over the digest), and the request is assembled around the SE's DER signature. Node only (the
 * provisioning station's side, `xs-ota se csr`).
 */
import { createHash } from 'node:crypto';
import { p256Spki } from '../../src/se/image-verifier.js';

/** DER: tag, definite length, contents. */
function der(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const length = parts.reduce((n, p) => n + p.length, 0);
  const head = length < 0x80 ? [tag, length] : length < 0x100 ? [tag, 0x81, length] : [tag, 0x82, length >> 8, length & 0xff];
  const out = new Uint8Array(head.length + length);
  out.set(head);
  let at = head.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function oid(text: string): Uint8Array {
  const arcs = text.split('.').map(Number);
  const bytes = [40 * arcs[0] + arcs[1]];
  for (const arc of arcs.slice(2)) {
    const groups: number[] = [];
    let v = arc;
    do {
      groups.unshift(v & 0x7f);
      v = Math.floor(v / 128);
    } while (v > 0);
    for (let i = 0; i < groups.length - 1; i++) groups[i] |= 0x80;
    bytes.push(...groups);
  }
  return der(0x06, new Uint8Array(bytes));
}

/** Attribute types a subject may name (RFC 4519 / X.520). */
const ATTRIBUTES: Record<string, string> = {
  CN: '2.5.4.3',
  SERIALNUMBER: '2.5.4.5',
  C: '2.5.4.6',
  L: '2.5.4.7',
  ST: '2.5.4.8',
  O: '2.5.4.10',
  OU: '2.5.4.11',
};

/**
 * `CN=device-42,O=Vendor` (or OpenSSL's `/CN=device-42/O=Vendor`) as an X.501 Name, one RDN per
 * attribute, in the order given. Values are UTF8String, C a two-letter PrintableString.
 */
export function encodeSubject(subject: string): Uint8Array {
  const text = subject.startsWith('/') ? subject.slice(1).split('/') : subject.split(',');
  const rdns: Uint8Array[] = [];
  for (const part of text.map((p) => p.trim()).filter((p) => p.length > 0)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`subject part '${part}' is not TYPE=value`);
    const type = part.slice(0, eq).trim().toUpperCase();
    const value = part.slice(eq + 1).trim();
    const id = ATTRIBUTES[type];
    if (!id) throw new Error(`subject attribute '${type}' unknown (one of ${Object.keys(ATTRIBUTES).join(', ')})`);
    if (value.length === 0 || value.length > 64) throw new Error(`subject ${type} of ${value.length} characters (1..64)`);
    if (type === 'C' && !/^[A-Z]{2}$/.test(value)) throw new Error(`subject C '${value}' is not a two-letter country code`);
    const string = type === 'C' ? der(0x13, new TextEncoder().encode(value)) : der(0x0c, new TextEncoder().encode(value));
    rdns.push(der(0x31, der(0x30, oid(id), string)));
  }
  if (rdns.length === 0) throw new Error('empty subject');
  return der(0x30, ...rdns);
}

/** ecdsa-with-SHA256 (RFC 5758 §3.2): the AlgorithmIdentifier has no parameters. */
const ECDSA_WITH_SHA256 = der(0x30, oid('1.2.840.10045.4.3.2'));

/**
 * The CSR (DER) for `publicKey` (04||X||Y) and `subject`, signed by `signDigest` (the SE's
 * ECDSASign over SHA-256 of the CertificationRequestInfo, answering a DER signature).
 */
export async function buildCsr(publicKey: Uint8Array, subject: string, signDigest: (digest: Uint8Array) => Promise<Uint8Array>): Promise<Uint8Array> {
  const info = der(0x30, der(0x02, new Uint8Array([0])), encodeSubject(subject), p256Spki(publicKey), der(0xa0));
  const digest = new Uint8Array(createHash('sha256').update(info).digest());
  const signature = await signDigest(digest);
  return der(0x30, info, ECDSA_WITH_SHA256, der(0x03, new Uint8Array([0]), signature));
}

/** PEM armour with the given label. */
export function pem(label: string, bytes: Uint8Array): string {
  const b64 = Buffer.from(bytes).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}
