/**
 * `xs-ota release check`: each bad case fails its own rule with its reason, and only that rule
 * (except where one fault breaks two rules, e.g. a flipped body byte breaks hash and signature).
 * Inputs: the imgtool 2.4.0 vectors (test/fixtures/mcuboot) and images signed here by
 * tools/image/imgtool-sign.ts with the vector set's keys.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { command, type ReleaseReport, type RuleName } from '../../../tools/cli/release.js';
import { signImage } from '../../../tools/image/imgtool-sign.js';
import { TLV_INFO_MAGIC } from '../../../src/image/tlv.js';
import { loadMcubootVectors } from '../../support/mcuboot-vectors.js';
import { fixturePath } from '../../support/paths.js';
import { runCaptured } from '../../support/cli-capture.js';

const set = loadMcubootVectors();
const keyFile = (name: string, kind: 'public_pem' | 'private_pem') => path.join(set.dir, set.keys.find((k) => k.name === name)![kind]);
const FLEET_PUB = keyFile(set.trusted_key, 'public_pem');
const FLEET_KEY = readFileSync(keyFile(set.trusted_key, 'private_pem'), 'utf8');
const vector = (file: string) => path.join(set.dir, 'images', file);

const cli = (...args: string[]) => runCaptured(command, args);

/** A payload of `size` body bytes behind a 0x200 zero header (imgtool's input layout). */
function body(size: number, fill = 0x5a): Uint8Array {
  return new Uint8Array(0x200 + size).fill(fill, 0x200);
}

describe('CLI: xs-ota release check', () => {
  let dir: string;
  const file = (name: string, bytes: Uint8Array) => {
    const p = path.join(dir, name);
    writeFileSync(p, bytes);
    return p;
  };
  let OLD: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'xs-ota-release-'));
    OLD = file('old-1.0.0.bin', signImage(body(2000, 0x11), { keyPem: FLEET_KEY, version: '1.0.0+0' }));
  });
  after(() => rmSync(dir, { recursive: true }));

  async function check(image: string, ...extra: string[]): Promise<{ code: number; report: ReleaseReport }> {
    const r = await cli('check', '--key', FLEET_PUB, '--previous', OLD, image, '--json', ...extra);
    return { code: r.code, report: JSON.parse(r.out) as ReleaseReport };
  }
  /** The rules that did not pass (skipped delta aside), with their reasons. */
  const failures = (report: ReleaseReport) =>
    Object.fromEntries(report.rules.filter((r) => r.status !== 'pass' && r.status !== 'skipped').map((r) => [r.rule, r.reason ?? r.status])) as Partial<Record<RuleName, string>>;

  it('a good release passes every rule and exits 0 (imgtool vector with SEC_CNT 7)', async () => {
    const { code, report } = await check(vector('small-v1.2.4+0.seccnt.bin'));
    assert.equal(code, 0, JSON.stringify(report));
    assert.equal(report.verdict, 'pass');
    assert.deepEqual(failures(report), {});
    assert.equal(report.version, '1.2.4+0');
    assert.equal(report.securityCounter, 7);
    assert.equal(report.rules.find((r) => r.rule === 'delta')!.status, 'skipped');
  });

  it('the CI log form has one line per rule and a summary', async () => {
    const r = await cli('check', '--key', FLEET_PUB, '--previous', OLD, vector('small-v1.2.3+4.tampered-sig.bin'));
    assert.equal(r.code, 1);
    assert.match(r.out, /^ {2}FAIL {6}signature {8}bad-signature: /m);
    assert.match(r.out, /^ {2}PASS {6}hash /m);
    assert.match(r.out, /release check: FAIL \(1 rule not passed\)$/);
    assert.equal(r.out.split('\n').length, 1 + 7 + 1);
  });

  const cases: { name: string; image: () => string; extra?: string[]; expect: Partial<Record<RuleName, string>> }[] = [
    { name: 'signature flipped (vector)', image: () => vector('small-v1.2.3+4.tampered-sig.bin'), expect: { signature: 'bad-signature' } },
    { name: 'signed by another key (vector)', image: () => vector('small-v1.2.3+4.other-key.bin'), expect: { signature: 'key-mismatch' } },
    { name: 'unsigned (vector)', image: () => vector('small-v1.2.3+4.unsigned.bin'), expect: { signature: 'signature-missing' } },
    { name: 'body byte flipped (vector)', image: () => vector('small-v1.2.3+4.tampered-body.bin'), expect: { hash: 'hash-mismatch', signature: 'bad-signature' } },
    { name: 'protected TLV flipped (vector)', image: () => vector('small-v1.2.4+0.seccnt.tampered-prot-tlv.bin'), expect: { hash: 'hash-mismatch', signature: 'bad-signature' } },
    {
      name: 'truncated (vector): format fails, the rest cannot be checked',
      image: () => vector('small-v1.2.3+4.truncated.bin'),
      expect: { format: 'truncated', 'fits-slot': 'unchecked', signature: 'unchecked', version: 'unchecked', 'security-counter': 'unchecked', hash: 'unchecked' },
    },
    { name: 'same version as the previous release', image: () => file('same.bin', signImage(body(2100), { keyPem: FLEET_KEY, version: '1.0.0+0' })), expect: { version: 'same-version' } },
    { name: 'older than the previous release', image: () => file('older.bin', signImage(body(2100), { keyPem: FLEET_KEY, version: '0.9.9+9' })), expect: { version: 'downgrade' } },
    {
      name: 'security counter lower than the previous release',
      image: () => file('seccnt-low.bin', signImage(body(2100), { keyPem: FLEET_KEY, version: '1.5.0+0', securityCounter: 3 })),
      extra: ['--previous', vector('small-v1.2.4+0.seccnt.bin')],
      expect: { 'security-counter': 'security-counter-rollback' },
    },
    {
      name: 'does not fit the slot with its trailer',
      image: () => file('big.bin', signImage(body(20_000), { keyPem: FLEET_KEY, version: '1.1.0+0' })),
      extra: ['--slot-size', '0x5000'],
      expect: { 'fits-slot': 'too-large' },
    },
    {
      name: 'header flag the fleet MCUboot does not handle (encrypted), which also breaks the hash',
      image: () => {
        const img = signImage(body(2100), { keyPem: FLEET_KEY, version: '1.1.0+0' });
        img[16] |= 0x04; // ih_flags IMAGE_F_ENCRYPTED_AES128
        return file('flag.bin', img);
      },
      expect: { format: 'unsupported-flags', hash: 'hash-mismatch', signature: 'bad-signature' },
    },
    {
      name: 'flag and too large: both structural rules report',
      image: () => {
        const img = signImage(body(20_000), { keyPem: FLEET_KEY, version: '1.1.0+0' });
        img[16] |= 0x20; // IMAGE_F_RAM_LOAD
        return file('flag-big.bin', img);
      },
      extra: ['--slot-size', '0x5000'],
      expect: { format: 'unsupported-flags', 'fits-slot': 'too-large', hash: 'hash-mismatch', signature: 'bad-signature' },
    },
    {
      name: 'unprotected TLV outside MCUboot allow-list',
      image: () => {
        const img = signImage(body(2100), { keyPem: FLEET_KEY, version: '1.1.0+0' });
        const start = 0x200 + 2100;
        const view = new DataView(img.buffer);
        assert.equal(view.getUint16(start, true), TLV_INFO_MAGIC);
        const out = new Uint8Array(img.length + 8);
        out.set(img);
        // SEC_CNT in the unprotected area: anyone could change it without breaking the signature.
        out.set([0x50, 0x00, 0x04, 0x00, 9, 0, 0, 0], img.length);
        new DataView(out.buffer).setUint16(start + 2, view.getUint16(start + 2, true) + 8, true);
        return file('unprot.bin', out);
      },
      expect: { format: 'tlv-unknown', 'fits-slot': 'unchecked', signature: 'unchecked', version: 'unchecked', 'security-counter': 'unchecked', hash: 'unchecked' },
    },
  ];
  for (const c of cases) {
    it(`rejects: ${c.name}`, async () => {
      const { code, report } = await check(c.image(), ...(c.extra ?? []));
      assert.equal(code, 1);
      assert.equal(report.verdict, 'fail');
      assert.deepEqual(failures(report), c.expect);
      assert.equal(report.failed, Object.keys(c.expect).length);
    });
  }

  // The firmware fixtures (test/fixtures/firmware/README.md): gcc-arm-none-eabi builds signed with
  // the fleet key, and their deltas made by xdelta3 with the tools' flags.
  const fw = (name: string) => fixturePath('firmware', name);
  const deltaRule = (report: ReleaseReport) => report.rules.find((r) => r.rule === 'delta')!;

  it('passes: a delta that rebuilds the new release from the previous one byte for byte', async () => {
    const r = await cli('check', '--key', FLEET_PUB, '--previous', fw('fw-v1.0.0+1.signed.bin'), fw('fw-v1.1.0+2.signed.bin'), '--delta', fw('v1.0.0+1-to-v1.1.0+2.vcdiff'), '--json');
    const report = JSON.parse(r.out) as ReleaseReport;
    assert.equal(r.code, 0, r.out);
    assert.equal(deltaRule(report).status, 'pass');
  });

  it('rejects: a delta made for another target (v1.2.0) offered with v1.1.0, only the delta rule fails', async () => {
    const r = await cli('check', '--key', FLEET_PUB, '--previous', fw('fw-v1.0.0+1.signed.bin'), fw('fw-v1.1.0+2.signed.bin'), '--delta', fw('v1.0.0+1-to-v1.2.0+3.vcdiff'), '--json');
    const report = JSON.parse(r.out) as ReleaseReport;
    assert.equal(r.code, 1);
    assert.equal(report.failed, 1);
    assert.equal(deltaRule(report).status, 'fail');
    assert.equal(deltaRule(report).reason, 'delta-mismatch');
  });

  it('rejects: a delta made from another source: it does not rebuild the image, typed reason', async () => {
    const r = await cli('check', '--key', FLEET_PUB, '--previous', fw('fw-v1.0.0+1.signed.bin'), fw('fw-v1.2.0+3.signed.bin'), '--delta', fw('v1.1.0+2-to-v1.2.0+3.vcdiff'), '--json');
    const report = JSON.parse(r.out) as ReleaseReport;
    assert.equal(r.code, 1);
    assert.equal(report.failed, 1);
    const rule = deltaRule(report);
    assert.equal(rule.status, 'fail');
    assert.match(rule.reason ?? '', /^delta-/);
  });

  it('usage errors exit 2', async () => {
    assert.equal((await cli('check', '--previous', OLD, OLD)).code, 2);
    assert.equal((await cli('check', '--key', FLEET_PUB, OLD)).code, 2);
    assert.equal((await cli('check', '--key', FLEET_PUB, '--previous', OLD)).code, 2);
    assert.equal((await cli('check', '--key', OLD, '--previous', OLD, OLD)).code, 2);
    assert.equal((await cli('check', '--key', FLEET_PUB, '--previous', path.join(dir, 'missing.bin'), OLD)).code, 2);
    assert.equal((await cli('check', '--key', FLEET_PUB, '--previous', OLD, OLD, '--slot-size', 'x')).code, 2);
    assert.equal((await cli('verify')).code, 2);
  });
});
