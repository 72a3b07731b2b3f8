/**
 * The device-sized firmware pairs the bench's `delta` section judges issue 14's targets on
 * (test/fixtures/firmware/README.md, tools/bench/delta.ts DELTA_PAIRS): each image is a valid
 * signed image of the dev kit's key that fits the dev kit's 1 MiB slot with its trailer, of the
 * size class of a real firmware; each delta rebuilds its target byte for byte from its source with
 * the agent's decoder, and leaves room for the target in the slot (its staging area above it).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { inspect } from '../../../tools/cli/image.js';
import { applyDelta } from '../../../tools/delta/decode.js';
import { imageId } from '../../../tools/delta/image-id.js';
import { DELTA_PAIRS } from '../../../tools/bench/delta.js';
import { SIGNING_KEY_FILE } from '../../../tools/bench/update.js';
import { BLOCK_ERASE_BYTES, DEVKIT_LAYOUT } from '../../../tools/devkit/parts/sim-flash.js';
import { stagingArea } from '../../../src/delta/staging.js';
import { fixturePath } from '../../support/paths.js';

const fw = (name: string) => new Uint8Array(readFileSync(fixturePath('firmware', name)));
const KEY = readFileSync(SIGNING_KEY_FILE, 'utf8');
const SLOT = DEVKIT_LAYOUT.secondary.size;

describe('delta: the device-sized firmware pairs (the bench judges the targets on them)', () => {
  const judged = DELTA_PAIRS.filter((p) => p.judged);

  it('the judged pair is one function changed in the device build', () => {
    assert.equal(judged.length, 1);
    assert.match(judged[0].name, /device build, one function/);
    assert.match(judged[0].to, /^device-/);
  });

  for (const name of ['device-fw-v1.0.0+1.signed.bin', 'device-fw-v1.1.0+2.signed.bin', 'device-fw-v1.2.0+3.signed.bin']) {
    it(`${name}: signed by the dev kit's key, of a firmware's size, fits the 1 MiB slot with its trailer`, async () => {
      const bytes = fw(name);
      const r = await inspect(name, bytes, { keyPem: KEY, slotSize: SLOT });
      assert.equal(r.verdict, 'valid', `${r.reason}: ${r.detail}`);
      assert.ok(bytes.length >= 0.6 * 1024 * 1024, `${bytes.length} bytes: not device-sized`);
      assert.ok(bytes.length + DEVKIT_LAYOUT.trailerSize <= SLOT, `${bytes.length} + trailer ${DEVKIT_LAYOUT.trailerSize} > ${SLOT}`);
    });

    it(`${name}: signed with --align-end 0x10000, its copy size ends on a 64 KiB block (the swap block-erases)`, () => {
      // boot_read_image_size: header + body + protected TLVs + the TLV area's it_tlv_tot. The
      // swap's sector groups (boot_copy_sz, as many sectors as the scratch holds, from the last
      // one down) are then aligned 64 KiB blocks, each erased with one block erase.
      const v = new DataView(fw(name).buffer);
      const tlvOff = v.getUint16(8, true) + v.getUint32(12, true);
      const copySize = tlvOff + v.getUint16(10, true) + v.getUint16(tlvOff + v.getUint16(10, true) + 2, true);
      assert.equal(copySize, fw(name).length, 'the file is the image, nothing behind it');
      assert.equal(DEVKIT_LAYOUT.scratch.size, BLOCK_ERASE_BYTES, 'the scratch holds one block');
      assert.equal(DEVKIT_LAYOUT.primary.offset % BLOCK_ERASE_BYTES, 0, 'the slot starts on a block');
      assert.equal(copySize % BLOCK_ERASE_BYTES, 0, `copy size ${copySize} is not a multiple of 64 KiB`);
    });
  }

  for (const p of DELTA_PAIRS.filter((x) => x.from.startsWith('device-'))) {
    it(`${p.delta}: rebuilds ${p.to} from ${p.from}, and both fit the slot`, async () => {
      const [from, to, delta] = [fw(p.from), fw(p.to), fw(p.delta)];
      const rebuilt = await applyDelta(delta, from, SLOT, to.length);
      assert.ok(Buffer.from(rebuilt).equals(Buffer.from(to)), 'the delta rebuilds other bytes');
      assert.notEqual(imageId(from).imageHash, imageId(to).imageHash);
      const status = { size: SLOT, blockLength: DEVKIT_LAYOUT.sectorSize, writeAlign: DEVKIT_LAYOUT.writeAlign, eraseValue: DEVKIT_LAYOUT.eraseValue };
      assert.ok(stagingArea(status, DEVKIT_LAYOUT.trailerSize, delta.length, to.length), 'delta and image do not both fit the slot');
      // Far from the whole image (else the bench would measure a full download under another name).
      assert.ok(delta.length < 0.1 * to.length, `${delta.length} of ${to.length}`);
    });
  }
});
