/**
 * Seeded property tests of the streaming parser: random mutations and truncations of valid
 * imgtool images, fed in random chunks, never crash (only OtaErrors), never hang, never verify.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ImageStream } from '../../../src/image/image-stream.js';
import { isOtaError } from '../../../src/util/errors.js';
import { NodeDigest } from '../../../tools/node/node-digest.js';
import { NodeSignatureVerifier } from '../../../tools/node/node-signature-verifier.js';
import { loadMcubootVectors, trustedPublicPem, validSignedImages } from '../../support/mcuboot-vectors.js';

const set = loadMcubootVectors();
const digest = new NodeDigest();
const verifier = new NodeSignatureVerifier(trustedPublicPem(set));
// Seeds: the set's valid signed images (from its vectors.json, whatever they are called), the
// smallest first, at most four.
const BASES = validSignedImages(set)
  .sort((a, b) => a.bytes.length - b.bytes.length)
  .slice(0, 4)
  .map((v) => v.bytes);

/** Parses + verifies; returns 'valid' or the OtaError reason; rethrows anything else (a crash). */
async function run(bytes: Uint8Array, chunk: number): Promise<string> {
  try {
    const s = new ImageStream({ digest });
    for (let o = 0; o < bytes.length; o += chunk) {
      const used = s.push(bytes.subarray(o, o + chunk));
      if (used < Math.min(chunk, bytes.length - o)) break;
    }
    await s.finish().verify(verifier, { trustedKeyHash: verifier.keyHash });
    return 'valid';
  } catch (error) {
    if (isOtaError(error)) return error.reason;
    throw error;
  }
}

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }), count: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 40 }) }),
);

describe('image/ImageStream fuzz (fast-check, seeded)', () => {
  it('valid bases verify', async () => {
    assert.ok(BASES.length > 0, 'the vector set has no valid image signed by its trusted key');
    for (const b of BASES) assert.equal(await run(b, 4096), 'valid');
  });

  it('mutated or truncated images never crash and never verify', async function () {
    this.timeout(120_000);
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: BASES.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.integer({ min: 1, max: 5000 }), async (which, muts, chunk) => {
        const base = BASES[which];
        let bytes = base.slice();
        for (const m of muts) {
          const at = m.at % Math.max(1, bytes.length);
          if (m.kind === 'flip') bytes[at] ^= m.mask;
          else if (m.kind === 'set') bytes.fill(m.value, at, at + m.count);
          else if (m.kind === 'truncate') bytes = bytes.slice(0, at);
          else if (m.kind === 'delete') bytes = Uint8Array.from([...bytes.subarray(0, at), ...bytes.subarray(at + m.count)]);
          else bytes = Uint8Array.from([...bytes.subarray(0, at), ...m.bytes, ...bytes.subarray(at)]);
        }
        // Only inputs whose image bytes differ from the original count (bytes appended after
        // the last TLV are not part of the image, like slot padding).
        const changed = bytes.length < base.length || bytes.subarray(0, base.length).some((b, i) => b !== base[i]);
        fc.pre(changed);
        const verdict = await run(bytes, chunk);
        assert.notEqual(verdict, 'valid', `mutations ${JSON.stringify(muts)} verified`);
      }),
      { seed: 0x5eed, numRuns: 600 },
    );
  });
});
