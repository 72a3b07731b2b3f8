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

/** src/tls whole. */
const TLS_CODE = declaredIn(srcFiles('src/tls', () => true));
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
const AGENT_TLS = { controlTls: 'agent', deviceCertPem: CA } as const;
/** No TlsCryptoPort, so the carried connector refuses with its own error. */
const noTlsCrypto = (): Platform => ({ ...platform(), tlsCrypto: undefined });

describe('device bundles: the optional parts (delta, agent TLS) are in a bundle only when its options name them', () => {
  it('the parts checked are the real ones (names read from src/tls and src/delta)', () => {
    assert.ok(TLS_CODE.includes('class TlsClient') && TLS_CODE.includes('class SeKeyOps') && TLS_CODE.length > 20, TLS_CODE.join(', '));
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
        if (options.includes('tls')) assert.ok(tls.includes('class TlsClient') && tls.includes('class SeKeyOps'), `agent TLS missing: ${tls.join(', ')}`);
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
      () => bare.createAgent(noTlsCrypto(), { ...SETTINGS.iotconnect, ...AGENT_TLS }),
      (e: unknown) => bare.isOtaError(e, 'config-invalid') && /carries no TLS in the agent.*OTA_OPTIONS=-tls/.test((e as Error).message),
    );
    const tls = (await import(pathToFileURL(path.join(repoRoot, 'dist', 'xs-ota-iotconnect-tls.js')).href)) as typeof Agent;
    // The real connector is reached: it refuses a platform without a TlsCryptoPort, a different error.
    assert.throws(
      () => tls.createAgent(noTlsCrypto(), { ...SETTINGS.iotconnect, ...AGENT_TLS }),
      (e: unknown) => tls.isOtaError(e, 'config-invalid') && /TlsCryptoPort/.test((e as Error).message),
    );
  });
});
