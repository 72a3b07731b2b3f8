/**
 * Ports for tests that only build the agent's parts (createAgent) and run no update: a simulated
 * UART, clock and flash; the rest answers every call with undefined.
 */
import type { Platform } from '../../src/platform/index.js';
import { createDevkitFlash } from '../../tools/devkit/parts/sim-flash.js';
import { SimUart } from '../../tools/devkit/parts/sim-uart.js';
import { VirtualTime } from '../../tools/devkit/parts/virtual-time.js';

export function buildOnlyPlatform(time = new VirtualTime(), seI2c?: Platform['seI2c']): Platform {
  const unused = new Proxy({}, { get: () => () => undefined });
  const flash = createDevkitFlash();
  return {
    modemSerial: new SimUart(time).device,
    modemPowerKey: { write: () => undefined },
    clock: time.clockPort(),
    log: { log: () => undefined },
    seI2c: seI2c ?? unused,
    primarySlot: flash.primary,
    secondarySlot: flash.secondary,
    keyValue: unused,
    digest: unused,
    tlsCrypto: unused,
    reboot: unused,
  } as unknown as Platform;
}
