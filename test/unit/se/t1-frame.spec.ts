/**
 * T=1 blocks: every frame of the NXP vectors decodes (split at every offset) and re-encodes to the
 * same bytes; the PCB helpers agree with the vectors' annotations; bad frames are told apart; a
 * seeded fuzz never crashes, hangs, or passes a frame whose CRC does not hold.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { crc16X25 } from '../../../src/se/crc16.js';
import {
  NAD_HOST_TO_SE,
  NAD_SE_TO_HOST,
  T1FrameDecoder,
  T1_FRAME_MAX,
  blockKind,
  encodeFrame,
  iPcb,
  pcbMore,
  pcbNr,
  pcbNs,
  pcbRError,
  pcbValid,
  rPcb,
  sPcb,
} from '../../../src/se/t1-frame.js';
import { hex, unhex } from '../../../src/util/bytes.js';
import { loadSeVectors, type VectorFrame } from '../../support/se-vectors.js';

const frames: VectorFrame[] = [
  ...loadSeVectors('se05x_session_vectors.json').vectors,
  ...loadSeVectors('t1oi2c_sblock_vectors.json').vectors,
].flatMap((v) => v.t1_frames);

function decodeSplit(bytes: Uint8Array, nad: number, split: number): T1FrameDecoder {
  const decoder = new T1FrameDecoder(nad);
  let used = decoder.push(bytes.subarray(0, split));
  used += decoder.push(bytes.subarray(split));
  assert.equal(used, bytes.length);
  return decoder;
}

describe('se/t1-frame', () => {
  it(`decodes all ${frames.length} vector frames split at every offset, and re-encodes them`, () => {
    for (const f of frames) {
      const bytes = unhex(f.hex);
      const nad = f.dir === 'host->se' ? NAD_HOST_TO_SE : NAD_SE_TO_HOST;
      for (let split = 0; split <= bytes.length; split++) {
        const d = decodeSplit(bytes, nad, split);
        assert.equal(d.status, f.crc_ok ? 'ok' : 'bad-crc', `${f.hex} split ${split}`);
      }
      const d = decodeSplit(bytes, nad, 0);
      assert.equal(blockKind(d.pcb), f.block);
      const out = new Uint8Array(T1_FRAME_MAX);
      assert.equal(hex(out.subarray(0, encodeFrame(out, nad, d.pcb, d.inf))), f.hex);
    }
  });

  it('agrees with the vectors on PCB fields', () => {
    for (const f of frames as (VectorFrame & { pcb: string; ns?: number; more?: boolean; nr?: number; error?: string })[]) {
      const pcb = parseInt(f.pcb, 16);
      assert.ok(pcbValid(pcb), f.hex);
      if (f.block === 'I') {
        assert.equal(pcbNs(pcb), f.ns);
        assert.equal(pcbMore(pcb), f.more);
        assert.equal(iPcb(f.ns!, f.more!), pcb);
      } else if (f.block === 'R') {
        assert.equal(pcbNr(pcb), f.nr);
        assert.equal(pcbRError(pcb), { none: 0, 'crc/parity': 1, other: 2 }[f.error!]);
      }
    }
    assert.equal(rPcb(1, 1), 0x91);
    assert.equal(sPcb(0x03, true), 0xe3);
    assert.equal(iPcb(1, true), 0x60);
  });

  it('stops at the end of a frame and leaves the rest', () => {
    const two = unhex('a5e0003f19a5e0003f19');
    const d = new T1FrameDecoder(NAD_SE_TO_HOST);
    assert.equal(d.push(two), 5);
    assert.equal(d.status, 'ok');
  });

  it('tells a wrong NAD, an oversized LEN and a bad CRC apart', () => {
    const wrongNad = new T1FrameDecoder(NAD_SE_TO_HOST);
    assert.equal(wrongNad.push(unhex('5ac000fffc')), 1);
    assert.equal(wrongNad.status, 'bad-nad');
    const long = new T1FrameDecoder(NAD_SE_TO_HOST);
    long.push(unhex('a500ff'));
    assert.equal(long.status, 'bad-length');
    assert.equal(long.needed, 0);
    const crc = new T1FrameDecoder(NAD_SE_TO_HOST);
    crc.push(unhex('a5e0003f18'));
    assert.equal(crc.status, 'bad-crc');
  });

  it('refuses to encode an INF above 254 bytes', () => {
    assert.throws(() => encodeFrame(new Uint8Array(300), NAD_HOST_TO_SE, 0, new Uint8Array(255)), RangeError);
  });

  it('fuzz (seeded): random bytes in random chunks never crash, hang or pass a bad CRC', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 600 }), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 20 }), (bytes, chunks) => {
        const d = new T1FrameDecoder(NAD_SE_TO_HOST);
        let at = 0;
        let k = 0;
        let frames = 0;
        // Each push consumes at least one byte or completes a frame: the loop ends.
        while (at < bytes.length) {
          const end = Math.min(bytes.length, at + chunks[k++ % chunks.length]);
          while (at < end) {
            const used = d.push(bytes, at, end);
            at += used;
            if (d.status !== 'pending') {
              if (d.status === 'ok') {
                const f = d.bytes;
                const crc = crc16X25(f, 0, f.length - 2);
                assert.equal(f[f.length - 2] | (f[f.length - 1] << 8), crc);
                assert.equal(f[0], NAD_SE_TO_HOST);
                assert.ok(d.length <= 254);
              }
              frames++;
              d.reset();
            } else assert.ok(used > 0);
          }
        }
        return frames >= 0;
      }),
      { seed: 0x5e05, numRuns: 2000 },
    );
  });

  it('fuzz (seeded): valid frames with one flipped bit never decode as ok', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 254 }), fc.integer({ min: 0, max: 255 }), fc.nat(), (inf, pcb, flip) => {
        const out = new Uint8Array(T1_FRAME_MAX);
        const n = encodeFrame(out, NAD_SE_TO_HOST, pcb, inf);
        const bit = flip % (n * 8);
        out[bit >> 3] ^= 1 << (bit & 7);
        const d = new T1FrameDecoder(NAD_SE_TO_HOST);
        d.push(out.subarray(0, n));
        // A flip in LEN may leave the frame incomplete (pending): also not ok.
        assert.notEqual(d.status, 'ok');
      }),
      { seed: 0x5e06, numRuns: 3000 },
    );
  });
});
