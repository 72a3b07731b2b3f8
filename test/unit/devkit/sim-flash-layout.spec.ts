/** Dev kit flash: the documented layout stays as it is, larger layouts size the trailer, erases are counted per sector. */
import assert from 'node:assert/strict';
import { trailerSize } from '../../../src/image/trailer.js';
import { createDevkitFlash, DEVKIT_LAYOUT, SimNorFlash, slotLayout } from '../../../tools/devkit/parts/sim-flash.js';

describe('dev kit flash layout', () => {
  it('keeps the documented layout byte for byte (docs/flash-layout.md)', () => {
    assert.deepEqual(
      [DEVKIT_LAYOUT.primary, DEVKIT_LAYOUT.secondary, DEVKIT_LAYOUT.scratch, DEVKIT_LAYOUT.deviceSize, DEVKIT_LAYOUT.maxSectors, DEVKIT_LAYOUT.trailerSize],
      [{ offset: 0, size: 0x60000 }, { offset: 0x60000, size: 0x60000 }, { offset: 0xc0000, size: 0x10000 }, 0xd0000, 128, 3120],
    );
    assert.equal(trailerSize(DEVKIT_LAYOUT.maxSectors, DEVKIT_LAYOUT.writeAlign), DEVKIT_LAYOUT.trailerSize);
    const dk = createDevkitFlash();
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
