/** Failure reasons of the update backends (hawkBit DDI, static manifest, IoTConnect). */
export type BackendReason =
  /** The server's answer is not what the protocol documents (detail names the field). */
  | 'backend-protocol'
  /** The server refused us: 401/403 (bad token), 400/404/409 on a request we built. */
  | 'backend-rejected'
  /** The server cannot answer now: 5xx, 429, 503 with Retry-After (see BackendError.retryAfterS). */
  | 'backend-unavailable'
  /** hawkBit 410 Gone: the action is no longer active (cancelled or closed on the server). */
  | 'backend-gone'
  /** A pre-signed artifact URL expired (403 from the artifact host); fetch the offer again. */
  | 'url-expired';
