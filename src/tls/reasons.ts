/** Failure reasons of the agent's TLS client (src/tls). */
export type TlsReason =
  | 'tls-protocol' // the peer broke RFC 8446 (bad message, bad length, unexpected message)
  | 'tls-alert' // the peer sent a fatal alert (detail names it)
  | 'tls-bad-record-mac' // a record did not decrypt (tampering or wrong keys)
  | 'tls-unsupported-group' // the server wants a key-exchange group other than secp256r1
  | 'tls-unsupported' // cipher suite, version or signature scheme we do not offer
  | 'tls-certificate-untrusted' // the chain does not lead to the provisioned CA, or a signature fails
  | 'tls-certificate-expired' // outside its validity (or not yet valid)
  | 'tls-host-mismatch' // the certificate does not name the host we connected to
  | 'tls-certificate-malformed' // DER we cannot read
  | 'tls-certificate-key-mismatch' // our own (device) certificate is not for the A5000's device key
  | 'tls-no-time' // the certificate's validity cannot be checked: no wall-clock time
  | 'tls-downgrade' // offering 1.3 and 1.2, a TLS 1.3 server's 1.2 ServerHello says the offer was altered (RFC 8446 4.1.3)
  | 'tls-handshake-failed'; // Finished did not verify, or the server's CertificateVerify failed
