/**
 * boards/<target>/: each board's devicetree overlay, its flash-layout.json and the manifest's
 * platform entry for it agree: the partitions the overlay defines (label and reg) are the ones
 * in the layout, they fit the flash without overlapping, every slot is whole sectors and fits
 * MCUboot's sector table, the slot labels are the ones the config names, and the devicetree
 * labels the config names for the modem UART, the A5000's I2C and PWRKEY are nodes the overlay
 * enables. The simulated dev kit's default flash (tools/devkit/parts/sim-flash.ts DEVKIT_LAYOUT) is
 * the named board's: the same slots, scratch, sector and MCUboot sector count.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../support/paths.js';
import { DEVKIT_BOARD, DEVKIT_LAYOUT } from '../../../tools/devkit/parts/sim-flash.js';
import { trailerSize } from '../../../src/image/trailer.js';

interface Layout {
  board: string;
  flash: { size: number; sectorSize: number; writeAlign: number; eraseValue: number };
  mcubootMaxImgSectors: number;
  partitions: { node: string; label: string; offset: number; size: number }[];
}

const manifest = JSON.parse(readFileSync(path.join(repoRoot, 'manifest.json'), 'utf8')) as {
  config: Record<string, unknown>;
  platforms: Record<string, { include?: string[]; config?: Record<string, unknown> }>;
};

/** reg = <offset size> with the DT_SIZE_K/M macros Zephyr's overlays use. */
function regValue(text: string): number {
  const t = text.trim();
  const k = /^DT_SIZE_K\((\d+)\)$/.exec(t);
  if (k) return Number(k[1]) * 1024;
  const m = /^DT_SIZE_M\((\d+)\)$/.exec(t);
  if (m) return Number(m[1]) * 1024 * 1024;
  return Number(t);
}

function overlayPartitions(overlay: string): Map<string, { label: string; offset: number; size: number }> {
  const out = new Map<string, { label: string; offset: number; size: number }>();
  const re = /(\w+_partition): partition@[0-9a-f]+ \{\s*label = "([^"]+)";\s*reg = <(0x[0-9a-fA-F]+) (DT_SIZE_[KM]\(\d+\)|0x[0-9a-fA-F]+)>;/g;
  for (const m of overlay.matchAll(re)) out.set(m[1]!, { label: m[2]!, offset: Number(m[3]), size: regValue(m[4]!) });
  return out;
}

const boards = readdirSync(path.join(repoRoot, 'boards')).filter((b) => existsSync(path.join(repoRoot, 'boards', b, 'flash-layout.json')));

describe('boards/: overlays, flash layouts and the manifest agree', () => {
  it('has the named board and the NXP seed board', () => {
    assert.ok(boards.includes('pico_plus2'));
    assert.ok(boards.includes('mimxrt1060_evkb'));
  });

  it('the simulated dev kit defaults to the named board\'s layout (pico_plus2), slots by the manifest\'s labels', () => {
    assert.equal(DEVKIT_BOARD, 'pico_plus2');
    const layout = JSON.parse(readFileSync(path.join(repoRoot, 'boards', DEVKIT_BOARD, 'flash-layout.json'), 'utf8')) as Layout;
    const area = (label: unknown) => {
      const p = layout.partitions.find((x) => x.label === label);
      assert.ok(p, `no partition labelled ${String(label)}`);
      return { offset: p.offset, size: p.size };
    };
    assert.deepEqual(DEVKIT_LAYOUT.primary, area(manifest.config.otaPrimaryLabel));
    assert.deepEqual(DEVKIT_LAYOUT.secondary, area(manifest.config.otaSecondaryLabel));
    assert.deepEqual(DEVKIT_LAYOUT.scratch, area('image-scratch'));
    assert.equal(DEVKIT_LAYOUT.sectorSize, layout.flash.sectorSize);
    assert.equal(DEVKIT_LAYOUT.eraseValue, layout.flash.eraseValue);
    assert.equal(DEVKIT_LAYOUT.maxSectors, layout.mcubootMaxImgSectors);
    assert.ok(DEVKIT_LAYOUT.deviceSize <= layout.flash.size);
    // The dev kit writes in 8-byte units (MCUboot's BOOT_MAX_ALIGN, imgtool --align 8): a multiple
    // of the board's, so no write the dev kit accepts is one the board refuses.
    assert.equal(DEVKIT_LAYOUT.writeAlign % layout.flash.writeAlign, 0);
    assert.equal(DEVKIT_LAYOUT.trailerSize, trailerSize(layout.mcubootMaxImgSectors, DEVKIT_LAYOUT.writeAlign));
  });

  for (const board of boards) {
    describe(board, () => {
      const dir = path.join(repoRoot, 'boards', board);
      const layout = JSON.parse(readFileSync(path.join(dir, 'flash-layout.json'), 'utf8')) as Layout;
      const overlay = readFileSync(path.join(dir, 'xs-ota.overlay'), 'utf8');
      const platform = manifest.platforms[`zephyr/${board}`];

      it('the overlay defines exactly the layout partitions, with labels', () => {
        const parts = overlayPartitions(overlay);
        assert.deepEqual([...parts.keys()].sort(), layout.partitions.map((p) => p.node).sort());
        for (const p of layout.partitions) assert.deepEqual(parts.get(p.node), { label: p.label, offset: p.offset, size: p.size }, p.node);
        assert.match(overlay, /compatible = "fixed-partitions";/, 'the SDK flash binding enumerates fixed-partitions');
        assert.match(overlay, /zephyr,code-partition = &slot0_partition;/);
      });

      it('the layout\'s sector is the erase page the overlay gives the flash (the SoC dtsi\'s 4 KiB where it sets none)', () => {
        const set = /erase-block-size = <(DT_SIZE_K\(\d+\)|0x[0-9a-fA-F]+)>;/.exec(overlay);
        assert.equal(layout.flash.sectorSize, set ? regValue(set[1]!) : 4096);
      });

      it('the board\'s large erase (otaFlashBlockErase) is 0 or a larger multiple of its sector, and both slots start on it', () => {
        const large = Number(platform?.config?.otaFlashBlockErase ?? manifest.config.otaFlashBlockErase);
        if (large === 0) return;
        assert.ok(large > layout.flash.sectorSize && large % layout.flash.sectorSize === 0, `otaFlashBlockErase ${large} against ${layout.flash.sectorSize}-byte sectors`);
        for (const label of ['image-0', 'image-1']) assert.equal(layout.partitions.find((p) => p.label === label)!.offset % large, 0, label);
      });

      it('partitions fit the flash, do not overlap, and the slots fit MCUboot', () => {
        const sorted = [...layout.partitions].sort((a, b) => a.offset - b.offset);
        let end = 0;
        for (const p of sorted) {
          assert.ok(p.offset >= end, `${p.node} overlaps the partition before it`);
          assert.equal(p.offset % layout.flash.sectorSize, 0, `${p.node} offset`);
          assert.equal(p.size % layout.flash.sectorSize, 0, `${p.node} size`);
          end = p.offset + p.size;
        }
        assert.ok(end <= layout.flash.size);
        const slot = (label: string) => layout.partitions.find((p) => p.label === label)!;
        const [primary, secondary, scratch] = [slot('image-0'), slot('image-1'), slot('image-scratch')];
        assert.equal(primary.size, secondary.size);
        assert.ok(primary.size / layout.flash.sectorSize <= layout.mcubootMaxImgSectors, 'CONFIG_BOOT_MAX_IMG_SECTORS too small for the slot');
        assert.ok(scratch.size >= layout.flash.sectorSize);
        // The agent's slot labels (manifest config defaults).
        assert.equal(primary.label, manifest.config.otaPrimaryLabel);
        assert.equal(secondary.label, manifest.config.otaSecondaryLabel);
      });

      it('the manifest entry includes the board overlay and names devicetree nodes the overlay enables', () => {
        assert.ok(platform, `manifest.json has no platforms["zephyr/${board}"]`);
        assert.ok(platform.include?.some((i) => i === `./boards/${board}/manifest.json` || i === './boards/$(SUBPLATFORM)/manifest.json'));
        const boardManifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { zephyrOverlay: string[] };
        assert.deepEqual(boardManifest.zephyrOverlay, ['./xs-ota.overlay']);
        for (const key of ['otaModemUart', 'otaSeI2c', 'otaPwrkeyPort']) {
          const label = platform.config?.[key];
          assert.equal(typeof label, 'string', `${key} not set for ${board}`);
          assert.match(overlay, new RegExp(`&${label as string} \\{[^}]*status = "okay";`), `${key} = ${String(label)}: not enabled in the overlay`);
        }
        assert.ok(Number.isInteger(platform.config?.otaPwrkeyPin));
      });
    });
  }
});
