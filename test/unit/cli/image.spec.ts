/** `xs-ota image inspect` gives every public vector its expected verdict; `image sign` output is accepted. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { command } from '../../../tools/cli/image.js';
import { expectedReason, loadMcubootVectors, MUST_REJECT, vectorWithReason, validSignedImages } from '../../support/mcuboot-vectors.js';
import { runCaptured } from '../../support/cli-capture.js';

const set = loadMcubootVectors();
const key = (name: string, kind: 'public_pem' | 'private_pem') => path.join(set.dir, set.keys.find((k) => k.name === name)![kind]);
const TRUSTED_PUB = key(set.trusted_key, 'public_pem');

const cli = (...args: string[]) => runCaptured(command, args);

describe('CLI: xs-ota image', () => {
  for (const v of set.vectors) {
    const reason = expectedReason(v);
    it(`inspect ${v.file} --key trusted: ${reason ?? 'valid'}`, async () => {
      const r = await cli('inspect', path.join(set.dir, v.file), '--key', TRUSTED_PUB, '--json');
      const report = JSON.parse(r.out);
      assert.equal(r.code, reason ? 1 : 0);
      assert.equal(report.verdict, reason ? 'reject' : 'valid');
      if (reason !== MUST_REJECT) assert.equal(report.reason, reason);
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

  it('sign --align-end 0x10000: the image ends on a 64 KiB boundary and inspects VALID; too-large when it cannot fit the slot', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'xs-ota-align-end-'));
    try {
      const input = path.join(dir, 'app.bin');
      writeFileSync(input, new Uint8Array(0x200 + 100_000).fill(0x42, 0x200));
      const out = path.join(dir, 'app.signed.bin');
      const base = ['sign', '--key', key(set.trusted_key, 'private_pem'), '--version', '1.2.3+4', '--slot-size', '0x60000'];
      const s = await cli(...base, '--align-end', '0x10000', input, out);
      assert.equal(s.code, 0, s.out);
      assert.equal(readFileSync(out).length, 0x20000);
      const r = await cli('inspect', out, '--key', TRUSTED_PUB);
      assert.equal(r.code, 0, r.out);
      const tooLarge = await cli(...base, '--align-end', '0x80000', input, path.join(dir, 'big.bin'));
      assert.notEqual(tooLarge.code, 0);
      assert.match(tooLarge.out, /too-large/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('--help and -h on image, inspect and sign print the usage, exit 0 and do nothing else', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'xs-ota-help-'));
    try {
      const out = path.join(dir, 'never.bin');
      for (const args of [['--help'], ['-h'], ['inspect', '--help'], ['inspect', '-h'], ['sign', '--help'], ['sign', '--key', 'k.pem', '--version', '1.0.0', 'in.bin', out, '-h']]) {
        const r = await cli(...args);
        assert.equal(r.code, 0, args.join(' '));
        assert.match(r.out, /^usage:/, args.join(' '));
      }
      assert.ok(!existsSync(out), 'sign --help wrote nothing');
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('inspect without --key says the signature was not checked and exits 1 (0 with --no-verify)', async () => {
    const tampered = vectorWithReason(set, 'bad-signature');
    const file = path.join(set.dir, tampered ? tampered.file : validSignedImages(set)[0].file);
    const r = await cli('inspect', file);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /signature NOT CHECKED \(no --key\)/);
    assert.match(r.out, /verdict {2}NOT VERIFIED/);
    assert.doesNotMatch(r.out, /VALID$/m);
    const json = JSON.parse((await cli('inspect', file, '--json')).out);
    assert.equal(json.verdict, 'unverified');
    assert.equal((await cli('inspect', file, '--no-verify')).code, 0);
    assert.equal((await cli('inspect', file, '--no-verify', '--key', TRUSTED_PUB)).code, 2);
  });

  it('sign --security-counter beyond u32 and --public-key-format full are usage errors; nothing written', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'xs-ota-sign-'));
    try {
      const input = path.join(dir, 'app.bin');
      writeFileSync(input, new Uint8Array(0x200 + 100));
      const out = path.join(dir, 'out.bin');
      const base = ['sign', '--key', key(set.trusted_key, 'private_pem'), '--version', '1.0.0'];
      const big = await cli(...base, '--security-counter', '4294967296', input, out);
      assert.equal(big.code, 2);
      assert.match(big.out, /--security-counter needs a whole number 0\.\.4294967295/);
      assert.equal((await cli(...base, '--security-counter', '-1', input, out)).code, 2);
      const full = await cli(...base, '--public-key-format', 'full', input, out);
      assert.equal(full.code, 2);
      assert.match(full.out, /MCUBOOT_HW_KEY/);
      assert.ok(!existsSync(out));
      assert.equal((await cli(...base, '--security-counter', '4294967295', input, out)).code, 0);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('a missing file or a bad key is one line, exit 1, no raw OpenSSL or TypeError text', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'xs-ota-bad-'));
    try {
      const garbage = path.join(dir, 'garbage.pem');
      writeFileSync(garbage, 'not a key at all');
      const file = path.join(set.dir, validSignedImages(set)[0].file);
      for (const args of [['inspect', file, '--key', garbage], ['inspect', path.join(dir, 'missing.bin')], ['inspect', file, '--key', path.join(dir, 'missing.pem')]]) {
        const r = await cli(...args);
        assert.equal(r.code, 1, args.join(' '));
        assert.equal(r.out.split('\n').length, 1, r.out);
        assert.doesNotMatch(r.out, /error:[0-9A-F]{8}|DECODER routines|TypeError|at .*\.js/);
      }
      const input = path.join(dir, 'app.bin');
      writeFileSync(input, new Uint8Array(0x200 + 100));
      const sign = await cli('sign', '--key', garbage, '--version', '1.0.0', input, path.join(dir, 'o.bin'));
      assert.equal(sign.code, 1, sign.out);
      assert.doesNotMatch(sign.out, /error:[0-9A-F]{8}|DECODER routines/);
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
