/**
 * The heap census's growth (tools/xs/census.ts): a private method's function that XS names at
 * the first instance moves between rows, and the net over the function rows says so.
 */
import assert from 'node:assert/strict';
import { censusFunctions, censusGrowth, type Census } from '../../../tools/xs/census.js';
import { SLOT_BYTES } from '../../../tools/xs/device-profile.js';

describe('XS heap census growth', () => {
  const base: Census = {
    liveSlots: 100,
    liveChunkBytes: 1000,
    frames: [],
    groups: [
      { name: 'fn (unnamed function)', count: 2, slots: 10, chunkBytes: 300 },
      { name: 'Object', count: 1, slots: 2, chunkBytes: 0 },
    ],
  };
  // The same two functions, named by their first instance; one new object and one new closure.
  const peak: Census = {
    liveSlots: 100 + 2 + 5,
    liveChunkBytes: 1000 + 40,
    frames: [],
    groups: [
      { name: 'fn #feed', count: 1, slots: 5, chunkBytes: 100 },
      { name: 'fn #take', count: 1, slots: 5, chunkBytes: 200 },
      { name: 'fn onData', count: 1, slots: 5, chunkBytes: 40 },
      { name: 'Object', count: 2, slots: 4, chunkBytes: 0 },
    ],
  };

  it('nets the function rows: renamed functions cancel, a new closure stays', () => {
    const { bytes, rows } = censusGrowth(peak, base);
    assert.equal(bytes, 7 * SLOT_BYTES + 40);
    const named = rows.filter((r) => r.name.startsWith('fn #'));
    assert.equal(named.length, 2, 'the renamed functions do show as growth by name');
    const net = censusFunctions(rows);
    assert.deepEqual({ count: net.count, slots: net.slots, chunkBytes: net.chunkBytes }, { count: 1, slots: 5, chunkBytes: 40 });
    assert.equal(net.bytes, 5 * SLOT_BYTES + 40);
  });
});
