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
  | 'link-lost'
  /** Bytes on the UART that fit no response (line noise, a short payload): the data is not trusted. */
  | 'at-garbled';
