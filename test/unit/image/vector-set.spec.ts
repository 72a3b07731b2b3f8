/**
 * The vector loaders work on any set in the public set's format (README: "the same tests run
 * against another set"): seeds come from the set's vectors.json, not from fixed file names, and a
 * failing_check text the reason mapping does not know means "must be rejected".
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ImageStream } from '../../../src/image/image-stream.js';
import { NodeDigest } from '../../../tools/node/node-digest.js';
import { expectedReason, loadMcubootVectors, MCUBOOT_VECTORS_ENV, MUST_REJECT, validSignedImages, vectorWithReason, verdictMatches } from '../../support/mcuboot-vectors.js';

describe('test/support mcuboot-vectors: another set in the same format', () => {
  let dir: string;
  let saved: string | undefined;

  before(() => {
    const original = loadMcubootVectors();
    dir = mkdtempSync(path.join(tmpdir(), 'xs-ota-vectors-'));
    cpSync(original.dir, dir, { recursive: true });
    const json = JSON.parse(readFileSync(path.join(dir, 'vectors.json'), 'utf8')) as { vectors: { file: string; expected_verdict: string; failing_check: string | null }[] };
    // Rename every file and reword every failing check: nothing may depend on the public set's names.
    for (const v of json.vectors) {
      const renamed = v.file.replace(/^images\//, 'images/other-');
      renameSync(path.join(dir, v.file), path.join(dir, renamed));
      v.file = renamed;
      if (v.failing_check) v.failing_check = `vendor check #${json.vectors.indexOf(v)}`;
    }
    writeFileSync(path.join(dir, 'vectors.json'), JSON.stringify(json));
    saved = process.env[MCUBOOT_VECTORS_ENV];
    process.env[MCUBOOT_VECTORS_ENV] = dir;
  });

  after(() => {
    if (saved === undefined) delete process.env[MCUBOOT_VECTORS_ENV];
    else process.env[MCUBOOT_VECTORS_ENV] = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  it('the fuzz seeds are the valid signed images named in its vectors.json', () => {
    const set = loadMcubootVectors();
    assert.equal(set.dir, path.resolve(dir));
    const seeds = validSignedImages(set);
    assert.ok(seeds.length >= 3);
    for (const s of seeds) assert.match(s.file, /^images\/other-/);
    for (const s of seeds) {
      const stream = new ImageStream({ digest: new NodeDigest() });
      assert.equal(stream.push(s.bytes), s.bytes.length);
      stream.finish();
    }
  });

  it('an unknown failing_check means "must be rejected" instead of stopping the run', () => {
    const set = loadMcubootVectors();
    const rejected = set.vectors.filter((v) => v.expected_verdict === 'reject');
    assert.ok(rejected.length > 0);
    for (const v of rejected) assert.equal(expectedReason(v), MUST_REJECT);
    assert.equal(vectorWithReason(set, 'hash-mismatch'), undefined);
    assert.ok(verdictMatches(MUST_REJECT, 'hash-mismatch'));
    assert.ok(!verdictMatches(MUST_REJECT, 'valid'));
    assert.ok(verdictMatches('valid', 'valid'));
  });
});
