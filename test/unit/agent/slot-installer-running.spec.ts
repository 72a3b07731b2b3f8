/**
 * What the machine asks of the running image through the slot installer (src/agent/slot-installer.ts),
 * on the simulated NOR flash with imgtool-signed images (test/fixtures/mcuboot, README.md says how
 * each was made): the running image's SEC_CNT (the anti-rollback floor) and whether MCUboot has an
 * image to revert to (issue 13.3).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { SlotInstaller } from '../../../src/agent/slot-installer.js';
import type { FlashPort } from '../../../src/platform/flash.js';
import { createDevkitFlash } from '../../../tools/devkit/parts/sim-flash.js';
import { fixturePath } from '../../support/paths.js';

const image = (name: string) => new Uint8Array(readFileSync(fixturePath('mcuboot', 'images', name)));

/** Program `bytes` at 0 of an erased slot, padded to the write alignment with the erase value. */
function program(slot: FlashPort, bytes: Uint8Array): void {
  const padded = new Uint8Array(Math.ceil(bytes.length / 8) * 8).fill(0xff);
  padded.set(bytes);
  slot.write(0, padded);
}

function installer(primary: Uint8Array, secondary?: Uint8Array): SlotInstaller {
  const flash = createDevkitFlash();
  program(flash.primary, primary);
  if (secondary) program(flash.secondary, secondary);
  // Neither hashing nor signatures are asked for here.
  const unused = {} as never;
  return new SlotInstaller({ primary: flash.primary, secondary: flash.secondary, digest: unused, verifier: unused });
}

describe('agent/slot-installer: the running image', () => {
  it('reads SEC_CNT from the protected TLV area (imgtool --security-counter 7)', () => {
    assert.equal(installer(image('small-v1.2.4+0.seccnt.bin')).runningSecurityCounter(), 7);
  });

  it('an image without a protected area has no SEC_CNT', () => {
    assert.equal(installer(image('small-v1.2.3+4.signed.bin')).runningSecurityCounter(), undefined);
  });

  it('can revert only when the secondary slot holds an image (after a test swap: the previous one)', () => {
    assert.equal(installer(image('small-v1.2.3+4.signed.bin')).canRevert(), false, 'a factory image, nothing in the secondary');
    assert.equal(installer(image('small-v1.2.4+0.seccnt.bin'), image('small-v1.2.3+4.signed.bin')).canRevert(), true);
  });
});
