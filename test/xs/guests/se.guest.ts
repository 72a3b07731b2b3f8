/**
 * XS guest: the A5000 driver stack (src/se) running inside XS, on remote I2C, clock and digest
 * ports served by the simulated dev kit (test/xs/se.spec.ts).
 */
import { expose } from '../../../tools/xs/guest/bridge.js';
import { remoteClock, remoteDigest, remoteI2c } from '../../../tools/xs/guest/ports.js';
import { createSeDriver, type DriverOptions, type SeDriver, type VerifyArgs } from '../../support/se-driver.js';

const ports = { i2c: remoteI2c(0x48), clock: remoteClock(), digest: remoteDigest() };
// Made on first use, inside a host call: at the bundle's top level the IIFE rollup makes holds
// every bundled module's declarations on the JS stack (about 180 slots), which a device's
// preloaded modules never do.
let made: SeDriver | undefined;
const current = (): SeDriver => (made ??= createSeDriver(ports));

expose({
  /** A fresh driver (new link, new session, key hash not cached). */
  reset: (args: DriverOptions) => {
    made = createSeDriver(ports, args ?? {});
    return true;
  },
  verify: (args: VerifyArgs) => current().verify(args),
  random: (args: { length: number }) => current().random(args),
  version: () => current().version(),
  keyExists: (args: { objectId: number }) => current().keyExists(args),
  stats: () => current().stats(),
  close: () => current().close(),
});
