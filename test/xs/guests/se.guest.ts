/**
 * XS guest: the A5000 driver stack (src/se) running inside XS, on remote I2C, clock and digest
 * ports served by the simulated dev kit (test/xs/se.spec.ts).
 */
import { expose } from '../../../tools/xs/guest/bridge.js';
import { remoteClock, remoteDigest, remoteI2c } from '../../../tools/xs/guest/ports.js';
import { createSeDriver, type DriverOptions, type SeDriver, type VerifyArgs } from '../../support/se-driver.js';

const ports = { i2c: remoteI2c(0x48), clock: remoteClock(), digest: remoteDigest() };
let driver: SeDriver = createSeDriver(ports);

expose({
  /** A fresh driver (new link, new session, key hash not cached). */
  reset: (args: DriverOptions) => {
    driver = createSeDriver(ports, args ?? {});
    return true;
  },
  verify: (args: VerifyArgs) => driver.verify(args),
  random: (args: { length: number }) => driver.random(args),
  version: () => driver.version(),
  keyExists: (args: { objectId: number }) => driver.keyExists(args),
  stats: () => driver.stats(),
  close: () => driver.close(),
});
