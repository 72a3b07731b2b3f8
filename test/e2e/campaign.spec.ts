/**
 * End to end on XS in virtual time, hawkBit over SIM7080G: the campaign flags. An operator
 * cancels the action at points of the cycle (mid-download, after verify, while staged, after the
 * reboot), a download-only action is installed later from the slot, and a maintenance window
 * holds the install until it opens (also across a power cut).
 */
import assert from 'node:assert/strict';
import { parseFault } from '../../tools/devkit/devkit.js';
import { bootMcuboot } from '../../tools/devkit/parts/sim-mcuboot.js';
import { DEVKIT_LAYOUT, type DevkitFlash } from '../../tools/devkit/parts/sim-flash.js';
import type { VirtualTime } from '../../tools/devkit/parts/virtual-time.js';
import type { ReferenceServer } from '../../tools/server/index.js';
import { makeImage, trustedKeyPem } from '../support/devkit-update.js';
import { assertNothingPending, finals, run, seen, story, TARGET } from './e2e-support.js';
import type { DevkitSummary } from '../../tools/devkit/devkit.js';

/** 300 000 bytes of body: about 40 s of download at 115200 baud in 4 KiB segments. */
const LONG_TARGET = makeImage('1.1.0', 300_000);

/** What the device answered on cancelAction/{id}/feedback: execution/finished, and the server's status. */
function cancelFeedback(s: DevkitSummary): { what: string; status: number }[] {
  return s.reports
    .filter((r) => r.kind === 'hawkbit-cancel-feedback')
    .map((r) => {
      const b = r.body as { status?: { execution?: string; result?: { finished?: string } } };
      return { what: `${b.status?.execution}/${b.status?.result?.finished}`, status: r.status };
    });
}

/** The deployment's own feedback (deploymentBase), as execution/finished. */
function deploymentFeedback(s: DevkitSummary): string[] {
  return seen(s)
    .filter((r) => r.kind === 'hawkbit-feedback')
    .map((r) => r.what);
}

/** A cancelled deployment: confirmed once (closed/success on cancelAction), nothing closed on deploymentBase. */
function assertCancelledOnce(s: DevkitSummary): void {
  assert.equal(s.outcome, 'cancelled', story(s));
  assert.deepEqual(cancelFeedback(s), [{ what: 'closed/success', status: 200 }], story(s));
  assert.deepEqual(
    finals(s).map((f) => `${f.kind} ${f.what}`),
    ['hawkbit-cancel-feedback closed/success'],
    story(s),
  );
  assert.equal(s.logs.filter((l) => l.event === 'deployment.reported').length, 1);
}

/** After the run, MCUboot boots the old image from the same flash and swaps nothing. */
function assertBootsOld(flash: DevkitFlash | undefined): void {
  const boot = bootMcuboot(flash!, { trustedKeyPem, maxSectors: DEVKIT_LAYOUT.maxSectors });
  assert.equal(boot.outcome, 'none', boot.log.join('\n'));
  assert.equal(boot.version, '1.0.0+0');
}

describe('e2e: cancel, download only, maintenance window (hawkBit)', function () {
  this.timeout(60_000);

  it('cancel at 50% of the download: stops between segments, slot not pending, cancel confirmed once, old image boots', async () => {
    let flash: DevkitFlash | undefined;
    let server: ReferenceServer | undefined;
    const s = await run({
      // A download of more than half a poll interval (60 s on the dev kit): the boundaries in the
      // first half of the interval ask nothing (src/agent/machine.ts checkedAt), the first one
      // after it sees the cancel (the small TARGET would finish in 3 s and stop only before verify).
      image: LONG_TARGET,
      faults: [parseFault('cancel@50%')],
      policy: { downloadSegmentBytes: 4096, downloadSegmentMaxBytes: 4096 },
      onReady: (kit) => {
        flash = kit.flash;
        server = kit.server;
      },
    });
    assertCancelledOnce(s);
    assert.ok(s.artifactBytesSent < s.imageBytes, `stopped early: ${s.artifactBytesSent} of ${s.imageBytes} bytes sent`);
    assert.ok(s.logs.some((l) => l.event === 'cancel.accepted' && l.fields?.state === 'download'), story(s));
    assert.equal(s.a5000.verifications, 0, 'a partial image is never verified');
    assert.equal(s.versionAfter, '1.0.0+0');
    assert.deepEqual(s.mcuboot, ['none']);
    assertNothingPending(s);
    assert.equal(server!.hawkbit.action('1')!.state, 'canceled');
    assertBootsOld(flash);
  });

  it('a power cut before the cancel outcome is persisted: after the reboot the cancel is seen again, confirmed once', async () => {
    const s = await run({
      faults: [parseFault('cancel@50%'), parseFault('power-cut@event:deployment.ended')],
      policy: { downloadSegmentBytes: 4096, downloadSegmentMaxBytes: 4096 },
      seed: 9,
    });
    assert.ok(s.resets.includes('power cut'), story(s));
    assertCancelledOnce(s);
    assert.equal(s.logs.filter((l) => l.event === 'cancel.accepted').length, 2, 'honoured again after the reset');
    assert.equal(s.a5000.verifications, 0);
    assert.deepEqual(s.mcuboot, ['none', 'none']);
    assertNothingPending(s);
  });

  it('cancel after verify, before stage: the verified image is never staged', async () => {
    let flash: DevkitFlash | undefined;
    const s = await run({ faults: [parseFault('cancel@event:verify.start')], onReady: (kit) => (flash = kit.flash) });
    assertCancelledOnce(s);
    assert.equal(s.a5000.verifications, 1);
    assert.ok(s.logs.some((l) => l.event === 'cancel.accepted' && l.fields?.state === 'verify'), story(s));
    assert.ok(!s.logs.some((l) => l.event === 'stage.start'), story(s));
    assert.deepEqual(deploymentFeedback(s), ['download/none', 'downloaded/none'], story(s));
    assert.deepEqual(s.mcuboot, ['none']);
    assertNothingPending(s);
    assertBootsOld(flash);
  });

  it('cancel while staged, before the reboot: the pending trailer is erased, then the cancel confirmed', async () => {
    let flash: DevkitFlash | undefined;
    const s = await run({ faults: [parseFault('cancel@event:stage.start')], onReady: (kit) => (flash = kit.flash) });
    assertCancelledOnce(s);
    assert.ok(s.logs.some((l) => l.event === 'cancel.accepted' && l.fields?.state === 'stage'), story(s));
    // 'staged' went out (proceeding) before the cancel was seen
    assert.deepEqual(deploymentFeedback(s), ['download/none', 'downloaded/none', 'proceeding/none'], story(s));
    assert.deepEqual(s.mcuboot, ['none']);
    assert.equal(s.boots, 1, 'no reboot');
    assertNothingPending(s);
    assertBootsOld(flash);
  });

  it('a power cut right after the staged cancel was accepted: the next boot swaps nothing and confirms once', async () => {
    const s = await run({ faults: [parseFault('cancel@event:stage.start'), parseFault('power-cut@event:cancel.accepted')], seed: 3 });
    assert.ok(s.resets.includes('power cut'), story(s));
    assertCancelledOnce(s);
    assert.deepEqual(s.mcuboot, ['none', 'none'], story(s));
    assert.equal(s.versionAfter, '1.0.0+0');
    assertNothingPending(s);
  });

  it('cancel after the reboot into the test image: rejected, the update finishes (closed/success)', async () => {
    let server: ReferenceServer | undefined;
    const s = await run({ faults: [parseFault('cancel@event:health.start')], onReady: (kit) => (server = kit.server) });
    assert.equal(s.outcome, 'running', story(s));
    assert.equal(s.versionAfter, '1.1.0+0');
    assert.deepEqual(cancelFeedback(s), [{ what: 'rejected/none', status: 200 }], story(s));
    assert.deepEqual(finals(s).map((f) => f.what), ['closed/success'], story(s));
    assert.ok(s.logs.some((l) => l.event === 'cancel.rejected'), story(s));
    assert.equal(server!.hawkbit.action('1')!.state, 'finished');
    assertNothingPending(s);
  });

  it('download only, then the same artifact offered for install: no second download, verified again, installed', async () => {
    let server: ReferenceServer | undefined;
    let second: string | undefined;
    const s = await run({
      deployment: { update: 'skip' },
      deployments: 2,
      onReady: (kit) => (server = kit.server),
      onLog: (l) => {
        if (l.event === 'deployment.reported' && l.fields?.phase === 'download-only') {
          second = server!.hawkbit.createDeployment({ version: '1.1.0', image: TARGET, filename: 'app.signed.bin' }).actionId;
        }
      },
    });
    assert.equal(s.outcome, 'running', story(s));
    assert.equal(s.versionAfter, '1.1.0+0');
    // Action 1: accepted, then DOWNLOADED (closes a download-only action); action 2: installed.
    const byAction = (id: string) => seen(s).filter((_, i) => s.reports[i].id === id).map((r) => r.what);
    assert.deepEqual(byAction('1'), ['download/none', 'downloaded/success'], story(s));
    assert.deepEqual(byAction(second!), ['download/none', 'downloaded/none', 'proceeding/none', 'closed/success'], story(s));
    assert.equal(server!.hawkbit.action('1')!.state, 'finished');
    // One download in all: the second action's artifact was never requested.
    assert.equal(s.artifactBytesSent, s.imageBytes, JSON.stringify(s.artifactRequests));
    assert.equal(s.artifactRequests.length, 1, JSON.stringify(s.artifactRequests));
    // Re-hashed from flash and verified through the A5000 again before staging.
    assert.equal(s.a5000.verifications, 2);
    assert.deepEqual(s.mcuboot, ['none', 'test-swap']);
    assertNothingPending(s);
  });

  /** Opens the window 30 minutes of device time after the agent starts waiting; returns when it opened (server s). */
  function windowOpener(): { options: Parameters<typeof run>[0]; openedAt: () => number | undefined; server: () => ReferenceServer } {
    let server: ReferenceServer | undefined;
    let time: VirtualTime | undefined;
    let openedAt: number | undefined;
    let armed = false;
    return {
      options: {
        deployment: { update: 'forced', maintenanceWindow: 'unavailable' },
        onReady: (kit) => {
          server = kit.server;
          time = kit.time;
        },
        onLog: (l) => {
          if (l.event !== 'window.wait' || armed) return;
          armed = true;
          time!.after(30 * 60_000, () => {
            openedAt = server!.clock.now();
            server!.hawkbit.setMaintenanceWindow('1', 'available');
          });
        },
      },
      openedAt: () => openedAt,
      server: () => server!,
    };
  }

  it('maintenance window unavailable → available: waits polling at the server interval, stages only once it opened', async () => {
    const w = windowOpener();
    const s = await run(w.options);
    assert.equal(s.outcome, 'running', story(s));
    assert.equal(s.versionAfter, '1.1.0+0');
    assert.deepEqual(deploymentFeedback(s), ['download/none', 'downloaded/none', 'scheduled/none', 'proceeding/none', 'closed/success'], story(s));
    const opened = w.openedAt()!;
    assert.ok(opened !== undefined, 'the window opened');
    const feedback = s.reports.filter((r) => r.kind === 'hawkbit-feedback');
    assert.ok(feedback[2].at < opened, 'waiting was reported before the window opened');
    assert.ok(feedback[3].at >= opened, `staged at ${feedback[3].at}, window opened at ${opened}`);
    // No busy loop: about one poll a minute (the server's sleep 00:01:00) for 30 minutes.
    const root = new URL(w.server().hawkbit.rootUrl).pathname;
    const waitStart = s.logs.find((l) => l.event === 'window.wait')!.at;
    const waitEnd = s.logs.find((l) => l.event === 'window.open')!.at;
    const polls = Math.round((waitEnd - waitStart) / 60_000);
    assert.ok(polls >= 29 && polls <= 32, `${polls} poll intervals while waiting`);
    const rootGets = w.server().requests().filter((r) => r.method === 'GET' && r.path === root).length;
    assert.ok(rootGets < 45, `${rootGets} polls of the root in the whole run`);
    assert.equal(s.artifactBytesSent, s.imageBytes);
    assert.deepEqual(s.mcuboot, ['none', 'test-swap']);
  });

  it('a power cut while waiting for the window: resumes waiting without downloading again, installs once open', async () => {
    const w = windowOpener();
    const s = await run({ ...w.options, faults: [parseFault('power-cut@event:window.wait')], seed: 5 });
    assert.equal(s.outcome, 'running', story(s));
    assert.ok(s.resets.includes('power cut'), story(s));
    assert.equal(s.versionAfter, '1.1.0+0');
    assert.equal(s.artifactBytesSent, s.imageBytes, JSON.stringify(s.artifactRequests));
    // Verified before waiting, and again from flash in the boot that stages it.
    assert.equal(s.a5000.verifications, 2);
    const feedback = s.reports.filter((r) => r.kind === 'hawkbit-feedback');
    const staged = feedback.findIndex((r, i) => i > 1 && (r.body as { status: { execution: string } }).status.execution === 'proceeding');
    assert.ok(feedback[staged].at >= w.openedAt()!, story(s));
    assert.deepEqual(finals(s).map((f) => f.what), ['closed/success'], story(s));
    assert.deepEqual(s.mcuboot, ['none', 'none', 'test-swap']);
  });
});
