/**
 * SlotWriter's erase units on a flash with a 64 KiB block erase (the dev kit's W25Q64JV through
 * the port's eraseBlocks): whole blocks where the image needs them, sectors elsewhere; the
 * erase-ahead bound (the stated image size, one unit beyond the data, never the trailer); and
 * a power cut at every program/erase (block erases and erases ahead included) resumed from the
 * last durable offset to a byte-exact image.
 */
import assert from 'node:assert/strict';
import type { FlashPort } from '../../../src/platform/flash.js';
import { SLOT_WRITE_PIECE_MAX, SlotWriter } from '../../../src/slot/slot-writer.js';
import { boardSlotLayout, createDevkitFlash, isPowerCut, slotLayout, type DevkitFlash } from '../../../tools/devkit/parts/sim-flash.js';

const SECTOR = 4096;
const BLOCK = 0x10000;
const LAYOUT = slotLayout(0x60000);

type Erase = ['sector', number] | ['blocks', number, number];

function recording(port: FlashPort): { port: FlashPort; erases: Erase[] } {
  const erases: Erase[] = [];
  return {
    erases,
    port: {
      status: () => port.status(),
      read: (o, b) => port.read(o, b),
      write: (o, b) => port.write(o, b),
      eraseBlock: (n) => {
        erases.push(['sector', n]);
        port.eraseBlock(n);
      },
      eraseBlocks: (first, end) => {
        erases.push(['blocks', first, end]);
        port.eraseBlocks!(first, end);
      },
      close: () => port.close(),
    },
  };
}

/** Deterministic image bytes (never all 0xff, so an unerased or torn byte shows). */
function imageBytes(length: number, seed = 7): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = (x >>> 16) & 0x7f;
  }
  return out;
}

/** Stale, non-erased bytes in the whole slot: the writer must not rely on an erased slot. */
function staleKit(seed = 1): DevkitFlash {
  const dk = createDevkitFlash({ layout: LAYOUT, seed });
  const zeros = new Uint8Array(SECTOR);
  for (let at = 0; at < LAYOUT.secondary.size; at += SECTOR) dk.secondary.write(at, zeros);
  return dk;
}

function sectorsErasedFrom(dk: DevkitFlash, before: Uint32Array): number[] {
  const base = LAYOUT.secondary.offset / SECTOR;
  const out: number[] = [];
  for (let s = 0; s < LAYOUT.secondary.size / SECTOR; s++) if (dk.device.sectorErases[base + s] !== before[base + s]) out.push(s);
  return out;
}

const IMAGE = imageBytes(3 * BLOCK + 2 * SECTOR + 100); // 3 blocks, then 3 sectors (the last partly)
const trailerSectors = (() => {
  const limit = LAYOUT.secondary.size - LAYOUT.trailerSize;
  const first = (limit - (limit % SECTOR)) / SECTOR;
  return Array.from({ length: LAYOUT.secondary.size / SECTOR - first }, (_, i) => first + i);
})();

describe('slot/SlotWriter erase units (64 KiB block erase)', () => {
  it('the dev kit slot offers a 64 KiB block erase; a partition off a 64 KiB boundary does not', () => {
    const dk = createDevkitFlash({ layout: LAYOUT });
    assert.equal(dk.secondary.status().largeBlockLength, BLOCK);
    assert.equal(dk.device.partition(SECTOR, BLOCK * 2).status().largeBlockLength, undefined);
  });

  it('erases whole blocks where the stated image needs them, single sectors for its tail, nothing past it', () => {
    const dk = staleKit();
    const before = dk.device.sectorErases.slice();
    const rec = recording(dk.secondary);
    const w = new SlotWriter({ flash: rec.port, trailerSize: LAYOUT.trailerSize, eraseEnd: IMAGE.length });
    w.begin();
    for (let o = 0; o < IMAGE.length; o += 1000) w.write(IMAGE.subarray(o, o + 1000));
    w.flush();
    const image = rec.erases.filter((e) => !(e[0] === 'sector' && trailerSectors.includes(e[1])));
    assert.deepEqual(image, [
      ['blocks', 0, 16],
      ['blocks', 16, 32],
      ['blocks', 32, 48],
      ['sector', 48],
      ['sector', 49],
      ['sector', 50],
    ]);
    assert.equal(dk.device.stats.blockErases, 3);
    const lastImageSector = Math.ceil(IMAGE.length / SECTOR) - 1;
    assert.deepEqual(
      sectorsErasedFrom(dk, before).filter((s) => s > lastImageSector),
      trailerSectors,
      'past the image only the trailer sector(s) are erased (by begin)',
    );
    assert.equal(dk.device.stats.rewrites, 0, 'every program hit erased flash');
    const back = new Uint8Array(IMAGE.length);
    dk.secondary.read(0, back);
    assert.deepEqual(back, IMAGE);
  });

  it('without a stated size the last block below the trailer is erased as sectors (the trailer is never in a block erase)', () => {
    const dk = staleKit();
    const rec = recording(dk.secondary);
    const w = new SlotWriter({ flash: rec.port, trailerSize: LAYOUT.trailerSize });
    w.begin();
    const capacity = w.capacity - (w.capacity % 8);
    const big = imageBytes(capacity);
    for (let o = 0; o < big.length; o += 4096) w.write(big.subarray(o, o + 4096));
    w.flush();
    const blocks = rec.erases.filter((e) => e[0] === 'blocks');
    assert.equal(blocks.length, LAYOUT.secondary.size / BLOCK - 1, 'every block but the one holding the trailer');
    for (const e of blocks) assert.ok(e[2] <= trailerSectors[0]);
    const back = new Uint8Array(big.length);
    dk.secondary.read(0, back);
    assert.deepEqual(back, big);
  });

  it('a port without eraseBlocks is erased sector by sector (same bytes)', () => {
    const dk = staleKit();
    const rec = recording(dk.secondary);
    const { eraseBlocks: _unused, ...plain } = rec.port;
    const w = new SlotWriter({ flash: plain, trailerSize: LAYOUT.trailerSize, eraseEnd: IMAGE.length });
    w.begin();
    w.write(IMAGE);
    w.flush();
    assert.equal(rec.erases.filter((e) => e[0] === 'blocks').length, 0);
    assert.equal(dk.device.stats.blockErases, 0);
    const back = new Uint8Array(IMAGE.length);
    dk.secondary.read(0, back);
    assert.deepEqual(back, IMAGE);
  });

  it('erase-ahead erases the next unit once, at most one unit beyond the data, never past the stated size', () => {
    const dk = staleKit();
    const before = dk.device.sectorErases.slice();
    const rec = recording(dk.secondary);
    const w = new SlotWriter({ flash: rec.port, trailerSize: LAYOUT.trailerSize, eraseEnd: IMAGE.length });
    assert.equal(w.eraseAhead(), false, 'nothing before begin');
    w.begin();
    rec.erases.length = 0;
    assert.equal(w.eraseAhead(), true);
    assert.deepEqual(rec.erases, [['blocks', 0, 16]]);
    assert.equal(w.eraseAhead(), false, 'one block ahead of data at 0 is enough');
    w.write(IMAGE.subarray(0, 8));
    assert.equal(w.eraseAhead(), true);
    assert.equal(w.eraseAhead(), false);
    assert.deepEqual(rec.erases.at(-1), ['blocks', 16, 32]);
    // The data then runs into the block erased ahead: no erase in series with it.
    rec.erases.length = 0;
    w.write(IMAGE.subarray(8, BLOCK + 100));
    assert.deepEqual(rec.erases, []);
    for (let o = BLOCK + 100; o < IMAGE.length; o += 512) {
      w.eraseAhead();
      w.write(IMAGE.subarray(o, o + 512));
    }
    for (let k = 0; k < 8; k++) w.eraseAhead();
    w.flush();
    assert.equal(w.eraseAhead(), false, 'nothing after flush');
    const lastImageSector = Math.ceil(IMAGE.length / SECTOR) - 1;
    const erased = sectorsErasedFrom(dk, before);
    assert.deepEqual(erased.filter((s) => s > lastImageSector), trailerSectors, 'erase-ahead stops at the stated size');
    for (const s of erased) assert.equal(dk.device.sectorErases[LAYOUT.secondary.offset / SECTOR + s] - before[LAYOUT.secondary.offset / SECTOR + s], 1, `sector ${s} erased once`);
    assert.equal(dk.device.stats.rewrites, 0);
    const back = new Uint8Array(IMAGE.length);
    dk.secondary.read(0, back);
    assert.deepEqual(back, IMAGE);
  });

  it('erase-ahead never reaches the trailer sector, whatever the stated size', () => {
    const dk = staleKit();
    const w = new SlotWriter({ flash: dk.secondary, trailerSize: LAYOUT.trailerSize, eraseEnd: LAYOUT.secondary.size * 2 });
    w.begin();
    // Mark the trailer sector after begin erased it: an erase there would wipe the mark.
    dk.secondary.write(trailerSectors[0] * SECTOR, new Uint8Array(8));
    const capacity = w.capacity - (w.capacity % 8);
    const big = imageBytes(capacity);
    for (let o = 0; o < big.length; o += 4096) {
      for (let k = 0; k < 4; k++) w.eraseAhead();
      w.write(big.subarray(o, o + 4096));
    }
    w.flush();
    const mark = new Uint8Array(8).fill(0xff);
    dk.secondary.read(trailerSectors[0] * SECTOR, mark);
    assert.deepEqual([...mark], [0, 0, 0, 0, 0, 0, 0, 0]);
  });

  /**
   * The agent's pattern: erase ahead at every request's round trip (here every 16 KiB), the
   * journal's offset = durableOffset saved every 8 KiB; after a cut, a new writer at the journal
   * offset and the bytes sent again from there.
   */
  function runWithCut(dk: DevkitFlash, cutAt: number | undefined, tear: 'prefix' | 'random', image: Uint8Array): { cut: boolean } {
    let journal = 0;
    let cut = false;
    if (cutAt !== undefined) dk.powerCut.afterOps(cutAt, tear);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const w = new SlotWriter({ flash: dk.secondary, trailerSize: LAYOUT.trailerSize, startOffset: journal, eraseEnd: image.length });
        w.begin();
        for (let o = journal; o < image.length; o += 2048) {
          if (o % 16384 === 0) w.eraseAhead();
          w.write(image.subarray(o, o + 2048));
          if (w.durableOffset - journal >= 8192) journal = w.durableOffset;
        }
        w.flush();
        return { cut };
      } catch (error) {
        if (!isPowerCut(error)) throw error;
        cut = true;
        dk.powerCut.powerOn();
      }
    }
    throw new Error('did not finish after a cut');
  }

  it('a power cut at every program and erase (block erases, erases ahead, the tail sectors) resumes to the exact image', () => {
    const image = imageBytes(2 * BLOCK + 3 * SECTOR + 40, 11);
    const probe = staleKit();
    const start = probe.powerCut.ops;
    runWithCut(probe, undefined, 'prefix', image);
    const ops = probe.powerCut.ops - start;
    assert.ok(probe.device.stats.blockErases >= 2, 'the run uses block erases');
    let cuts = 0;
    for (let op = 0; op < ops; op++) {
      for (const tear of ['prefix', 'random'] as const) {
        const dk = staleKit(op + 1);
        const r = runWithCut(dk, op, tear, image);
        assert.ok(r.cut, `op ${op} was cut`);
        cuts++;
        const back = new Uint8Array(image.length);
        dk.secondary.read(0, back);
        assert.deepEqual(back, image, `cut at op ${op} (${tear})`);
      }
    }
    assert.equal(cuts, ops * 2);
  });
});

describe('SlotWriter on the named board\'s 64 KiB sectors (boardSlotLayout)', () => {
  const BOARD = boardSlotLayout(0x60000);

  function boardKit(seed = 1): DevkitFlash {
    const dk = createDevkitFlash({ layout: BOARD, seed });
    const zeros = new Uint8Array(SECTOR);
    for (let at = 0; at < BOARD.secondary.size; at += SECTOR) dk.secondary.write(at, zeros);
    return dk;
  }

  function writeWithCut(dk: DevkitFlash, cutAt: number | undefined, image: Uint8Array, durable: number[]): boolean {
    let journal = 0;
    let cut = false;
    if (cutAt !== undefined) dk.powerCut.afterOps(cutAt, 'random');
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const w = new SlotWriter({ flash: dk.secondary, trailerSize: BOARD.trailerSize, startOffset: journal, eraseEnd: image.length });
        w.begin();
        for (let o = journal; o < image.length; o += 2048) {
          w.write(image.subarray(o, o + 2048));
          durable.push(w.durableOffset);
          journal = w.durableOffset;
        }
        w.flush();
        return cut;
      } catch (error) {
        if (!isPowerCut(error)) throw error;
        cut = true;
        dk.powerCut.powerOn();
      }
    }
    throw new Error('did not finish after a cut');
  }

  it('erases one 64 KiB sector per unit (a block erase each), programs in pieces of at most SLOT_WRITE_PIECE_MAX, and resumes only at 64 KiB boundaries', () => {
    const image = imageBytes(2 * BLOCK + 5000, 13);
    const dk = boardKit();
    const writes: number[] = [];
    const port = dk.secondary;
    const spy: FlashPort = { ...port, status: () => port.status(), read: (o, b) => port.read(o, b), write: (o, b) => (writes.push(b.length), port.write(o, b)), eraseBlock: (n) => port.eraseBlock(n), close: () => port.close() };
    const durable: number[] = [];
    const w = new SlotWriter({ flash: spy, trailerSize: BOARD.trailerSize, eraseEnd: image.length });
    w.begin();
    for (let o = 0; o < image.length; o += 8192) {
      w.write(image.subarray(o, o + 8192));
      durable.push(w.durableOffset);
    }
    w.flush();
    assert.ok(Math.max(...writes) <= SLOT_WRITE_PIECE_MAX, `largest write ${Math.max(...writes)}`);
    assert.ok(durable.every((d) => d % BLOCK === 0), `durable offsets ${[...new Set(durable)].join(',')}`);
    // Three image sectors and the trailer's: four block erases, no 4 KiB erase.
    assert.equal(dk.device.stats.blockErases, 4);
    assert.equal(dk.device.stats.erases, 4);
  });

  it('a power cut at every program and erase resumes from the last durable 64 KiB boundary to the exact image', () => {
    const image = imageBytes(BLOCK + 3 * SECTOR + 40, 17);
    const probe = boardKit();
    const start = probe.powerCut.ops;
    writeWithCut(probe, undefined, image, []);
    const ops = probe.powerCut.ops - start;
    for (let op = 0; op < ops; op++) {
      const dk = boardKit(op + 1);
      const durable: number[] = [];
      assert.ok(writeWithCut(dk, op, image, durable), `op ${op} was cut`);
      assert.ok(durable.every((d) => d % BLOCK === 0), `op ${op}: durable ${durable.join(',')}`);
      const back = new Uint8Array(image.length);
      dk.secondary.read(0, back);
      assert.deepEqual(back, image, `cut at op ${op}`);
    }
  });
});
