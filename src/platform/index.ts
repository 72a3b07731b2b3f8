/**
 * The hardware boundary: everything the agent reaches of the device, handed to it at start-up.
 * `modules/` builds this from Moddable/ECMA-419 APIs; the simulated dev kit builds it from
 * simulators. Agent code never learns which.
 */
import type { ClockPort } from './clock.js';
import type { DigestPort } from './digest.js';
import type { FlashPort } from './flash.js';
import type { I2cPort } from './i2c.js';
import type { KeyValuePort } from './key-value.js';
import type { LogPort } from './log.js';
import type { RebootPort } from './reboot.js';
import type { DigitalIn, DigitalOut, SerialPort } from './serial.js';
import type { TlsCryptoPort } from './tls-crypto.js';

export type { ClockPort, TimerId } from './clock.js';
export type { DigestPort, Sha256 } from './digest.js';
export type { FlashPort, FlashStatus } from './flash.js';
export type { I2cPort } from './i2c.js';
export type { KeyValuePort } from './key-value.js';
export type { LogPort, LogLevel, LogFields } from './log.js';
export type { RebootPort } from './reboot.js';
export type { TlsCryptoPort } from './tls-crypto.js';
export type { DigitalIn, DigitalOut, SerialEvents, SerialPort } from './serial.js';

export interface Platform {
  /** UART to the modem. */
  readonly modemSerial: SerialPort;
  /** The modem's PWRKEY line (active high at the MCU pin: 1 presses the key). */
  readonly modemPowerKey: DigitalOut;
  /**
   * The modem's STATUS output (1 = on), where the board wires it to a GPIO input. Absent: the
   * driver learns whether the modem is on by probing with AT (about 7 s when it is off).
   */
  readonly modemStatus?: DigitalIn;
  /** I2C to the A5000 at 0x48. */
  readonly seI2c: I2cPort;
  /** MCUboot primary slot (the running image). */
  readonly primarySlot: FlashPort;
  /** MCUboot secondary slot (where updates are written). */
  readonly secondarySlot: FlashPort;
  readonly keyValue: KeyValuePort;
  readonly digest: DigestPort;
  readonly clock: ClockPort;
  readonly reboot: RebootPort;
  readonly log: LogPort;
  /** AES-GCM and HMAC for TLS in the agent (only with otaControlTls agent; src/platform/tls-crypto.ts). */
  readonly tlsCrypto?: TlsCryptoPort;
}
