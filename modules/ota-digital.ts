/**
 * DigitalOut on ECMA-419 `embedded:io/digital` in output mode: the modem's PWRKEY line; DigitalIn
 * in input mode: the modem's STATUS output, where the board wires it.
 * On Zephyr the pin is `{port, pin}` with the GPIO controller's devicetree label
 * (documentation/devices/zephyr.md, "digital"). A board without PWRKEY wired to the MCU gets
 * NoPowerKey, which logs each press it cannot make instead of failing the agent.
 */
import type { DigitalIn, DigitalOut, LogPort } from 'xs-ota';
import type { ZephyrDigital, ZephyrDigitalConstructor, ZephyrPin } from 'ota-zephyr-io';

export class ModdableDigitalOut implements DigitalOut {
  readonly #io: ZephyrDigital;

  constructor(Digital: ZephyrDigitalConstructor, pin: ZephyrPin, initial: 0 | 1) {
    this.#io = new Digital({ pin, mode: Digital.Output });
    this.#io.write(initial);
  }

  write(value: 0 | 1): void {
    this.#io.write(value);
  }

  close(): void {
    this.#io.close();
  }
}

export class ModdableDigitalIn implements DigitalIn {
  readonly #io: ZephyrDigital;

  constructor(Digital: ZephyrDigitalConstructor, pin: ZephyrPin) {
    this.#io = new Digital({ pin, mode: Digital.Input });
  }

  read(): 0 | 1 {
    return this.#io.read() ? 1 : 0;
  }

  close(): void {
    this.#io.close();
  }
}

/** The modem is powered and started by hardware; pressing PWRKEY is not possible here. */
export class NoPowerKey implements DigitalOut {
  readonly #log: LogPort;

  constructor(log: LogPort) {
    this.#log = log;
  }

  write(value: 0 | 1): void {
    this.#log.log('warn', 'modem.pwrkey-not-wired', { value });
  }
}
