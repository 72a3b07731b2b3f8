/**
 * The simulated SIMCom modem of the dev kit: SIM7080G (Cat-M) and SIM7600 (Cat-1) AT
 * personalities on a UART paced in virtual time, with a real loopback server behind them.
 *
 * Usage:
 * ```ts
 * import { VirtualTime } from '../virtual-time.js';
 * import { createSimModem } from './sim-modem/index.js';
 * import { startHttpLoopback } from '../../../node/http-loopback.js';
 *
 * const time = new VirtualTime();
 * const server = await startHttpLoopback({ body: image });            // real HTTP on 127.0.0.1
 * const kit = createSimModem(time, { model: 'sim7080g', server: server.endpoint });
 * // Device side: kit.serial is a SerialPort, kit.powerKey a DigitalOut (1 = key pressed).
 * kit.powerKey.write(1); time.after(1000, () => kit.powerKey.write(0)); // SIM7080G needs >= 1 s
 * await time.runFor(agentPromise);                                     // drive everything
 * kit.modem.setFaults({ dropLinkAt: 100_000 });                        // faults on demand
 * kit.counters();                                                      // bytes, requests, virtual ms
 * await server.close();
 * ```
 * `createSimModem(time, {..., poweredOn: true})` starts the modem already booted (UART ready,
 * SIM ready, registered, echo on) for tests that do not exercise power-up.
 *
 * What the modem does and how it differs from hardware: docs/modem-simulator.md.
 */
import type { DigitalIn, DigitalOut, SerialPort } from '../../../../src/platform/serial.js';
import { SimUart, type SimUartOptions, type UartCounters } from '../sim-uart.js';
import type { VirtualTime } from '../virtual-time.js';
import type { ModemCore } from './core.js';
import { SimulatedSim7080 } from './sim7080.js';
import { SimulatedSim7600 } from './sim7600.js';
import type { SimModemCounters, SimModemOptions } from './types.js';

export type { AtCommand } from './at-command.js';
export { parseCommand } from './at-command.js';
export type { ModemCore } from './core.js';
export { SimulatedSim7080, SH_BODY_MAX_DEFAULT } from './sim7080.js';
export { SimulatedSim7600, HTTP_BODY_MAX_DEFAULT } from './sim7600.js';
export * from './types.js';

export interface SimModemKitOptions extends SimModemOptions {
  /** UART: initial baud, FIFO sizes. */
  uart?: SimUartOptions;
  /** Start already booted and registered (skips the power-key sequence). */
  poweredOn?: boolean;
}

export interface SimModemKit {
  /** The MCU's UART to the modem (Platform.modemSerial). */
  readonly serial: SerialPort;
  /** The modem's PWRKEY (Platform.modemPowerKey): write(1) presses, write(0) releases. */
  readonly powerKey: DigitalOut;
  /** The modem's STATUS output (Platform.modemStatus, where the board wires it): 1 while on. */
  readonly status: DigitalIn;
  /** The modem itself: faults (`setFaults`, `faults`), `dropLink()`, state. */
  readonly modem: ModemCore;
  /** The wire, with its own counters (overruns, framing errors). */
  readonly uart: SimUart;
  /** Modem counters plus UART counters, read now. */
  counters(): SimModemCounters & { uart: UartCounters };
}

/** Builds a modem of the given model on a fresh UART. */
export function createSimModem(time: VirtualTime, options: SimModemKitOptions): SimModemKit {
  const uart = new SimUart(time, options.uart);
  const modem: ModemCore = options.model === 'sim7080g' ? new SimulatedSim7080(time, uart.modem, options) : new SimulatedSim7600(time, uart.modem, options);
  if (options.poweredOn) bootNow(modem);
  return {
    serial: uart.device,
    powerKey: modem.powerKey,
    status: modem.status,
    modem,
    uart,
    counters: () => ({ ...modem.snapshot(), uart: { ...uart.counters } }),
  };
}

/** Power on with the boot already behind it: as if it had booted long ago. */
function bootNow(modem: ModemCore): void {
  modem.powerOn();
  modem.fastForwardBoot();
}
