/**
 * SerialPort on ECMA-419 `embedded:io/serial`, Moddable's Zephyr binding
 * (modules/io/serial/zephyr/serial.c; semantics in documentation/io/io.md, "Serial").
 *
 * The binding never writes part of a buffer: a write larger than the free TX ring space throws
 * "output full". This port keeps the free space it was last told by `onWritable` (the ring's
 * free bytes when the callback ran; the ISR only ever frees more), so `write` accepts at most
 * that much and returns the count, as SerialPort asks. Hardware flow control is off: the Zephyr
 * binding configures UART_CFG_FLOW_CTRL_NONE whatever the options say, so RX overflow (the ring
 * is 256 bytes unless the manifest's `defines.serial.rx_bufsize` says otherwise) shows up as
 * `onError` with -ENOMEM, and the agent must read promptly.
 */
import { OtaError, type SerialEvents, type SerialPort } from 'xs-ota';
import type { ZephyrSerial, ZephyrSerialConstructor } from 'ota-zephyr-io';

export interface SerialOptions {
  /** Devicetree label of the modem UART. */
  port: string;
  baud: number;
}

export class ModdableSerial implements SerialPort {
  readonly #Serial: ZephyrSerialConstructor;
  readonly #port: string;
  #io: ZephyrSerial | undefined;
  #events: SerialEvents = {};
  #baud: number;
  /** Free TX ring bytes as of the last onWritable, less what was written since. */
  #writable = 0;
  /** Bytes known to be in the RX ring (a lower bound: more may have arrived since). */
  #readable = 0;

  constructor(Serial: ZephyrSerialConstructor, options: SerialOptions) {
    this.#Serial = Serial;
    this.#port = options.port;
    this.#baud = options.baud;
    this.#io = this.#open();
  }

  attach(events: SerialEvents): void {
    this.#events = events;
  }

  read(into: Uint8Array): number {
    const io = this.#opened();
    const count = io.read(into) ?? 0; // undefined: nothing buffered (serial.c returns early)
    this.#readable = count < into.length ? 0 : Math.max(0, this.#readable - count);
    return count;
  }

  write(bytes: Uint8Array): number {
    const io = this.#opened();
    const count = Math.min(bytes.length, this.#writable);
    if (count === 0) return 0;
    io.write(count === bytes.length ? bytes : bytes.subarray(0, count));
    this.#writable -= count;
    return count;
  }

  get readable(): number {
    return this.#readable;
  }

  get baud(): number {
    return this.#baud;
  }

  /**
   * ECMA-419 locks an instance's configuration at construction (documentation/io/io.md, "Create
   * Operation"), so a new rate means close and re-open. Bytes still in the RX ring are dropped:
   * call it right after the modem acknowledged `AT+IPR`.
   */
  setBaud(baud: number): void {
    this.#opened();
    this.#io?.close();
    this.#io = undefined;
    this.#baud = baud;
    this.#writable = 0;
    this.#readable = 0;
    this.#io = this.#open();
  }

  close(): void {
    const io = this.#io;
    this.#io = undefined;
    this.#events = {};
    io?.close();
  }

  #open(): ZephyrSerial {
    return new this.#Serial({
      port: this.#port,
      baud: this.#baud,
      format: 'buffer',
      onReadable: (count) => {
        this.#readable = count;
        this.#events.onReadable?.(count);
      },
      onWritable: (count) => {
        this.#writable = count;
        this.#events.onWritable?.(count);
      },
      onError: (errno) => {
        // serial.c passes the negative errno: -ENOMEM (-12) when the RX ring overflowed.
        this.#events.onError?.(new Error(`uart ${this.#port} error ${errno}`));
      },
    });
  }

  #opened(): ZephyrSerial {
    if (this.#io === undefined) throw new OtaError('closed', `uart ${this.#port}`);
    return this.#io;
  }
}
