/** Failures of the modem and its AT link. */
export type ModemReason =
  | 'at-timeout'
  | 'at-error'
  | 'cme-error'
  | 'line-too-long'
  | 'modem-busy'
  | 'modem-unresponsive'
  | 'modem-reset'
  | 'sim-not-ready'
  | 'not-registered'
  | 'pdp-failed'
  | 'link-lost';
