/**
 * I2C controller port bound to one target address, shaped after ECMA-419 `embedded:io/i2c`.
 *
 * An address NACK is normal flow control for the A5000 (it NACKs while it computes), so it is a
 * `false` return, not an exception: the T=1 layer polls on it with bounded retries.
 */
export interface I2cPort {
  /** The 7-bit target address this port talks to. */
  readonly address: number;
  /** One write transaction (START, address+W, bytes, STOP). `false` when the address was NACKed. */
  write(bytes: Uint8Array): boolean;
  /** One read transaction filling `into` completely. `false` when the address was NACKed. */
  read(into: Uint8Array): boolean;
  close(): void;
}
