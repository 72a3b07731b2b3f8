/** Why an MCUboot image was rejected. */
export type ImageReason =
  | 'not-an-image'
  | 'bad-header'
  | 'unsupported-flags'
  | 'too-large'
  | 'truncated'
  | 'tlv-malformed'
  | 'tlv-unknown'
  | 'hash-missing'
  | 'hash-mismatch'
  | 'signature-missing'
  | 'key-mismatch'
  | 'unsupported-signature'
  | 'signature-malformed'
  | 'bad-signature'
  | 'trailing-data';
