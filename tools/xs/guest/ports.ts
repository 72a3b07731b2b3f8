/**
 * The platform ports inside XS when the agent runs on xsnap: each call crosses to the simulated
 * dev kit in Node (tools/xs/serve-platform.ts) as a synchronous host call, the way a Moddable
 * binding crosses into native code. Events (UART readable, timer fired) come back as host events.
 */
import type { ClockPort, TimerId } from '../../../src/platform/clock.js';
import type { DigestPort, Sha256 } from '../../../src/platform/digest.js';
import type { FlashPort, FlashStatus } from '../../../src/platform/flash.js';
import type { I2cPort } from '../../../src/platform/i2c.js';
import type { Platform } from '../../../src/platform/index.js';
import type { KeyValuePort } from '../../../src/platform/key-value.js';
import type { LogFields, LogLevel, LogPort } from '../../../src/platform/log.js';
import type { RebootPort } from '../../../src/platform/reboot.js';
import type { DigitalIn, DigitalOut, SerialEvents, SerialPort } from '../../../src/platform/serial.js';
import type { TlsCryptoPort } from '../../../src/platform/tls-crypto.js';
import { currentCrank, hostCall, onHostEvent } from './bridge.js';

export type FlashName = 'primary' | 'secondary';

export function remoteFlash(name: FlashName): FlashPort {
  let status: FlashStatus | undefined;
  return {
    status: () => (status ??= hostCall<FlashStatus>('flash.status', { name })),
    read(offset, into) {
      const bytes = hostCall<Uint8Array>('flash.read', { name, offset, length: into.length });
      into.set(bytes);
    },
    write(offset, bytes) {
      hostCall('flash.write', { name, offset, bytes });
    },
    eraseBlock(block) {
      hostCall('flash.erase', { name, block });
    },
    eraseBlocks(first, end) {
      hostCall('flash.eraseBlocks', { name, first, end });
    },
    close() {},
  };
}

export function remoteKeyValue(): KeyValuePort {
  let maxValueLength: number | undefined;
  return {
    get maxValueLength() {
      return (maxValueLength ??= hostCall<number>('kv.maxValueLength'));
    },
    read: (key) => hostCall<string | null>('kv.read', { key }) ?? undefined,
    write: (key, value) => void hostCall('kv.write', { key, value }),
    delete: (key) => void hostCall('kv.delete', { key }),
  };
}

export function remoteDigest(): DigestPort {
  return {
    sha256(): Sha256 {
      const id = hostCall<number>('digest.create', { algorithm: 'sha256' });
      return {
        update: (bytes) => void hostCall('digest.update', { id, bytes }),
        digest: () => hostCall<Uint8Array>('digest.finish', { id }),
      };
    },
  };
}

export function remoteI2c(address: number): I2cPort {
  return {
    address,
    write: (bytes) => hostCall<boolean>('i2c.write', { address, bytes }),
    read(into) {
      const bytes = hostCall<Uint8Array | null>('i2c.read', { address, length: into.length });
      if (bytes === null) return false;
      into.set(bytes);
      return true;
    },
    close() {},
  };
}

export function remoteSerial(): SerialPort {
  let events: SerialEvents = {};
  let drainedIn = -1;
  onHostEvent('serial.readable', (args: { count: number }) => events.onReadable?.(args.count));
  onHostEvent('serial.writable', (args: { count: number }) => events.onWritable?.(args.count));
  onHostEvent('serial.error', (args: { message: string }) => events.onError?.(new Error(args.message)));
  return {
    attach(next) {
      events = next;
    },
    read(into) {
      // A read that drained the RX FIFO stays true for the rest of the crank (no byte arrives
      // within one: bridge.ts currentCrank), so the AT engine's closing empty read costs no host
      // round trip (a native read on a device costs next to nothing; here it was a tenth of all round trips).
      if (drainedIn === currentCrank()) return 0;
      const bytes = hostCall<Uint8Array>('serial.read', { max: into.length });
      into.set(bytes);
      if (bytes.length < into.length) drainedIn = currentCrank();
      return bytes.length;
    },
    write: (bytes) => hostCall<number>('serial.write', { bytes }),
    get readable() {
      return hostCall<number>('serial.readable');
    },
    setBaud: (baud) => void hostCall('serial.setBaud', { baud }),
    get baud() {
      return hostCall<number>('serial.baud');
    },
    close() {},
  };
}

export function remoteDigitalOut(name: string): DigitalOut {
  return { write: (value) => void hostCall('digital.write', { name, value }) };
}

export function remoteDigitalIn(name: string): DigitalIn {
  return { read: () => hostCall<0 | 1>('digital.read', { name }) };
}

export function remoteClock(): ClockPort {
  const timers = new Map<number, () => void>();
  let nextId = 1;
  onHostEvent('clock.timer', (args: { id: number }) => {
    const callback = timers.get(args.id);
    timers.delete(args.id);
    callback?.();
  });
  return {
    now: () => hostCall<number>('clock.now'),
    wallClock: () => hostCall<number | null>('clock.wall') ?? undefined,
    setTimeout(callback, ms): TimerId {
      const id = nextId++;
      timers.set(id, callback);
      hostCall('clock.set', { id, ms });
      return id;
    },
    clearTimeout(id) {
      if (timers.delete(id)) hostCall('clock.clear', { id });
    },
  };
}

export function remoteReboot(): RebootPort {
  return { reboot: (reason) => void hostCall('reboot', { reason }) };
}

export function remoteLog(): LogPort {
  return {
    log: (level: LogLevel, event: string, fields?: LogFields) => void hostCall('log', { level, event, fields }),
  };
}

/** TlsCryptoPort served by the host (`tls.*`: node:crypto in the dev kit, as the device's native crypt). */
export function remoteTlsCrypto(): TlsCryptoPort {
  return {
    hmacSha256: (key, ...parts) => hostCall<Uint8Array>('tls.hmac', { key, parts }),
    aes128GcmSeal: (key, nonce, aad, plaintext) => hostCall<Uint8Array>('tls.seal', { key, nonce, aad, plaintext }),
    aes128GcmOpen: (key, nonce, aad, sealed) => hostCall<Uint8Array | null>('tls.open', { key, nonce, aad, sealed }) ?? undefined,
  };
}

/**
 * The whole platform, remote. Ports the host did not provide fail on first use, by name; the
 * optional ones a board may lack (the modem's STATUS input) are there only when `wired` says so.
 */
export function remotePlatform(wired: { modemStatus?: boolean } = {}): Platform {
  return {
    modemSerial: remoteSerial(),
    modemPowerKey: remoteDigitalOut('modemPowerKey'),
    ...(wired.modemStatus ? { modemStatus: remoteDigitalIn('modemStatus') } : {}),
    seI2c: remoteI2c(0x48),
    primarySlot: remoteFlash('primary'),
    secondarySlot: remoteFlash('secondary'),
    keyValue: remoteKeyValue(),
    digest: remoteDigest(),
    clock: remoteClock(),
    reboot: remoteReboot(),
    log: remoteLog(),
    tlsCrypto: remoteTlsCrypto(),
  };
}
