/**
 * Staging in MCUboot's order (bootutil_public.c boot_set_next: magic, image_ok for PERM, then
 * swap_info), and a re-stage after a power cut at any operation of it: the agent's installer
 * re-verifies the image from flash (reload + finish, no download) and marks it pending; MCUboot
 * then swaps the new image in.
 */
import assert from 'node:assert/strict';
import { SlotInstaller } from '../../../src/agent/slot-installer.js';
import { SWAP_TYPE, TRAILER_FROM_END, flagUnit, swapInfoByte } from '../../../src/image/trailer.js';
import { markPending, readBootState, readSwapState } from '../../../src/slot/boot-state.js';
import { readSlotImage } from '../../../src/slot/slot-reader.js';
import { bootMcuboot } from '../../../tools/devkit/parts/sim-mcuboot.js';
import { isPowerCut, type TearMode } from '../../../tools/devkit/parts/sim-flash.js';
import { digest, factoryDevkit, makeImage, trustedKeyPem, verifier } from '../../support/devkit-update.js';

const IMAGE = makeImage('1.4.0+2', 9000);

/** A dev kit whose secondary holds IMAGE, written and verified by the agent's installer, not yet staged. */
async function verifiedDevkit() {
  const dk = factoryDevkit();
  const installer = new SlotInstaller({ primary: dk.primary, secondary: dk.secondary, digest, verifier });
  await installer.resume(0);
  for (let o = 0; o < IMAGE.length; o += 1000) await installer.write(IMAGE.subarray(o, o + 1000));
  installer.seal();
  await installer.finish();
  return { dk, installer };
}

/** What the machine does after a reset in 'stage': verify again from flash (no download), then stage. */
async function restage(dk: Awaited<ReturnType<typeof verifiedDevkit>>['dk']): Promise<{ imageWrites: number }> {
  const installer = new SlotInstaller({ primary: dk.primary, secondary: dk.secondary, digest, verifier });
  const before = dk.device.stats.bytesWritten;
  await installer.reload(IMAGE.length);
  await installer.finish();
  installer.stage();
  // Only trailer units may have been programmed: 16 (magic) + 8 + 8 bytes at most.
  return { imageWrites: dk.device.stats.bytesWritten - before };
}

describe('slot: stage in MCUboot order, re-stage after a cut', () => {
  it('writes the magic first, then swap_info (boot_set_next order); 2 operations for TEST', async () => {
    const { dk, installer } = await verifiedDevkit();
    const from = dk.powerCut.ops;
    // Cut at the second operation: the first (the magic) has landed, swap_info has not.
    dk.powerCut.afterOps(1, 'prefix');
    assert.throws(() => installer.stage(), (e: unknown) => isPowerCut(e));
    assert.equal(dk.powerCut.ops - from, 2);
    dk.powerCut.powerOn();
    const s = readSwapState(dk.secondary);
    assert.equal(s.magic, 'good');
    assert.equal(readBootState(dk.primary, dk.secondary).nextSwap, SWAP_TYPE.TEST, 'the request stands once the magic landed');
  });

  for (const tear of ['prefix', 'random'] as TearMode[]) {
    it(`a cut (${tear} tear) at every operation of stage: re-verify from flash + stage succeeds, MCUboot swaps the new image`, async () => {
      for (let n = 0; n < 2; n++) {
        const { dk, installer } = await verifiedDevkit();
        dk.powerCut.afterOps(n, tear);
        assert.throws(() => installer.stage(), (e: unknown) => isPowerCut(e));
        dk.powerCut.powerOn();
        const { imageWrites } = await restage(dk);
        assert.ok(imageWrites <= 32, `cut at ${n}: ${imageWrites} bytes programmed by the re-stage`);
        const r = bootMcuboot(dk, { trustedKeyPem });
        assert.deepEqual([r.outcome, r.version], ['test-swap', '1.4.0+2'], `cut at ${n}: ${r.log.join('; ')}`);
      }
    });
  }

  it('PERM: a cut after the magic still ends PERM on re-stage (image_ok written then)', async () => {
    const { dk } = await verifiedDevkit();
    const parsed = readSlotImage(dk.secondary, { digest });
    dk.powerCut.afterOps(1, 'prefix');
    assert.throws(() => markPending(dk.secondary, { permanent: true, verified: parsed }), (e: unknown) => isPowerCut(e));
    dk.powerCut.powerOn();
    assert.equal(readSwapState(dk.secondary).magic, 'good');
    markPending(dk.secondary, { permanent: true, verified: parsed });
    assert.equal(readSwapState(dk.secondary).imageOk, 'set');
    assert.equal(readBootState(dk.primary, dk.secondary).nextSwap, SWAP_TYPE.PERM);
    assert.equal(bootMcuboot(dk, { trustedKeyPem }).outcome, 'perm');
  });

  it('an older agent\'s leftover (swap_info written, magic not) is repaired, not a reason to download again', async () => {
    const { dk } = await verifiedDevkit();
    const s = dk.secondary.status();
    dk.secondary.write(s.size - TRAILER_FROM_END.swapInfo, flagUnit(swapInfoByte(SWAP_TYPE.TEST), s.eraseValue));
    assert.equal(readSwapState(dk.secondary).magic, 'unset');
    await restage(dk);
    assert.equal(bootMcuboot(dk, { trustedKeyPem }).version, '1.4.0+2');
  });

  it('without the verified image a torn trailer is refused (trailer-invalid), never erased blind', async () => {
    const { dk, installer } = await verifiedDevkit();
    dk.powerCut.afterOps(0, 'random');
    assert.throws(() => installer.stage(), (e: unknown) => isPowerCut(e));
    dk.powerCut.powerOn();
    if (readSwapState(dk.secondary).magic === 'unset') return; // the torn write left the magic erased
    assert.throws(() => markPending(dk.secondary), (e: unknown) => (e as { reason?: string }).reason === 'trailer-invalid');
  });
});
