/**
 * `xs-ota image delta` and `xs-ota image inspect` on a delta (tools/delta/cli.ts): the delta is
 * made by xdelta3, checked by the agent's decoder, its report names what a manifest needs; inspect
 * lists the windows and, given the right source, what it rebuilds (and refuses the wrong one).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspectDelta, makeDelta } from '../../../tools/delta/cli.js';
import { haveXdelta3 } from '../../../tools/delta/encode.js';
import { imageId } from '../../../tools/delta/image-id.js';
import { fixturePath } from '../../support/paths.js';

const fw = (name: string) => new Uint8Array(readFileSync(fixturePath('firmware', name)));
const V1 = fw('fw-v1.0.0+1.signed.bin');
const V2 = fw('fw-v1.1.0+2.signed.bin');

describe('delta: xs-ota image delta / inspect', () => {
  it('image delta: makes, checks and describes the delta', async function () {
    if (!haveXdelta3()) {
      if (process.env.CI) throw new Error('xdelta3 is not installed (CI installs it in .ci/run)');
      this.skip();
    }
    const dir = mkdtempSync(join(tmpdir(), 'xs-ota-delta-cli-'));
    try {
      const out = join(dir, 'd.vcdiff');
      const r = await makeDelta(V1, V2, out);
      const bytes = readFileSync(out);
      assert.equal(r.delta.size, bytes.length);
      assert.ok(r.ratio < 0.1, `${r.ratio}`);
      assert.equal(r.manifestEntry.fromImageHash, imageId(V1).imageHash);
      assert.equal(r.manifestEntry.fromVersion, '1.0.0+1');
      assert.equal(r.to.version, '1.1.0+2');
      assert.equal(r.delta.windows, 2, '16 KiB windows over a 20 KB image');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('image delta refuses a padded source (the device\'s source is the unpadded image)', async () => {
    const padded = new Uint8Array(V1.length + 4096).fill(0xff);
    padded.set(V1);
    await assert.rejects(makeDelta(padded, V2, '/nonexistent/out'), /padded/);
  });

  it('inspect: windows, source span, and what the delta rebuilds from the right source', async () => {
    const delta = fw('v1.0.0+1-to-v1.1.0+2.vcdiff');
    const r = await inspectDelta('d', delta, V1);
    assert.equal(r.verdict, 'valid');
    assert.equal(r.windows.length, 2);
    assert.equal(r.targetLength, V2.length);
    assert.ok(r.windows.every((w) => w.segment === 'source' && w.adler32 !== null));
    assert.equal(r.to?.fileSha256, imageId(V2).fileSha256);
    const wrong = await inspectDelta('d', delta, V2);
    assert.equal(wrong.verdict, 'reject');
    assert.equal(wrong.reason, 'delta-checksum');
    const cut = await inspectDelta('d', delta.subarray(0, 40));
    assert.equal(cut.verdict, 'reject');
    assert.equal(cut.reason, 'delta-malformed');
  });
});
