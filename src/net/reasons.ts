/** Failures of HTTP over the modem. */
export type NetReason =
  | 'http-status'
  | 'http-malformed'
  | 'header-too-long'
  | 'range-ignored'
  | 'range-mismatch'
  | 'range-not-satisfiable'
  | 'body-truncated'
  | 'body-too-large'
  | 'http-action-error'
  | 'tls-failed'
  | 'dns-failed';
