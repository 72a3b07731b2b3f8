/**
 * The device bundles rollup writes (rollup.config.mjs): dist/xs-ota-<backend><options>.js, one
 * backend each, and of the optional parts only those <options> names ('' none, -delta, -tls,
 * -tls-delta). A part left out must be absent from the bundle's code (that is the flash it
 * saves), and the bundle must still build a working agent: without delta every offer's full
 * image is taken; without agent TLS a request for it stops the start-up with config-invalid.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as Agent from '../../../src/index.js';
import type { Platform } from '../../../src/platform/index.js';
import { repoRoot } from '../../support/paths.js';
import { buildOnlyPlatform as platform } from '../../support/build-only-platform.js';

const BACKENDS = ['hawkbit', 'iotconnect', 'manifest'] as const;
const OPTIONS = ['', '-delta', '-tls', '-tls-delta'] as const;

/**
 * The classes and functions a part's modules declare at top level: none may be in a bundle that
 * leaves the part out (rollup keeps the name, with a $n suffix on a clash).
 */
function declaredIn(files: string[]): string[] {
  const names = new Set<string>();
  for (const file of files) {
    const text = readFileSync(path.join(repoRoot, file), 'utf8');
    for (const m of text.matchAll(/^(?:export )?(?:async )?(class|function) (\w+)/gm)) names.add(`${m[1]} ${m[2]}`);
  }
  return [...names];
}

const srcFiles = (dir: string, keep: (name: string) => boolean) =>
  readdirSync(path.join(repoRoot, dir))
    .filter((f) => f.endsWith('.ts') && keep(f))
    .map((f) => `${dir}/${f}`);

/** src/tls whole, and the A5000 key commands only agent TLS uses (src/se/se05x-keys.ts). */
const TLS_CODE = declaredIn([...srcFiles('src/tls', () => true), 'src/se/se05x-keys.ts']);
/**
 * src/delta but the offer fields the backends parse (offer-fields.ts) and the journal/machine
 * hook types and checks (plan.ts): those are what a firmware without delta needs to ignore an
 * offered delta and to read a journal written by one with delta.
 */
const DELTA_CODE = declaredIn(srcFiles('src/delta', (f) => !['offer-fields.ts', 'plan.ts', 'reasons.ts'].includes(f)));

function bundleText(name: string): string {
  return readFileSync(path.join(repoRoot, 'dist', `xs-ota-${name}.js`), 'utf8');
}

function present(text: string, declaration: string): boolean {
  return new RegExp(`\\b${declaration.replace(' ', '\\s+')}\\b`).test(text);
}


const CA = new TextEncoder().encode('-----BEGIN CERTIFICATE-----\n');
const SETTINGS: Record<(typeof BACKENDS)[number], Agent.StartConfig> = {
  hawkbit: { backend: 'hawkbit', url: 'https://hawkbit.example.com', deviceId: 'dev-1', token: 'tok', caPem: CA },
  manifest: { backend: 'manifest', url: 'https://updates.example.com/manifest.json', caPem: CA },
  iotconnect: { backend: 'iotconnect', url: 'https://discovery.iotconnect.example.com', tenant: 'cpid', deviceId: 'dev-1', iotcEnv: 'qa', caPem: CA },
};
/** otaControlTls agent with a device certificate (any PEM: the build refuses before decoding it). */
const AGENT_TLS = { controlTls: 'agent' } as const;
/** What startAgent's boot read (readBootInputs) hands createAgent: a chain (any: not presented here). */
const BOOT_READ = { deviceCertificate: { chain: [] } };
/** No TlsCryptoPort, so the carried connector refuses with its own error. */
const noTlsCrypto = (): Platform => ({ ...platform(), tlsCrypto: undefined });

describe('device bundles: the optional parts (delta, agent TLS) are in a bundle only when its options name them', () => {
  it('the parts checked are the real ones (names read from src/tls and src/delta)', () => {
    assert.ok(TLS_CODE.includes('class TlsClient') && TLS_CODE.includes('class SeKeyOps') && TLS_CODE.includes('function ecdsaSign') && TLS_CODE.length > 20, TLS_CODE.join(', '));
    assert.ok(DELTA_CODE.includes('class VcdiffDecoder') && DELTA_CODE.includes('class DeltaInstaller'), DELTA_CODE.join(', '));
    // Both are in the all-parts bundle, so the patterns do match rollup's output.
    const all = bundleText('all');
    for (const d of ['class TlsClient', 'class SeKeyOps', 'class VcdiffDecoder', 'class DeltaInstaller', 'class FlashWindow']) assert.ok(present(all, d), `${d} not in dist/xs-ota-all.js`);
  });

  for (const backend of BACKENDS) {
    for (const options of OPTIONS) {
      const name = `${backend}${options}`;
      it(`dist/xs-ota-${name}.js: ${options.includes('tls') ? 'with' : 'no'} src/tls, ${options.includes('delta') ? 'with' : 'no'} delta code`, () => {
        const text = bundleText(name);
        const tls = TLS_CODE.filter((d) => present(text, d));
        const delta = DELTA_CODE.filter((d) => present(text, d));
        if (options.includes('tls')) assert.ok(tls.includes('class TlsClient') && tls.includes('class SeKeyOps') && tls.includes('function ecdh'), `agent TLS missing: ${tls.join(', ')}`);
        else assert.deepEqual(tls, [], 'src/tls code in a bundle without agent TLS');
        if (options.includes('delta')) assert.ok(delta.includes('class VcdiffDecoder') && delta.includes('class DeltaInstaller'), `delta missing: ${delta.join(', ')}`);
        else assert.deepEqual(delta, [], 'delta code in a bundle without delta');
      });
    }
  }

  for (const backend of BACKENDS) {
    it(`${backend}: the bundle without parts builds an agent with no delta hook and says so; with -tls-delta, one with it`, async () => {
      const bare = (await import(pathToFileURL(path.join(repoRoot, 'dist', `xs-ota-${backend}.js`)).href)) as typeof Agent;
      const full = (await import(pathToFileURL(path.join(repoRoot, 'dist', `xs-ota-${backend}-tls-delta.js`)).href)) as typeof Agent;
      assert.deepEqual([bare.DELTA_CARRIED, bare.AGENT_TLS_CARRIED, full.DELTA_CARRIED, full.AGENT_TLS_CARRIED], [false, false, true, true]);
      const without = bare.createAgent(platform(), SETTINGS[backend]);
      assert.equal(without.delta, undefined);
      assert.equal(without.backend !== undefined && without.installer !== undefined, true);
      const withDelta = full.createAgent(platform(), SETTINGS[backend]);
      assert.equal(withDelta.delta?.constructor.name, 'DeltaInstaller');
    });
  }

  it('the settings schema carries no descriptions: what a setting means is a comment in src/agent/config.ts, not flash', () => {
    const config = readFileSync(path.join(repoRoot, 'src', 'agent', 'config.ts'), 'utf8');
    assert.match(config, /\/\*\* Update backend protocol: Eclipse hawkBit DDI/);
    for (const bundle of ['hawkbit', 'all']) {
      const text = bundleText(bundle);
      assert.match(text, /otaBackend: \{/, `dist/xs-ota-${bundle}.js has no schema`);
      assert.doesNotMatch(text, /\bmeaning:/, `dist/xs-ota-${bundle}.js carries setting descriptions`);
    }
  });

  it('iotconnect without agent TLS: asking for it is config-invalid naming the build option; with -tls it is built', async () => {
    const bare = (await import(pathToFileURL(path.join(repoRoot, 'dist', 'xs-ota-iotconnect.js')).href)) as typeof Agent;
    assert.throws(
      () => bare.createAgent(noTlsCrypto(), { ...SETTINGS.iotconnect, ...AGENT_TLS }, {}, BOOT_READ),
      (e: unknown) => bare.isOtaError(e, 'config-invalid') && /carries no TLS in the agent.*OTA_OPTIONS=-tls/.test((e as Error).message),
    );
    const tls = (await import(pathToFileURL(path.join(repoRoot, 'dist', 'xs-ota-iotconnect-tls.js')).href)) as typeof Agent;
    // The real connector is reached: it refuses a platform without a TlsCryptoPort, a different error.
    assert.throws(
      () => tls.createAgent(noTlsCrypto(), { ...SETTINGS.iotconnect, ...AGENT_TLS }, {}, BOOT_READ),
      (e: unknown) => tls.isOtaError(e, 'config-invalid') && /TlsCryptoPort/.test((e as Error).message),
    );
  });
});

/** The settings only one backend or agent TLS reads (src/agent/settings-*.ts): in a bundle only with that part. */
const PART_SETTINGS = {
  hawkbit: ['otaTokenScheme', 'otaModulePart', 'otaAutoConfirm'],
  iotconnect: ['otaIotcEnv', 'otaIotcPlatform', 'otaIotcHardwareVersion', 'otaIotcSession', 'otaIotcSuccessSt'],
  tls: ['otaTlsVersions', 'otaDeviceKeyId', 'otaDeviceCert'],
} as const;

describe("device bundles: the settings schema is the build's (a setting of a part left out is neither carried nor read)", () => {
  const load = async (name: string) => (await import(pathToFileURL(path.join(repoRoot, 'dist', `xs-ota-${name}.js`)).href)) as typeof Agent;

  for (const backend of BACKENDS) {
    for (const options of ['', '-tls'] as const) {
      const name = `${backend}${options}`;
      it(`dist/xs-ota-${name}.js: the settings of ${backend}${options === '-tls' ? ' and agent TLS' : ''} only`, async () => {
        const keys = Object.keys((await load(name)).configSchema());
        const carried = (part: keyof typeof PART_SETTINGS) => part === backend || (part === 'tls' && options === '-tls');
        for (const part of Object.keys(PART_SETTINGS) as (keyof typeof PART_SETTINGS)[]) {
          for (const key of PART_SETTINGS[part]) assert.equal(keys.includes(key), carried(part), `${key} in ${name}`);
        }
        // What chooses a backend, a modem or agent TLS is in every build: asking for one it lacks names the build option.
        for (const key of ['otaBackend', 'otaModem', 'otaControlTls', 'otaUrl', 'otaKeyId']) assert.ok(keys.includes(key), `${key} missing from ${name}`);
      });
    }
  }

  it("the all bundle carries every setting (the docs' table, manifest.json config)", async () => {
    const keys = Object.keys((await load('all')).configSchema());
    for (const key of Object.values(PART_SETTINGS).flat()) assert.ok(keys.includes(key), key);
  });

  it('hawkbit: the device does not read an IoTConnect or TLS setting (settingKeys, what modules/ota-config.ts reads), a StartConfig naming one is refused', async () => {
    const bare = await load('hawkbit');
    const { agent } = bare.settingKeys();
    for (const key of [...PART_SETTINGS.iotconnect, ...PART_SETTINGS.tls]) assert.ok(!(agent as readonly string[]).includes(key), key);
    assert.ok((agent as readonly string[]).includes('otaTokenScheme'));
    assert.throws(() => bare.readSetting('otaIotcEnv', 'qa'), (e: unknown) => bare.isOtaError(e, 'config-invalid') && /config-invalid: otaIotcEnv: not a setting of this firmware/.test((e as Error).message));
    assert.throws(
      () => bare.createAgent(platform(), { ...SETTINGS.hawkbit, iotcEnv: 'qa' } as Agent.StartConfig),
      (e: unknown) => bare.isOtaError(e, 'config-invalid') && /config-invalid: iotcEnv: unknown setting/.test((e as Error).message),
    );
    // The same StartConfig is taken by the all bundle, which carries IoTConnect.
    const all = await load('all');
    assert.ok(all.createAgent(platform(), { ...SETTINGS.hawkbit, iotcEnv: 'qa' } as Agent.StartConfig).backend !== undefined);
  });

  it('hawkbit without agent TLS: otaControlTls agent is refused by the settings check naming the build option, before any hardware is touched', async () => {
    const bare = await load('hawkbit');
    const touched: string[] = [];
    await assert.rejects(
      bare.readBootInputs(watchedPlatform(touched), { ...SETTINGS.hawkbit, ...AGENT_TLS }),
      (e: unknown) => bare.isOtaError(e, 'config-invalid') && /config-invalid: otaControlTls: this firmware carries no TLS in the agent.*OTA_OPTIONS=-tls/.test((e as Error).message),
    );
    assert.deepEqual(touched, [], 'hardware touched before the refusal');
  });
});

/** The modem drivers' own classes (src/modem/sim7080.ts, sim7600.ts): a one-modem bundle has the other's none. */
/** The SIM7080's SH* HTTP client, which the agent never uses (Sim7080Options.shHttp): in no bundle. */
const SIM7080_SH_HTTP = ['class Sim7080Http', 'function sim7080ShHttp'];
const SIM7080_CODE = declaredIn(['src/modem/sim7080.ts']).filter((d) => !SIM7080_SH_HTTP.includes(d));
const SIM7600_CODE = declaredIn(['src/modem/sim7600.ts']);
const MODEMS = ['', '-sim7080', '-sim7600'] as const;

/**
 * The hardware ports, each recording any use (a property read) in `touched`: a refusal before
 * any hardware is touched leaves it empty.
 */
function watchedPlatform(touched: string[]): Platform {
  const base = platform();
  const watch = <T extends object>(name: string, port: T): T => new Proxy(port, { get: (target, key, receiver) => (touched.push(`${name}.${String(key)}`), Reflect.get(target, key, receiver)) });
  return { ...base, modemSerial: watch('modemSerial', base.modemSerial), modemPowerKey: watch('modemPowerKey', base.modemPowerKey!), seI2c: watch('seI2c', base.seI2c) };
}

describe('device bundles: the modem driver (OTA_MODEM) is one in a one-modem bundle, both by default', () => {
  it('the drivers checked are the real ones (names read from src/modem)', () => {
    assert.ok(SIM7080_CODE.includes('class Sim7080') && SIM7080_CODE.includes('class Sim7080Socket'), SIM7080_CODE.join(', '));
    assert.ok(SIM7080_SH_HTTP.every((d) => declaredIn(['src/modem/sim7080.ts']).includes(d)), 'SH* client renamed: update SIM7080_SH_HTTP');
    assert.ok(SIM7600_CODE.includes('class Sim7600') && SIM7600_CODE.includes('class Sim7600Http'), SIM7600_CODE.join(', '));
  });

  for (const backend of BACKENDS) {
    for (const options of OPTIONS) {
      for (const modem of MODEMS) {
        const name = `${backend}${options}${modem}`;
        it(`dist/xs-ota-${name}.js: ${modem === '' ? 'both drivers' : `the ${modem.slice(1)} driver only`}`, () => {
          const text = bundleText(name);
          const sim7080 = SIM7080_CODE.filter((d) => present(text, d));
          const sim7600 = SIM7600_CODE.filter((d) => present(text, d));
          if (modem === '-sim7600') assert.deepEqual(sim7080, [], 'SIM7080 code in a SIM7600-only bundle');
          else assert.deepEqual(sim7080, SIM7080_CODE, 'SIM7080 driver incomplete');
          if (modem === '-sim7080') assert.deepEqual(sim7600, [], 'SIM7600 code in a SIM7080-only bundle');
          else assert.deepEqual(sim7600, SIM7600_CODE, 'SIM7600 driver incomplete');
          // Only the SIM7600 uses the modem's built-in HTTP client (src/net/modem-http.ts).
          assert.equal(present(text, 'class NativeHttpClient'), modem !== '-sim7080', 'NativeHttpClient');
          assert.ok(present(text, 'class SocketHttpClient'), 'SocketHttpClient missing');
          assert.deepEqual(SIM7080_SH_HTTP.filter((d) => present(text, d)), [], 'the SIM7080 SH* client, which the agent never uses');
        });
      }
    }
  }

  for (const [carried, other] of [['sim7080', 'sim7600'], ['sim7600', 'sim7080']] as const) {
    it(`hawkbit-${carried}: otaModem ${other} is config-invalid naming OTA_MODEM before any hardware is touched; ${carried} builds`, async () => {
      const one = (await import(pathToFileURL(path.join(repoRoot, 'dist', `xs-ota-hawkbit-${carried}.js`)).href)) as typeof Agent;
      assert.deepEqual(one.MODEMS_CARRIED, [carried]);
      const touched: string[] = [];
      assert.throws(
        () => one.createAgent(watchedPlatform(touched), { ...SETTINGS.hawkbit, modem: other }),
        (e: unknown) => one.isOtaError(e, 'config-invalid') && new RegExp(`otaModem '${other}'.*only the ${carried} driver.*OTA_MODEM=-${other}`).test((e as Error).message),
      );
      assert.deepEqual(touched, [], 'hardware touched before the refusal');
      const used: string[] = [];
      const parts = one.createAgent(watchedPlatform(used), { ...SETTINGS.hawkbit, modem: carried });
      assert.equal(parts.modem.model, carried);
      // The watch does see a driver use its port (the constructor reads the UART's baud rate).
      assert.ok(used.includes('modemSerial.baud'), used.join(', '));
    });
  }

  it('each one-modem bundle takes the HTTP client its modem takes in the default bundle', async () => {
    const both = (await import(pathToFileURL(path.join(repoRoot, 'dist', 'xs-ota-hawkbit.js')).href)) as typeof Agent;
    assert.deepEqual(both.MODEMS_CARRIED, ['sim7080', 'sim7600']);
    const cases = [['sim7080', 'none'], ['sim7080', 'rts-cts'], ['sim7600', 'none'], ['sim7600', 'rts-cts']] as const;
    const seen: string[] = [];
    for (const [modem, uartFlowControl] of cases) {
      const one = (await import(pathToFileURL(path.join(repoRoot, 'dist', `xs-ota-hawkbit-${modem}.js`)).href)) as typeof Agent;
      const settings = { ...SETTINGS.hawkbit, modem, uartFlowControl };
      const expected = both.createAgent(platform(), settings).http.constructor.name;
      assert.equal(one.createAgent(platform(), settings).http.constructor.name, expected, `${modem} ${uartFlowControl}`);
      seen.push(expected);
    }
    assert.deepEqual(seen, ['SocketHttpClient', 'SocketHttpClient', 'NativeHttpClient', 'SocketHttpClient']);
  });
});
