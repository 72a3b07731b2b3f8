/**
 * Device-side modules that need nothing but XS itself (the configuration reader with the agent's
 * resolveConfig, the clock and
 * log shells) run inside XS here, the engine they run in on the device. Ports that import the
 * agent bundle at run time ("xs-ota": OtaError) are tested in Node (test/unit/moddable), where a
 * resolve hook supplies the bundle; the guest bundler has no such name.
 */
import { ConfigError, readDeviceConfig, type SecretKey } from '../../../modules/ota-config.js';
import { resolveConfig } from '../../../src/agent/config.js';
import { isOtaError } from '../../../src/util/errors.js';
import { ModdableClock } from '../../../modules/ota-clock.js';
import { TraceLog } from '../../../modules/ota-log.js';
import { expose } from '../../../tools/xs/guest/bridge.js';

expose({
  readConfig: (args: { config: Record<string, unknown>; secrets: Partial<Record<SecretKey, string>> }) => {
    try {
      // As the device starts: the reader, then the one check of the agent settings (createAgent's).
      const device = readDeviceConfig(args.config, (key) => args.secrets[key]);
      return { ok: { agent: resolveConfig(device.agent), hardware: device.hardware } };
    } catch (error) {
      if (error instanceof ConfigError) return { key: error.key, detail: error.detail };
      const named = isOtaError(error, 'config-invalid') ? /^([^:]+): (.*)$/.exec(error.detail ?? '') : null;
      if (named) return { key: named[1], detail: named[2] };
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
});
