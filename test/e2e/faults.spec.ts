/**
 * End to end on XS in virtual time: the link, the server and the application misbehave, and the
 * agent still ends the deployment correctly (resume, backoff with jitter, a fresh URL, a revert).
 */
import assert from 'node:assert/strict';
import { parseFault } from '../../tools/devkit/devkit.js';
import type { ReferenceServer } from '../../tools/server/index.js';
import { assertNothingPending, finals, run, seen, story, TARGET } from './e2e-support.js';
import { SMALL_SLOT_LAYOUT } from '../../tools/devkit/parts/sim-flash.js';

describe('e2e: link, server and health faults', function () {
  this.timeout(40_000);

  it('a link drop at 50% resumes where the flash stopped: the server sends < image + 8 KiB', async () => {
    // 4 KiB sectors (SMALL_SLOT_LAYOUT, a 4 KiB-sector board): resumes are at sector boundaries, and
    // this image is smaller than one of the named board's 64 KiB sectors (docs/flash-layout.md).
    const s = await run({ faults: [parseFault('link-drop@50%')], layout: SMALL_SLOT_LAYOUT });
    assert.equal(s.outcome, 'running', story(s));
    assert.equal(s.versionAfter, '1.1.0+0');
    assert.ok(s.logs.some((l) => l.event === 'download.resume'), story(s));
    // The server writes a small image into the loopback socket at once, so its first request
    // counts the whole image; what matters is that the resumed requests ask for the rest only,
    // and that the device received less than the image + 8 KiB over the link.
    const [first, ...resumed] = s.artifactRequests.filter((r) => r.status === 200 || r.status === 206);
    assert.equal(first.range, `bytes=0-${TARGET.length - 1}`);
    assert.ok(resumed.length >= 1, JSON.stringify(s.artifactRequests));
    for (const r of resumed) {
      assert.equal(r.status, 206);
      const start = Number(/^bytes=(\d+)-/.exec(r.range ?? '')?.[1]);
      assert.ok(start > 0, `resumed from ${r.range}`);
      assert.equal(r.bytesSent, TARGET.length - start);
    }
    const fetched = Number(s.logs.find((l) => l.event === 'download.done')?.fields?.fetched);
    assert.ok(fetched < TARGET.length + 8192, `fetched ${fetched} for ${TARGET.length}`);
    assert.deepEqual(finals(s).map((r) => r.what), ['closed/success']);
  });

  it('noise on the modem UART mid-body (at-garbled in the AT engine) resumes from the flushed prefix, as a link drop does', async () => {
    // 4 KiB sectors (SMALL_SLOT_LAYOUT, a 4 KiB-sector board): resumes are at sector boundaries, and
    // this image is smaller than one of the named board's 64 KiB sectors (docs/flash-layout.md).
    const s = await run({ faults: [parseFault('uart-noise@50%')], flowControl: 'none', layout: SMALL_SLOT_LAYOUT });
    assert.equal(s.outcome, 'running', story(s));
    const failed = s.logs.filter((l) => l.event === 'download.failed');
    assert.ok(failed.length >= 1, `the noise was met: ${story(s)}`);
    assert.ok(failed.every((l) => l.fields?.action === 'resume'), story(s));
    assert.ok(s.logs.some((l) => l.event === 'download.resume' && Number(l.fields?.offset) > 0), story(s));
    assert.deepEqual(finals(s).map((r) => r.what), ['closed/success']);
  });

  for (const [fault, retryAfterMs] of [
    ['server-503', 30_000],
    ['server-429', 120_000],
  ] as const) {
    it(`${fault}: backs off within [0, cap] honouring Retry-After, then succeeds`, async () => {
      const s = await run({ faults: [parseFault(fault)] });
      assert.equal(s.outcome, 'running', story(s));
      const delays = s.logs.filter((l) => l.event === 'download.backoff').map((l) => Number(l.fields?.delayMs));
      assert.ok(delays.length >= 1, story(s));
      // The dev kit's policy: retryCapS 600. Retry-After is a floor the jitter may not undercut.
      for (const delay of delays) {
        assert.ok(delay >= 0 && delay <= 600_000, `delay ${delay}`);
        assert.ok(delay >= retryAfterMs, `delay ${delay} below Retry-After ${retryAfterMs}`);
      }
      assert.deepEqual(finals(s).map((r) => r.what), ['closed/success']);
    });
  }

  for (const backend of ['hawkbit', 'manifest'] as const) {
    it(`${backend}: an expired pre-signed URL is re-requested (refreshOffer), then the download succeeds`, async () => {
      // The URL is valid 60 s of server time; the server clock jumps past that once the agent has
      // accepted the offer, so its first artifact request meets a 403. hawkBit's deploymentBase and
      // the reference server's manifest both sign the URL again per request, so asking again helps.
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
      const success = backend === 'hawkbit' ? 'closed/success' : 'running';
      assert.deepEqual(finals(s).map((r) => r.what), [success], story(s));
      assert.ok(s.logs.some((l) => l.event === 'download.failed' && l.fields?.reason === 'url-expired'), story(s));
      const statuses = s.artifactRequests.map((r) => r.status);
      assert.ok(statuses.includes(403), JSON.stringify(s.artifactRequests));
      // The request after the 403 carries a URL signed later, and is served.
      assert.ok(statuses.slice(statuses.indexOf(403) + 1).some((st) => st === 200 || st === 206), JSON.stringify(s.artifactRequests));
    });
  }

  it('health check fails: the agent reboots, MCUboot reverts, reported reverted/health-check-failed once', async () => {
    const s = await run({ faults: [parseFault('health-fail')] });
    assert.equal(s.outcome, 'reverted', story(s));
    assert.equal(s.reason, 'health-check-failed');
    assert.equal(s.versionAfter, '1.0.0+0');
    assert.deepEqual(s.mcuboot, ['none', 'test-swap', 'revert']);
    const f = finals(s);
    assert.equal(f.length, 1, story(s));
    assert.equal(f[0].what, 'closed/failure');
    assert.match(f[0].details, /health-check-failed/);
    assert.ok(!f.some((r) => r.what === 'closed/success'));
    assertNothingPending(s);
  });

  // Issue 17.3: after the revert the agent reports before it has polled in that boot.
  for (const backend of ['hawkbit', 'manifest'] as const) {
    it(`${backend}: the revert reported in the first step of a boot (before any poll) reaches the server`, async () => {
      const s = await run({ backend, faults: [parseFault('health-fail')] });
      assert.equal(s.outcome, 'reverted', story(s));
      const last = seen(s).at(-1);
      assert.ok(last && (last.what === 'closed/failure' || last.what === 'reverted'), story(s));
      assert.match(last.details, /health-check-failed/, story(s));
    });
  }
});
