/**
 * Serves the dev kit's platform (Node-side simulators implementing src/platform) to an agent
 * running inside XS: the counterpart of tools/xs/guest/ports.ts. Guest events (timers, UART
 * readable) are delivered in virtual time and tracked, so the scheduler waits for XS to go idle
 * before it moves time on.
 */
import type { Platform } from '../../src/platform/index.js';
import type { Sha256 } from '../../src/platform/digest.js';
import type { FlashPort } from '../../src/platform/flash.js';
import { eraseRange } from '../../src/slot/erase-range.js';
import type { VirtualTime } from '../devkit/parts/virtual-time.js';
import type { CpuBusy } from '../devkit/parts/cpu-busy.js';
import type { XsSession } from './session.js';

/** The parts of a platform a given test provides; a guest touching a missing one gets an error naming it. */
export type HostPlatform = Partial<Omit<Platform, 'clock'>>;

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`the dev kit provides no ${what} in this session`);
  return value;
}

export interface ServedPlatform {
  /** The engine stopped (reset, power cut): cancel its timers and stop delivering its events. */
  dispose(): void;
}

/**
 * `clockOrigin` (core, issue 17.2): the virtual instant the guest's clock reads as 0, as a
 * device's tick counter restarts at every reset (modules/ota-clock.ts); default 0.
 */
export function servePlatform(session: XsSession, platform: HostPlatform, time: VirtualTime, clockOrigin = 0, cpu?: CpuBusy): ServedPlatform {
  let live = true;
  session.trackCranks((crank) => time.track(crank));
  const deliver = (name: string, args: unknown): void => {
    if (!live) return;
    // perf (issue 15): while the MCU is blocked in a flash call, its events wait (in order).
    if (cpu && cpu.deferUntil > time.now()) {
      time.at(cpu.deferUntil, () => deliver(name, args));
      return;
    }
    time.track(session.event(name, args));
  };
  const now = (): number => (cpu ? cpu.now() : time.now());
  const flash = (name: string): FlashPort =>
    need(name === 'primary' ? platform.primarySlot : name === 'secondary' ? platform.secondarySlot : undefined, `flash '${name}'`);

  session.provide('flash.status', (a: { name: string }) => flash(a.name).status());
  session.provide('flash.read', (a: { name: string; offset: number; length: number }) => {
    const into = new Uint8Array(a.length);
    flash(a.name).read(a.offset, into);
    return into;
  });
  session.provide('flash.write', (a: { name: string; offset: number; bytes: Uint8Array }) => flash(a.name).write(a.offset, a.bytes));
  session.provide('flash.erase', (a: { name: string; block: number }) => flash(a.name).eraseBlock(a.block));
  session.provide('flash.eraseBlocks', (a: { name: string; first: number; end: number }) => eraseRange(flash(a.name), a.first, a.end));

  session.provide('kv.maxValueLength', () => need(platform.keyValue, 'key-value store').maxValueLength);
  session.provide('kv.read', (a: { key: string }) => need(platform.keyValue, 'key-value store').read(a.key) ?? null);
  session.provide('kv.write', (a: { key: string; value: string }) => need(platform.keyValue, 'key-value store').write(a.key, a.value));
  session.provide('kv.delete', (a: { key: string }) => need(platform.keyValue, 'key-value store').delete(a.key));

  const digests = new Map<number, Sha256>();
  let nextDigest = 1;
  session.provide('digest.create', () => {
    const id = nextDigest++;
    digests.set(id, need(platform.digest, 'digest').sha256());
    return id;
  });
  session.provide('digest.update', (a: { id: number; bytes: Uint8Array }) => need(digests.get(a.id), `digest ${a.id}`).update(a.bytes));
  session.provide('digest.finish', (a: { id: number }) => {
    const ctx = need(digests.get(a.id), `digest ${a.id}`);
    digests.delete(a.id);
    return ctx.digest();
  });

  session.provide('i2c.write', (a: { address: number; bytes: Uint8Array }) => {
    const port = need(platform.seI2c, 'I2C bus');
    return a.address === port.address ? port.write(a.bytes) : false;
  });
  session.provide('i2c.read', (a: { address: number; length: number }) => {
    const port = need(platform.seI2c, 'I2C bus');
    if (a.address !== port.address) return null;
    const into = new Uint8Array(a.length);
    return port.read(into) ? into : null;
  });

  if (platform.modemSerial) {
    const serial = platform.modemSerial;
    serial.attach({
      onReadable: (count) => deliver('serial.readable', { count }),
      onWritable: (count) => deliver('serial.writable', { count }),
      onError: (error) => deliver('serial.error', { message: error.message }),
    });
  }
  const serial = () => need(platform.modemSerial, 'modem UART');
  session.provide('serial.read', (a: { max: number }) => {
    const into = new Uint8Array(Math.min(a.max, serial().readable));
    const n = serial().read(into);
    return n === into.length ? into : into.subarray(0, n);
  });
  session.provide('serial.write', (a: { bytes: Uint8Array }) => serial().write(a.bytes));
  session.provide('serial.readable', () => serial().readable);
  session.provide('serial.setBaud', (a: { baud: number }) => serial().setBaud(a.baud));
  session.provide('serial.baud', () => serial().baud);
  session.provide('digital.write', (a: { name: string; value: 0 | 1 }) => {
    if (a.name !== 'modemPowerKey') throw new Error(`no digital output '${a.name}'`);
    need(platform.modemPowerKey, 'modem power key').write(a.value);
  });
  session.provide('digital.read', (a: { name: string }) => {
    if (a.name !== 'modemStatus') throw new Error(`no digital input '${a.name}'`);
    return need(platform.modemStatus, 'modem STATUS input').read();
  });

  const timers = new Map<number, number>();
  /**
   * The virtual instant a timer of `ms` set at `start` fires: never before the guest's clock
   * (virtual time less `clockOrigin`, both fractional) reads its start plus `ms`, as a device
   * timer never fires before its delay. Plain `start + ms` could round to an instant the guest
   * reads a hair early: an agent waiting for `deadline - now` then re-armed a 1e-11 ms timer that
   * fired at the same instant, forever (campaign run 118 of seed 1).
   */
  const dueAt = (start: number, ms: number): number => {
    const wanted = start - clockOrigin + ms;
    let at = start + ms;
    for (let step = Math.max(Math.abs(at) * Number.EPSILON, Number.MIN_VALUE); at - clockOrigin < wanted; step *= 2) at += step;
    return at;
  };
  session.provide('clock.now', () => now() - clockOrigin);
  session.provide('clock.wall', () => time.clockPort().wallClock() ?? null);
  session.provide('clock.set', (a: { id: number; ms: number }) => {
    timers.set(
      a.id,
      time.at(dueAt(now(), Math.max(0, a.ms)), () => {
        timers.delete(a.id);
        deliver('clock.timer', { id: a.id });
      }),
    );
  });
  session.provide('clock.clear', (a: { id: number }) => {
    const handle = timers.get(a.id);
    if (handle !== undefined) time.cancel(handle);
    timers.delete(a.id);
  });

  // TLS in the agent (docs/tls.md): the platform's TlsCryptoPort, for the agentTls setting.
  const tls = () => need(platform.tlsCrypto, 'TLS crypto port');
  session.provide('tls.hmac', (a: { key: Uint8Array; parts: Uint8Array[] }) => tls().hmacSha256(a.key, ...a.parts));
  session.provide('tls.seal', (a: { key: Uint8Array; nonce: Uint8Array; aad: Uint8Array; plaintext: Uint8Array }) => tls().aes128GcmSeal(a.key, a.nonce, a.aad, a.plaintext));
  session.provide('tls.open', (a: { key: Uint8Array; nonce: Uint8Array; aad: Uint8Array; sealed: Uint8Array }) => tls().aes128GcmOpen(a.key, a.nonce, a.aad, a.sealed) ?? null);

  session.provide('reboot', (a: { reason: string }) => need(platform.reboot, 'reboot').reboot(a.reason));
  session.provide('log', (a: { level: 'debug' | 'info' | 'warn' | 'error'; event: string; fields?: Record<string, string | number | boolean> }) =>
    platform.log?.log(a.level, a.event, a.fields),
  );

  return {
    dispose() {
      live = false;
      for (const handle of timers.values()) time.cancel(handle);
      timers.clear();
      digests.clear();
    },
  };
}
