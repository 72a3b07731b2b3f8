/**
 * Dev kit flash: the default layout is the named board's (boards/pico_plus2/flash-layout.json, read
 * by tools/devkit/parts/sim-flash.ts, not copied), the earlier 0x60000 layout stays for the specs
 * that name it, larger layouts size the trailer, erases are counted per sector.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { trailerSize } from '../../../src/image/trailer.js';
import { boardLayout, boardSlotLayout, createDevkitFlash, DEVKIT_BOARD, DEVKIT_LAYOUT, SimNorFlash, SMALL_SLOT_LAYOUT, slotLayout } from '../../../tools/devkit/parts/sim-flash.js';
import { repoRoot } from '../../support/paths.js';

describe('dev kit flash layout', () => {
  it('defaults to the named board: pico_plus2, 1 MiB slots at 0x10000 and 0x110000, 64 KiB scratch, 64 KiB sectors, 16 per slot', () => {
    assert.equal(DEVKIT_BOARD, 'pico_plus2');
    assert.deepEqual(
      [DEVKIT_LAYOUT.primary, DEVKIT_LAYOUT.secondary, DEVKIT_LAYOUT.scratch, DEVKIT_LAYOUT.deviceSize, DEVKIT_LAYOUT.maxSectors, DEVKIT_LAYOUT.writeAlign, DEVKIT_LAYOUT.trailerSize],
      [{ offset: 0x10000, size: 0x100000 }, { offset: 0x110000, size: 0x100000 }, { offset: 0x210000, size: 0x10000 }, 0x220000, 16, 8, 432],
    );
    assert.equal(DEVKIT_LAYOUT.sectorSize, 0x10000);
    // 16 sectors x 3 steps x 8 bytes + 4 x 8 + 16 (imgtool --max-sectors 16 --align 8).
    assert.equal(trailerSize(DEVKIT_LAYOUT.maxSectors, DEVKIT_LAYOUT.writeAlign), DEVKIT_LAYOUT.trailerSize);
    const dk = createDevkitFlash();
    assert.equal(dk.device.size, 0x220000);
    assert.equal(dk.secondary.status().size, 0x100000);
  });

  it('reads the board file: a changed partition there changes the dev kit (one source of truth)', () => {
    const file = JSON.parse(readFileSync(path.join(repoRoot, 'boards', DEVKIT_BOARD, 'flash-layout.json'), 'utf8')) as { partitions: { label: string; offset: number; size: number }[] };
    const slot1 = file.partitions.find((p) => p.label === 'image-1')!;
    assert.deepEqual(DEVKIT_LAYOUT.secondary, { offset: slot1.offset, size: slot1.size });
    // The seed board has its own table, and the dev kit can take it too.
    const rt = boardLayout('mimxrt1060_evkb');
    assert.notDeepEqual(rt.primary, DEVKIT_LAYOUT.primary);
    assert.throws(() => boardLayout('no-such-board'), /ENOENT/);
  });

  it('keeps the earlier 0x60000 layout byte for byte for the specs that name it (SMALL_SLOT_LAYOUT)', () => {
    assert.deepEqual(
      [SMALL_SLOT_LAYOUT.primary, SMALL_SLOT_LAYOUT.secondary, SMALL_SLOT_LAYOUT.scratch, SMALL_SLOT_LAYOUT.deviceSize, SMALL_SLOT_LAYOUT.maxSectors, SMALL_SLOT_LAYOUT.trailerSize],
      [{ offset: 0, size: 0x60000 }, { offset: 0x60000, size: 0x60000 }, { offset: 0xc0000, size: 0x10000 }, 0xd0000, 128, 3120],
    );
    assert.equal(trailerSize(SMALL_SLOT_LAYOUT.maxSectors, SMALL_SLOT_LAYOUT.writeAlign), SMALL_SLOT_LAYOUT.trailerSize);
    const dk = createDevkitFlash({ layout: SMALL_SLOT_LAYOUT });
    assert.equal(dk.device.size, 0xd0000);
    assert.equal(dk.secondary.status().size, 0x60000);
  });

  it('sizes MCUBOOT_MAX_IMG_SECTORS and the trailer for larger slots', () => {
    const L = slotLayout(0x140000);
    assert.deepEqual([L.primary, L.secondary, L.scratch, L.deviceSize], [{ offset: 0, size: 0x140000 }, { offset: 0x140000, size: 0x140000 }, { offset: 0x280000, size: 0x10000 }, 0x290000]);
    // 320 sectors x 3 steps x 8 bytes + 4 x 8 + 16 (imgtool --max-sectors 320).
    assert.equal(L.maxSectors, 320);
    assert.equal(L.trailerSize, 7728);
    // Small slots keep 128 sectors (the MCUboot default).
    assert.equal(slotLayout(0x40000).maxSectors, 128);
    assert.throws(() => slotLayout(0x1234), /multiple/);
    const dk = createDevkitFlash({ layout: L });
    assert.equal(dk.secondary.status().size, 0x140000);
    // The bench's slots with the named board's 64 KiB sectors: MCUBOOT_MAX_IMG_SECTORS is the
    // slot's 20 sectors (20 x 3 x 8 + 48), the scratch one sector.
    const B = boardSlotLayout(0x140000);
    assert.deepEqual([B.sectorSize, B.maxSectors, B.trailerSize, B.scratch.size], [0x10000, 20, 528, 0x10000]);
    assert.equal(createDevkitFlash({ layout: B }).secondary.status().blockLength, 0x10000);
  });

  it('counts erases per sector, a torn erase included', () => {
    const flash = new SimNorFlash({ size: 4 * 4096 });
    flash.eraseSector(1);
    flash.eraseSector(1);
    flash.eraseSector(3);
    flash.cutAt(flash.ops);
    assert.throws(() => flash.eraseSector(2), /power cut/);
    assert.deepEqual([...flash.sectorErases], [0, 2, 1, 1]);
  });
});
