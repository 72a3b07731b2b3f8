/**
 * End to end, the agent in XS on the simulated dev kit: delta updates with the committed firmware
 * pairs (test/fixtures/firmware, built with gcc-arm-none-eabi, deltas by xdelta3). The device runs
 * v1.0.0+1; the server offers v1.1.0+2 (one function changed) with a VCDIFF delta beside it.
 * Covers: the delta taken on both modems (manifest and hawkBit), an expired delta URL refreshed
 * from the backend (the delta resumes, no fallback), the full image taken when the delta was made from
 * another image, the fallback to the full image when the delta is corrupt, power cuts while the
 * delta downloads and while it is decoded. The device-sized build (~786 KB, the pair the bench
 * judges the targets on) once, across a power cut deep in its decode.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fixturePath } from '../support/paths.js';
import { trustedKeyPem } from '../support/devkit-update.js';
import { parseFault, runDevkitUpdate, type DevkitOptions, type DevkitSummary } from '../../tools/devkit/devkit.js';
import { DEVKIT_LAYOUT, type DevkitFlash } from '../../tools/devkit/parts/sim-flash.js';
import type { ReferenceServer } from '../../tools/server/index.js';
import { assertNothingPending, finals, story } from './e2e-support.js';
import { mosquittoMissing } from '../../tools/node/mosquitto.js';
import { encodeDelta, haveXdelta3 } from '../../tools/delta/encode.js';
import { imageId } from '../../tools/delta/image-id.js';
import { signImage } from '../../tools/image/imgtool-sign.js';
import { signingKeyPem } from '../support/devkit-update.js';
import { SMALL_SLOT_LAYOUT } from '../../tools/devkit/parts/sim-flash.js';

/** Deterministic bytes (xorshift32), standing in for new machine code. */
function prngBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const fw = (name: string) => new Uint8Array(readFileSync(fixturePath('firmware', name)));
const V1 = fw('fw-v1.0.0+1.signed.bin');
const V2 = fw('fw-v1.1.0+2.signed.bin');
const V3 = fw('fw-v1.2.0+3.signed.bin');
const DELTA_1_2 = fw('v1.0.0+1-to-v1.1.0+2.vcdiff');
const DELTA_2_3 = fw('v1.1.0+2-to-v1.2.0+3.vcdiff');

function run(options: Partial<DevkitOptions>): Promise<DevkitSummary> {
  return runDevkitUpdate({ image: V2, baseImage: V1, trustedKeyPem, maxVirtualMs: 4 * 3600_000, backend: 'manifest', delta: { bytes: DELTA_1_2 }, ...options });
}

const logged = (s: DevkitSummary, event: string) => s.logs.filter((l) => l.event === event);
const finalDetail = (s: DevkitSummary) => {
  const body = s.reports.at(-1)?.body as { detail?: string } | undefined;
  return body?.detail ?? '';
};

describe('e2e: delta updates (VCDIFF, firmware fixtures)', function () {
  this.timeout(60_000);

  for (const modem of ['sim7080', 'sim7600'] as const) {
    it(`manifest over ${modem}: downloads only the delta, rebuilds v1.1.0+2, verifies, swaps, confirms`, async () => {
      const s = await run({ modem });
      assert.equal(s.outcome, 'running', story(s));
      assert.equal(s.versionAfter, '1.1.0+2');
      assert.deepEqual(s.mcuboot, ['none', 'test-swap']);
      assert.equal(s.artifactBytesSent, DELTA_1_2.length, 'only the delta crossed the air');
      assert.equal(s.a5000.verifications, 1);
      assert.match(finalDetail(s), new RegExp(`installed from a ${DELTA_1_2.length}-byte delta`), story(s));
      assert.equal(logged(s, 'delta.failed').length, 0, story(s));
      assertNothingPending(s);
    });
  }

  for (const modem of ['sim7080', 'sim7600'] as const) {
    it(`hawkBit over ${modem}: the delta as a second artifact named by convention, closed/success`, async () => {
      const s = await run({ backend: 'hawkbit', modem });
      assert.equal(s.outcome, 'running', story(s));
      assert.equal(s.versionAfter, '1.1.0+2');
      assert.equal(s.artifactBytesSent, DELTA_1_2.length, 'only the delta crossed the air');
      assert.deepEqual(finals(s).map((r) => r.what), ['closed/success'], story(s));
      assert.match(finals(s)[0].details, /installed from a \d+-byte delta/, story(s));
    });
  }

  for (const backend of ['manifest', 'hawkbit'] as const) {
    it(`${backend}: an expired pre-signed delta URL is asked for again and the delta resumes; no fallback to the full image`, async () => {
      // The URLs are valid 60 s of server time; the server clock jumps past that once the agent has
      // accepted the offer, so the delta's first request meets a 403 (url-expired).
      let server: ReferenceServer | undefined;
      const s = await run({
        backend,
        faults: [parseFault('expired-url')],
        onReady: (kit) => (server = kit.server),
        onLog: (l) => {
          if (l.event === 'deployment.accepted') server!.clock.advance(120);
        },
      });
      assert.equal(s.outcome, 'running', story(s));
      assert.equal(s.versionAfter, '1.1.0+2');
      assert.ok(s.logs.some((l) => l.event === 'download.failed' && l.fields?.reason === 'url-expired'), story(s));
      assert.equal(logged(s, 'delta.url-refreshed').length, 1, story(s));
      assert.equal(logged(s, 'delta.failed').length, 0, story(s));
      const statuses = s.artifactRequests.map((r) => r.status);
      assert.ok(statuses.includes(403), JSON.stringify(s.artifactRequests));
      // Only the delta's bytes were served (the 403's body aside): the full image never was.
      assert.ok(s.artifactBytesSent < DELTA_1_2.length + 512, `${s.artifactBytesSent} artifact bytes sent`);
      const detail = backend === 'hawkbit' ? finals(s)[0].details : finalDetail(s);
      assert.match(detail, new RegExp(`installed from a ${DELTA_1_2.length}-byte delta`), story(s));
    });
  }

  it('IoTConnect over sim7080: the delta as a further file in urls[] (size and SHA-256 in its name), st 3', async function () {
    if (mosquittoMissing()) {
      if (process.env.CI) throw new Error(`mosquitto: ${mosquittoMissing()}`);
      this.skip();
    }
    const s = await run({ backend: 'iotconnect', modem: 'sim7080' });
    assert.equal(s.outcome, 'running', story(s));
    assert.equal(s.versionAfter, '1.1.0+2');
    assert.equal(s.artifactBytesSent, DELTA_1_2.length, 'only the delta crossed the air');
    assert.equal(logged(s, 'delta.failed').length, 0, story(s));
    assert.ok(s.acks?.some((a) => a.st === 3), JSON.stringify(s.acks));
  });

  it('a delta made from another image is not taken: the full image is downloaded', async () => {
    const s = await run({ delta: { bytes: DELTA_2_3, from: V2 }, image: V3 });
    assert.equal(s.outcome, 'running', story(s));
    assert.equal(s.versionAfter, '1.2.0+3');
    assert.equal(s.artifactBytesSent, V3.length);
    assert.equal(finalDetail(s), '', 'an ordinary full update');
  });

  it('a delta that claims the running image as source but was made from another: delta-checksum, then the full image', async () => {
    // DELTA_2_3 named as made from V1 (the running image): its source hash matches, its COPYs read the wrong bytes.
    const s = await run({ delta: { bytes: DELTA_2_3, from: V1 }, image: V3 });
    assert.equal(s.outcome, 'running', story(s));
    assert.equal(s.versionAfter, '1.2.0+3');
    const failed = logged(s, 'delta.failed');
    assert.equal(failed.length, 1, story(s));
    assert.equal(failed[0].fields?.reason, 'delta-checksum');
    assert.equal(s.artifactBytesSent, DELTA_2_3.length + V3.length);
    assert.match(finalDetail(s), /full image after the delta failed: delta-checksum/);
    assertNothingPending(s);
  });

  it('a corrupt delta (its published hash is of the corrupt bytes): a typed delta reason, then the full image', async () => {
    const corrupt = DELTA_1_2.slice();
    corrupt[corrupt.length >> 1] ^= 0x40;
    const s = await run({ delta: { bytes: corrupt } });
    assert.equal(s.outcome, 'running', story(s));
    assert.equal(s.versionAfter, '1.1.0+2');
    assert.ok(['delta-checksum', 'delta-malformed', 'delta-overrun', 'delta-address'].includes(String(logged(s, 'delta.failed')[0]?.fields?.reason)), story(s));
    assert.deepEqual(finals(s).map((r) => r.what), ['running']);
  });

  it('power cut while the delta downloads: resumes, rebuilds, installs', async () => {
    const s = await run({ faults: [{ kind: 'power-cut', event: { event: 'download.start', afterFlashOps: 16 } }] });
    assert.equal(s.outcome, 'running', story(s));
    assert.equal(s.versionAfter, '1.1.0+2');
    assert.ok(s.resets.includes('power cut'), story(s));
    assert.equal(logged(s, 'delta.failed').length, 0, story(s));
  });

  it('power cut in the middle of a 5-sector delta download: resumes from the last flushed sector, not from 0', async function () {
    if (!haveXdelta3()) {
      if (process.env.CI) throw new Error('xdelta3 is not installed (CI installs it in .ci/run)');
      this.skip();
    }
    // v1 with 18 KiB of new code in the middle: a delta of about 18 KiB (5 staging sectors).
    const body = V1.slice(0x200, imageId(V1).imageSize - 200);
    const grown = new Uint8Array(0x200 + body.length + 18 * 1024);
    grown.set(body.subarray(0, body.length >> 1), 0x200);
    grown.set(prngBytes(18 * 1024, 77), 0x200 + (body.length >> 1));
    grown.set(body.subarray(body.length >> 1), 0x200 + (body.length >> 1) + 18 * 1024);
    const target = signImage(grown, { keyPem: signingKeyPem, version: '1.3.0+4', slotSize: 0x60000 });
    const delta = encodeDelta(V1, target);
    assert.ok(delta.length > 4 * 4096, `${delta.length}`);
    // 4 KiB sectors (SMALL_SLOT_LAYOUT, a 4 KiB-sector board): resumes are at sector boundaries, and
    // this image is smaller than one of the named board's 64 KiB sectors (docs/flash-layout.md).
    const s = await run({ image: target, delta: { bytes: delta }, layout: SMALL_SLOT_LAYOUT, policy: { progressEveryBytes: 4096 }, faults: [{ kind: 'power-cut', event: { event: 'download.start', afterFlashOps: 16 } }] });
    assert.equal(s.outcome, 'running', story(s));
    assert.equal(s.versionAfter, '1.3.0+4');
    const resumed = logged(s, 'download.resume');
    assert.equal(resumed.length, 1, story(s));
    assert.ok(Number(resumed[0].fields?.offset) >= 4096, story(s));
    assert.ok(s.artifactBytesSent < 2 * delta.length, `${s.artifactBytesSent} of ${delta.length}`);
    assert.equal(logged(s, 'delta.failed').length, 0, story(s));
  });

  // Flash operations after 'delta.decode': the target's first window (16 KiB) is 32 writes of 512
  // bytes after the trailer erase (its sectors were erased ahead while the modem came up,
  // src/agent/machine.ts #eraseWhileLinkUp, so the decode erases none); the second window's 7
  // writes follow. A cut past the first window resumes at window 1.
  for (const [afterFlashOps, fromWindow] of [[3, 0], [12, 0], [36, 1]]) {
    it(`power cut while the delta is decoded (${afterFlashOps} flash operations in): decoding resumes at window ${fromWindow}, installs`, async () => {
      // 4 KiB sectors (SMALL_SLOT_LAYOUT, a 4 KiB-sector board): resumes are at sector boundaries, and
      // this image is smaller than one of the named board's 64 KiB sectors (docs/flash-layout.md).
      const s = await run({ layout: SMALL_SLOT_LAYOUT, faults: [{ kind: 'power-cut', event: { event: 'delta.decode', afterFlashOps } }] });
      const decodes = logged(s, 'delta.decode');
      assert.equal(decodes.length, 2, story(s));
      assert.equal(decodes[1].fields?.fromWindow, fromWindow, story(s));
      assert.equal(logged(s, 'delta.decoded').length, 1);
      assert.equal(s.outcome, 'running', story(s));
      assert.equal(s.versionAfter, '1.1.0+2');
      assert.ok(s.resets.includes('power cut'), story(s));
      assert.equal(logged(s, 'delta.failed').length, 0, story(s));
      assert.equal(s.artifactBytesSent, DELTA_1_2.length, 'nothing downloaded again');
    });
  }

  it('the device-sized build (786 KB signed with --align-end 0x10000, 48 windows): by delta across a power cut deep in the decode, resumed at a later window, nothing downloaded again', async () => {
    const from = fw('device-fw-v1.0.0+1.signed.bin');
    const to = fw('device-fw-v1.1.0+2.signed.bin');
    const delta = fw('device-v1.0.0+1-to-v1.1.0+2.vcdiff');
    // About 700 flash operations into the decode: past a dozen 16 KiB windows (32 writes of 512
    // bytes each, a 64 KiB block erase every four).
    const s = await run({ image: to, baseImage: from, delta: { bytes: delta }, faults: [{ kind: 'power-cut', event: { event: 'delta.decode', afterFlashOps: 700 } }] });
    assert.equal(s.outcome, 'running', story(s));
    assert.equal(s.versionAfter, '1.1.0+2');
    const decodes = logged(s, 'delta.decode');
    assert.equal(decodes.length, 2, story(s));
    assert.ok(Number(decodes[1].fields?.fromWindow) >= 10, story(s));
    assert.deepEqual(logged(s, 'delta.decoded').map((l) => l.fields?.bytes), [to.length]);
    assert.equal(s.artifactBytesSent, delta.length, 'nothing downloaded again');
    assert.equal(s.a5000.verifications, 1);
    assert.equal(logged(s, 'delta.failed').length, 0, story(s));
    assertNothingPending(s);
  });

  it('manifest, offered after the device idled: the slot was erased ahead, the decode programs the rebuilt image without erasing it', async () => {
    let flash: DevkitFlash | undefined;
    const erasesAt: Record<string, number> = {};
    const s = await run({
      offerAfterS: 60,
      onReady: (kit) => (flash = kit.flash),
      onLog: (l) => {
        if (flash && (l.event === 'delta.decode' || l.event === 'delta.decoded')) erasesAt[l.event] = flash.device.stats.erases;
      },
    });
    assert.equal(s.outcome, 'running', story(s));
    assert.equal(s.versionAfter, '1.1.0+2');
    assert.equal(s.artifactBytesSent, DELTA_1_2.length, 'only the delta crossed the air');
    const accepted = s.logs.findIndex((l) => l.event === 'deployment.accepted');
    const erasedAhead = s.logs.findIndex((l) => l.event === 'slot.erased-ahead');
    assert.ok(erasedAhead >= 0 && erasedAhead < accepted, story(s));
    // The target's sectors were erased while idle; the slot writer still erases the trailer's
    // sector(s) before the first write (a stale pending marker must never survive), nothing else.
    const trailerSectors = Math.ceil(DEVKIT_LAYOUT.trailerSize / DEVKIT_LAYOUT.sectorSize);
    assert.equal(erasesAt['delta.decoded'] - erasesAt['delta.decode'], trailerSectors, story(s));
  });
});
