/**
 * The image parser and slot code on the XS engine: every imgtool vector (fed whole and split at
 * many boundaries) gives the same verdict as in Node; the slot writer writes, re-hashes and
 * stages an update over the remote flash, MCUboot (simulated) swaps it, and XS confirms it.
 */
import assert from 'node:assert/strict';
import { hex, unhex } from '../../src/util/bytes.js';
import { readBootState } from '../../src/slot/boot-state.js';
import { SWAP_TYPE } from '../../src/image/trailer.js';
import { NodeDigest } from '../../tools/node/node-digest.js';
import { bootMcuboot } from '../../tools/devkit/parts/sim-mcuboot.js';
import { VirtualTime } from '../../tools/devkit/parts/virtual-time.js';
import type { DevkitFlash } from '../../tools/devkit/parts/sim-flash.js';
import { GuestError, XsSession } from '../../tools/xs/session.js';
import { servePlatform, type HostPlatform } from '../../tools/xs/serve-platform.js';
import { serveVerifier } from '../../tools/xs/serve-verifier.js';
import { expectedReason, loadMcubootVectors, vectorBytes, vectorWithReason, verdictMatches } from '../support/mcuboot-vectors.js';
import { deviceCreation } from '../../tools/xs/device-profile.js';
import { factoryDevkit, imageSha, makeImage, trustedKeyPem, verifier } from '../support/devkit-update.js';
import type { SignatureCheck } from '../../src/image/signature.js';

const set = loadMcubootVectors();
const trustedKeyHash = hex(verifier.keyHash);

/** The BigInt verifier is slow; split feeds reuse the verdict for the same (hash, key, sig). */
const cache = new Map<string, unknown>();
const cachedVerifier = {
  verifySync(check: SignatureCheck) {
    const key = hex(check.imageHash) + hex(check.keyHash) + hex(check.signature);
    if (!cache.has(key)) {
      try {
        verifier.verifySync(check);
        cache.set(key, null);
      } catch (error) {
        cache.set(key, error);
      }
    }
    const e = cache.get(key);
    if (e) throw e;
  },
};

function feedsFor(v: (typeof set.vectors)[number], length: number): number[][] {
  const feeds: number[][] = [[length], [61], [512], [4096]];
  if (length <= 8192) feeds.push([1]);
  const h = v.parsed.header;
  const marks = new Set<number>();
  for (const m of [32, h.hdr_size, h.hdr_size + h.img_size, h.hdr_size + h.img_size + h.protect_tlv_size, v.parsed.image_end]) {
    for (let d = -1; d <= 1; d++) marks.add(m + d);
  }
  for (const t of v.parsed.tlvs) for (const m of [t.offset - 4, t.offset, t.offset + 4, t.offset + t.len]) marks.add(m);
  for (let i = 1; i < Math.min(length, v.parsed.image_end); i += length > 8192 ? 9973 : 251) marks.add(i);
  for (const at of marks) if (at > 0 && at < length) feeds.push([at, length]);
  return feeds;
}

describe('XS: image parser and slot writer on the XS engine', function () {
  this.timeout(120_000);
  let session: XsSession;
  const platform: { -readonly [K in keyof HostPlatform]: HostPlatform[K] } = { digest: new NodeDigest() };
  let dk: DevkitFlash;

  before(async () => {
    // The vectors go to XS whole (test data: the agent itself streams an image in chunks), and
    // the bridge holds a few copies of each: the heap bound leaves room for that on top.
    const largest = Math.max(...set.vectors.map((v) => vectorBytes(set, v.file).length));
    const creation = deviceCreation();
    session = await XsSession.start({ bundle: 'image', creation: { ...creation, heapBytes: creation.heapBytes + 4 * largest } });
    servePlatform(session, platform, new VirtualTime());
    serveVerifier(session, cachedVerifier);
  });
  after(async () => session?.close());

  function useDevkit(): DevkitFlash {
    dk = factoryDevkit();
    platform.primarySlot = dk.primary;
    platform.secondarySlot = dk.secondary;
    return dk;
  }

  for (const v of set.vectors) {
    const expected = expectedReason(v) ?? 'valid';
    it(`${v.file}: ${expected}, whole and split`, async () => {
      const bytes = vectorBytes(set, v.file);
      const feeds = feedsFor(v, bytes.length);
      const r = await session.call<{ verdicts: string[]; info: { version: string; computedHash: string; imageSize: number } | null }>('verdicts', { bytes, feeds, trustedKeyHash });
      assert.equal(r.verdicts.length, feeds.length);
      r.verdicts.forEach((got, i) => assert.ok(verdictMatches(expected, got), `feed ${JSON.stringify(feeds[i]).slice(0, 40)}: ${got}, expected ${expected}`));
      if (r.info) {
        assert.equal(r.info.version, v.parsed.header.version);
        assert.equal(r.info.computedHash, v.sha256_hash_region_computed);
        assert.equal(r.info.imageSize, v.parsed.image_end);
      }
    });
  }

  it('writes, re-hashes from flash, stages; MCUboot swaps; XS confirms', async () => {
    useDevkit();
    const image = makeImage('1.0.0+1', 3000);
    const r = await session.call<{ staged: boolean; hash: string }>('install', { image, chunk: 700, trustedKeyHash });
    assert.equal(r.staged, true);
    assert.equal(r.hash, imageSha(image));
    assert.equal(readBootState(dk.primary, dk.secondary).nextSwap, SWAP_TYPE.TEST);
    assert.equal(await session.call('outcome', { hash: r.hash }), 'pending');
    assert.equal(bootMcuboot(dk, { trustedKeyPem }).outcome, 'test-swap');
    assert.equal(await session.call('outcome', { hash: r.hash }), 'new-testing');
    await session.call('confirm');
    assert.equal(await session.call('outcome', { hash: r.hash }), 'new-confirmed');
    const again = bootMcuboot(dk, { trustedKeyPem });
    assert.deepEqual([again.outcome, again.version], ['none', '1.0.0+1']);
    assert.equal(dk.device.stats.rewrites, 0);
  });

  it('resumes an interrupted download at the sector boundary it reported', async () => {
    useDevkit();
    const image = makeImage('1.1.0', 20_000);
    const part = await session.call<{ durableOffset: number; written: number }>('install', { image, chunk: 1000, stopAfter: 9_500, trustedKeyHash });
    assert.deepEqual([part.written, part.durableOffset], [9_500, 8192]);
    const rest = await session.call<{ staged: boolean }>('install', { image, chunk: 1000, startOffset: part.durableOffset, trustedKeyHash });
    assert.equal(rest.staged, true);
    assert.equal(bootMcuboot(dk, { trustedKeyPem }).version, '1.1.0+0');
  });

  it('refuses to stage a tampered image (hash-mismatch from XS), nothing pending', async () => {
    useDevkit();
    // Found by its expected reason, not its file name (another vector set names files its own way).
    const image = vectorBytes(set, vectorWithReason(set, 'hash-mismatch')!.file);
    await assert.rejects(session.call('install', { image, chunk: 512, trustedKeyHash }), (e: unknown) => e instanceof GuestError && e.reason === 'hash-mismatch');
    assert.equal(readBootState(dk.primary, dk.secondary).nextSwap, SWAP_TYPE.NONE);
    assert.equal(bootMcuboot(dk, { trustedKeyPem }).version, '0.0.1+0');
  });

  it('refuses an image signed by another key (key-mismatch from XS)', async () => {
    useDevkit();
    const image = vectorBytes(set, vectorWithReason(set, 'key-mismatch')!.file);
    await assert.rejects(session.call('install', { image, chunk: 512, trustedKeyHash }), (e: unknown) => e instanceof GuestError && e.reason === 'key-mismatch');
  });

  it('reports XS figures', () => {
    assert.ok(session.meter.peakHeapCount > 0);
    void unhex;
  });
});
