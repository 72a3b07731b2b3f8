/**
 * The agent-side SE stack as the tests drive it, in Node and inside XS alike (this module is
 * bundled into the XS guest, so it uses src/ code and ports only): T1Link + Se05x +
 * Se05xImageVerifier on an I2C port, a clock and a digest.
 */
import type { ClockPort } from '../../src/platform/clock.js';
import type { DigestPort } from '../../src/platform/digest.js';
import type { I2cPort } from '../../src/platform/i2c.js';
import { Se05xImageVerifier } from '../../src/se/image-verifier.js';
import { Se05x } from '../../src/se/se05x.js';
import { T1Link, type T1Limits, type T1Stats } from '../../src/se/t1-link.js';

export interface DriverPorts {
  i2c: I2cPort;
  clock: ClockPort;
  digest: DigestPort;
}

export interface DriverOptions {
  keyId?: number;
  limits?: Partial<T1Limits>;
}

export interface VerifyArgs {
  imageHash: Uint8Array;
  keyHash: Uint8Array;
  signature: Uint8Array;
}

export interface SeDriver {
  verify(args: VerifyArgs): Promise<string>;
  random(args: { length: number }): Promise<Uint8Array>;
  version(): Promise<string>;
  keyExists(args: { objectId: number }): Promise<boolean>;
  stats(): T1Stats;
  close(): Promise<void>;
}

export function createSeDriver(ports: DriverPorts, options: DriverOptions = {}): SeDriver {
  const link = new T1Link({ i2c: ports.i2c, clock: ports.clock, limits: options.limits });
  const se = new Se05x({ link });
  const verifier = new Se05xImageVerifier({ se, digest: ports.digest, keyId: options.keyId });
  return {
    async verify(args) {
      await verifier.verify({ algorithm: 'ecdsa-p256', ...args });
      return 'verified';
    },
    random: (args) => se.getRandom(args.length),
    async version() {
      const v = await se.getVersion();
      return `${v.major}.${v.minor}.${v.patch}`;
    },
    keyExists: (args) => se.checkObjectExists(args.objectId),
    stats: () => ({ ...link.stats }),
    close: () => se.close(),
  };
}
