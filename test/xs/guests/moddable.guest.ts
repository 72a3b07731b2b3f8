/**
 * The device-side modules that carry logic of their own (the configuration reader, the serial,
 * clock and log shells) run inside XS here, the engine they run in on the device; the Zephyr
 * bindings they wrap are replaced by small in-guest stand-ins following the same C sources as
 * test/support/moddable-fakes.ts (which needs Node and cannot be bundled for XS).
 */
import { ConfigError, readDeviceConfig, type SecretKey } from '../../../modules/ota-config.js';
import { ModdableClock } from '../../../modules/ota-clock.js';
import { TraceLog } from '../../../modules/ota-log.js';
import { ModdableSerial } from '../../../modules/ota-serial.js';
import type { ByteBuffer, ZephyrSerialOptions } from '../../../modules/ota-zephyr-io.js';
import { expose } from '../../../tools/xs/guest/bridge.js';

/** serial.c: whole-buffer writes into a 256-byte TX ring, "output full" otherwise. */
class GuestSerial {
  static last: GuestSerial | undefined;
  space = 256;
  sent = 0;
  constructor(readonly options: ZephyrSerialOptions) {
    GuestSerial.last = this;
  }
  read(): number | undefined {
    return undefined;
  }
  write(bytes: ByteBuffer): void {
    const length = bytes.byteLength;
    if (length > this.space) throw new Error('output full');
    this.space -= length;
    this.sent += length;
  }
  close(): void {}
}

expose({
  readConfig: (args: { config: Record<string, unknown>; secrets: Partial<Record<SecretKey, string>> }) => {
    try {
      return { ok: readDeviceConfig(args.config, (key) => args.secrets[key]) };
    } catch (error) {
      if (error instanceof ConfigError) return { key: error.key, detail: error.detail };
      throw error;
    }
  },
  logLine: (args: { event: string; fields: Record<string, string | number | boolean> }) => {
    let out = '';
    new TraceLog((text) => (out += text)).log('info', args.event, args.fields);
    return out;
  },
  clockAcrossWrap: (args: { ticks: number[] }) => {
    const time = { ticks: args.ticks[0] };
    const clock = new ModdableClock(time, { set: () => 0, clear: () => {} }, () => 0);
    return args.ticks.map((ticks) => {
      time.ticks = ticks;
      return clock.now();
    });
  },
  serialWrites: (args: { sizes: number[] }) => {
    const port = new ModdableSerial(GuestSerial, { port: 'uart1', baud: 115200 });
    GuestSerial.last!.options.onWritable?.(GuestSerial.last!.space);
    const accepted = args.sizes.map((size) => port.write(new Uint8Array(size)));
    return { accepted, sent: GuestSerial.last!.sent };
  },
});
