/** Agent settings: the naming rule and the one check of every setting, the trailer and segment policies. */
import assert from 'node:assert/strict';
import { resolveConfig } from '../../../src/agent/config.js';
import { trailerSize } from '../../../src/image/trailer.js';
import { CONFIG_SCHEMA, DEFAULT_CONFIG, readSetting, settingKeys, settingName, type ConfigSpec, type SettingsInput } from '../../../src/agent/config.js';
import { nonDefault } from '../../support/settings.js';

const base = { url: 'https://h.example', deviceId: 'd1' };

describe('agent config: trailerSize', () => {
  it('defaults to the dev kit build (128 sectors, align 8: 3120 bytes)', () => {
    assert.equal(resolveConfig(base).trailerSize, 3120);
    assert.equal(resolveConfig(base).trailerSize, trailerSize(128, 8));
  });

  it('takes a larger build (320 sectors: 7728 bytes)', () => {
    assert.equal(resolveConfig({ ...base, trailerSize: trailerSize(320, 8) }).trailerSize, 7728);
  });

  it('rejects a size that is not write-aligned or out of range, by key', () => {
    for (const bad of [3121, 40, 70_000]) {
      assert.throws(() => resolveConfig({ ...base, trailerSize: bad }), (e: Error & { reason?: string }) => e.reason === 'config-invalid' && /trailerSize/.test(e.message));
    }
  });
});

describe('agent config: downloadSegmentBytes', () => {
  it('defaults to 256 KiB', () => {
    assert.equal(resolveConfig(base).downloadSegmentBytes, 256 * 1024);
  });

  it('takes any multiple of 4096 in [4 KiB, 16 MiB]', () => {
    for (const ok of [4096, 65536, 16 * 1024 * 1024]) assert.equal(resolveConfig({ ...base, downloadSegmentBytes: ok }).downloadSegmentBytes, ok);
  });

  it('rejects a size off the sector or out of range, by key', () => {
    for (const bad of [0, 2048, 5000, 32 * 1024 * 1024, Number.NaN]) {
      assert.throws(
        () => resolveConfig({ ...base, downloadSegmentBytes: bad }),
        (e: Error & { reason?: string }) => e.reason === 'config-invalid' && /downloadSegmentBytes/.test(e.message),
      );
    }
  });

  it('downloadSegmentMaxBytes: 16 MiB by default, a multiple of 4096, not below downloadSegmentBytes', () => {
    assert.equal(resolveConfig(base).downloadSegmentMaxBytes, 16 * 1024 * 1024);
    assert.equal(resolveConfig({ ...base, downloadSegmentBytes: 4096, downloadSegmentMaxBytes: 4096 }).downloadSegmentMaxBytes, 4096);
    for (const bad of [8192 + 1, 4096, 32 * 1024 * 1024]) {
      assert.throws(
        () => resolveConfig({ ...base, downloadSegmentBytes: 8192, downloadSegmentMaxBytes: bad }),
        (e: Error & { reason?: string }) => e.reason === 'config-invalid' && /downloadSegmentMaxBytes/.test(e.message),
      );
    }
  });
});

describe('agent config: one name per setting (the manifest key without `ota`), checked once by the schema', () => {
  const invalid = (key: string) => (e: Error & { reason?: string }) => e.reason === 'config-invalid' && e.message.startsWith(`config-invalid: ${key}: `);

  it('the rule: otaKeyId is keyId, otaUrl is url, otaBodyMax is bodyMax, otaIotcSuccessSt is iotcSuccessSt', () => {
    assert.deepEqual(
      (['otaKeyId', 'otaUrl', 'otaBodyMax', 'otaIotcSuccessSt', 'otaHealthDeadlineS'] as const).map((k) => settingName(k)),
      ['keyId', 'url', 'bodyMax', 'iotcSuccessSt', 'healthDeadlineS'],
    );
  });

  it('every schema key is a hardware setting or an AgentConfig field under its rule name, with the schema default', () => {
    const { agent, hardware } = settingKeys();
    assert.deepEqual([...agent, ...hardware].sort(), Object.keys(CONFIG_SCHEMA).sort());
    for (const key of agent) {
      const name = settingName(key);
      assert.ok(name in DEFAULT_CONFIG, `${key}: no AgentConfig field ${name}`);
      const spec = CONFIG_SCHEMA[key] as ConfigSpec;
      // otaUrl: no default, the build must set it (resolveConfig refuses the empty value).
      if (spec.type === 'text' && spec.required && spec.default === '') {
        assert.equal(DEFAULT_CONFIG[name], '');
        continue;
      }
      assert.deepEqual(DEFAULT_CONFIG[name], readSetting(key, undefined), `${key}: the default of ${name} is not the schema's`);
    }
    for (const key of hardware) assert.ok(!(settingName(key) in DEFAULT_CONFIG), `${key} is hardware, not an agent setting`);
  });

  it("each setting's value arrives under its name, in the manifest's form or the agent's", () => {
    for (const key of settingKeys().agent) {
      const name = settingName(key);
      const raw = nonDefault(key);
      const resolved = resolveConfig({ ...base, iotcEnv: 'qa', [name]: raw });
      const expected = readSetting(key, raw);
      assert.notDeepEqual(expected, DEFAULT_CONFIG[name], `${key}: the test value is the default`);
      assert.deepEqual(resolved[name], expected, key);
      // The agent's form (a boolean, a number, a list) is taken as it is.
      assert.deepEqual(resolveConfig({ ...base, iotcEnv: 'qa', [name]: expected })[name], expected, `${key} in the agent's form`);
    }
  });

  it('an old or misspelt name is refused, not ignored', () => {
    for (const old of ['serverUrl', 'keyObjectId', 'backendBodyMax', 'seKeyId', 'backendUrl', 'healthCheckDeadlineS', 'otaKeyId']) {
      assert.throws(() => resolveConfig({ ...base, [old]: 1 } as SettingsInput), (e: Error) => e.message === `config-invalid: ${old}: unknown setting`);
    }
  });

  it('holds each integer to the schema range at both edges, naming the manifest key', () => {
    for (const key of settingKeys().agent) {
      const spec = CONFIG_SCHEMA[key] as ConfigSpec;
      if (spec.type !== 'int') continue;
      const name = settingName(key);
      assert.equal(resolveConfig({ ...base, [name]: spec.min })[name], spec.min);
      assert.equal(resolveConfig({ ...base, [name]: String(spec.max) })[name], spec.max); // an mcconfig override: text
      for (const bad of [spec.min - 1, spec.max + 1, spec.min + 0.5, `${spec.min}s`, true]) assert.throws(() => resolveConfig({ ...base, [name]: bad }), invalid(key));
    }
  });

  it('holds the choices and the text settings to the schema', () => {
    assert.equal(resolveConfig({ ...base, tokenScheme: 'GatewayToken' }).tokenScheme, 'GatewayToken');
    assert.throws(() => resolveConfig({ ...base, tokenScheme: 'Bearer' }), invalid('otaTokenScheme'));
    assert.throws(() => resolveConfig({ ...base, autoConfirm: 'yes' }), invalid('otaAutoConfirm'));
    assert.equal(resolveConfig({ ...base, autoConfirm: 'false' }).autoConfirm, false);
    assert.throws(() => resolveConfig({ ...base, artifactPattern: '' }), invalid('otaArtifactPattern'));
    assert.throws(() => resolveConfig({ ...base, artifactPattern: 'x'.repeat(CONFIG_SCHEMA.otaArtifactPattern.maxLength + 1) }), invalid('otaArtifactPattern'));
    assert.throws(() => resolveConfig({ ...base, modulePart: 'a b' }), invalid('otaModulePart'));
    assert.equal(resolveConfig({ ...base, modulePart: 'bApp' }).modulePart, 'bApp');
    assert.throws(() => resolveConfig({ ...base, redirectCredentialOrigins: ['https://a.example/x'] }), invalid('otaRedirectCredentialOrigins'));
    assert.throws(() => resolveConfig({ ...base, url: 'ftp://x' }), invalid('otaUrl'));
    assert.throws(() => resolveConfig({ ...base, deviceId: '' }), invalid('otaDeviceId'));
    assert.equal(resolveConfig({ ...base, backend: 'manifest', deviceId: '' }).deviceId, '');
    assert.throws(() => resolveConfig({ ...base, backend: 'iotconnect' }), invalid('otaIotcEnv'));
  });
});
