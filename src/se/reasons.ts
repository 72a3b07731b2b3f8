/** Failures talking to the A5000 secure element. */
export type SeReason =
  | 'se-nack'
  | 't1-crc'
  | 't1-protocol'
  | 't1-wtx-limit'
  | 't1-resync-failed'
  | 'se-atr-invalid'
  | 'se-status'
  | 'se-no-object'
  | 'se-response-malformed'
  | 'se-key-mismatch';
