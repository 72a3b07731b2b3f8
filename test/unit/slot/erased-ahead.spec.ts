/**
 * ErasedAheadSlot (src/slot/erased-ahead.ts): the secondary slot erased between polls, one unit per
 * step, the mark persisted only once the whole slot is erased and deleted before any write; the
 * slot writer then programs a fresh image without erasing, and trusts nothing after a resume, a
 * write, a lying mark or a power cut.
 */
import assert from 'node:assert/strict';
import { ErasedAheadSlot, ERASED_MARK_KEY } from '../../../src/slot/erased-ahead.js';
import { SlotWriter } from '../../../src/slot/slot-writer.js';
import { createDevkitFlash, isPowerCut, slotLayout, type DevkitFlash } from '../../../tools/devkit/parts/sim-flash.js';
import { SimKeyValue } from '../../../tools/devkit/parts/sim-key-value.js';

const SECTOR = 4096;
const BLOCK = 0x10000;
const LAYOUT = slotLayout(0x60000);
const SECTORS = LAYOUT.secondary.size / SECTOR;

/** A slot full of stale bytes (an old image), as after a confirmed swap. */
function staleKit(): DevkitFlash {
  const dk = createDevkitFlash({ layout: LAYOUT, seed: 3 });
  const stale = new Uint8Array(SECTOR).fill(0x5a);
  for (let at = 0; at < LAYOUT.secondary.size; at += SECTOR) dk.secondary.write(at, stale);
  return dk;
}

function image(length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 7 + 1) & 0x7f;
  return out;
}

function eraseAll(slot: ErasedAheadSlot): number {
  let steps = 1;
  while (slot.eraseStep()) steps++;
  return steps;
}

function secondaryErases(dk: DevkitFlash): number {
  const base = LAYOUT.secondary.offset / SECTOR;
  let n = 0;
  for (let s = 0; s < SECTORS; s++) n += dk.device.sectorErases[base + s];
  return n;
}

function writeImage(slot: ErasedAheadSlot, bytes: Uint8Array, startOffset = 0): SlotWriter {
  const w = new SlotWriter({ flash: slot, trailerSize: LAYOUT.trailerSize, startOffset, eraseEnd: bytes.length, erasedBytes: slot.erasedBytes });
  w.begin();
  for (let o = startOffset; o < bytes.length; o += 1000) w.write(bytes.subarray(o, Math.min(bytes.length, o + 1000)));
  w.flush();
  return w;
}

describe('slot/ErasedAheadSlot: the secondary slot erased while the agent is idle', () => {
  it('erases the whole slot in 64 KiB blocks, one per step, and marks it only when complete', () => {
    const dk = staleKit();
    const kv = new SimKeyValue();
    const slot = new ErasedAheadSlot(dk.secondary, kv);
    assert.equal(slot.erasedBytes, 0);
    assert.equal(slot.eraseStep(), true);
    assert.equal(slot.erasedBytes, BLOCK);
    assert.equal(kv.read(ERASED_MARK_KEY), undefined, 'no mark before the whole slot is erased');
    const steps = eraseAll(slot) + 1;
    assert.equal(steps, LAYOUT.secondary.size / BLOCK);
    assert.equal(dk.device.stats.blockErases, LAYOUT.secondary.size / BLOCK);
    assert.equal(kv.read(ERASED_MARK_KEY), String(LAYOUT.secondary.size));
    assert.equal(slot.erasedBytes, LAYOUT.secondary.size);
    assert.equal(slot.eraseStep(), false, 'nothing left');
    const back = new Uint8Array(LAYOUT.secondary.size);
    dk.secondary.read(0, back);
    assert.ok(back.every((b) => b === 0xff));
  });

  it('a fresh image on the erased slot is programmed without a single erase (trailer included)', () => {
    const dk = staleKit();
    const kv = new SimKeyValue();
    const slot = new ErasedAheadSlot(dk.secondary, kv);
    eraseAll(slot);
    const before = secondaryErases(dk);
    const bytes = image(3 * BLOCK + 5000);
    writeImage(slot, bytes);
    assert.equal(secondaryErases(dk), before, 'no erase during the write');
    assert.equal(dk.device.stats.rewrites, 0, 'every program hit erased flash');
    const back = new Uint8Array(bytes.length);
    dk.secondary.read(0, back);
    assert.deepEqual(back, bytes);
    assert.equal(kv.read(ERASED_MARK_KEY), undefined, 'the first write deleted the mark');
    assert.equal(slot.erasedBytes, 0);
  });

  it('the mark survives a reboot, and the next boot programs without erasing', () => {
    const dk = staleKit();
    const kv = new SimKeyValue();
    eraseAll(new ErasedAheadSlot(dk.secondary, kv));
    const after = new ErasedAheadSlot(dk.secondary, kv);
    assert.equal(after.erasedBytes, LAYOUT.secondary.size);
    const before = secondaryErases(dk);
    writeImage(after, image(BLOCK + 10));
    assert.equal(secondaryErases(dk), before);
    assert.equal(dk.device.stats.rewrites, 0);
  });

  it('a download interrupted by a reset erases again on resume (the mark went with the first write)', () => {
    const dk = staleKit();
    const kv = new SimKeyValue();
    eraseAll(new ErasedAheadSlot(dk.secondary, kv));
    const bytes = image(2 * BLOCK + 100);
    const first = new ErasedAheadSlot(dk.secondary, kv);
    const w = new SlotWriter({ flash: first, trailerSize: LAYOUT.trailerSize, eraseEnd: bytes.length, erasedBytes: first.erasedBytes });
    w.begin();
    w.write(bytes.subarray(0, BLOCK + 5000));
    const resumeAt = w.durableOffset;
    // Reset: a new boot sees no mark; a resumed writer trusts nothing above its resume point.
    const second = new ErasedAheadSlot(dk.secondary, kv);
    assert.equal(second.erasedBytes, 0);
    const before = secondaryErases(dk);
    writeImage(second, bytes, resumeAt);
    assert.ok(secondaryErases(dk) > before, 'the resume erased its sectors');
    const back = new Uint8Array(bytes.length);
    dk.secondary.read(0, back);
    assert.deepEqual(back, bytes);
  });

  it('a mark that lies is not believed: wrong value, or an image written past the agent (SWD)', () => {
    const dk = staleKit();
    const kv = new SimKeyValue();
    for (const value of ['1', String(LAYOUT.secondary.size) + ' ', '0x60000', '-1', 'erased']) {
      kv.write(ERASED_MARK_KEY, value);
      assert.equal(new ErasedAheadSlot(dk.secondary, kv).erasedBytes, 0, value);
    }
    // A true mark, then an image header written into the slot by a probe, not by the agent.
    eraseAll(new ErasedAheadSlot(dk.secondary, kv));
    dk.secondary.write(0, new Uint8Array(32).fill(0x3d));
    assert.equal(new ErasedAheadSlot(dk.secondary, kv).erasedBytes, 0, 'the slot start is not erased');
    // The same with only the trailer's magic written.
    eraseAll(new ErasedAheadSlot(dk.secondary, kv));
    dk.secondary.write(LAYOUT.secondary.size - 16, new Uint8Array(16).fill(0x77));
    assert.equal(new ErasedAheadSlot(dk.secondary, kv).erasedBytes, 0, 'the trailer is not erased');
  });

  it('a power cut during the idle erase leaves no mark; the next boot erases again', () => {
    const dk = staleKit();
    const kv = new SimKeyValue();
    const slot = new ErasedAheadSlot(dk.secondary, kv);
    dk.powerCut.afterOps(3);
    assert.throws(() => eraseAll(slot), (e: unknown) => isPowerCut(e));
    dk.powerCut.powerOn();
    assert.equal(kv.read(ERASED_MARK_KEY), undefined);
    const again = new ErasedAheadSlot(dk.secondary, kv);
    assert.equal(again.erasedBytes, 0);
    eraseAll(again);
    assert.equal(kv.read(ERASED_MARK_KEY), String(LAYOUT.secondary.size));
  });

  it('the mark is deleted before the write: a store that cannot delete stops the write', () => {
    const dk = staleKit();
    const kv = new SimKeyValue();
    eraseAll(new ErasedAheadSlot(dk.secondary, kv));
    const slot = new ErasedAheadSlot(dk.secondary, kv);
    const failing = {
      maxValueLength: kv.maxValueLength,
      read: (key: string) => kv.read(key),
      write: (key: string, value: string) => kv.write(key, value),
      delete: () => {
        throw new Error('store full');
      },
    };
    const guarded = new ErasedAheadSlot(dk.secondary, failing);
    assert.throws(() => guarded.write(0, new Uint8Array(8)), /erased-slot mark/);
    const head = new Uint8Array(8);
    dk.secondary.read(0, head);
    assert.ok(head.every((b) => b === 0xff), 'nothing was written');
    assert.equal(slot.erasedBytes, LAYOUT.secondary.size);
  });

  it('a delta staged at the top keeps the area below it known erased', () => {
    const dk = staleKit();
    const kv = new SimKeyValue();
    const slot = new ErasedAheadSlot(dk.secondary, kv);
    eraseAll(slot);
    const staging = LAYOUT.secondary.size - 4 * SECTOR;
    slot.write(staging + 8, new Uint8Array(8));
    assert.equal(slot.erasedBytes, staging);
    assert.equal(kv.read(ERASED_MARK_KEY), undefined);
  });
});
