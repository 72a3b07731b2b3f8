/** Agent settings: the MCUboot trailer size policy. */
import assert from 'node:assert/strict';
import { resolveConfig } from '../../../src/agent/config.js';
import { trailerSize } from '../../../src/image/trailer.js';

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
