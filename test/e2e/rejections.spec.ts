/**
 * End to end on XS in virtual time: images the device must refuse. Each is rejected with its
 * reason in the report, the secondary slot is never pending (its MCUboot trailer is read at the
 * end), the old image keeps running, and the device never reboots.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { sign as cryptoSign } from 'node:crypto';
import { DEVKIT_LAYOUT } from '../../tools/devkit/parts/sim-flash.js';
import { signImage } from '../../tools/image/imgtool-sign.js';
import { vectorDir } from '../support/paths.js';
import { makeImage } from '../support/devkit-update.js';
import { MCUBOOT_VECTORS_ENV } from '../support/mcuboot-vectors.js';
import { assertNothingPending, finals, run, story } from './e2e-support.js';

const dir = vectorDir(MCUBOOT_VECTORS_ENV, 'mcuboot');
const otherKeyPem = readFileSync(path.join(dir, 'keys', 'other-key-p256.pem'), 'utf8');

function signWith(keyPem: string, version: string, bodySize: number, slotSize = 0x60000): Uint8Array {
  const input = new Uint8Array(0x200 + bodySize);
  for (let i = 0x200; i < input.length; i++) input[i] = (i * 31) & 0xff;
  return signImage(input, { keyPem, version, slotSize, signFn: (region, key) => new Uint8Array(cryptoSign('sha256', region, key)) });
}

function badSignature(): Uint8Array {
  const image = makeImage('1.1.0', 4000).slice();
  // The last TLV is the ECDSA signature (DER): change a byte of S, the DER stays well formed.
  image[image.length - 3] ^= 0x01;
  return image;
}

const CASES: { name: string; image: () => Uint8Array; reason: RegExp }[] = [
  { name: 'bad signature', image: badSignature, reason: /signature/ },
  { name: 'signed with another key', image: () => signWith(otherKeyPem, '1.1.0', 4000), reason: /key/ },
  { name: 'downgrade', image: () => makeImage('0.9.0', 4000), reason: /downgrade/ },
  { name: 'unsigned', image: () => new Uint8Array(readFileSync(path.join(dir, 'images', 'small-v1.2.3+4.unsigned.bin'))), reason: /unsigned|signature|tlv/ },
  { name: 'too large for the slot', image: () => makeImageTooLarge(), reason: /large|overflow|slot/ },
];

function makeImageTooLarge(): Uint8Array {
  // The dev kit's secondary slot (the board's, 1 MiB), less the MCUboot trailer: a body of the
  // slot's size overflows it.
  const slot = DEVKIT_LAYOUT.secondary.size;
  return signWith(readFileSync(path.join(dir, 'keys', 'signing-key-p256.pem'), 'utf8'), '1.1.0', slot, 2 * slot);
}

describe('e2e: images the device refuses', function () {
  // The too-large case serves a 1 MiB image (the board's slot): about 25 s on a loaded 2-core host.
  this.timeout(120_000);

  for (const c of CASES) {
    it(`${c.name}: rejected with its reason, nothing pending, old image running, no reboot`, async () => {
      const s = await run({ image: c.image() });
      assert.equal(s.outcome, 'failed', story(s));
      assert.match(String(s.reason), c.reason, story(s));
      const f = finals(s);
      assert.equal(f.length, 1, story(s));
      assert.equal(f[0].what, 'closed/failure');
      assert.match(f[0].details, c.reason);
      assert.equal(s.versionAfter, '1.0.0+0');
      assert.deepEqual(s.mcuboot, ['none']);
      assert.deepEqual(s.resets, []);
      assert.ok(!s.logs.some((l) => l.event === 'stage.start' || l.event === 'reboot.swap'), story(s));
      assertNothingPending(s);
    });
  }
});
