/**
 * Slot writer + trailer + simulated MCUboot (swap using scratch) on the dev kit's flash: the
 * update outcomes MCUboot documents, the vector set's cross-check results, and a power cut at
 * every flash operation of a small update.
 */
import assert from 'node:assert/strict';
import { isOtaError } from '../../../src/util/errors.js';
import { bootOutcome, confirmPrimary, markPending, readBootState } from '../../../src/slot/boot-state.js';
import { SWAP_TYPE } from '../../../src/image/trailer.js';
import { unhex } from '../../../src/util/bytes.js';
import { OtaError } from '../../../src/util/errors.js';
import { readSlotImage } from '../../../src/slot/slot-reader.js';
import { bootMcuboot } from '../../../tools/devkit/parts/sim-mcuboot.js';
import { createDevkitFlash, isPowerCut, type DevkitFlash, type TearMode, SMALL_SLOT_LAYOUT } from '../../../tools/devkit/parts/sim-flash.js';
import { expectedReason, vectorBytes } from '../../support/mcuboot-vectors.js';
import { digest, factoryDevkit, imageSha, makeImage, OLD_IMAGE, programRaw, trustedKeyPem, vectors, writeAndStage } from '../../support/devkit-update.js';

const NEW_IMAGE = makeImage('1.0.0+1', 3000);
const OLD = imageSha(OLD_IMAGE);
const NEW = imageSha(NEW_IMAGE);
const boot = (dk: DevkitFlash) => bootMcuboot(dk, { trustedKeyPem });

describe('slot + MCUboot simulator: update outcomes', () => {
  it('factory state boots the old image with no swap', () => {
    const r = boot(factoryDevkit());
    assert.deepEqual([r.booted, r.outcome, r.version], ['primary', 'none', '0.0.1+0']);
  });

  it('happy path: test swap, new image runs unconfirmed, confirm, stays', () => {
    const dk = factoryDevkit();
    writeAndStage(dk.secondary, NEW_IMAGE);
    assert.equal(readBootState(dk.primary, dk.secondary).nextSwap, SWAP_TYPE.TEST);
    assert.equal(bootOutcome(dk.primary, dk.secondary, unhex(NEW)), 'pending');
    const r1 = boot(dk);
    assert.deepEqual([r1.outcome, r1.version, r1.imageHash], ['test-swap', '1.0.0+1', NEW]);
    assert.equal(bootOutcome(dk.primary, dk.secondary, unhex(NEW)), 'new-testing');
    assert.equal(readBootState(dk.primary, dk.secondary).nextSwap, SWAP_TYPE.REVERT);
    confirmPrimary(dk.primary);
    assert.equal(bootOutcome(dk.primary, dk.secondary, unhex(NEW)), 'new-confirmed');
    const r2 = boot(dk);
    assert.deepEqual([r2.outcome, r2.version], ['none', '1.0.0+1']);
    confirmPrimary(dk.primary); // idempotent
    assert.equal(dk.device.stats.rewrites, 0, 'no flash unit programmed twice');
    // Deterministic cost figures of the whole update (factory image, write, stage, swap, confirm);
    // On this 4 KiB layout MCUboot (v2.2+, sector by sector) pays a 45 ms sector erase for every
    // sector it erases, the scratch's 16 included (tools/devkit/parts/sim-flash.ts).
    assert.deepEqual(
      { erases: dk.device.stats.erases, writes: dk.device.stats.writes, busyMs: Math.round(dk.device.stats.busyUs / 1000) },
      { erases: 39, writes: 35, busyMs: 1785 },
    );
  });

  it('markPending refuses a slot that no longer holds the verified image', () => {
    const dk = factoryDevkit();
    writeAndStage(dk.secondary, NEW_IMAGE);
    const other = factoryDevkit();
    programRaw(other.secondary, makeImage('9.9.9', 100));
    const verified = readSlotImage(dk.secondary, { digest });
    assert.throws(() => markPending(other.secondary, { verified }), (e: unknown) => e instanceof OtaError && e.reason === 'hash-mismatch');
    assert.equal(readBootState(other.primary, other.secondary).nextSwap, SWAP_TYPE.NONE);
  });

  it('revert: an unconfirmed new image is swapped back on the next boot', () => {
    const dk = factoryDevkit();
    writeAndStage(dk.secondary, NEW_IMAGE);
    assert.equal(boot(dk).outcome, 'test-swap');
    const r = boot(dk);
    assert.deepEqual([r.outcome, r.version], ['revert', '0.0.1+0']);
    assert.equal(bootOutcome(dk.primary, dk.secondary, unhex(NEW)), 'reverted');
    const again = boot(dk);
    assert.deepEqual([again.outcome, again.version], ['none', '0.0.1+0']);
  });

  it('permanent: swap without revert', () => {
    const dk = factoryDevkit();
    writeAndStage(dk.secondary, NEW_IMAGE, { permanent: true });
    assert.equal(readBootState(dk.primary, dk.secondary).nextSwap, SWAP_TYPE.PERM);
    assert.deepEqual([boot(dk).outcome, boot(dk).outcome], ['perm', 'none']);
    assert.equal(bootOutcome(dk.primary, dk.secondary, unhex(NEW)), 'new-confirmed');
    assert.equal(boot(dk).version, '1.0.0+1');
  });

  it('a second update after a confirmed one', () => {
    const dk = factoryDevkit();
    writeAndStage(dk.secondary, NEW_IMAGE);
    boot(dk);
    confirmPrimary(dk.primary);
    const v2 = makeImage('1.1.0+0', 5000);
    writeAndStage(dk.secondary, v2);
    const r = boot(dk);
    assert.deepEqual([r.outcome, r.version], ['test-swap', '1.1.0+0']);
    assert.equal(boot(dk).version, '1.0.0+1', 'reverts to the confirmed 1.0.0');
  });

  it('multi-group swap (medium image, 3 scratch groups) and its revert', () => {
    const dk = factoryDevkit();
    const medium = makeImage('2.0.0', 184_443);
    writeAndStage(dk.secondary, medium, { chunk: 1500 });
    assert.equal(boot(dk).version, '2.0.0+0');
    assert.equal(boot(dk).version, '0.0.1+0');
  });

  it('the agent refuses an image reaching the slot\'s last sector unless allowLastSector', () => {
    const dk = factoryDevkit();
    const big = makeImage('3.0.0', 0x60000 - 3120 - 0x200 - 151 - 8);
    assert.throws(() => writeAndStage(dk.secondary, big, { chunk: 4096 }), (e: unknown) => isOtaError(e) && e.reason === 'last-sector');
  });

  it('an image reaching the last sector swaps through the scratch trailer (use_scratch)', () => {
    const dk = factoryDevkit();
    const big = makeImage('3.0.0', 0x60000 - 3120 - 0x200 - 151 - 8);
    writeAndStage(dk.secondary, big, { chunk: 4096, allowLastSector: true });
    const r = boot(dk);
    assert.deepEqual([r.outcome, r.version], ['test-swap', '3.0.0+0']);
    confirmPrimary(dk.primary);
    assert.equal(boot(dk).version, '3.0.0+0');
  });

  describe('every vector in the secondary slot (README cross-check table)', () => {
    for (const v of vectors.vectors) {
      const expected = expectedReason(v) === undefined ? 'swapped' : 'rejected';
      it(`${v.file}: ${expected}`, () => {
        const dk = factoryDevkit();
        programRaw(dk.secondary, vectorBytes(vectors, v.file));
        if (!v.padded) markPending(dk.secondary); // "TEST trailer written like boot_set_pending(0)"
        const r = boot(dk);
        if (expected === 'swapped') {
          assert.equal(r.outcome, v.trailer?.image_ok === '0x01' ? 'perm' : 'test-swap');
          assert.equal(r.version, v.parsed.header.version);
        } else {
          assert.deepEqual([r.outcome, r.version], ['invalid-secondary-erased', '0.0.1+0'], r.log.join('\n'));
          const probe = new Uint8Array(0x60000);
          dk.secondary.read(0, probe);
          assert.ok(probe.every((b) => b === 0xff), 'secondary erased');
        }
      });
    }
  });

  describe('a power cut at every flash operation of a small update never bricks the device', () => {
    /** The update, as the agent and bootloader run it; throws PowerCut where power fails. */
    function update(dk: DevkitFlash): void {
      writeAndStage(dk.secondary, NEW_IMAGE, { chunk: 700 });
      boot(dk);
      confirmPrimary(dk.primary);
      boot(dk);
    }

    const clean = factoryDevkit();
    const start = clean.powerCut.ops;
    update(clean);
    const total = clean.powerCut.ops - start;

    for (const tear of ['prefix', 'random'] as TearMode[]) {
      it(`${tear} tears: each of the ${total} operations cut in turn`, function () {
        this.timeout(120_000);
        const outcomes = new Map<string, number>();
        for (let n = 0; n < total; n++) {
          const dk = factoryDevkit(n + 1);
          dk.powerCut.afterOps(n, tear);
          let cut = false;
          try {
            update(dk);
          } catch (error) {
            if (!isPowerCut(error)) throw error;
            cut = true;
          }
          assert.ok(cut, `operation ${n} was reached`);
          dk.powerCut.powerOn();
          // After the cut: the bootloader recovers; then the device keeps booting a valid image.
          for (let b = 0; b < 3; b++) {
            const r = boot(dk);
            assert.equal(r.booted, 'primary', `cut at op ${n}, boot ${b}: ${r.log.join('; ')}`);
            assert.ok(r.imageHash === OLD || r.imageHash === NEW, `cut at op ${n}: a known image`);
            if (b === 0) outcomes.set(`${r.outcome}->${r.version}`, (outcomes.get(`${r.outcome}->${r.version}`) ?? 0) + 1);
          }
        }
        // Every phase was hit: download (old stays), swap (resumed), after swap (new or reverted).
        const seen = [...outcomes.keys()].join(', ');
        assert.ok([...outcomes.keys()].some((k) => k.startsWith('resumed-swap')), seen);
        assert.ok([...outcomes.keys()].some((k) => k.endsWith('1.0.0+1')), seen);
        assert.ok([...outcomes.keys()].some((k) => k.endsWith('0.0.1+0')), seen);
      });
    }

    it('a second cut during the recovery boot (every 2nd op of it) still recovers', function () {
      this.timeout(300_000);
      let scenarios = 0;
      for (let n = 0; n < total; n++) {
        const first = factoryDevkit(n + 1);
        first.powerCut.afterOps(n);
        try {
          update(first);
        } catch (error) {
          if (!isPowerCut(error)) throw error;
        }
        first.powerCut.powerOn();
        const afterCut = first.device.bytes.slice();
        const before = first.powerCut.ops;
        boot(first);
        const recoveryOps = first.powerCut.ops - before;
        for (let m = 0; m < recoveryOps; m += 2) {
          const dk = factoryDevkit(n + 1);
          dk.device.bytes.set(afterCut);
          dk.powerCut.afterOps(m, 'random');
          assert.throws(() => boot(dk), (e: unknown) => isPowerCut(e));
          dk.powerCut.powerOn();
          for (let b = 0; b < 2; b++) {
            const r = boot(dk);
            assert.equal(r.booted, 'primary', `cuts at ${n} then ${m}: ${r.log.join('; ')}`);
            assert.ok(r.imageHash === OLD || r.imageHash === NEW);
          }
          scenarios++;
        }
      }
      assert.ok(scenarios > 100, `${scenarios} double-cut scenarios`);
    });

    /** Power cut at swap operation n of a staged image; returns the boot after the cut. */
    function cutDuringSwap(snapshot: Uint8Array, n: number, tear: TearMode) {
      const dk = factoryDevkit();
      dk.device.bytes.set(snapshot);
      dk.powerCut.afterOps(n, tear);
      assert.throws(() => boot(dk), (e: unknown) => isPowerCut(e));
      dk.powerCut.powerOn();
      return boot(dk);
    }

    function stagedSnapshot(image: Uint8Array): { snapshot: Uint8Array; swapOps: number } {
      const dk = factoryDevkit();
      writeAndStage(dk.secondary, image, { chunk: 4096, allowLastSector: true });
      const snapshot = dk.device.bytes.slice();
      const from = dk.powerCut.ops;
      assert.equal(boot(dk).outcome, 'test-swap');
      return { snapshot, swapOps: dk.powerCut.ops - from };
    }

    it('medium image (3 scratch groups): a cut at every 5th operation of its swap completes the swap', function () {
      this.timeout(300_000);
      const image = makeImage('2.0.0', 184_443);
      const { snapshot, swapOps } = stagedSnapshot(image);
      let resumed = 0;
      for (let n = 0; n < swapOps - 1; n += 5) {
        const r = cutDuringSwap(snapshot, n, n % 2 ? 'random' : 'prefix');
        assert.equal(r.imageHash, imageSha(image), `cut at swap op ${n}/${swapOps}: ${r.log.join('; ')}`);
        if (r.outcome === 'resumed-swap') resumed++;
      }
      assert.ok(resumed > 50, `${resumed} resumed swaps`);
      // The very last operation is copy_done: cut there, the finished TEST swap reverts (MCUboot's rule).
      assert.equal(cutDuringSwap(snapshot, swapOps - 1, 'prefix').version, '0.0.1+0');
    });

    // A finding, kept as a test so it stays visible: when the larger image reaches the slot's last
    // sector, MCUboot keeps the first group's swap status in scratch and then erases the scratch.
    // Before mcu-tools/mcuboot f76fba70 it erased forwards and a cut in any of those 16 erases
    // bricked the device; it now erases backwards (trailer first), and only a torn erase of the
    // scratch's last sector (the first one erased) can still leave a bad primary. The agent
    // avoids the path: ImageStream refuses such images ('last-sector') unless allowLastSector.
    it('image reaching the last sector: with the backwards scratch erase only a torn erase of the scratch trailer sector bricks', function () {
      this.timeout(300_000);
      const image = makeImage('3.0.0', 0x60000 - 3120 - 0x200 - 151 - 8);
      const { snapshot, swapOps } = stagedSnapshot(image);
      const bricked: string[] = [];
      for (let n = 0; n < swapOps - 1; n++) {
        // Every operation with a prefix tear; a random tear at every 7th (the run stays short).
        for (const tear of n % 7 ? (['prefix'] as const) : (['prefix', 'random'] as const)) {
          if (cutDuringSwap(snapshot, n, tear).booted === null) bricked.push(`${n}/${tear}`);
        }
      }
      assert.equal(swapOps, 1473);
      // Op 241 is the first erase of the backwards scratch erase after the first (use_scratch)
      // group: the scratch's last sector, holding its trailer.
      assert.deepEqual(bricked, ['241/prefix']);
    });

    it('the exhaustive run covers a whole update', () => {
      assert.ok(total > 60, `${total} operations`);
    });
  });

  it('the flash file holds the device byte for byte (layout of docs/flash-layout.md)', async () => {
    const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const dir = mkdtempSync(path.join(tmpdir(), 'xs-ota-flash-'));
    const file = path.join(dir, 'flash.bin');
    const dk = createDevkitFlash({ file, layout: SMALL_SLOT_LAYOUT });
    programRaw(dk.primary, OLD_IMAGE);
    writeAndStage(dk.secondary, NEW_IMAGE);
    dk.device.close();
    const bytes = new Uint8Array(readFileSync(file));
    assert.equal(bytes.length, 0xd0000);
    assert.deepEqual(bytes.subarray(0, OLD_IMAGE.length), OLD_IMAGE);
    assert.deepEqual(bytes.subarray(0x60000, 0x60000 + NEW_IMAGE.length), NEW_IMAGE);
    assert.deepEqual(bytes.subarray(0xc0000 - 16, 0xc0000), unhex('77c295f360d2ef7f3552500f2cb67980'));
    const reopened = createDevkitFlash({ file, layout: SMALL_SLOT_LAYOUT });
    const r = boot(reopened);
    assert.deepEqual([r.outcome, r.version], ['test-swap', '1.0.0+1']);
    reopened.device.close();
    rmSync(dir, { recursive: true });
  });
});
