/**
 * The Moddable port shells (modules/ota-*.ts) against stand-ins that follow the Zephyr bindings'
 * C sources (test/support/moddable-fakes.ts). On the device these modules import the agent as
 * module "xs-ota" (the bundle); here a resolve hook points that name at dist/xs-ota.mjs, so the
 * errors they throw are the bundle's own OtaError.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { register } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { LogFields, LogLevel } from '../../../src/platform/index.js';
import {
  FakeDigest,
  FakeFlashStorage,
  FakeKeyValueStorage,
  FakeZephyrI2c,
  FakeZephyrSerial,
} from '../../support/moddable-fakes.js';
import { repoRoot } from '../../support/paths.js';

type Modules = {
  clock: typeof import('../../../modules/ota-clock.js');
  digest: typeof import('../../../modules/ota-digest.js');
  digital: typeof import('../../../modules/ota-digital.js');
  flash: typeof import('../../../modules/ota-flash.js');
  i2c: typeof import('../../../modules/ota-i2c.js');
  keyValue: typeof import('../../../modules/ota-key-value.js');
  log: typeof import('../../../modules/ota-log.js');
  reboot: typeof import('../../../modules/ota-reboot.js');
  serial: typeof import('../../../modules/ota-serial.js');
};

const bundleUrl = pathToFileURL(path.join(repoRoot, 'dist', 'xs-ota.mjs')).href;
const hook = `export async function resolve(specifier, context, next) {
  if (specifier === 'xs-ota') return { url: ${JSON.stringify(bundleUrl)}, shortCircuit: true };
  return next(specifier, context);
}`;

class Recorder {
  readonly lines: { level: LogLevel; event: string; fields?: LogFields }[] = [];
  log(level: LogLevel, event: string, fields?: LogFields): void {
    this.lines.push({ level, event, fields });
  }
}

function reasonOf(error: unknown): string | undefined {
  return (error as { reason?: string }).reason;
}

describe('Moddable ports (modules/ota-*.ts on Zephyr binding stand-ins)', () => {
  let m: Modules;

  before(async () => {
    register(`data:text/javascript,${encodeURIComponent(hook)}`);
    const load = (name: string) => import(pathToFileURL(path.join(repoRoot, 'build', 'modules', `${name}.js`)).href);
    m = {
      clock: await load('ota-clock'),
      digest: await load('ota-digest'),
      digital: await load('ota-digital'),
      flash: await load('ota-flash'),
      i2c: await load('ota-i2c'),
      keyValue: await load('ota-key-value'),
      log: await load('ota-log'),
      reboot: await load('ota-reboot'),
      serial: await load('ota-serial'),
    };
  });

  describe('serial', () => {
    let fake: FakeZephyrSerial;
    const open = (baud = 115200) => {
      FakeZephyrSerial.instances = [];
      const port = new m.serial.ModdableSerial(FakeZephyrSerial, { port: 'uart1', baud });
      fake = FakeZephyrSerial.instances[0];
      return port;
    };

    it('opens the UART by devicetree label in buffer format', () => {
      open(9600);
      assert.equal(fake.options.port, 'uart1');
      assert.equal(fake.options.baud, 9600);
      assert.equal(fake.options.format, 'buffer');
    });

    it('writes only what the TX ring can take, never throwing "output full"', () => {
      const port = open();
      const writable: number[] = [];
      port.attach({ onWritable: (n) => writable.push(n) });
      const data = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
      assert.equal(port.write(data), 0, 'nothing before the first onWritable');
      fake.postWritable();
      assert.deepEqual(writable, [256]);
      assert.equal(port.write(data), 256);
      assert.equal(port.write(data.subarray(256)), 0);
      fake.drainTx(16);
      assert.equal(port.write(data.subarray(256)), 16);
      assert.deepEqual(fake.sent, [...data.subarray(0, 272)]);
    });

    it('reads into the caller buffer and reports an empty ring as 0', () => {
      const port = open();
      const into = new Uint8Array(4);
      assert.equal(port.read(into), 0);
      let told = 0;
      port.attach({ onReadable: (n) => (told = n) });
      fake.receive([1, 2, 3, 4, 5, 6]);
      assert.equal(told, 6);
      assert.equal(port.readable, 6);
      assert.equal(port.read(into), 4);
      assert.deepEqual([...into], [1, 2, 3, 4]);
      assert.equal(port.readable, 2);
      assert.equal(port.read(into), 2);
      assert.equal(port.readable, 0);
    });

    it('turns the binding errno into an Error (RX overflow: -ENOMEM)', () => {
      const port = open();
      const errors: string[] = [];
      port.attach({ onError: (e) => errors.push(e.message) });
      fake.receive(new Array(300).fill(0x41));
      assert.deepEqual(errors, ['uart uart1 error -12']);
    });

    it('re-opens the UART to change the rate, and refuses use after close', () => {
      const port = open();
      fake.postWritable();
      port.setBaud(921600);
      assert.equal(FakeZephyrSerial.instances.length, 2);
      assert.ok(FakeZephyrSerial.instances[0].closed);
      assert.equal(FakeZephyrSerial.instances[1].options.baud, 921600);
      assert.equal(port.baud, 921600);
      assert.equal(port.write(new Uint8Array(1)), 0, 'writable space forgotten with the old instance');
      port.close();
      assert.ok(FakeZephyrSerial.instances[1].closed);
      assert.throws(() => port.read(new Uint8Array(1)), (e: unknown) => reasonOf(e) === 'closed');
      port.close();
    });
  });

  describe('i2c', () => {
    let fake: FakeZephyrI2c | undefined;
    const Ctor = class extends FakeZephyrI2c {
      constructor(options: ConstructorParameters<typeof FakeZephyrI2c>[0]) {
        super(options);
        fake = this;
      }
    };

    it('turns a NACK (the binding throws) into false and keeps the message', () => {
      const port = new m.i2c.ModdableI2c(Ctor, { port: 'i2c0', address: 0x48, hz: 400000 });
      assert.deepEqual(fake!.options, { port: 'i2c0', address: 0x48, hz: 400000 });
      assert.equal(port.address, 0x48);
      fake!.nackNext = 2;
      assert.equal(port.write(Uint8Array.of(0x5a, 0xcf)), false);
      assert.equal(port.lastError, 'write failed');
      assert.equal(port.read(new Uint8Array(2)), false);
      assert.equal(port.lastError, 'read failed');
      assert.equal(port.write(Uint8Array.of(0x5a, 0xcf)), true);
      fake!.response = Uint8Array.of(0xa5, 0xe7);
      const into = new Uint8Array(2);
      assert.equal(port.read(into), true);
      assert.deepEqual([...into], [0xa5, 0xe7]);
      assert.equal(port.writeRead(Uint8Array.of(1), into), true);
      port.close();
      assert.ok(fake!.closed);
    });
  });

  describe('flash', () => {
    const storage = new FakeFlashStorage();
    storage.add('image-1', 0x60000, 4096, 8);
    storage.add('odd', 4096 * 3 + 100, 4096, 8);

    it('opens a slot by its devicetree label property and reports its geometry', () => {
      const slot = new m.flash.ModdableFlash(storage, 'image-1');
      assert.deepEqual(slot.status(), { size: 0x60000, blockLength: 4096, writeAlign: 8, eraseValue: 0xff });
    });

    it('names the partition when it is missing or its geometry is unusable', () => {
      assert.throws(() => new m.flash.ModdableFlash(storage, 'slot1_partition'), (e: unknown) => reasonOf(e) === 'config-invalid' && /slot1_partition/.test(String(e)));
      assert.throws(() => new m.flash.ModdableFlash(storage, 'odd'), (e: unknown) => reasonOf(e) === 'platform-error');
    });

    it('programs aligned writes, erases one block, reads back', () => {
      const slot = new m.flash.ModdableFlash(storage, 'image-1');
      const data = Uint8Array.from({ length: 16 }, (_, i) => i);
      slot.write(4096, data);
      const back = new Uint8Array(16);
      slot.read(4096, back);
      assert.deepEqual(back, data);
      slot.eraseBlock(1);
      slot.read(4096, back);
      assert.ok(back.every((b) => b === 0xff));
      assert.deepEqual(storage.partitions.get('image-1')!.erased, [1]);
    });

    it('reports the board\'s block erase and erases a range in one native call (flash_area_erase over it)', () => {
      const plain = new m.flash.ModdableFlash(storage, 'image-1');
      assert.equal(plain.status().largeBlockLength, undefined);
      const slot = new m.flash.ModdableFlash(storage, 'image-1', { largeBlockLength: 0x10000 });
      assert.equal(slot.status().largeBlockLength, 0x10000);
      const calls: [number, number | undefined][] = [];
      const part = storage.partitions.get('image-1')!;
      const erase = part.eraseBlock.bind(part);
      part.eraseBlock = (start: number, end?: number) => {
        calls.push([start, end]);
        erase(start, end);
      };
      try {
        slot.write(0x10000, new Uint8Array(8));
        slot.eraseBlocks(16, 32);
        const back = new Uint8Array(8);
        slot.read(0x10000, back);
        assert.ok(back.every((b) => b === 0xff));
        assert.deepEqual(calls, [[16, 32]]);
        const bad = (fn: () => void) => assert.throws(fn, (e: unknown) => reasonOf(e) === 'invalid-argument');
        bad(() => slot.eraseBlocks(16, 16));
        bad(() => slot.eraseBlocks(-1, 2));
        bad(() => slot.eraseBlocks(90, 0x60000 / 4096 + 1));
        assert.equal(calls.length, 1);
      } finally {
        part.eraseBlock = erase;
      }
      assert.throws(() => new m.flash.ModdableFlash(storage, 'image-1', { largeBlockLength: 6000 }), (e: unknown) => reasonOf(e) === 'config-invalid');
    });

    it('rejects unaligned, out-of-range and fractional requests before the native call', () => {
      const slot = new m.flash.ModdableFlash(storage, 'image-1');
      const bad = (fn: () => void) => assert.throws(fn, (e: unknown) => reasonOf(e) === 'invalid-argument');
      bad(() => slot.write(4, new Uint8Array(8)));
      bad(() => slot.write(0, new Uint8Array(12)));
      bad(() => slot.write(0x60000 - 8, new Uint8Array(16)));
      bad(() => slot.read(-1, new Uint8Array(1)));
      bad(() => slot.eraseBlock(0x60000 / 4096));
      bad(() => slot.eraseBlock(1.5));
      slot.eraseBlock(0x60000 / 4096 - 1);
    });
  });

  describe('key-value', () => {
    it('reads a missing key as undefined and round-trips a value at the limit', () => {
      const storage = new FakeKeyValueStorage();
      const kv = new m.keyValue.ModdableKeyValue(storage, 'xs-ota');
      assert.equal(kv.maxValueLength, 255);
      assert.equal(kv.read('journal'), undefined);
      const value = 'j'.repeat(255);
      kv.write('journal', value);
      assert.equal(kv.read('journal'), value);
      assert.equal(storage.values.get('xs-ota/journal'), value);
      kv.delete('journal');
      assert.equal(kv.read('journal'), undefined);
    });

    it('refuses values and keys past the binding limits, and passes a failed save on', () => {
      const storage = new FakeKeyValueStorage();
      const kv = new m.keyValue.ModdableKeyValue(storage, 'xs-ota');
      assert.throws(() => kv.write('journal', 'j'.repeat(256)), (e: unknown) => reasonOf(e) === 'limit-exceeded');
      assert.equal(kv.maxKeyLength, 56); // "xs-ota/" + key + NUL = SETTINGS_MAX_NAME_LEN (64)
      kv.write('k'.repeat(56), 'v');
      assert.throws(() => kv.write('k'.repeat(57), 'v'), (e: unknown) => reasonOf(e) === 'invalid-argument');
      assert.throws(() => kv.read(''), (e: unknown) => reasonOf(e) === 'invalid-argument');
      storage.failWrites = true;
      assert.throws(() => kv.write('journal', 'x'), /setting error/);
      storage.values.set('xs-ota/n', 7);
      assert.throws(() => kv.read('n'), /mismatch/);
    });
  });

  describe('digest', () => {
    it('hashes with crypt Digest("SHA256") and allows one digest per context', () => {
      const port = new m.digest.ModdableDigest(FakeDigest);
      const h = port.sha256();
      h.update(new TextEncoder().encode('ab'));
      h.update(new TextEncoder().encode('c'));
      const out = h.digest();
      assert.equal(Buffer.from(out).toString('hex'), createHash('sha256').update('abc').digest('hex'));
      assert.throws(() => h.digest(), (e: unknown) => reasonOf(e) === 'bad-state');
      assert.throws(() => h.update(new Uint8Array(1)), (e: unknown) => reasonOf(e) === 'bad-state');
    });
  });

  describe('clock', () => {
    class FakeTimer {
      readonly pending = new Map<number, { callback: () => void; ms: number }>();
      #next = 1;
      set(callback: () => void, ms: number): unknown {
        const id = this.#next++;
        this.pending.set(id, { callback, ms });
        return id;
      }
      clear(timer: unknown): void {
        this.pending.delete(timer as number);
      }
      fire(id: number): void {
        const entry = this.pending.get(id)!;
        this.pending.delete(id);
        entry.callback();
      }
    }

    it('never goes backwards when Time.ticks wraps (unsigned 2^32 and signed 2^31)', () => {
      // [ticks at start, ticks 1500 ms later, past the wrap]
      for (const [start, later] of [
        [2 ** 32 - 1000, 500], // uint32 counter
        [2 ** 31 - 1000, -(2 ** 31) + 500], // the same counter handed out as int32
      ]) {
        const time = { ticks: start };
        const clock = new m.clock.ModdableClock(time, new FakeTimer());
        assert.equal(clock.now(), 0);
        time.ticks = start + 999;
        assert.equal(clock.now(), 999);
        time.ticks = later;
        assert.equal(clock.now(), 1500);
      }
    });

    it('runs and cancels one-shot timers through Timer.set / Timer.clear', () => {
      const timer = new FakeTimer();
      const clock = new m.clock.ModdableClock({ ticks: 0 }, timer);
      const fired: string[] = [];
      const a = clock.setTimeout(() => fired.push('a'), 100);
      const b = clock.setTimeout(() => fired.push('b'), -5);
      assert.deepEqual([...timer.pending.values()].map((t) => t.ms), [100, 0]);
      clock.clearTimeout(b);
      clock.clearTimeout(b);
      assert.equal(timer.pending.size, 1);
      timer.fire([...timer.pending.keys()][0]);
      assert.deepEqual(fired, ['a']);
      clock.clearTimeout(a); // already fired: nothing to clear
      assert.equal(timer.pending.size, 0);
    });

    it('reports no wall clock before the RTC is set (Zephyr boots at 1970)', () => {
      let ms = 5_000;
      const clock = new m.clock.ModdableClock({ ticks: 0 }, new FakeTimer(), () => ms);
      assert.equal(clock.wallClock(), undefined);
      ms = Date.UTC(2026, 10, 24, 16, 0, 0, 999);
      assert.equal(clock.wallClock(), Date.UTC(2026, 10, 24, 16) / 1000);
    });
  });

  describe('log, reboot, PWRKEY', () => {
    it('prints one trace line per event, quoting values with spaces, filtering by level', () => {
      const lines: string[] = [];
      const log = new m.log.TraceLog((text) => lines.push(text), 'info');
      log.log('debug', 'ignored');
      log.log('info', 'download.resume', { offset: 4096, url: 'https://x/a b', skip: undefined, ok: true });
      log.log('error', 'se.nack');
      assert.deepEqual(lines, ['ota info download.resume offset=4096 url="https://x/a b" ok=true\n', 'ota error se.nack\n']);
    });

    it('logs the reason, then calls sys_reboot(SYS_REBOOT_COLD)', () => {
      const log = new Recorder();
      const calls: number[] = [];
      new m.reboot.ZephyrReboot((type) => calls.push(type), log).reboot('image-staged');
      assert.deepEqual(calls, [1]);
      assert.deepEqual(log.lines, [{ level: 'warn', event: 'system.reboot', fields: { reason: 'image-staged' } }]);
    });

    it('drives PWRKEY as a digital output, released at start; logs when it is not wired', () => {
      const writes: number[] = [];
      let opened: unknown;
      const Digital = Object.assign(
        function (this: unknown, options: unknown) {
          opened = options;
          return { write: (v: 0 | 1) => writes.push(v), read: () => 0 as const, close() {} };
        } as unknown as new (options: { pin: { port: string; pin: number }; mode: unknown }) => { write(v: 0 | 1): void; read(): 0 | 1; close(): void },
        { Output: 'output', Input: 'input' },
      );
      const key = new m.digital.ModdableDigitalOut(Digital, { port: 'gpio0', pin: 17 }, 0);
      key.write(1);
      assert.deepEqual(opened, { pin: { port: 'gpio0', pin: 17 }, mode: 'output' });
      assert.deepEqual(writes, [0, 1]);
      const log = new Recorder();
      new m.digital.NoPowerKey(log).write(1);
      assert.equal(log.lines[0].event, 'modem.pwrkey-not-wired');
    });

    it('reads the modem STATUS as a digital input (any truthy level is 1)', () => {
      let opened: unknown;
      let level: unknown = 0;
      const Digital = Object.assign(
        function (this: unknown, options: unknown) {
          opened = options;
          return { write() {}, read: () => level, close() {} };
        } as unknown as new (options: { pin: { port: string; pin: number }; mode: unknown }) => { write(v: 0 | 1): void; read(): 0 | 1; close(): void },
        { Output: 'output', Input: 'input' },
      );
      const status = new m.digital.ModdableDigitalIn(Digital, { port: 'gpio0', pin: 15 });
      assert.deepEqual(opened, { pin: { port: 'gpio0', pin: 15 }, mode: 'input' });
      assert.equal(status.read(), 0);
      level = true;
      assert.equal(status.read(), 1);
    });
  });
});
