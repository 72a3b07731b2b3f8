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
  | 'dns-failed'
  /** A redirect's Location is unusable (not http(s), too long, bad characters; src/net/redirect.ts). */
  | 'redirect-invalid'
  /** More redirects than the client follows (src/net/redirect.ts). */
  | 'too-many-redirects';
