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
  /**
   * The built-in HTTP client refused the command that carries the URL (`AT+HTTPPARA="URL"`,
   * `AT+SHREQ` answering ERROR): its firmware's limit is below the driver's; the request has not
   * left the modem, and the socket carries it (src/net/modem-http.ts NativeHttpClient).
   */
  | 'url-refused'
  /** Bytes on the UART that fit no response (line noise, a short payload): the data is not trusted. */
  | 'at-garbled';
