/**
 * The X.509 certificate fields a TLS client checks (RFC 5280): the signed part, its signature
 * (ecdsa-with-SHA256 only: the fleet's PKI is P-256), issuer and subject names (compared as DER),
 * validity, the P-256 public key, basicConstraints and subjectAltName; and host-name matching
 * (RFC 6125: SAN dNSName with a left-most wildcard, or iPAddress; never the CN).
 */
import { OtaError } from '../util/errors.js';
import { asciiDecode, bytesEqual } from '../util/bytes.js';
import { derChildren, expectTag, oidText, readDer, type DerElement } from './der.js';

const OID_ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const OID_P256 = '1.2.840.10045.3.1.7';
const OID_SAN = '2.5.29.17';
const OID_BASIC_CONSTRAINTS = '2.5.29.19';

export interface Certificate {
  /** The DER of tbsCertificate (what the issuer signed). */
  tbs: Uint8Array;
  /** DER ECDSA-Sig-Value. */
  signature: Uint8Array;
  issuer: Uint8Array;
  subject: Uint8Array;
  /** Seconds since 1970. */
  notBefore: number;
  notAfter: number;
  /** Uncompressed P-256 point. */
  publicKey: Uint8Array;
  isCa: boolean;
  dnsNames: string[];
  ipAddresses: Uint8Array[];
}

const malformed = (why: string): never => {
  throw new OtaError('tls-certificate-malformed', why);
};

/** UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ) as seconds since 1970. */
function time(bytes: Uint8Array, e: DerElement): number {
  const text = asciiDecode(bytes, e.body, e.end);
  const m = e.tag === 0x17 ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text) : e.tag === 0x18 ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text) : null;
  if (!m) return malformed(`validity time '${text}'`);
  let year = Number(m[1]);
  if (e.tag === 0x17) year += year < 50 ? 2000 : 1900; // RFC 5280 §4.1.2.5.1
  return Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) / 1000;
}

export function parseCertificate(der: Uint8Array): Certificate {
  const root = expectTag(readDer(der, 0), 0x30, 'Certificate');
  if (root.end !== der.length) malformed('bytes after the certificate');
  const [tbsE, sigAlgE, sigE] = derChildren(der, root);
  expectTag(tbsE, 0x30, 'tbsCertificate');
  const sigAlg = derChildren(der, expectTag(sigAlgE, 0x30, 'signatureAlgorithm'));
  if (oidText(der, expectTag(sigAlg[0], 0x06, 'signature OID')) !== OID_ECDSA_SHA256) {
    throw new OtaError('tls-unsupported', `certificate signed with ${oidText(der, sigAlg[0])}, not ecdsa-with-SHA256`);
  }
  expectTag(sigE, 0x03, 'signatureValue');
  if (der[sigE.body] !== 0) malformed('signature BIT STRING with unused bits');
  const fields = derChildren(der, tbsE);
  let i = 0;
  if (fields[i]?.tag === 0xa0) i++; // [0] version
  expectTag(fields[i++], 0x02, 'serialNumber');
  expectTag(fields[i++], 0x30, 'signature');
  const issuerE = expectTag(fields[i++], 0x30, 'issuer');
  const validity = derChildren(der, expectTag(fields[i++], 0x30, 'validity'));
  const subjectE = expectTag(fields[i++], 0x30, 'subject');
  const spki = derChildren(der, expectTag(fields[i++], 0x30, 'subjectPublicKeyInfo'));
  const alg = derChildren(der, expectTag(spki[0], 0x30, 'SPKI algorithm'));
  if (oidText(der, expectTag(alg[0], 0x06, 'key OID')) !== OID_EC_PUBLIC_KEY || !alg[1] || alg[1].tag !== 0x06 || oidText(der, alg[1]) !== OID_P256) {
    throw new OtaError('tls-unsupported', 'certificate key is not an EC P-256 key');
  }
  const keyBits = expectTag(spki[1], 0x03, 'subjectPublicKey');
  const publicKey = der.slice(keyBits.body + 1, keyBits.end);
  if (publicKey.length !== 65 || publicKey[0] !== 0x04) malformed('P-256 key not an uncompressed point');
  let isCa = false;
  const dnsNames: string[] = [];
  const ipAddresses: Uint8Array[] = [];
  for (; i < fields.length; i++) {
    if (fields[i].tag !== 0xa3) continue;
    const extensions = derChildren(der, expectTag(derChildren(der, fields[i])[0], 0x30, 'extensions'));
    for (const ext of extensions) {
      const parts = derChildren(der, expectTag(ext, 0x30, 'extension'));
      const id = oidText(der, expectTag(parts[0], 0x06, 'extension id'));
      const value = expectTag(parts[parts.length - 1], 0x04, 'extension value');
      if (id === OID_BASIC_CONSTRAINTS) {
        const bc = derChildren(der, expectTag(readDer(der, value.body, value.end), 0x30, 'basicConstraints'));
        isCa = bc.length > 0 && bc[0].tag === 0x01 && der[bc[0].body] !== 0;
      } else if (id === OID_SAN) {
        for (const name of derChildren(der, expectTag(readDer(der, value.body, value.end), 0x30, 'subjectAltName'))) {
          if (name.tag === 0x82) dnsNames.push(asciiDecode(der, name.body, name.end).toLowerCase());
          else if (name.tag === 0x87) ipAddresses.push(der.slice(name.body, name.end));
        }
      }
    }
  }
  return {
    tbs: der.slice(tbsE.start, tbsE.end),
    signature: der.slice(sigE.body + 1, sigE.end),
    issuer: der.slice(issuerE.start, issuerE.end),
    subject: der.slice(subjectE.start, subjectE.end),
    notBefore: time(der, validity[0]),
    notAfter: time(der, validity[1]),
    publicKey,
    isCa,
    dnsNames,
    ipAddresses,
  };
}

/** Dotted IPv4 as 4 bytes, or undefined. */
function ipv4(host: string): Uint8Array | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return undefined;
  const b = m.slice(1).map(Number);
  return b.every((x) => x <= 255) ? new Uint8Array(b) : undefined;
}

/** RFC 6125 §6.4: the certificate names `host` (DNS with a whole left-most label wildcard, or IP). */
export function certificateNames(cert: Certificate, host: string): boolean {
  const ip = ipv4(host);
  if (ip) return cert.ipAddresses.some((a) => bytesEqual(a, ip));
  const h = host.toLowerCase().replace(/\.$/, '');
  return cert.dnsNames.some((name) => {
    if (name === h) return true;
    if (!name.startsWith('*.')) return false;
    const dot = h.indexOf('.');
    return dot > 0 && h.slice(dot + 1) === name.slice(2);
  });
}
