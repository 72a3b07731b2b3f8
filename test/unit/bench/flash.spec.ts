/**
 * The bench's flash section (tools/bench/flash.ts): without the SDK it has no rows and says why;
 * with it ($MODDABLE with its Linux tools built) it measures each bundle with the real host tools,
 * and a one-modem bundle (OTA_MODEM) costs less than the default one with both drivers.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { FLASH_BUNDLES, FLASH_TARGET_BYTES, flashSection } from '../../../tools/bench/flash.js';
import { sdkToolDir } from '../../../tools/moddable/host-build.js';

describe('bench flash section (tools/bench/flash.ts)', function () {
  this.timeout(120_000);

  it('without $MODDABLE: no rows, and a note saying why', () => {
    const saved = process.env.MODDABLE;
    delete process.env.MODDABLE;
    try {
      const section = flashSection();
      assert.deepEqual(section.rows, []);
      assert.match(section.notes[0]!, /^skipped: MODDABLE is not set/);
    } finally {
      if (saved !== undefined) process.env.MODDABLE = saved;
    }
  });

  const moddable = process.env.MODDABLE;
  const sdk = moddable !== undefined && existsSync(path.join(sdkToolDir(moddable), 'xsl'));
  (sdk ? it : it.skip)('with the SDK: each bundle measured, the one-modem builds below the default (skipped without $MODDABLE)', () => {
    const rows = flashSection().rows;
    assert.deepEqual(rows.map((r) => r.bundle), [...FLASH_BUNDLES]);
    const bytes = Object.fromEntries(rows.map((r) => [r.bundle, r.agentFlashBytes as number]));
    for (const r of rows) {
      assert.ok((r.agentFlashBytes as number) > 50_000, `${r.bundle}: ${r.agentFlashBytes}`);
      assert.equal(r.ratio, Math.round(((r.agentFlashBytes as number) / FLASH_TARGET_BYTES) * 1000) / 1000);
    }
    assert.ok(bytes['hawkbit-sim7080']! < bytes['hawkbit']! && bytes['hawkbit-sim7600']! < bytes['hawkbit']!, JSON.stringify(bytes));
    assert.ok(bytes['hawkbit-tls-delta']! > bytes['hawkbit']!, JSON.stringify(bytes));
  });
});
