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
 * `onError` with -ENOMEM, and the agent must read promptly. The binding's other `onError` values
 * lose no bytes (`serialErrorLosesBytes` below): they are logged once each and not passed on.
 */
import { OtaError, type LogPort, type SerialEvents, type SerialPort } from 'xs-ota';
import type { ZephyrSerial, ZephyrSerialConstructor } from 'ota-zephyr-io';

/*
 * What the Zephyr serial binding's `onError` argument means. Moddable's binding
 * (modules/io/serial/zephyr/serial.c) passes `serial->lastError`, which is one of:
 *  - -ENOMEM: its RX ring overflowed, received bytes were dropped;
 *  - a positive bitmask of `UART_ERROR_*` from `uart_err_check()` (Zephyr
 *    include/zephyr/drivers/uart.h): UART_ERROR_OVERRUN BIT(0), _PARITY BIT(1), _FRAMING BIT(2), UART_BREAK BIT(3),
 *    UART_ERROR_COLLISION BIT(4), _NOISE BIT(5);
 *  - -ENOSYS, on every interrupt, from drivers that have no `err_check`.
 * Only a ring overflow and a hardware overrun lose bytes, and only those must make the agent
 * treat the stream as broken (resynchronise, resume the download). A parity, framing or noise
 * error delivers a garbled byte, which the AT engine already handles as line noise; -ENOSYS says
 * nothing about the stream at all.
 */

/** Zephyr's errno values (lib/libc/minimal/include/errno.h, the same in newlib and picolibc). */
export const ENOMEM = 12;
export const ENOSYS = 88;

/** Zephyr's `enum uart_rx_stop_reason` bits, as `uart_err_check()` returns them. */
export const UART_ERROR_OVERRUN = 1 << 0;
export const UART_ERROR_PARITY = 1 << 1;
export const UART_ERROR_FRAMING = 1 << 2;
export const UART_BREAK = 1 << 3;
export const UART_ERROR_COLLISION = 1 << 4;
export const UART_ERROR_NOISE = 1 << 5;

/** True when the binding's `onError(errno)` means received bytes were lost. */
export function serialErrorLosesBytes(errno: number): boolean {
  if (errno === -ENOMEM) return true;
  return errno > 0 && (errno & UART_ERROR_OVERRUN) !== 0;
}

const NAMES: [number, string][] = [
  [UART_ERROR_OVERRUN, 'overrun'],
  [UART_ERROR_PARITY, 'parity'],
  [UART_ERROR_FRAMING, 'framing'],
  [UART_BREAK, 'break'],
  [UART_ERROR_COLLISION, 'collision'],
  [UART_ERROR_NOISE, 'noise'],
];

/** A short name for the binding's `onError(errno)`, for messages and logs. */
export function describeSerialError(errno: number): string {
  if (errno === -ENOMEM) return 'rx ring overflow (-ENOMEM)';
  if (errno === -ENOSYS) return 'no error check in the driver (-ENOSYS)';
  if (errno > 0) {
    const names = NAMES.filter(([bit]) => (errno & bit) !== 0).map(([, name]) => name);
    const unknown = errno & ~0x3f;
    if (unknown !== 0) names.push(`0x${unknown.toString(16)}`);
    return `line error ${names.join('+')} (0x${errno.toString(16)})`;
  }
  return `error ${errno}`;
}

export interface SerialOptions {
  /** Devicetree label of the modem UART. */
  port: string;
  baud: number;
  /** Where errors that lose no bytes are noted (once per distinct value); default: nowhere. */
  log?: LogPort;
}

export class ModdableSerial implements SerialPort {
  readonly #Serial: ZephyrSerialConstructor;
  readonly #port: string;
  readonly #log: LogPort | undefined;
  /** `onError` values already logged: -ENOSYS comes on every interrupt on some drivers. */
  readonly #noted: number[] = [];
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
    this.#log = options.log;
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
      onError: (errno) => this.#onError(errno),
    });
  }

  #onError(errno: number): void {
    if (serialErrorLosesBytes(errno)) {
      this.#events.onError?.(new Error(`uart ${this.#port} error ${errno}`));
      return;
    }
    if (this.#noted.includes(errno)) return;
    if (this.#noted.length < 8) this.#noted.push(errno);
    this.#log?.log('warn', 'uart.error.ignored', { port: this.#port, errno, detail: describeSerialError(errno) });
  }

  #opened(): ZephyrSerial {
    if (this.#io === undefined) throw new OtaError('closed', `uart ${this.#port}`);
    return this.#io;
  }
}
