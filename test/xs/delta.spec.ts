/**
 * The VCDIFF decoder on the XS engine (guest tools/delta/decode.guest.ts): the firmware fixtures'
 * deltas rebuild their targets byte for byte, a hostile delta fails with its typed reason across
 * the bridge, and one decoder's live heap stays within the slots DECODER_RAM_BYTES budgets.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DECODER_SLOTS_BUDGET } from '../../src/delta/decoder.js';
import { GuestError, XsSession } from '../../tools/xs/session.js';
import { fixturePath } from '../support/paths.js';

const fw = (name: string) => new Uint8Array(readFileSync(fixturePath('firmware', name)));
const PAIRS = [
  ['fw-v1.0.0+1.signed.bin', 'fw-v1.1.0+2.signed.bin', 'v1.0.0+1-to-v1.1.0+2.vcdiff'],
  ['fw-v1.1.0+2.signed.bin', 'fw-v1.2.0+3.signed.bin', 'v1.1.0+2-to-v1.2.0+3.vcdiff'],
  ['fw-v1.0.0+1.signed.bin', 'fw-v1.2.0+3.signed.bin', 'v1.0.0+1-to-v1.2.0+3.vcdiff'],
].map(([from, to, delta]) => ({ from: fw(from), to: fw(to), delta: fw(delta), name: delta }));

describe('xs: VCDIFF decoder inside XS', function () {
  this.timeout(60_000);
  let session: XsSession;
  before(async () => {
    session = await XsSession.start({ bundle: 'decode' });
  });
  after(async () => {
    await session?.close();
  });

  for (const p of PAIRS) {
    it(`${p.name}: rebuilds the target byte for byte`, async () => {
      await session.call('hold', { delta: p.delta, source: p.from, targetLength: p.to.length });
      const r = await session.call<{ windows: number; targetLength: number }>('decode');
      assert.equal(r.targetLength, p.to.length);
      assert.ok(Buffer.from(await session.call<Uint8Array>('target')).equals(Buffer.from(p.to)));
    });
  }

  it('the wrong source: delta-checksum, as a typed reason across the bridge', async () => {
    const p = PAIRS[0];
    await session.call('hold', { delta: p.delta, source: p.to, targetLength: p.to.length });
    await assert.rejects(session.call('decode'), (e: unknown) => e instanceof GuestError && e.reason === 'delta-checksum');
  });

  it('one decoder holds at most DECODER_SLOTS_BUDGET live slots', async () => {
    // A fresh engine (as the bench measures): nothing of earlier calls is freed in between.
    const fresh = await XsSession.start({ bundle: 'decode' });
    try {
      const p = PAIRS[0];
      await fresh.call('hold', { delta: p.delta, source: p.from, targetLength: p.to.length });
      const before = await fresh.liveHeapCount();
      await fresh.call('keep');
      const slots = (await fresh.liveHeapCount()) - before;
      assert.equal(await fresh.call('drop'), true, 'the decoder was kept');
      assert.ok(slots > 0 && slots <= DECODER_SLOTS_BUDGET, `${slots} slots`);
      assert.ok((await fresh.liveHeapCount()) - before <= 0, 'and freed once dropped');
    } finally {
      await fresh.close();
    }
  });
});
