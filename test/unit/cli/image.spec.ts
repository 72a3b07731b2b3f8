/** `xs-ota image inspect` gives every public vector its expected verdict; `image sign` output is accepted. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { command } from '../../../tools/cli/image.js';
import { expectedReason, loadMcubootVectors } from '../../support/mcuboot-vectors.js';

const set = loadMcubootVectors();
const key = (name: string, kind: 'public_pem' | 'private_pem') => path.join(set.dir, set.keys.find((k) => k.name === name)![kind]);
const TRUSTED_PUB = key(set.trusted_key, 'public_pem');

/** Runs the command in-process, capturing what it prints. */
async function cli(...args: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const [log, err] = [console.log, console.error];
  console.log = (...a: unknown[]) => void lines.push(a.join(' '));
  console.error = (...a: unknown[]) => void lines.push(a.join(' '));
  try {
    const code = await command.run(args);
    return { code, out: lines.join('\n') };
  } finally {
    console.log = log;
    console.error = err;
  }
}

describe('CLI: xs-ota image', () => {
  for (const v of set.vectors) {
    const reason = expectedReason(v);
    it(`inspect ${v.file} --key trusted: ${reason ?? 'valid'}`, async () => {
      const r = await cli('inspect', path.join(set.dir, v.file), '--key', TRUSTED_PUB, '--json');
      const report = JSON.parse(r.out);
      assert.equal(r.code, reason ? 1 : 0);
      assert.equal(report.verdict, reason ? 'reject' : 'valid');
      assert.equal(report.reason, reason);
      if (!reason) assert.equal(report.signatureChecked, true);
      if (report.hash) assert.equal(report.hash.computed, v.sha256_hash_region_computed);
    });
  }

  it('sign then inspect: accepted; human output names the verdict', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'xs-ota-sign-'));
    try {
      const input = path.join(dir, 'app.bin');
      writeFileSync(input, new Uint8Array(0x200 + 5000).fill(0x42, 0x200));
      const out = path.join(dir, 'app.signed.bin');
      const s = await cli('sign', '--key', key(set.trusted_key, 'private_pem'), '--version', '1.2.3+4', '--header-size', '0x200', '--align', '8', '--slot-size', '0x60000', '--pad', '--confirm', '--security-counter', '3', '--custom-tlv', '0xa0', '0x0102', input, out);
      assert.equal(s.code, 0, s.out);
      const r = await cli('inspect', out, '--key', TRUSTED_PUB);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /verdict {2}VALID/);
      assert.match(r.out, /MCUboot swap: perm/);
      assert.match(r.out, /SEC_CNT {2}3/);
      const other = await cli('inspect', out, '--key', key('other-key-p256', 'public_pem'));
      assert.equal(other.code, 1);
      assert.match(other.out, /REJECT: key-mismatch/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('usage errors exit 2', async () => {
    assert.equal((await cli('inspect')).code, 2);
    assert.equal((await cli('sign', 'a')).code, 2);
    assert.equal((await cli('frobnicate')).code, 2);
  });
});
