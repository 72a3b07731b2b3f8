/**
 * UART port, shaped after ECMA-419 `embedded:io/serial` (the modem's AT link).
 *
 * The binding owns the receive FIFO; the agent pulls bytes out of it when told bytes are there.
 * Bytes are never pushed into agent code as a new allocation per event: `read` fills the
 * caller's buffer (style rule 4).
 */
export interface SerialEvents {
  /** `count` bytes (at least) can be read now. */
  onReadable?(count: number): void;
  /** `count` bytes can be written now without blocking. */
  onWritable?(count: number): void;
  /** A line error (overrun, framing): bytes may have been lost. */
  onError?(error: Error): void;
}

export interface SerialPort {
  /** Install the event handlers. A later call replaces the earlier ones. */
  attach(events: SerialEvents): void;
  /** Copies up to `into.length` received bytes into `into`; returns how many (0: none waiting). */
  read(into: Uint8Array): number;
  /**
   * Queues bytes for transmission and returns how many were accepted; fewer than
   * `bytes.length` means the transmit buffer is full: wait for `onWritable`.
   */
  write(bytes: Uint8Array): number;
  /** Bytes waiting in the receive buffer. */
  readonly readable: number;
  /** Change the line rate (the modem's `AT+IPR` switch). */
  setBaud(baud: number): void;
  readonly baud: number;
  close(): void;
}

/** A digital output: the modem's PWRKEY line (ECMA-419 `embedded:io/digital`, output mode). */
export interface DigitalOut {
  write(value: 0 | 1): void;
}

/**
 * A digital input: the modem's STATUS output where the board wires it to a GPIO (ECMA-419
 * `embedded:io/digital`, input mode). 1 while the module is powered on (SIMCom hardware designs:
 * STATUS high once the module runs, low when it is off).
 */
export interface DigitalIn {
  read(): 0 | 1;
}
