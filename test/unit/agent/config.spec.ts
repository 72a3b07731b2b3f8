/** Agent settings: the MCUboot trailer size policy. */
import assert from 'node:assert/strict';
import { resolveConfig } from '../../../src/agent/config.js';
import { trailerSize } from '../../../src/image/trailer.js';
import { CONFIG_SCHEMA, MANIFEST_KEY, type AgentConfig, type ConfigSpec } from '../../../src/agent/config.js';

const base = { serverUrl: 'https://h.example', deviceId: 'd1' };

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

describe('agent config: the backend policy settings the manifest carries (MANIFEST_KEY)', () => {
  const invalid = (key: string) => (e: Error & { reason?: string }) => e.reason === 'config-invalid' && e.message.includes(`${key} (${(MANIFEST_KEY as Record<string, string>)[key]})`);

  it('has each schema default as the agent default', () => {
    const config = resolveConfig(base);
    assert.equal(config.tokenScheme, CONFIG_SCHEMA.otaTokenScheme.default);
    assert.equal(config.artifactPattern, CONFIG_SCHEMA.otaArtifactPattern.default);
    assert.equal(config.modulePart, CONFIG_SCHEMA.otaModulePart.default);
    assert.equal(String(config.autoConfirm), CONFIG_SCHEMA.otaAutoConfirm.default);
    assert.equal(config.backendBodyMax, CONFIG_SCHEMA.otaBodyMax.default);
    assert.equal(config.urlMax, CONFIG_SCHEMA.otaUrlMax.default);
    assert.equal(config.maxRedirects, CONFIG_SCHEMA.otaMaxRedirects.default);
    assert.equal(config.redirectCredentialOrigins.join(','), CONFIG_SCHEMA.otaRedirectCredentialOrigins.default);
  });

  it('holds each integer to the schema range at both edges, naming both keys', () => {
    for (const key of ['backendBodyMax', 'urlMax', 'maxRedirects'] as const) {
      const spec = CONFIG_SCHEMA[MANIFEST_KEY[key]] as ConfigSpec;
      assert.equal(spec.type, 'int');
      if (spec.type !== 'int') continue;
      assert.equal(resolveConfig({ ...base, [key]: spec.min })[key], spec.min);
      assert.equal(resolveConfig({ ...base, [key]: spec.max })[key], spec.max);
      for (const bad of [spec.min - 1, spec.max + 1, spec.min + 0.5]) assert.throws(() => resolveConfig({ ...base, [key]: bad }), invalid(key));
    }
  });

  it('holds the token scheme and the text settings to the schema', () => {
    assert.equal(resolveConfig({ ...base, tokenScheme: 'GatewayToken' }).tokenScheme, 'GatewayToken');
    assert.throws(() => resolveConfig({ ...base, tokenScheme: 'Bearer' as AgentConfig['tokenScheme'] }), invalid('tokenScheme'));
    assert.throws(() => resolveConfig({ ...base, artifactPattern: '' }), invalid('artifactPattern'));
    assert.throws(() => resolveConfig({ ...base, artifactPattern: 'x'.repeat(CONFIG_SCHEMA.otaArtifactPattern.maxLength + 1) }), invalid('artifactPattern'));
    assert.throws(() => resolveConfig({ ...base, modulePart: 'a b' }), invalid('modulePart'));
    assert.equal(resolveConfig({ ...base, modulePart: 'bApp' }).modulePart, 'bApp');
    assert.throws(() => resolveConfig({ ...base, redirectCredentialOrigins: ['https://a.example/x'] }), (e: Error & { reason?: string }) => e.reason === 'config-invalid' && /redirectCredentialOrigins/.test(e.message));
  });
});
