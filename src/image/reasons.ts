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
  | 'trailing-data'
  /** Version policy: the candidate is older than the running image. */
  | 'downgrade'
  /** Version policy: the candidate has the running image's version. */
  | 'same-version'
  /** SEC_CNT below the stored minimum (anti-rollback). */
  | 'security-counter-rollback';
