/**
 * The VCDIFF decoder against xdelta3's own output (tools/delta/encode.ts flags): random pairs
 * shaped like firmware updates (edits, insertions, deletions, moved blocks, repeated runs), the
 * committed firmware fixtures, and every hostile edit the decoder must name (typed reasons).
 * Without xdelta3 the random-pair cases skip outside CI (CI installs it: .ci/run).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Adler32 } from '../../../src/delta/adler32.js';
import { DEFAULT_CODE_TABLE } from '../../../src/delta/code-table.js';
import { DECODER_RAM_BYTES } from '../../../src/delta/decoder.js';
import { isOtaError } from '../../../src/util/errors.js';
import { applyDelta, listWindows } from '../../../tools/delta/decode.js';
import { encodeDelta, haveXdelta3 } from '../../../tools/delta/encode.js';

/** Deterministic bytes (xorshift32). */
export function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** A firmware-like image: code-ish bytes with repeats, then a few kinds of edit. */
export function randomPair(seed: number): { from: Uint8Array; to: Uint8Array } {
  const r = prng(seed);
  const size = 2000 + (r() % 120_000);
  const from = new Uint8Array(size);
  for (let i = 0; i < size; i++) from[i] = i > 64 && r() % 4 === 0 ? from[i - 1 - (r() % 64)] : r() & 0xff;
  const parts: Uint8Array[] = [];
  let at = 0;
  while (at < size) {
    const n = Math.min(size - at, 1 + (r() % 20_000));
    const kind = r() % 6;
    if (kind === 0) parts.push(Uint8Array.from({ length: 1 + (r() % 300) }, () => r() & 0xff)); // insert
    if (kind === 1) parts.push(new Uint8Array(1 + (r() % 2000)).fill(r() & 0xff)); // a run
    if (kind === 2) at += r() % 500; // delete
    if (kind === 3 && at > 4096) {
      const back = r() % at;
      parts.push(from.subarray(back, Math.min(size, back + (r() % 3000)))); // a moved block
    }
    const piece = from.slice(at, at + n);
    if (kind === 4) for (let k = 0; k < 1 + (r() % 20); k++) piece[r() % piece.length] ^= 1 + (r() % 255); // patched bytes
    parts.push(piece);
    at += n;
  }
  const to = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    to.set(p, o);
    o += p.length;
  }
  return { from, to };
}

async function reasonOf(delta: Uint8Array, from: Uint8Array, limit?: number): Promise<string> {
  try {
    await applyDelta(delta, from, limit);
    return 'ok';
  } catch (error) {
    if (isOtaError(error)) return error.reason;
    throw error;
  }
}

describe('delta: Adler-32 and the code table', () => {
  it('Adler-32 of "Wikipedia" is 0x11e60398 (RFC 1950 example value)', () => {
    const a = new Adler32();
    a.update(new TextEncoder().encode('Wikipedia'));
    assert.equal(a.value(), 0x11e60398);
  });
  it('Adler-32 over 1 MB of 0xff matches one computed in one pass with BigInt', () => {
    const bytes = new Uint8Array(1_000_000).fill(0xff);
    const a = new Adler32();
    a.update(bytes.subarray(0, 333_333));
    a.update(bytes.subarray(333_333));
    let s1 = 1n;
    let s2 = 0n;
    for (const b of bytes) {
      s1 = (s1 + BigInt(b)) % 65521n;
      s2 = (s2 + s1) % 65521n;
    }
    assert.equal(a.value(), Number((s2 << 16n) | s1));
  });
  it('default code table entries as RFC 3284 §5.6 lists them', () => {
    const e = (i: number) => Array.from(DEFAULT_CODE_TABLE.subarray(i * 6, i * 6 + 6));
    assert.deepEqual(e(0), [2, 0, 0, 0, 0, 0]); // RUN 0
    assert.deepEqual(e(1), [1, 0, 0, 0, 0, 0]); // ADD 0
    assert.deepEqual(e(18), [1, 17, 0, 0, 0, 0]); // ADD 17
    assert.deepEqual(e(19), [3, 0, 0, 0, 0, 0]); // COPY 0 mode 0
    assert.deepEqual(e(34), [3, 18, 0, 0, 0, 0]); // COPY 18 mode 0
    assert.deepEqual(e(162), [3, 18, 8, 0, 0, 0]); // COPY 18 mode 8
    assert.deepEqual(e(163), [1, 1, 0, 3, 4, 0]); // ADD 1 + COPY 4 mode 0
    assert.deepEqual(e(234), [1, 4, 0, 3, 6, 5]); // ADD 4 + COPY 6 mode 5
    assert.deepEqual(e(235), [1, 1, 0, 3, 4, 6]); // ADD 1 + COPY 4 mode 6
    assert.deepEqual(e(246), [1, 4, 0, 3, 4, 8]);
    assert.deepEqual(e(247), [3, 4, 0, 1, 1, 0]); // COPY 4 mode 0 + ADD 1
    assert.deepEqual(e(255), [3, 4, 8, 1, 1, 0]);
  });
  it('decoder RAM stays under 8 KiB (issue 14 target)', () => {
    assert.ok(DECODER_RAM_BYTES <= 8192, `${DECODER_RAM_BYTES}`);
  });
});

describe('delta: decoding xdelta3 output', function () {
  before(function () {
    if (!haveXdelta3()) {
      if (process.env.CI) throw new Error('xdelta3 is not installed (CI installs it in .ci/run)');
      this.skip();
    }
  });

  it('rebuilds 24 random firmware-like pairs byte for byte', async () => {
    for (let seed = 1; seed <= 24; seed++) {
      const { from, to } = randomPair(seed * 7919);
      const delta = encodeDelta(from, to);
      const out = await applyDelta(delta, from);
      assert.equal(out.length, to.length, `seed ${seed}`);
      assert.ok(Buffer.from(out).equals(Buffer.from(to)), `seed ${seed}: bytes differ`);
      for (const w of listWindows(delta)) assert.ok(w.adler32 !== undefined, 'xdelta3 writes an Adler-32 per window');
    }
  });

  it('rebuilds a target from no source, and one that repeats itself (target-window COPY, overlapping)', async () => {
    const to = new Uint8Array(70_000);
    for (let i = 0; i < to.length; i++) to[i] = (i % 7) * 31 + (i % 1000 === 0 ? 1 : 0);
    const dir = mkdtempSync(join(tmpdir(), 'xs-ota-delta-'));
    try {
      writeFileSync(join(dir, 'to'), to);
      execFileSync('xdelta3', ['-e', '-9', '-S', 'none', '-A', '-W', '16384', '-f', join(dir, 'to'), join(dir, 'out')]);
      const delta = new Uint8Array(readFileSync(join(dir, 'out')));
      assert.ok(Buffer.from(await applyDelta(delta, new Uint8Array(0))).equals(Buffer.from(to)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names what is wrong with a hostile delta (typed reasons)', async () => {
    const { from, to } = randomPair(4242);
    const delta = encodeDelta(from, to);
    const w = listWindows(delta)[0];
    const edit = (f: (d: Uint8Array) => void) => {
      const d = delta.slice();
      f(d);
      return d;
    };
    assert.equal(await reasonOf(edit((d) => (d[0] = 0)), from), 'delta-malformed');
    assert.equal(await reasonOf(edit((d) => (d[4] = 0x01)), from), 'delta-unsupported');
    assert.equal(await reasonOf(edit((d) => (d[w.at] = 0x0f)), from), 'delta-malformed');
    assert.equal(await reasonOf(delta.subarray(0, delta.length - 1), from), 'delta-malformed');
    // Wrong source: the same length, other bytes.
    const other = from.map((b) => b ^ 0x5a);
    assert.equal(await reasonOf(delta, other), 'delta-checksum');
    // A shorter source than the segment the window names.
    assert.equal(await reasonOf(delta, from.subarray(0, 100)), 'delta-address');
    // Too little room for the target.
    assert.equal(await reasonOf(delta, from, 1000), 'delta-no-room');
    // A flipped Adler-32.
    const adlerAt = w.dataStart - 4;
    assert.equal(await reasonOf(edit((d) => (d[adlerAt] ^= 1)), from), 'delta-checksum');
  });
});
