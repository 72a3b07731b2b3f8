/**
 * The server certificate checks both TLS versions make (RFC 5280 path, RFC 6125 name): the chain
 * leads from the leaf to a provisioned CA, each link signed by its issuer's key (verified by the
 * A5000 through `verify`), every certificate valid now, every issuer a CA, the leaf names the host.
 */
import type { DigestPort } from '../platform/digest.js';
import { bytesEqual } from '../util/bytes.js';
import { OtaError } from '../util/errors.js';
import { certificateNames, parseCertificate, type Certificate } from './x509.js';

export interface ChainCheck {
  anchors: Uint8Array[];
  host: string;
  /** Wall-clock seconds. */
  now: number;
  digest: DigestPort;
  verify(publicKey: Uint8Array, digest: Uint8Array, signature: Uint8Array): Promise<boolean>;
}

const iso = (s: number): string => new Date(s * 1000).toISOString();

export async function checkServerChain(ders: Uint8Array[], c: ChainCheck): Promise<Certificate> {
  if (ders.length === 0) throw new OtaError('tls-certificate-untrusted', 'the server sent no certificate');
  const certs = ders.map(parseCertificate);
  const anchors = c.anchors.map(parseCertificate);
  for (const cert of certs) {
    if (c.now < cert.notBefore || c.now > cert.notAfter) {
      throw new OtaError('tls-certificate-expired', `certificate valid ${iso(cert.notBefore)} to ${iso(cert.notAfter)}, now ${iso(c.now)}`);
    }
  }
  const sha256 = (bytes: Uint8Array): Uint8Array => {
    const h = c.digest.sha256();
    h.update(bytes);
    return h.digest();
  };
  for (let i = 0; i < certs.length; i++) {
    const cert = certs[i];
    const anchor = anchors.find((a) => bytesEqual(a.subject, cert.issuer));
    const issuer = anchor ?? certs[i + 1];
    if (!issuer || !bytesEqual(issuer.subject, cert.issuer)) throw new OtaError('tls-certificate-untrusted', 'the chain does not lead to a provisioned CA');
    if (!issuer.isCa) throw new OtaError('tls-certificate-untrusted', 'an issuer in the chain is not a CA');
    if (!(await c.verify(issuer.publicKey, sha256(cert.tbs), cert.signature))) {
      throw new OtaError('tls-certificate-untrusted', `certificate ${i} is not signed by its issuer's key`);
    }
    if (anchor) {
      if (c.now < anchor.notBefore || c.now > anchor.notAfter) throw new OtaError('tls-certificate-expired', 'the provisioned CA is outside its validity');
      break;
    }
  }
  if (!certificateNames(certs[0], c.host)) {
    const names = [...certs[0].dnsNames, ...certs[0].ipAddresses.map((a) => a.join('.'))].join(', ') || 'no host';
    throw new OtaError('tls-host-mismatch', `certificate names ${names}, not ${c.host}`);
  }
  return certs[0];
}
