/**
 * The streaming parser against every entry of the imgtool vector set (test/fixtures/mcuboot,
 * or XS_OTA_VECTORS_MCUBOOT), whole and split at many chunk boundaries.
 */
import assert from 'node:assert/strict';
import { createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { ImageStream, ParsedImage } from '../../../src/image/image-stream.js';
import { formatVersion } from '../../../src/image/version.js';
import { hex, unhex } from '../../../src/util/bytes.js';
import { isOtaError, OtaError } from '../../../src/util/errors.js';
import type { OtaReason } from '../../../src/agent/reasons.js';
import type { SignatureVerifier } from '../../../src/image/signature.js';
import { NodeDigest } from '../../../tools/node/node-digest.js';
import { NodeSignatureVerifier } from '../../../tools/node/node-signature-verifier.js';
import { expectedReason, loadMcubootVectors, MCUBOOT_VECTORS_ENV, MUST_REJECT, splitPoints, trustedPublicPem, vectorBytes, verdictMatches } from '../../support/mcuboot-vectors.js';

const set = loadMcubootVectors();
const digest = new NodeDigest();
const verifier = new NodeSignatureVerifier(trustedPublicPem(set));
/** Verdicts of the (slow, BigInt) ECDSA check by hash+signature: split feeds reuse them. */
const ecdsaCache = new Map<string, string>();
const cachedVerifier: SignatureVerifier = {
  async verify(check) {
    const key = hex(check.imageHash) + hex(check.keyHash) + hex(check.signature);
    let result = ecdsaCache.get(key);
    if (result === undefined) {
      try {
        verifier.verifySync(check);
        result = 'ok';
      } catch (error) {
        result = (error as OtaError).reason;
      }
      ecdsaCache.set(key, result);
    }
    if (result !== 'ok') throw new OtaError(result as OtaReason, 'cached');
  },
};

function parse(bytes: Uint8Array, chunks: number[] = [bytes.length]): ParsedImage {
  const s = new ImageStream({ digest });
  let o = 0;
  for (const size of chunks) {
    const part = bytes.subarray(o, o + size);
    const used = s.push(part);
    assert.ok(used <= part.length);
    o += used;
    if (used < part.length) break;
  }
  return s.finish();
}

async function verdict(bytes: Uint8Array, chunks?: number[]): Promise<string> {
  try {
    const image = parse(bytes, chunks);
    await image.verify(cachedVerifier, { trustedKeyHash: verifier.keyHash });
    return 'valid';
  } catch (error) {
    if (!isOtaError(error)) throw error;
    return error.reason;
  }
}

describe('image/ImageStream: imgtool vectors', () => {
  for (const v of set.vectors) {
    const expected = expectedReason(v) ?? 'valid';
    describe(v.file, () => {
      const bytes = vectorBytes(set, v.file);

      it(`gives verdict ${expected}`, async () => {
        const got = await verdict(bytes);
        assert.ok(verdictMatches(expected, got), `verdict ${got}, expected ${expected} (${v.failing_check ?? 'valid'})`);
      });

      it('parses header, TLVs and hashes as vectors.json records', function () {
        if (expected === 'truncated') {
          assert.throws(() => parse(bytes), (e: unknown) => e instanceof OtaError && e.reason === 'truncated');
          return;
        }
        let image: ReturnType<typeof parse>;
        try {
          image = parse(bytes);
        } catch (error) {
          // An unmapped rejection may be structural: the verdict test above covers it.
          if (expected === MUST_REJECT && error instanceof OtaError) return;
          throw error;
        }
        const h = v.parsed.header;
        assert.equal(image.header.hdrSize, h.hdr_size);
        assert.equal(image.header.imgSize, h.img_size);
        assert.equal(image.header.protectTlvSize, h.protect_tlv_size);
        assert.equal(formatVersion(image.version), h.version);
        assert.equal(image.imageSize, v.parsed.image_end);
        assert.equal(hex(image.computedHash), v.sha256_hash_region_computed);
        assert.equal(hex(image.expectedHash!), v.sha256_tlv_value);
        assert.deepEqual(
          image.tlvs.map((t) => [t.type, t.offset, hex(t.value)]),
          v.parsed.tlvs.map((t) => [t.type, t.offset, t.value_hex]),
        );
        assert.deepEqual(
          image.protectedTlvs.map((t) => [t.type, t.offset, hex(t.value)]),
          v.parsed.protected_tlvs.map((t) => [t.type, t.offset, t.value_hex]),
        );
        if (v.keyhash_tlv_value) assert.equal(hex(image.keyHash!), v.keyhash_tlv_value);
        const secCnt = v.parsed.protected_tlvs.find((t) => t.type === 0x50);
        assert.equal(image.securityCounter, secCnt ? new DataView(unhex(secCnt.value_hex).buffer).getUint32(0, true) : undefined);
      });

      it('gives the same verdict split into two chunks at every boundary tested', async function () {
        this.timeout(60_000);
        for (const at of splitPoints(v, bytes.length)) {
          const got = await verdict(bytes, [at, bytes.length - at]);
          assert.ok(verdictMatches(expected, got), `split at ${at}: ${got}, expected ${expected}`);
        }
      });

      it('gives the same verdict fed in chunks of 1, 3, 8, 61, 512, 4096 bytes', async function () {
        this.timeout(60_000);
        for (const size of bytes.length > 8192 ? [61, 512, 4096] : [1, 3, 8, 61, 512, 4096]) {
          const chunks = Array.from({ length: Math.ceil(bytes.length / size) }, () => size);
          const got = await verdict(bytes, chunks);
          assert.ok(verdictMatches(expected, got), `chunks of ${size}: ${got}, expected ${expected}`);
        }
      });
    });
  }

  it('the BigInt P-256 verifier agrees with crypto.verify on every signed vector', () => {
    const pub = createPublicKey(trustedPublicPem(set));
    for (const v of set.vectors.filter((x) => x.key === set.trusted_key && expectedReason(x) !== 'truncated')) {
      const bytes = vectorBytes(set, v.file);
      const image = parse(bytes);
      const region = bytes.subarray(0, image.hashedSize);
      const sig = image.signature!;
      const node = cryptoVerify('sha256', region, pub, sig);
      let ours = true;
      try {
        verifier.verifySync({ algorithm: 'ecdsa-p256', imageHash: new Uint8Array(createHash('sha256').update(region).digest()), keyHash: image.keyHash!, signature: sig });
      } catch {
        ours = false;
      }
      assert.equal(ours, node, v.file);
    }
  });

  it('the trusted key hash is the README value', () => {
    // The public set's README value; another set (XS_OTA_VECTORS_MCUBOOT) has its own key.
    if (!process.env[MCUBOOT_VECTORS_ENV]) assert.equal(hex(verifier.keyHash), 'be8218e6079d6c183cfcd944d8cb113f8d4b651441e2d2c3b6e4bd72c8b87807');
    assert.deepEqual(verifier.keyHash, unhex(set.keys.find((k) => k.name === set.trusted_key)!.keyhash_sha256_of_spki_der));
  });
});
