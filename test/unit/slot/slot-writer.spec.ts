/**
 * SlotWriter over the simulated NOR flash: erase-ahead, alignment, trailer, read-back, resume. On
 * the 0x60000 slots (SMALL_SLOT_LAYOUT) with the agent's default 3120-byte trailer: the capacities
 * and sector numbers below are that layout's.
 */
import assert from 'node:assert/strict';
import type { FlashPort } from '../../../src/platform/flash.js';
import { SlotWriter } from '../../../src/slot/slot-writer.js';
import { feedFromFlash, readSlotImage } from '../../../src/slot/slot-reader.js';
import { ImageStream } from '../../../src/image/image-stream.js';
import { OtaError } from '../../../src/util/errors.js';
import { createDevkitFlash, SMALL_SLOT_LAYOUT } from '../../../tools/devkit/parts/sim-flash.js';
import { digest, makeImage } from '../../support/devkit-update.js';

type Op = ['erase', number] | ['write', number, number];

/** Records every program/erase a writer does. */
function recording(port: FlashPort): { port: FlashPort; ops: Op[] } {
  const ops: Op[] = [];
  return {
    ops,
    port: {
      status: () => port.status(),
      read: (o, b) => port.read(o, b),
      write: (o, b) => {
        ops.push(['write', o, b.length]);
        port.write(o, b);
      },
      eraseBlock: (n) => {
        ops.push(['erase', n]);
        port.eraseBlock(n);
      },
      close: () => port.close(),
    },
  };
}

const IMAGE = makeImage('1.0.0', 20_000);

function writeAll(w: SlotWriter, bytes: Uint8Array, chunk: number): void {
  for (let o = 0; o < bytes.length; o += chunk) w.write(bytes.subarray(o, o + chunk));
}

describe('slot/SlotWriter', () => {
  for (const chunk of [1, 7, 8, 13, 512, 4095, 4096, 4097, 65_536]) {
    it(`chunks of ${chunk}: same flash content, sectors erased just ahead, aligned writes`, () => {
      const dk = createDevkitFlash({ layout: SMALL_SLOT_LAYOUT });
      // Stale data everywhere first: the writer must not rely on an erased slot.
      for (let b = 0; b < 96; b++) dk.secondary.write(b * 4096, new Uint8Array(4096));
      const rec = recording(dk.secondary);
      const w = new SlotWriter({ flash: rec.port });
      w.begin();
      assert.deepEqual(rec.ops, [['erase', 95]], 'only the trailer sector is erased up front');
      for (let o = 0; o < IMAGE.length; o += chunk) {
        w.write(IMAGE.subarray(o, o + chunk));
        // At most one write unit is held back.
        const programmed = w.written - (w.written % 8);
        const flash = new Uint8Array(programmed);
        dk.secondary.read(0, flash);
        assert.deepEqual(flash, IMAGE.subarray(0, programmed));
      }
      assert.equal(w.flush(), IMAGE.length);
      const erases = rec.ops.filter((op) => op[0] === 'erase').map((op) => op[1]);
      assert.deepEqual(erases, [95, 0, 1, 2, 3, 4, 5], 'each image sector erased once, in order');
      // Each erase comes right before the first write into that sector.
      rec.ops.forEach((op, i) => {
        if (op[0] === 'erase' && op[1] !== 95) assert.deepEqual(rec.ops[i + 1][0], 'write');
        if (op[0] === 'write') assert.equal(Math.floor(op[1] / 4096), Math.floor((op[1] + op[2] - 1) / 4096), 'a write stays in one sector');
      });
      assert.equal(readSlotImage(dk.secondary, { digest }).hashOk, true);
    });
  }

  it('never writes into the trailer: slot-overflow before any byte of the chunk', () => {
    const dk = createDevkitFlash({ layout: SMALL_SLOT_LAYOUT });
    const w = new SlotWriter({ flash: dk.secondary });
    assert.equal(w.capacity, 0x60000 - 3120);
    w.write(new Uint8Array(w.capacity - 5));
    assert.throws(() => w.write(new Uint8Array(6)), (e: unknown) => e instanceof OtaError && e.reason === 'slot-overflow');
    w.write(new Uint8Array(5));
    w.flush();
    const trailer = new Uint8Array(3120);
    dk.secondary.read(0x60000 - 3120, trailer);
    assert.ok(trailer.every((b) => b === 0xff));
  });

  it('resumes at a sector boundary and yields the same image', () => {
    const dk = createDevkitFlash({ layout: SMALL_SLOT_LAYOUT });
    const first = new SlotWriter({ flash: dk.secondary });
    writeAll(first, IMAGE.subarray(0, 10_001), 999);
    const resumeAt = first.durableOffset;
    assert.equal(resumeAt, 8192);
    // Garbage after the resume point (a torn write) must not matter: that sector is erased again.
    const rec = recording(dk.secondary);
    const second = new SlotWriter({ flash: rec.port, startOffset: resumeAt });
    second.begin();
    writeAll(second, IMAGE.subarray(resumeAt), 1000);
    second.flush();
    assert.deepEqual(rec.ops.filter((o) => o[0] === 'erase').map((o) => o[1]), [95, 2, 3, 4, 5]);
    const parsed = readSlotImage(dk.secondary, { digest });
    assert.equal(parsed.hashOk, true);
    assert.throws(() => new SlotWriter({ flash: dk.secondary, startOffset: 100 }), (e: unknown) => e instanceof OtaError && e.reason === 'invalid-argument');
  });

  it('after a reset, the parser is re-fed from flash up to the resume offset, then from the network', () => {
    const dk = createDevkitFlash({ layout: SMALL_SLOT_LAYOUT });
    const first = new SlotWriter({ flash: dk.secondary });
    writeAll(first, IMAGE.subarray(0, 12_345), 1000);
    const resumeAt = first.durableOffset;
    // Reset: the hash state is gone. Rebuild it from what is on flash, then continue.
    const stream = new ImageStream({ digest });
    feedFromFlash(dk.secondary, stream, 0, resumeAt, new Uint8Array(4096));
    assert.equal(stream.offset, resumeAt);
    const second = new SlotWriter({ flash: dk.secondary, startOffset: resumeAt });
    for (let o = resumeAt; o < IMAGE.length; o += 1000) {
      const chunk = IMAGE.subarray(o, o + 1000);
      stream.push(chunk);
      second.write(chunk);
    }
    second.flush();
    assert.equal(stream.finish().hashOk, true);
  });

  it('read-back (when asked for) catches a flash that drops writes, word-aligned or not', () => {
    const dk = createDevkitFlash({ layout: SMALL_SLOT_LAYOUT });
    const lossy: FlashPort = { ...dk.secondary, write: () => {} };
    const w = new SlotWriter({ flash: lossy, readBack: true });
    assert.throws(() => w.write(new Uint8Array(64).fill(0x5a)), (e: unknown) => e instanceof OtaError && e.reason === 'flash-readback' && /byte 0 reads 0xff/.test(e.message));
    // One wrong byte deep inside an unaligned chunk: the byte-wise path names it.
    const flipping: FlashPort = { ...dk.secondary, write: (at, bytes) => dk.secondary.write(at, bytes.map((b, k) => (k === 21 ? b & 0xfe : b))) };
    const unaligned = new Uint8Array(65).fill(0x5b).subarray(1);
    assert.throws(() => new SlotWriter({ flash: flipping, readBack: true }).write(unaligned), (e: unknown) => e instanceof OtaError && /byte 21 reads 0x5a, wrote 0x5b/.test(e.message));
    // The same in a word-aligned chunk: the word compare finds the word, the bytes name the byte.
    const dk2 = createDevkitFlash({ layout: SMALL_SLOT_LAYOUT });
    const flipping2: FlashPort = { ...dk2.secondary, write: (at, bytes) => dk2.secondary.write(at, bytes.map((b, k) => (k === 21 ? b & 0xfe : b))) };
    assert.throws(() => new SlotWriter({ flash: flipping2, readBack: true }).write(new Uint8Array(64).fill(0x5b)), (e: unknown) => e instanceof OtaError && /byte 21 reads 0x5a, wrote 0x5b/.test(e.message));
  });

  it('without read-back (the default: the installer re-hashes the slot) a dropped write passes the writer', () => {
    const dk = createDevkitFlash({ layout: SMALL_SLOT_LAYOUT });
    const lossy: FlashPort = { ...dk.secondary, write: () => {} };
    const w = new SlotWriter({ flash: lossy });
    w.write(new Uint8Array(64).fill(0x5a));
    assert.equal(w.flush(), 64);
  });

  it('a device error becomes flash-error with the cause kept', () => {
    const dk = createDevkitFlash({ layout: SMALL_SLOT_LAYOUT });
    const broken: FlashPort = {
      ...dk.secondary,
      write: () => {
        throw new Error('EIO');
      },
    };
    const w = new SlotWriter({ flash: broken });
    assert.throws(() => w.write(new Uint8Array(64)), (e: unknown) => e instanceof OtaError && e.reason === 'flash-error' && (e.cause as Error).message === 'EIO');
  });
});
