/**
 * The constructor shapes of Moddable's ECMA-419 IO classes as the Zephyr port implements them,
 * read in the SDK sources (Moddable-OpenSource/moddable):
 *  - modules/io/serial/zephyr/serial.c: `port` is a devicetree label string looked up with
 *    modZephyrGetSerial; `baud` required (1..20 000 000); 8N1; flow control is hard-wired to
 *    UART_CFG_FLOW_CTRL_NONE; 256-byte RX and TX ring buffers unless the manifest defines
 *    `serial.rx_bufsize` / `serial.tx_bufsize`; `read(buffer)` returns the count or undefined
 *    when nothing is buffered; `write` throws "output full" rather than writing part of a buffer;
 *    `onError` receives a negative errno (-ENOMEM on RX ring overflow).
 *  - modules/io/i2c/zephyr/_i2c.c: `port` is a devicetree label, `address` 7-bit, `hz`; no pins.
 *    `read`/`write` call i2c_read/i2c_write (always a STOP: the `stop` argument is read but not
 *    used); `writeRead` calls i2c_write_read (repeated START); any negative errno, an address
 *    NACK included, throws ("read failed", "write failed", "write/read failed").
 *  - documentation/devices/zephyr.md, "digital": the pin is `{port: "gpioe", pin: 1}`.
 *
 * The published typings (@moddable/typings embedded_io/*.d.ts, also typings/embedded_io in the
 * SDK) describe numeric pins and ports, which the Zephyr binding does not take; main.ts casts the
 * imported constructors to these shapes once, at the boundary.
 */
export type ByteBuffer = ArrayBuffer | Uint8Array;

export interface ZephyrSerialOptions {
  /** Devicetree node label or alias of the UART, e.g. "uart1". */
  port: string;
  baud: number;
  format?: 'buffer';
  onReadable?: (count: number) => void;
  onWritable?: (count: number) => void;
  onError?: (errno: number) => void;
}

export interface ZephyrSerial {
  read(into: Uint8Array): number | undefined;
  write(bytes: ByteBuffer): void;
  close(): void;
}

export type ZephyrSerialConstructor = new (options: ZephyrSerialOptions) => ZephyrSerial;

export interface ZephyrI2cOptions {
  /** Devicetree node label of the I2C controller, e.g. "i2c0". */
  port: string;
  address: number;
  hz: number;
}

export interface ZephyrI2c {
  read(into: Uint8Array): number;
  write(bytes: ByteBuffer): void;
  writeRead(bytes: ByteBuffer, into: Uint8Array): number;
  close(): void;
}

export type ZephyrI2cConstructor = new (options: ZephyrI2cOptions) => ZephyrI2c;

export interface ZephyrPin {
  /** Devicetree label of the GPIO controller, e.g. "gpio0". */
  port: string;
  pin: number;
}

export interface ZephyrDigital {
  write(value: 0 | 1): void;
  read(): 0 | 1;
  close(): void;
}

export interface ZephyrDigitalConstructor {
  new (options: { pin: ZephyrPin; mode: unknown }): ZephyrDigital;
  readonly Output: unknown;
  readonly Input: unknown;
}
