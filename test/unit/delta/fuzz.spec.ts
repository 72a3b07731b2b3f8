/**
 * Seeded property tests of the VCDIFF decoder: mutations and truncations of real deltas (the
 * firmware fixtures, made by xdelta3), random bytes after a valid header, and windows whose
 * sizes lie (the expected target length given, as the agent gives it). The decoder never crashes (only OtaErrors with a delta reason), never runs away (a
 * target limit bounds it; every loop consumes delta bytes), and never returns a target other than
 * the real one (each window's Adler-32).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { isOtaError } from '../../../src/util/errors.js';
import { applyDelta } from '../../../tools/delta/decode.js';
import { fixturePath } from '../../support/paths.js';

const fw = (name: string) => new Uint8Array(readFileSync(fixturePath('firmware', name)));
const PAIRS = [
  { from: fw('fw-v1.0.0+1.signed.bin'), to: fw('fw-v1.1.0+2.signed.bin'), delta: fw('v1.0.0+1-to-v1.1.0+2.vcdiff') },
  { from: fw('fw-v1.1.0+2.signed.bin'), to: fw('fw-v1.2.0+3.signed.bin'), delta: fw('v1.1.0+2-to-v1.2.0+3.vcdiff') },
];
const DELTA_REASONS = ['delta-malformed', 'delta-unsupported', 'delta-address', 'delta-overrun', 'delta-checksum', 'delta-no-room'];
const LIMIT = 64 * 1024;

async function outcome(delta: Uint8Array, from: Uint8Array, to: Uint8Array): Promise<string> {
  try {
    const out = await applyDelta(delta, from, LIMIT, to.length);
    assert.ok(Buffer.from(out).equals(Buffer.from(to)), 'a delta that decodes must give the real target');
    return 'ok';
  } catch (error) {
    if (isOtaError(error)) {
      assert.ok(DELTA_REASONS.includes(error.reason), `reason ${error.reason}: ${error.message}`);
      return error.reason;
    }
    throw error;
  }
}

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(bytes: Uint8Array, m: Mutation): Uint8Array {
  const at = m.at % bytes.length;
  switch (m.kind) {
    case 'flip': {
      const b = bytes.slice();
      b[at] ^= m.mask;
      return b;
    }
    case 'set': {
      const b = bytes.slice();
      b.fill(m.value, at, at + m.count);
      return b;
    }
    case 'truncate':
      return bytes.subarray(0, at);
    case 'delete':
      return Uint8Array.from([...bytes.subarray(0, at), ...bytes.subarray(at + m.count)]);
    case 'insert':
      return Uint8Array.from([...bytes.subarray(0, at), ...m.bytes, ...bytes.subarray(at)]);
  }
}

describe('delta: decoder fuzzing (fast-check, seeded)', function () {
  this.timeout(120_000);

  it('the fixtures decode to their targets', async () => {
    for (const p of PAIRS) assert.equal(await outcome(p.delta, p.from, p.to), 'ok');
  });

  it('1500 mutated deltas: a delta reason or the real target, never a crash', async () => {
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: PAIRS.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 3 }), async (i, ms) => {
        const p = PAIRS[i];
        let bytes: Uint8Array = p.delta;
        for (const m of ms) if (bytes.length > 0) bytes = mutate(bytes, m);
        const r = await outcome(bytes, p.from, p.to);
        seen.set(r, (seen.get(r) ?? 0) + 1);
      }),
      { numRuns: 1500, seed: 0x14de17a },
    );
    // The mutations reach the decoder's checks, not only the magic.
    for (const reason of ['delta-malformed', 'delta-checksum', 'delta-overrun']) assert.ok((seen.get(reason) ?? 0) > 0, `${reason}: ${JSON.stringify([...seen])}`);
  });

  it('500 random bodies after a valid header: typed reasons only', async () => {
    const { from, to } = PAIRS[0];
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 600 }), async (body) => {
        await outcome(Uint8Array.from([0xd6, 0xc3, 0xc4, 0x00, 0x00, ...body]), from, to);
      }),
      { numRuns: 500, seed: 0x14 },
    );
  });

  it('hand-made windows: VCD_TARGET, an application header, and sizes that lie (a huge target, an instruction past the window, a COPY before the start)', async () => {
    const { from, to } = PAIRS[0];
    const header = [0xd6, 0xc3, 0xc4, 0x00, 0x00];
    const varint = (n: number): number[] => {
      const out = [n & 0x7f];
      for (n = Math.floor(n / 128); n > 0; n = Math.floor(n / 128)) out.unshift(0x80 | (n & 0x7f));
      return out;
    };
    // Win_Indicator 0 (no source), then the encoding: target length, Delta_Indicator, 3 lengths, sections.
    const window = (targetLength: number, data: number[], inst: number[], addr: number[]) => {
      const body = [...varint(targetLength), 0, ...varint(data.length), ...varint(inst.length), ...varint(addr.length), ...data, ...inst, ...addr];
      return [0x00, ...varint(body.length), ...body];
    };
    const bytes = (w: number[]) => Uint8Array.from([...header, ...w]);
    assert.equal(await outcome(bytes(window(0x7fff_ffff, [], [], [])), from, to), 'delta-no-room');
    // ADD of 18 bytes (opcode 1 = ADD size from the inst section) into a 4-byte window.
    assert.equal(await outcome(bytes(window(4, [1, 2, 3, 4], [1, 18], [])), from, to), 'delta-overrun');
    // ADD 4 needs 4 data bytes, the section has 2.
    assert.equal(await outcome(bytes(window(4, [1, 2], [5], [])), from, to), 'delta-overrun');
    // COPY 4 mode 0 (opcode 19 + size varint 4) from address 0 with nothing written yet.
    assert.equal(await outcome(bytes(window(4, [], [19, 4], [0])), from, to), 'delta-address');
    // A source segment past the source image.
    const src = [0x01, ...varint(16), ...varint(from.length), ...window(4, [1, 2, 3, 4], [5], []).slice(1)];
    assert.equal(await outcome(bytes(src), from, to), 'delta-address');
    // VCD_TARGET: window 1 copies from window 0's target (xdelta3 never writes one; RFC 3284 §4.2).
    const abcd = [0x61, 0x62, 0x63, 0x64];
    const w0 = window(4, abcd, [5], []);
    const w1body = [...varint(8), 0, ...varint(0), ...varint(4), ...varint(2), 19, 4, 19, 4, 0, 0];
    const w1 = [0x02, ...varint(4), ...varint(0), ...varint(w1body.length), ...w1body];
    const rebuilt = await applyDelta(Uint8Array.from([...header, ...w0, ...w1]), new Uint8Array(0));
    assert.equal(Buffer.from(rebuilt).toString(), 'abcdabcdabcd');
    // A target segment past what was written.
    const w1bad = [0x02, ...varint(8), ...varint(0), ...varint(w1body.length), ...w1body];
    assert.equal(await outcome(Uint8Array.from([...header, ...w0, ...w1bad]), from, to), 'delta-address');
    // An application header (VCD_APPHEADER) is skipped.
    const withApp = Uint8Array.from([0xd6, 0xc3, 0xc4, 0x00, 0x04, 3, 0x41, 0x42, 0x43, ...w0]);
    assert.equal(Buffer.from(await applyDelta(withApp, new Uint8Array(0))).toString(), 'abcd');
    // A 6-byte varint.
    assert.equal(await outcome(bytes([0x00, 0x81, 0x81, 0x81, 0x81, 0x81, 0x01]), from, to), 'delta-malformed');
  });
});
