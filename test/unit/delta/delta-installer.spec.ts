/**
 * DeltaInstaller on the simulated NOR flash (Node): choosing a delta for the running image,
 * staging it in chunks of any size, decoding it into the secondary slot through the SlotInstaller
 * (whose `finish` verifies the rebuilt image as it would a download), and the typed refusals: a
 * source that is not the primary's image, a staged delta changed on flash, no room. Fixtures:
 * test/fixtures/firmware (gcc-arm-none-eabi, imgtool format, xdelta3), signed for 0x60000 slots,
 * so the flash is SMALL_SLOT_LAYOUT (the room checks below are that slot's).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { UpdateOffer } from '../../../src/backend/backend.js';
import { SLOT_READ_PIECE_MAX, SlotInstaller } from '../../../src/agent/slot-installer.js';
import { DeltaInstaller, PROGRESS_KEY } from '../../../src/delta/delta-installer.js';
import type { DeltaAware } from '../../../src/delta/plan.js';
import { isOtaError } from '../../../src/util/errors.js';
import { imageId } from '../../../tools/delta/image-id.js';
import { createDevkitFlash, SMALL_SLOT_LAYOUT } from '../../../tools/devkit/parts/sim-flash.js';
import { SimKeyValue } from '../../../tools/devkit/parts/sim-key-value.js';
import { digest, makeImage, programRaw, verifier } from '../../support/devkit-update.js';
import { encodeDelta, haveXdelta3 } from '../../../tools/delta/encode.js';
import { stagingArea } from '../../../src/delta/staging.js';
import { DEFAULT_TRAILER_SIZE } from '../../../src/image/image-stream.js';
import { fixturePath } from '../../support/paths.js';

const fw = (name: string) => new Uint8Array(readFileSync(fixturePath('firmware', name)));
const V1 = fw('fw-v1.0.0+1.signed.bin');
const V2 = fw('fw-v1.1.0+2.signed.bin');
const V3 = fw('fw-v1.2.0+3.signed.bin');
const D12 = fw('v1.0.0+1-to-v1.1.0+2.vcdiff');
const D13 = fw('v1.0.0+1-to-v1.2.0+3.vcdiff');
const unhex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
const sha = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());

function kit(running = V1) {
  const dk = createDevkitFlash({ seed: 3, layout: SMALL_SLOT_LAYOUT });
  programRaw(dk.primary, running);
  const keyValue = new SimKeyValue();
  const make = () => {
    const inner = new SlotInstaller({ primary: dk.primary, secondary: dk.secondary, digest, verifier });
    return new DeltaInstaller({ inner, primary: dk.primary, secondary: dk.secondary, digest, keyValue });
  };
  return { dk, keyValue, make };
}

function offer(deltaFrom = V1, delta = D12): UpdateOffer {
  return {
    actionId: 'a1',
    version: '1.1.0+2',
    url: 'https://updates.example/fw/1.1.0+2.bin',
    size: V2.length,
    sha256: sha(V2),
    download: 'forced',
    update: 'forced',
    deltas: [{ url: 'https://updates.example/fw/1.0.0+1-to-1.1.0+2.vcdiff', size: delta.length, sha256: sha(delta), fromVersion: '1.0.0+1', fromImageHash: unhex(imageId(deltaFrom).imageHash) }],
  };
}

function deployment(o: UpdateOffer): DeltaAware {
  return { url: o.url, size: o.size, offset: 0, attempts: 0 };
}

async function stage(installer: DeltaInstaller, d: DeltaAware, bytes: Uint8Array, chunk: number): Promise<number> {
  installer.select(d);
  await installer.resume(0);
  for (let o = 0; o < bytes.length; o += chunk) await installer.write(bytes.subarray(o, o + chunk));
  return installer.seal();
}

async function reasonOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (error) {
    if (isOtaError(error)) return error.reason;
    throw error;
  }
}

describe('delta: DeltaInstaller on the dev kit flash', () => {
  it('takes the delta made from the running image, not one made from another', () => {
    const { make } = kit();
    const installer = make();
    const d = deployment(offer());
    assert.ok(installer.plan(d, offer()));
    assert.equal(d.url, 'https://updates.example/fw/1.0.0+1-to-1.1.0+2.vcdiff');
    assert.equal(d.size, D12.length);
    assert.deepEqual(d.delta, { fullUrl: offer().url, fullSize: V2.length, sha256: Buffer.from(sha(D12)).toString('hex'), source: imageId(V1).imageHash });
    const other = deployment(offer(V2));
    assert.equal(installer.plan(other, offer(V2)), undefined);
    assert.equal(other.delta, undefined);
    assert.equal(other.url, offer().url);
  });

  it('a delta and image that do not both fit the slot are not taken', () => {
    const { make } = kit();
    const big: UpdateOffer = { ...offer(), size: 0x5f000 };
    const d = deployment(big);
    assert.equal(make().plan(d, big), undefined);
  });

  for (const chunk of [1, 7, 512, 4096, 100_000]) {
    it(`stages the delta in ${chunk}-byte chunks, rebuilds v1.1.0+2 in the slot, verifies it`, async () => {
      const { make, keyValue } = kit();
      const installer = make();
      const d = deployment(offer());
      installer.plan(d, offer());
      assert.equal(await stage(installer, d, D12, chunk), D12.length);
      await installer.reload(D12.length);
      const info = await installer.finish();
      assert.equal(info.version, '1.1.0+2');
      assert.equal(info.imageSize, V2.length);
      assert.deepEqual(info.fileSha256, sha(V2));
      assert.match(keyValue.read(PROGRESS_KEY) ?? '', new RegExp(` ${V2.length}$`), 'decoded: done recorded');
    });
  }

  it('block erases of the rebuilt image never reach the staged delta, also when the image size is not stated', async function () {
    if (!haveXdelta3()) {
      if (process.env.CI) throw new Error('xdelta3 missing');
      this.skip();
    }
    this.timeout(20_000);
    // A 275 KB target sharing its first 200 KB with the running image: a ~75 KB delta staged at
    // 0x4C000.., inside the 64 KiB block [0x40000, 0x50000) the target also reaches.
    const from = makeImage('1.0.0', 200_000, 'delta-blocks');
    const to = makeImage('1.1.0', 275_000, 'delta-blocks');
    const delta = encodeDelta(from, to);
    const dk = createDevkitFlash({ seed: 9, layout: SMALL_SLOT_LAYOUT });
    assert.equal(dk.secondary.status().largeBlockLength, 0x10000, 'the slot offers block erases');
    programRaw(dk.primary, from);
    const inner = new SlotInstaller({ primary: dk.primary, secondary: dk.secondary, digest, verifier });
    const installer = new DeltaInstaller({ inner, primary: dk.primary, secondary: dk.secondary, digest, keyValue: new SimKeyValue() });
    const o: UpdateOffer = {
      actionId: 'a2',
      version: '1.1.0',
      url: 'https://updates.example/fw/1.1.0.bin',
      download: 'forced',
      update: 'forced',
      deltas: [{ url: 'https://updates.example/fw/1.0.0-to-1.1.0.vcdiff', size: delta.length, sha256: sha(delta), fromVersion: '1.0.0', fromImageHash: unhex(imageId(from).imageHash) }],
    };
    const d: DeltaAware = { url: o.url, offset: 0, attempts: 0 };
    assert.ok(installer.plan(d, o));
    assert.equal(d.delta?.fullSize, undefined, 'no size stated (as IoTConnect)');
    const area = stagingArea(dk.secondary.status(), DEFAULT_TRAILER_SIZE, delta.length, undefined)!;
    const block = area.base - (area.base % 0x10000);
    assert.ok(block < to.length && block + 0x10000 <= dk.secondary.status().size - DEFAULT_TRAILER_SIZE, `staging at ${area.base} shares a block with the target`);
    assert.equal(await stage(installer, d, delta, 4096), delta.length);
    const blocksBefore = dk.device.stats.blockErases;
    await installer.reload(delta.length);
    assert.ok(dk.device.stats.blockErases - blocksBefore >= 3, 'the target below the staging area was block-erased');
    // The staged delta is intact after decoding (a reset mid-decode re-hashes it before resuming).
    const staged = new Uint8Array(delta.length);
    dk.secondary.read(area.base, staged);
    assert.deepEqual(sha(staged), sha(delta));
    const info = await installer.finish();
    assert.equal(info.version, '1.1.0+0');
    assert.deepEqual(info.fileSha256, sha(to));
  });

  it('re-hashes the staged delta in reads of at most SLOT_READ_PIECE_MAX bytes: no sector-size buffer in RAM', async () => {
    const { make, dk } = kit();
    assert.ok(dk.layout.sectorSize > SLOT_READ_PIECE_MAX, 'the piece is smaller than a sector here');
    // v1.0.0+1 -> v1.2.0+3: a delta longer than one piece (not a sector), so its re-hash takes two reads.
    assert.ok(D13.length > SLOT_READ_PIECE_MAX && D13.length < dk.layout.sectorSize, `delta of ${D13.length} bytes`);
    const o: UpdateOffer = { ...offer(V1, D13), version: '1.2.0+3', size: V3.length, sha256: sha(V3) };
    const installer = make();
    const d = deployment(o);
    assert.ok(installer.plan(d, o));
    await stage(installer, d, D13, 512);
    const reads: number[] = [];
    const read = dk.secondary.read.bind(dk.secondary);
    dk.secondary.read = (offset: number, into: Uint8Array) => {
      reads.push(into.length);
      return read(offset, into);
    };
    // Every read of the verify step: the staged delta's re-hash, the decoder's, the rebuilt image's re-hash.
    await installer.reload(D13.length);
    assert.equal((await installer.finish()).version, '1.2.0+3');
    assert.ok(reads.includes(SLOT_READ_PIECE_MAX), `a full piece was read: ${reads.length} reads`);
    assert.ok(Math.max(...reads) <= SLOT_READ_PIECE_MAX, `largest read ${Math.max(...reads)}`);
  });

  it('after a reset, a decoded delta is re-hashed from flash, not decoded again', async () => {
    const { make, dk } = kit();
    const first = make();
    const d = deployment(offer());
    first.plan(d, offer());
    await stage(first, d, D12, 512);
    await first.reload(D12.length);
    const writes = dk.device.stats.writes;
    const second = make();
    second.select(d);
    await second.reload(D12.length);
    assert.equal(dk.device.stats.writes, writes, 'nothing written');
    assert.equal((await second.finish()).version, '1.1.0+2');
  });

  it('refuses to decode when the primary does not hold the source: delta-source-mismatch, nothing written', async () => {
    const { make, dk } = kit(V3);
    const installer = make();
    const d = deployment(offer());
    // As if planned on a device running V1 (the journal says so), now running V3.
    d.delta = { fullUrl: offer().url, fullSize: V2.length, sha256: Buffer.from(sha(D12)).toString('hex'), source: imageId(V1).imageHash };
    d.url = 'https://updates.example/d';
    d.size = D12.length;
    await stage(installer, d, D12, 512);
    const writes = dk.device.stats.writes;
    assert.equal(await reasonOf(installer.reload(D12.length)), 'delta-source-mismatch');
    assert.equal(dk.device.stats.writes, writes);
  });

  it('a staged delta changed on flash: hash-mismatch before decoding', async () => {
    const { make, dk } = kit();
    const installer = make();
    const d = deployment(offer());
    installer.plan(d, offer());
    await stage(installer, d, D12, 512);
    // Clear bits of one staged byte (NOR can only clear): find the staging sector from the top.
    const s = dk.secondary.status();
    const base = Math.floor((s.size - 3120) / s.blockLength) * s.blockLength - s.blockLength;
    dk.secondary.write(base + 8, new Uint8Array(8));
    assert.equal(await reasonOf(installer.reload(D12.length)), 'hash-mismatch');
  });

  it('a staged length other than the offer says: delta-malformed', async () => {
    const { make } = kit();
    const installer = make();
    const d = deployment(offer());
    installer.plan(d, offer());
    await stage(installer, d, D12.subarray(0, 100), 64);
    assert.equal(await reasonOf(installer.reload(100)), 'delta-malformed');
  });

  it('without a delta every call goes to the SlotInstaller (a full image)', async () => {
    const { make } = kit();
    const installer = make();
    installer.select({ url: 'x', size: V2.length, offset: 0, attempts: 0 });
    await installer.resume(0);
    await installer.write(V2);
    installer.seal();
    await installer.reload(V2.length);
    assert.equal((await installer.finish()).version, '1.1.0+2');
  });
});
