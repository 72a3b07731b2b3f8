/**
 * I2cPort on ECMA-419 `embedded:io/i2c`, Moddable's Zephyr binding
 * (modules/io/i2c/zephyr/_i2c.c): the A5000 at 0x48.
 *
 * That binding throws on every negative errno from i2c_read/i2c_write, so an address NACK (the
 * A5000 NACKs while it computes; T=1 over I2C polls through it) arrives as an exception. Zephyr
 * drivers report a NACK as -EIO, the same code as other bus faults, and the message does not
 * carry the errno, so this port cannot tell them apart: every failed transfer is `false`, the
 * T=1 layer bounds its retries, and the last failure is kept in `lastError` for the log.
 * Each read and write is its own transaction ending in STOP (the binding ignores the `stop`
 * argument); `writeRead` gives a repeated START where a register-style read needs one. T=1 over
 * I2C does not: its frames are separate write and read transactions.
 */
import type { I2cPort } from 'xs-ota';
import type { ZephyrI2c, ZephyrI2cConstructor } from 'ota-zephyr-io';

export interface I2cOptions {
  /** Devicetree label of the I2C controller. */
  port: string;
  /** 7-bit target address. */
  address: number;
  hz: number;
}

export class ModdableI2c implements I2cPort {
  readonly address: number;
  readonly #io: ZephyrI2c;
  #lastError: string | undefined;

  constructor(I2C: ZephyrI2cConstructor, options: I2cOptions) {
    this.address = options.address;
    this.#io = new I2C({ port: options.port, address: options.address, hz: options.hz });
  }

  /** Message of the last transfer that failed (NACK or bus fault), for diagnostics. */
  get lastError(): string | undefined {
    return this.#lastError;
  }

  write(bytes: Uint8Array): boolean {
    try {
      this.#io.write(bytes);
      return true;
    } catch (error) {
      this.#lastError = describe(error);
      return false;
    }
  }

  read(into: Uint8Array): boolean {
    try {
      this.#io.read(into);
      return true;
    } catch (error) {
      this.#lastError = describe(error);
      return false;
    }
  }

  /** Write then read with a repeated START (Zephyr i2c_write_read). `false` on NACK/fault. */
  writeRead(bytes: Uint8Array, into: Uint8Array): boolean {
    try {
      this.#io.writeRead(bytes, into);
      return true;
    } catch (error) {
      this.#lastError = describe(error);
      return false;
    }
  }

  close(): void {
    this.#io.close();
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
