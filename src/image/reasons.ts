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
  /** A KEYHASH TLV longer than MCUboot's KEY_BUF_SIZE (32), or one that cannot be matched. */
  | 'key-hash-malformed'
  /** The image reaches into the slot's last (trailer) sector: refused by the agent's policy. */
  | 'last-sector'
  /** Version policy: the candidate is older than the running image. */
  | 'downgrade'
  /** Version policy: the candidate has the running image's version. */
  | 'same-version'
  /** SEC_CNT below the stored minimum (anti-rollback). */
  | 'security-counter-rollback';
