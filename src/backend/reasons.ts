/** Failure reasons of the update backends (hawkBit DDI, static manifest, IoTConnect). */
export type BackendReason =
  | 'backend-protocol'
  | 'backend-rejected'
  | 'backend-unavailable'
  | 'backend-gone'
  | 'url-expired';
