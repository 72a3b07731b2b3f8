/**
 * The state machine's decisions, with the parts around it reduced to recorded fakes
 * (machine-fakes.ts). The real parts meet in the end-to-end suites.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { PollResult, UpdateOffer } from '../../../src/backend/backend.js';
import { CANCEL_RULE, MAX_SEGMENT_BYTES, TRANSITIONS, nextSegmentBytes, type StepResult } from '../../../src/agent/machine.js';
import { Journal, STATES } from '../../../src/agent/journal.js';
import { OtaError } from '../../../src/util/errors.js';
import { ARTIFACT, FakeBackend, drive, setup } from './machine-fakes.js';
import type { LinkBringUp } from '../../../src/agent/machine.js';

/** Make the backend's refreshOffer answer the current offer, counting the calls. */
function countRefreshes(backend: FakeBackend): { count: number } {
  const calls = { count: 0 };
  backend.refreshOffer = async () => {
    calls.count++;
    return backend.offer;
  };
  return calls;
}

/** One boot's first two steps: take the offer, then an attempt that fails (the caller set how). */
async function dropOnce(s: ReturnType<typeof setup>): Promise<void> {
  const agent = s.make();
  await s.time.runFor(agent.step());
  await s.time.runFor(agent.step());
}

describe('agent state machine', () => {
  it('runs a whole update: download, verify, stage, reboot, health check, confirm, report', async () => {
    const s = setup();
    let r = await drive(s.make(), s.time);
    assert.equal(r.at(-1)!.rebooting, true);
    assert.equal(s.installer.pending, true);
    assert.deepEqual(s.installer.slot, ARTIFACT);
    assert.ok(!s.backend.reports.some((x) => x.phase === 'running'), 'no success before the new image ran');
    s.installer.boot();
    r = await drive(s.make(), s.time);
    assert.equal(s.installer.running, '1.3.0+5');
    assert.equal(s.installer.confirmed, true);
    const phases = s.backend.reports.map((x) => x.phase);
    assert.deepEqual(phases, ['accepted', 'downloaded', 'staged', 'running']);
    assert.equal(new Journal(s.kv).load().record.state, 'idle', 'the journal is stored (record store banks)');
    assert.ok(s.kv.entries()['xs-ota.jr.a'] !== undefined && s.kv.entries()['xs-ota.jr.b'] !== undefined);
  });

  it("starts each best-effort report as a job of its own: the report's chain does not stack on the state's work", async () => {
    // On a device the report chain (history, backend, JSON over HTTP, the modem) on top of a
    // state's work was the deepest JS stack of an update. V8 shows what is really on the stack as
    // plain frames and the awaiting callers as `async` ones: a report started as a job has only
    // its own starting arrow of the agent's code below it.
    const s = setup();
    const agentFrames = new Map<string, string[]>();
    s.backend.onReport = (report) => {
      const frames = new Error().stack!.split('\n').slice(1);
      const onStack = frames.filter((f) => !/^\s*at async /.test(f) && /\/src\/agent\/machine\.js:/.test(f));
      if (!agentFrames.has(report.phase)) agentFrames.set(report.phase, onStack);
    };
    await drive(s.make(), s.time);
    for (const phase of ['accepted', 'downloaded', 'staged']) {
      const onStack = agentFrames.get(phase);
      assert.ok(onStack, `a ${phase} report`);
      assert.equal(onStack.length, 1, `${phase}: agent frames on the stack under the report:\n${onStack.join('\n')}`);
      assert.doesNotMatch(onStack[0]!, /#tryReport|#verify|#stage|#take/);
    }
  });

  it("the backend's version label is kept in the journal beside the header's version: the report after the reboot names it", async () => {
    const s = setup({ version: 'v1.3.0-rc1' });
    await drive(s.make(), s.time);
    const staged = new Journal(s.kv).load().record;
    assert.equal(staged.state, 'reboot');
    assert.equal(staged.deployment?.version, '1.3.0+5', 'the header decides');
    assert.equal(staged.deployment?.label, 'v1.3.0-rc1', 'persisted, not only in RAM');
    s.installer.boot();
    await drive(s.make(), s.time); // a new agent: nothing but the journal survived
    const running = s.backend.reports.at(-1)!;
    assert.equal(running.phase, 'running');
    assert.equal(running.version, '1.3.0+5');
    assert.equal(running.label, 'v1.3.0-rc1');
    // A label the header already states is not kept twice; a hostile one is kept printable and bounded.
    const plain = setup({ version: '1.3.0+5' });
    await drive(plain.make(), plain.time);
    assert.equal(new Journal(plain.kv).load().record.deployment?.label, undefined);
    const odd = setup({ version: `v1.3 "\u00e9\\${'x'.repeat(100)}` });
    await drive(odd.make(), odd.time);
    const kept = new Journal(odd.kv).load().record.deployment?.label ?? '';
    assert.equal(kept.length, 64);
    assert.match(kept, /^v1\.3 \?\?\?x+\.\.\.$/);
  });

  it('resumes after a dropped link from the last flushed sector, with If-Range', async () => {
    const s = setup();
    s.http.dropAt = [9000];
    await drive(s.make(), s.time);
    assert.equal(s.http.requests.length, 2);
    assert.deepEqual(s.http.requests[1].range, { start: 8192, end: 19_999, ifRange: '"e1"' });
    assert.deepEqual(s.installer.slot, ARTIFACT);
    // Progress goes out between requests (the modem carries one connection at a time).
    const progress = s.backend.reports.find((r) => r.phase === 'downloading');
    assert.deepEqual(progress?.progress, { done: 5000, total: ARTIFACT.length }); // the last quarter mark passed
  });

  it('offers every artifact request\'s round trip to the installer for an erase ahead (and nothing else)', async () => {
    const s = setup();
    s.http.dropAt = [9000];
    await drive(s.make(), s.time);
    assert.equal(s.http.requests.length, 2);
    assert.equal(s.installer.idleCalls, 2);
  });

  it('between polls that offer nothing, erases the secondary slot ahead unit by unit until it is done', async () => {
    const s = setup();
    s.backend.offer = undefined;
    s.installer.idleEraseUnits = 6;
    const agent = s.make();
    const r = await s.time.runFor(agent.step());
    assert.equal(r.state, 'idle');
    assert.equal(s.installer.idleEraseCalls, 0, 'not inside the step: on timers after it');
    await s.time.advance(1000);
    assert.equal(s.installer.idleEraseCalls, 6);
    assert.ok(s.logs.includes('slot.erased-ahead'));
    await s.time.advance(1000);
    assert.equal(s.installer.idleEraseCalls, 6, 'nothing after the installer said it is done');
  });

  it('the idle erase stops when the next step starts, and never runs with an offer, a held image or an unconfirmed image', async () => {
    const s = setup();
    s.backend.offer = undefined;
    s.installer.idleEraseUnits = 1000;
    const agent = s.make();
    await s.time.runFor(agent.step());
    await s.time.advance(20);
    const early = s.installer.idleEraseCalls;
    assert.ok(early > 0 && early < 10, `a few units in 20 ms (${early})`);
    s.backend.offer = new FakeBackend({}).offer;
    const next = agent.step();
    await s.time.runFor(next);
    await s.time.advance(5000);
    assert.equal(s.installer.idleEraseCalls, early, 'a step that takes an offer ends the idle erase');
    assert.ok(!s.logs.includes('slot.erased-ahead'));

    const unconfirmed = setup();
    unconfirmed.backend.offer = undefined;
    unconfirmed.installer.idleEraseUnits = 10;
    unconfirmed.installer.confirmed = false;
    await unconfirmed.time.runFor(unconfirmed.make().step());
    await unconfirmed.time.advance(1000);
    assert.equal(unconfirmed.installer.idleEraseCalls, 0, 'an image on trial keeps the slot MCUboot reverts from');
  });

  /**
   * A link that comes up `ms` after it is asked (the modem's power-up and registration), quiet
   * (nothing asked of the MCU) throughout unless `quietUntil` says otherwise.
   */
  function slowLink(s: ReturnType<typeof setup>, ms: number, at: { upCalls?: number; pollsAtUp?: number; asked: number }, fail?: OtaError, quietUntil = () => Number.MAX_SAFE_INTEGER): LinkBringUp {
    const up = () => {
      at.asked++;
      return new Promise<void>((resolve, reject) =>
        s.time.clockPort().setTimeout(() => {
          at.upCalls = s.installer.idleEraseCalls;
          at.pollsAtUp = s.backend.polls;
          if (fail) reject(fail);
          else resolve();
        }, ms),
      );
    };
    return { up, quietUntil };
  }

  it('a cold boot erases the secondary slot ahead while the link comes up, and stops once it is up', async () => {
    const s = setup();
    s.installer.idleEraseUnits = 10_000;
    const at: { upCalls?: number; pollsAtUp?: number; asked: number } = { asked: 0 };
    const agent = s.make({ link: slowLink(s, 12_000, at) });
    const r = await s.time.runFor(agent.step());
    assert.equal(r.state, 'download', 'the first poll took the offer');
    assert.equal(at.asked, 1);
    assert.equal(at.pollsAtUp, 0, 'the link came up before the first poll');
    assert.ok(at.upCalls! > 1000, `units erased during the 12 s link-up (${at.upCalls})`);
    assert.ok(s.logs.includes('slot.erase-at-link-up'));
    await s.time.advance(5000);
    assert.equal(s.installer.idleEraseCalls, at.upCalls, 'no unit once the link is up (the poll, then the download, own the MCU)');
    // A second step of the same boot does not bring the link up on its own again.
    await s.time.runFor(agent.step());
    assert.equal(at.asked, 1);
  });

  it('the link-up erase runs only inside the bring-up\'s quiet waits', async () => {
    const s = setup();
    s.installer.idleEraseUnits = 10_000;
    const at: { upCalls?: number; asked: number } = { asked: 0 };
    // Quiet from 4 s to 6 s after boot only (a registration poll's pause).
    const quietUntil = () => (s.time.now() >= 4000 && s.time.now() < 6000 ? 6000 : 0);
    const agent = s.make({ link: slowLink(s, 12_000, at, undefined, quietUntil) });
    const step = agent.step();
    await s.time.advance(3900);
    assert.equal(s.installer.idleEraseCalls, 0, 'nothing before the quiet wait');
    await s.time.advance(2100);
    const inQuiet = s.installer.idleEraseCalls;
    assert.ok(inQuiet > 100, `units in the 2 s quiet wait (${inQuiet})`);
    await s.time.runFor(step);
    assert.equal(s.installer.idleEraseCalls, inQuiet, 'nothing after it');
  });

  it('the link-up erase never runs with a held image, an image on trial, a resumable download or a staged image', async () => {
    const SHA = new Uint8Array(createHash('sha256').update(ARTIFACT).digest());
    const noErase = async (s: ReturnType<typeof setup>, what: string) => {
      s.installer.idleEraseUnits = 10_000;
      const at = { asked: 0 };
      const before = s.installer.idleEraseCalls;
      await s.time.runFor(s.make({ link: slowLink(s, 12_000, at) }).step());
      await s.time.advance(20_000);
      assert.equal(s.installer.idleEraseCalls, before, what);
      return at;
    };
    // A download-only image held in the slot (the idle record's `held`).
    const held = setup({ update: 'skip', sha256: SHA });
    await drive(held.make(), held.time);
    assert.ok(new Journal(held.kv).load().record.held);
    held.backend.offer = undefined;
    assert.equal((await noErase(held, 'a held image is kept')).asked, 1, 'the link still comes up first');
    // The running image on trial (MCUboot reverts from the secondary slot).
    const trial = setup();
    trial.installer.confirmed = false;
    await noErase(trial, 'an image on trial keeps the slot MCUboot reverts from');
    // A partial download the next attempt resumes (the journal in `download`).
    const partial = setup();
    partial.http.dropAt = [9000];
    const first = partial.make();
    await partial.time.runFor(first.step());
    await partial.time.runFor(first.step());
    assert.equal(new Journal(partial.kv).load().record.state, 'download');
    assert.equal((await noErase(partial, 'a resumable download keeps its prefix')).asked, 0, 'the download state brings the link up itself');
    // A staged image whose reset did not happen yet (the journal in `reboot`, the trailer pending).
    const staged = setup();
    await drive(staged.make(), staged.time);
    assert.equal(staged.installer.pending, true);
    await noErase(staged, 'a pending swap is kept');
    assert.ok(![held, trial, partial, staged].some((x) => x.logs.includes('slot.erase-at-link-up')));
  });

  it('a link that fails to come up is the first poll failing: logged, polled again after the interval', async () => {
    const s = setup();
    s.installer.idleEraseUnits = 10_000;
    const at = { asked: 0 };
    const r = await s.time.runFor(s.make({ link: slowLink(s, 3000, at, new OtaError('not-registered', 'no network')) }).step());
    assert.equal(r.state, 'idle');
    assert.equal(r.sleepMs, 3_600_000, 'the configured poll interval: no server answer set another');
    assert.equal(s.backend.polls, 0);
    assert.ok(s.logs.includes('poll.failed'));
  });

  it('a noise line mid-body (at-garbled) resumes from the flushed sector, as a link loss does', async () => {
    const s = setup();
    s.http.dropAt = [9000];
    s.http.dropReason = 'at-garbled';
    await drive(s.make(), s.time);
    assert.deepEqual(s.http.requests[1].range, { start: 8192, end: 19_999, ifRange: '"e1"' });
    assert.deepEqual(s.installer.slot, ARTIFACT);
    assert.equal(s.installer.pending, true);
    assert.ok(!s.backend.reports.some((r) => r.phase === 'failed'), JSON.stringify(s.backend.reports));
  });

  it('resumes after a reset mid-download from the journal', async () => {
    const s = setup({}, { progressEveryBytes: 4096 });
    s.http.dropAt = [13_000];
    const agent = s.make();
    // First attempt drops; instead of the backoff, simulate a reset: a new agent on the same journal.
    await s.time.runFor(agent.step()); // idle → download
    await s.time.runFor(agent.step()); // download fails
    const resumed = await drive(s.make(), s.time);
    assert.equal(resumed.at(-1)!.rebooting, true);
    assert.equal(s.http.requests[1].range?.start, 12_288);
  });

  it('an artifact request carries the headers only the offer knows (UpdateOffer.headers), in RAM: after a reset the offer is fetched again for them', async () => {
    const token = 'TargetToken s3cret';
    const s = setup({ headers: { authorization: token } }, { progressEveryBytes: 4096 });
    s.http.requireAuthorization = token;
    s.http.dropAt = [13_000];
    const refreshes = countRefreshes(s.backend);
    await dropOnce(s); // idle → download, which drops at 13 000
    assert.equal(s.http.requests[0].headers?.authorization, token);
    assert.equal(refreshes.count, 0, 'the offer in RAM gives the headers: no second fetch in the same boot');
    assert.ok(!JSON.stringify(s.kv.entries()).includes('s3cret'), 'no credential in the journal');
    // A reset: a new agent on the same journal knows the link needed headers, not the headers.
    const resumed = await drive(s.make(), s.time);
    assert.equal(resumed.at(-1)!.rebooting, true);
    assert.equal(refreshes.count, 1);
    assert.equal(s.http.requests[1].range?.start, 12_288);
    assert.deepEqual(s.http.requests.map((r) => r.headers?.authorization), [token, token]);
    assert.deepEqual(s.installer.slot, ARTIFACT);
  });

  it('a link without headers in its offer is asked without any, and a reset fetches no offer for it', async () => {
    const s = setup({}, { progressEveryBytes: 4096 });
    s.http.dropAt = [13_000];
    const refreshes = countRefreshes(s.backend);
    await dropOnce(s);
    await drive(s.make(), s.time);
    assert.equal(refreshes.count, 0);
    assert.deepEqual(s.http.requests.map((r) => r.headers?.authorization), [undefined, undefined]);
  });

  it('after a reset, an offer that no longer names the link is url-expired: the URL is refreshed, not asked without its headers', async () => {
    const token = 'TargetToken s3cret';
    const s = setup({ headers: { authorization: token } }, { progressEveryBytes: 4096 });
    s.http.requireAuthorization = token;
    s.http.dropAt = [13_000];
    await dropOnce(s);
    // The server moved the artifact (FakeBackend.refreshOffer answers https://srv/fresh.bin).
    await drive(s.make(), s.time);
    assert.ok(s.logs.includes('download.resume'));
    assert.deepEqual(s.http.requests.slice(1).map((r) => [r.url, r.headers?.authorization]), [['https://srv/fresh.bin', token]]);
    assert.deepEqual(s.installer.slot, ARTIFACT);
  });

  it('a backoff survives a reboot whose clock restarts at 0: the wait is the delay, not the previous uptime (17.2)', async () => {
    const s = setup();
    s.http.status = [503]; // Retry-After 120 s
    await s.time.advance(30 * 86400_000); // the first boot has run for 30 days before the update
    const first = s.make({ clockRestartsAtBoot: true });
    await s.time.runFor(first.step()); // idle → download
    const failed = await s.time.runFor(first.step()); // 503: backoff
    assert.equal(failed.state, 'download');
    assert.ok(failed.sleepMs >= 120_000 && failed.sleepMs <= 600_000, `backoff ${failed.sleepMs}`);
    // A power cut during the backoff: the next boot's clock reads 0 again.
    const second = s.make({ clockRestartsAtBoot: true });
    const waiting = await s.time.runFor(second.step());
    assert.equal(waiting.state, 'download');
    assert.ok(waiting.sleepMs > 0 && waiting.sleepMs <= failed.sleepMs, `slept ${waiting.sleepMs} ms after the reboot, the backoff was ${failed.sleepMs}`);
    await s.time.advance(waiting.sleepMs);
    const r = await drive(second, s.time);
    assert.equal(r.at(-1)!.rebooting, true);
    assert.equal(s.http.requests.length, 2);
  });

  it('an unconfirmed image with no journal entry and nothing to revert to is health-checked and confirmed, never reset (13.3)', async () => {
    const s = setup();
    s.backend.offer = undefined;
    s.installer.confirmed = false;
    s.installer.secondaryHoldsImage = false; // a factory image flashed with a test trailer
    const r = await drive(s.make(), s.time, 5);
    assert.equal(s.reboots, 0);
    assert.equal(s.installer.confirmed, true);
    assert.ok(s.logs.includes('idle.unconfirmed-confirmed'));
    assert.equal(r.at(-1)!.state, 'idle');
    assert.ok(s.backend.polls >= 2, 'polls again after confirming');
  });

  it('... and if that health check fails: logged, left running, never reset; checked again after the deadline (13.3)', async () => {
    const s = setup({}, { healthDeadlineS: 300 });
    s.installer.confirmed = false;
    s.installer.secondaryHoldsImage = false;
    s.setHealthy(false);
    const agent = s.make();
    for (let i = 0; i < 10; i++) {
      const r = await s.time.runFor(agent.step());
      assert.equal(r.rebooting, undefined);
      assert.equal(r.sleepMs, 300_000);
      await s.time.advance(r.sleepMs);
    }
    assert.equal(s.reboots, 0);
    assert.equal(s.logs.filter((e) => e === 'idle.unconfirmed-unhealthy').length, 10);
    s.setHealthy(true);
    await s.time.runFor(agent.step());
    assert.equal(s.installer.confirmed, true);
  });

  it('jitter is seeded from the A5000 random once per boot: two devices, and two boots, back off differently', async () => {
    /** The first backoff of a device whose A5000 returns `random`. */
    const firstBackoff = async (random: number) => {
      const s = setup({}, { retryBaseS: 3600, retryCapS: 86_400 });
      s.http.status = [500];
      let asked = 0;
      const agent = s.make({ seedSource: async () => (asked++, random) });
      await s.time.runFor(agent.step());
      const r = await s.time.runFor(agent.step());
      assert.equal(asked, 1, 'one GetRandom per boot');
      return r.sleepMs;
    };
    const a = await firstBackoff(0x1234_5678);
    const b = await firstBackoff(0x9abc_def0);
    assert.notEqual(a, b, 'two devices retry at different instants');
    assert.equal(await firstBackoff(0x1234_5678), a, 'the seed alone decides (deterministic given the random)');
  });

  it('SEC_CNT floor: an image below the running image\'s counter is refused (security-counter-rollback)', async () => {
    const s = setup();
    s.installer.runningCounter = 5;
    s.installer.securityCounter = 4;
    await drive(s.make(), s.time);
    assert.equal(s.installer.pending, false);
    assert.equal(s.backend.reports.at(-1)!.reason, 'security-counter-rollback');
  });

  it('SEC_CNT floor: an offer whose stated counter is below it is refused before any download', async () => {
    const s = setup({ securityCounter: 2 });
    s.installer.runningCounter = 3;
    await drive(s.make(), s.time);
    assert.equal(s.http.requests.length, 0);
    assert.equal(s.backend.reports.at(-1)!.reason, 'security-counter-rollback');
  });

  it('SEC_CNT floor: the highest confirmed counter is kept, so an allowed downgrade never lowers it', async () => {
    const s = setup({}, { allowDowngrade: true });
    s.installer.runningCounter = 1;
    s.installer.securityCounter = 7;
    await drive(s.make(), s.time);
    s.installer.boot();
    await drive(s.make(), s.time);
    assert.equal(s.installer.confirmed, true);
    assert.equal(s.kv.read('xs-ota.seccnt'), '7');
    // The running image now carries 7; even if it did not, the stored floor holds.
    s.installer.runningCounter = undefined;
    s.installer.securityCounter = 6;
    s.installer.imageVersion = '1.0.0+1';
    s.backend.offer = { actionId: '9', version: '1.0.0+1', url: 'https://srv/a.bin', download: 'forced', update: 'forced' };
    await drive(s.make(), s.time);
    assert.equal(s.backend.reports.at(-1)!.reason, 'security-counter-rollback');
    assert.equal(s.installer.pending, false);
  });

  it('backs off with jitter on 503 and honours Retry-After', async () => {
    const s = setup();
    s.http.status = [503];
    const agent = s.make();
    await s.time.runFor(agent.step());
    const r = await s.time.runFor(agent.step());
    assert.equal(r.state, 'download');
    assert.ok(r.sleepMs >= 120_000, `slept ${r.sleepMs} ms`);
  });

  it('fails with retries-exhausted after maxAttempts, and reports it', async () => {
    const s = setup({}, { maxAttempts: 3 });
    s.http.dropAt = [100, 100, 100, 100];
    await drive(s.make(), s.time);
    const last = s.backend.reports.at(-1)!;
    assert.equal(last.phase, 'failed');
    assert.equal(last.reason, 'retries-exhausted');
    assert.equal(s.installer.pending, false);
  });

  it('refuses a downgrade before downloading', async () => {
    const s = setup({ version: '1.0.0' });
    await drive(s.make(), s.time);
    assert.equal(s.http.requests.length, 0);
    assert.equal(s.backend.reports.at(-1)!.reason, 'downgrade');
  });

  it('refuses an image the installer rejects, never staging it', async () => {
    const s = setup();
    s.installer.rejectWith = new OtaError('bad-signature', 'SE says no');
    await drive(s.make(), s.time);
    assert.equal(s.installer.pending, false);
    assert.equal(s.backend.reports.at(-1)!.reason, 'bad-signature');
    assert.equal(s.reboots, 0);
  });

  it('detects a revert after a failed health check and reports it, not success', async () => {
    const s = setup();
    await drive(s.make(), s.time);
    s.installer.boot();
    s.setHealthy(false);
    const r = await drive(s.make(), s.time);
    assert.equal(r.at(-1)!.rebooting, true);
    s.installer.boot(); // unconfirmed: MCUboot reverts
    await drive(s.make(), s.time);
    const last = s.backend.reports.at(-1)!;
    assert.equal(last.phase, 'reverted');
    assert.equal(last.reason, 'health-check-failed');
    assert.ok(!s.backend.reports.some((x) => x.phase === 'running'));
  });

  it('the health check retries a transient error of a freshly booted modem within its deadline, then confirms (12.4)', async () => {
    const s = setup({}, { healthDeadlineS: 120 });
    await drive(s.make(), s.time);
    s.installer.boot();
    s.backend.failPolls = 2; // the first requests after the boot fail (SIM7600: ERROR)
    await drive(s.make(), s.time);
    assert.equal(s.installer.confirmed, true);
    assert.equal(s.installer.running, '1.3.0+5');
    assert.equal(s.backend.reports.at(-1)!.phase, 'running');
    assert.equal(s.logs.filter((e) => e === 'health.poll-retry').length, 2);
  });

  it('... but not past the deadline: a backend that stays away is a failed health check (revert)', async () => {
    const s = setup({}, { healthDeadlineS: 60 });
    await drive(s.make(), s.time);
    s.installer.boot();
    s.backend.failPolls = 1000;
    const r = await drive(s.make(), s.time);
    assert.equal(r.at(-1)!.rebooting, true);
    assert.equal(s.installer.confirmed, false);
    s.installer.boot();
    s.backend.failPolls = 0;
    await drive(s.make(), s.time);
    assert.equal(s.backend.reports.at(-1)!.phase, 'reverted');
  });

  it('re-requests an expired URL', async () => {
    const s = setup();
    s.http.status = [403];
    await drive(s.make(), s.time);
    assert.equal(s.http.requests[1].url, 'https://srv/fresh.bin');
  });

  it('an expired URL refreshed to another artifact starts over instead of resuming', async () => {
    const sha = new Uint8Array(createHash('sha256').update(ARTIFACT).digest());
    const s = setup({ sha256: new Uint8Array(32), size: ARTIFACT.length });
    s.http.dropAt = [9000];
    s.http.status = [];
    // First request drops at 9000 bytes; the resume meets 403; the refreshed offer names other bytes.
    const original = s.http.request.bind(s.http);
    let calls = 0;
    s.http.request = async (req, sink) => {
      if (++calls === 2) s.http.status = [403];
      return original(req, sink);
    };
    s.backend.refreshOffer = async () => s.backend.offer && { ...s.backend.offer, url: 'https://srv/fresh.bin', sha256: sha };
    await drive(s.make(), s.time);
    const urls = s.http.requests.map((r) => `${r.url} ${r.range?.start ?? 0}`);
    assert.deepEqual(urls.slice(0, 3), ['https://srv/a.bin 0', 'https://srv/a.bin 8192', 'https://srv/fresh.bin 0'], urls.join(', '));
    assert.ok(s.logs.includes('download.artifact-changed'));
  });

  it('treats a corrupt journal as none and says why', async () => {
    const s = setup();
    s.kv.write('xs-ota.journal', '{"v":1,"state":"stage"}');
    await s.time.runFor(s.make().step());
    assert.ok(s.logs.includes('journal.discarded'));
  });

  it('does not poll while the running image is unconfirmed; without a deployment it resets after the health deadline so MCUboot reverts', async () => {
    const s = setup({}, { healthDeadlineS: 300 });
    s.installer.confirmed = false;
    const agent = s.make();
    const first = await s.time.runFor(agent.step());
    assert.equal(s.backend.polls, 0);
    assert.equal(s.reboots, 0);
    assert.equal(first.sleepMs, 300_000);
    await s.time.advance(first.sleepMs);
    const second = await s.time.runFor(agent.step());
    assert.equal(second.rebooting, true);
    assert.equal(s.reboots, 1);
    assert.equal(s.backend.polls, 0, 'never polled on an unconfirmed image');
    assert.ok(s.logs.includes('idle.unconfirmed-revert'));
  });

  it('a reset after the slot was marked pending but before "reboot" was saved: found swapped, health-checked, confirmed', async () => {
    const s = setup();
    await drive(s.make(), s.time);
    assert.equal(s.installer.pending, true);
    // Put the journal back to 'stage', as a power cut during the 'staged' report would leave it.
    const before = s.make();
    await s.time.runFor(Promise.resolve(before.journal.load()));
    before.journal.save({ state: 'stage', deployment: before.journal.record.deployment });
    s.installer.boot(); // MCUboot swaps the pending image in, unconfirmed
    await drive(s.make(), s.time);
    assert.equal(s.installer.running, '1.3.0+5');
    assert.equal(s.installer.confirmed, true);
    assert.ok(s.logs.includes('stage.found-swapped'));
    assert.equal(s.backend.reports.at(-1)!.phase, 'running');
    assert.ok(!s.backend.reports.some((r) => r.phase === 'failed'), JSON.stringify(s.backend.reports));
  });
});

describe('agent state machine: segments, cancel, download only, maintenance window', () => {
  const SHA = new Uint8Array(createHash('sha256').update(ARTIFACT).digest());
  const journalOf = (s: ReturnType<typeof setup>) => new Journal(s.kv).load().record as unknown as Record<string, unknown> & { state: string; writes: number };

  it('transition and cancel tables cover every state; a cancel is honoured only before the reboot', () => {
    for (const state of STATES) {
      assert.ok(TRANSITIONS[state], state);
      assert.ok(CANCEL_RULE[state], state);
    }
    assert.deepEqual(TRANSITIONS.wait.open, { to: 'stage' });
    assert.deepEqual(
      STATES.filter((st) => CANCEL_RULE[st] === 'honour'),
      ['download', 'verify', 'stage', 'wait'],
    );
    assert.deepEqual(STATES.filter((st) => CANCEL_RULE[st] === 'reject'), ['reboot', 'health-check', 'confirm']);
  });

  /** Each 1000-byte chunk of the fake server takes `ms` of virtual time. */
  function slowLine(s: ReturnType<typeof setup>, ms: number): void {
    const clock = s.time.clockPort();
    const request = s.http.request.bind(s.http);
    s.http.request = (req, sink) =>
      request(req, {
        ...sink,
        onData: async (chunk) => {
          await new Promise<void>((resolve) => clock.setTimeout(resolve, ms));
          return sink.onData(chunk);
        },
      });
  }

  it('downloads in segments of downloadSegmentBytes and asks for a cancel between them', async () => {
    const s = setup({}, { downloadSegmentBytes: 8192, downloadSegmentMaxBytes: 8192 });
    // 9 chunks of 40 s a segment: each boundary is more than half a poll interval (600 s) after the last check.
    slowLine(s, 40_000);
    await drive(s.make(), s.time);
    assert.deepEqual(
      s.http.requests.map((r) => r.range),
      [{ start: 0, end: 8191 }, { start: 8192, end: 16383, ifRange: '"e1"' }, { start: 16384, end: 19_999, ifRange: '"e1"' }],
    );
    assert.deepEqual(s.installer.slot, ARTIFACT);
    assert.equal(s.installer.pending, true);
    // idle, two segment boundaries, download→verify, verify→stage, stage→reboot
    assert.equal(s.backend.polls, 6);
  });

  it("the installer's write starts as a job of its own, never inside the HTTP client's onData call, and onData settles only after it", async () => {
    const s = setup();
    let inOnData = false;
    let nested = 0;
    let writes = 0;
    let pendingWrite = false;
    let settledBeforeWrite = 0;
    const clock = s.time.clockPort();
    const write = s.installer.write.bind(s.installer);
    s.installer.write = async (chunk) => {
      writes++;
      if (inOnData) nested++;
      pendingWrite = true;
      // A slow flash: the client must not read on before the chunk is taken.
      await new Promise<void>((resolve) => clock.setTimeout(resolve, 10));
      await write(chunk);
      pendingWrite = false;
    };
    const request = s.http.request.bind(s.http);
    s.http.request = (req, sink) =>
      request(req, {
        ...sink,
        onData: (chunk) => {
          // The synchronous part of the sink: what would stack on the modem read and the parser.
          inOnData = true;
          let wait: void | Promise<void>;
          try {
            wait = sink.onData(chunk);
          } finally {
            inOnData = false;
          }
          return Promise.resolve(wait).then(() => {
            if (pendingWrite) settledBeforeWrite++;
          });
        },
      });
    await drive(s.make(), s.time);
    assert.deepEqual(s.installer.slot, ARTIFACT);
    assert.ok(writes >= ARTIFACT.length / 1000, `writes: ${writes}`);
    assert.equal(nested, 0, 'no installer write ran on the stack of onData');
    assert.equal(settledBeforeWrite, 0, 'onData waited for every write (backpressure)');
  });

  it('a boundary within half a poll interval of the last check asks and sends nothing; the next segment ends one interval after that check', async () => {
    const s = setup({}, { downloadSegmentBytes: 4096 });
    // 1000 bytes a second: the first segment ends 5 s after the poll that offered the update.
    slowLine(s, 1000);
    await drive(s.make(), s.time);
    assert.deepEqual(
      s.http.requests.map((r) => r.range),
      [{ start: 0, end: 4095 }, { start: 4096, end: 19_999, ifRange: '"e1"' }],
    );
    // idle, then download→verify, verify→stage, stage→reboot: none at the boundary.
    assert.equal(s.backend.polls, 4);
    assert.ok(!s.backend.reports.some((r) => r.phase === 'downloading'), 'no progress report at that boundary');
    assert.deepEqual(s.installer.slot, ARTIFACT);
    // The window the segment after a skipped check fills: what is left of the interval.
    assert.equal(nextSegmentBytes(4096, 5000, 595_000, 4096), 487_424);
  });

  it('later segments last about one poll interval at the measured rate', async () => {
    const s = setup({}, { downloadSegmentBytes: 4096 });
    // 1000 bytes per 100 ms of virtual time: 10 kB/s; the fake backend asks for a poll every 600 s.
    slowLine(s, 100);
    await drive(s.make(), s.time);
    assert.deepEqual(
      s.http.requests.map((r) => r.range),
      [{ start: 0, end: 4095 }, { start: 4096, end: 19_999, ifRange: '"e1"' }],
      'the first segment is the configured one; the rest fits one poll interval',
    );
    assert.deepEqual(s.installer.slot, ARTIFACT);
  });

  it('nextSegmentBytes: rate x poll interval, whole sectors, bounded both ways', () => {
    assert.equal(nextSegmentBytes(262_144, 22_000, 60_000, 262_144), 712_704); // 11.9 kB/s x 60 s, down to a sector
    assert.equal(nextSegmentBytes(262_144, 22_000, 1_000, 262_144), 262_144, 'never below the configured segment');
    assert.equal(nextSegmentBytes(262_144, 1, 600_000, 4096), MAX_SEGMENT_BYTES);
    assert.equal(nextSegmentBytes(0, 0, 60_000, 8192), 8192, 'no measurement: the configured segment');
    assert.equal(nextSegmentBytes(5000, 1000, 1000, 4096) % 4096, 0);
    assert.equal(nextSegmentBytes(262_144, 22_000, 60_000, 4096, 65_536), 65_536, 'capped by downloadSegmentMaxBytes');
  });

  it('a backend that cannot cancel (manifest, IoTConnect) is not polled during the cycle', async () => {
    const s = setup({}, { downloadSegmentBytes: 8192 });
    s.backend.cancellable = false;
    await drive(s.make(), s.time);
    assert.equal(s.http.requests.length, 1, 'no segments: nothing to ask between them');
    assert.equal(s.backend.polls, 1, 'only the idle poll');
    assert.equal(s.installer.pending, true);
  });

  it('a cancel mid-download stops it: slot abandoned, never pending, cancelled reported once', async () => {
    const s = setup({}, { downloadSegmentBytes: 4096 });
    // 5 chunks of 100 s a segment: each boundary checks (more than half a poll interval after the last).
    slowLine(s, 100_000);
    const http = s.http;
    const request = http.request.bind(http);
    http.request = async (req, sink) => {
      if (http.requests.length === 1) s.backend.cancelId = '7'; // the operator cancels during the 2nd segment
      return request(req, sink);
    };
    const r = await drive(s.make(), s.time);
    assert.equal(r.at(-1)!.state, 'idle');
    assert.equal(http.requests.length, 2, 'no request after the cancel was seen');
    assert.ok(http.bytesServed < ARTIFACT.length);
    assert.equal(s.installer.pending, false);
    assert.ok(s.installer.abandons >= 1);
    assert.equal(s.installer.finishes, 0, 'a partial image is never verified or staged');
    assert.deepEqual(s.backend.reports.map((x) => x.phase), ['accepted', 'cancelled']);
    assert.equal(s.reboots, 0);
    assert.equal(journalOf(s).state, 'idle');
  });

  it('asks a backend that has pollCancel (hawkBit: root and cancelAction only) at every cancel check, never its full poll; its cancel stops the download', async () => {
    const s = setup({}, { downloadSegmentBytes: 8192, downloadSegmentMaxBytes: 8192 });
    slowLine(s, 40_000);
    const backend = s.backend as FakeBackend & { pollCancel?: (current: { version: string }) => Promise<PollResult> };
    let cancelChecks = 0;
    backend.pollCancel = async () => {
      cancelChecks++;
      return backend.cancelId !== undefined ? { cancelActionId: backend.cancelId, pollIntervalS: 600 } : { pollIntervalS: 600 };
    };
    await drive(s.make(), s.time);
    // The idle poll only; the two boundaries, download→verify, verify→stage and stage→reboot ask pollCancel.
    assert.equal(s.backend.polls, 1);
    assert.equal(cancelChecks, 5);
    assert.equal(s.installer.pending, true);

    const c = setup({}, { downloadSegmentBytes: 8192, downloadSegmentMaxBytes: 8192 });
    slowLine(c, 40_000);
    const cb = c.backend as FakeBackend & { pollCancel?: (current: { version: string }) => Promise<PollResult> };
    cb.pollCancel = async () => ({ cancelActionId: '7', pollIntervalS: 600 });
    const r = await drive(c.make(), c.time);
    assert.equal(r.at(-1)!.state, 'idle');
    assert.equal(c.http.requests.length, 1, 'no request after the first boundary\'s cancel');
    assert.equal(c.installer.pending, false);
    assert.deepEqual(c.backend.reports.map((x) => x.phase), ['accepted', 'cancelled']);
    assert.equal(c.backend.polls, 1, 'the cancel came from pollCancel');
  });

  it('a cancel after verify, before stage: the verified image is not staged', async () => {
    const s = setup();
    s.backend.onReport = (rep) => {
      if (rep.phase === 'downloaded') s.backend.cancelId = '7';
    };
    await drive(s.make(), s.time);
    assert.equal(s.installer.pending, false);
    assert.equal(s.reboots, 0);
    assert.deepEqual(s.backend.reports.map((x) => x.phase), ['accepted', 'downloaded', 'cancelled']);
  });

  it('a cancel while staged, before the reboot: the pending trailer is undone, then confirmed', async () => {
    const s = setup();
    s.backend.onReport = (rep) => {
      if (rep.phase === 'staged') s.backend.cancelId = '7';
    };
    const r = await drive(s.make(), s.time);
    assert.ok(!r.some((x) => x.rebooting));
    assert.equal(s.installer.pending, false);
    assert.equal(s.reboots, 0);
    assert.deepEqual(s.backend.reports.map((x) => x.phase), ['accepted', 'downloaded', 'staged', 'cancelled']);
  });

  it('a cancel after the reboot into the test image is rejected and the update finishes', async () => {
    const s = setup();
    await drive(s.make(), s.time);
    s.installer.boot();
    s.backend.cancelId = '7';
    await drive(s.make(), s.time);
    assert.deepEqual(s.backend.acks, [{ actionId: '7', stopped: false }]);
    assert.equal(s.installer.confirmed, true);
    assert.equal(s.backend.reports.at(-1)!.phase, 'running');
    assert.ok(!s.backend.reports.some((x) => x.phase === 'cancelled'));
  });

  it('a reset during the cancel report resumes it; a 410 for a confirmation already delivered counts as done', async () => {
    const s = setup({}, { downloadSegmentBytes: 4096 });
    s.backend.failReports = [];
    s.backend.onReport = (rep) => {
      if (rep.phase === 'accepted') s.backend.cancelId = '7';
    };
    // The cancelled report fails with a reset-like stop: the first agent never delivers it.
    const agent = s.make();
    await s.time.runFor(agent.step()); // idle → download
    s.backend.failReports = [new OtaError('link-lost', 'cut')];
    await s.time.runFor(agent.step()); // download → cancel → report fails
    assert.equal(journalOf(s).state, 'report');
    assert.equal((journalOf(s).outcome as { phase: string }).phase, 'cancelled');
    // After a reset the server already has it (410 Gone): done, once.
    s.backend.failReports = [new OtaError('backend-gone', 'action no longer active')];
    const r = await drive(s.make(), s.time);
    assert.equal(r.at(-1)!.state, 'idle');
    assert.equal(journalOf(s).state, 'idle');
    assert.ok(s.logs.includes('report.gone'));
    assert.equal(s.installer.pending, false);
  });

  it('download only: verified, reported download-only (not failed), kept unstaged; a later install reuses the slot', async () => {
    const s = setup({ update: 'skip', sha256: SHA });
    await drive(s.make(), s.time);
    assert.deepEqual(s.backend.reports.map((x) => x.phase), ['accepted', 'download-only']);
    assert.equal(s.backend.reports.at(-1)!.reason, undefined);
    assert.equal(s.installer.pending, false);
    assert.equal(s.reboots, 0);
    const idle = journalOf(s);
    assert.equal(idle.state, 'idle');
    assert.deepEqual(idle.held, { actionId: '7', size: ARTIFACT.length, sha256: Buffer.from(SHA).toString('hex') });
    // Polls that offer nothing meanwhile never erase the held image.
    s.installer.idleEraseUnits = 10;
    await s.time.runFor(s.make().step());
    await s.time.advance(1000);
    assert.equal(s.installer.idleEraseCalls, 0, 'a held image is not erased ahead');
    const served = s.http.bytesServed;
    const finishes = s.installer.finishes;
    // The server later offers the same artifact (a new action) for installation.
    s.backend.offer = { actionId: '8', version: '1.3.0', url: 'https://srv/a.bin', size: ARTIFACT.length, sha256: SHA, download: 'forced', update: 'forced' };
    s.backend.reports = [];
    const r = await drive(s.make(), s.time);
    assert.equal(r.at(-1)!.rebooting, true);
    assert.equal(s.http.bytesServed, served, 'nothing downloaded again');
    assert.equal(s.installer.finishes, finishes + 1, 'verified again from flash before staging');
    assert.equal(s.installer.pending, true);
    assert.deepEqual(s.backend.reports.map((x) => x.phase), ['accepted', 'downloaded', 'staged']);
  });

  it('download only, offered again as download only: nothing to do', async () => {
    const s = setup({ update: 'skip', sha256: SHA });
    await drive(s.make(), s.time);
    s.backend.offer = { actionId: '7', version: '1.3.0+5', url: 'https://srv/a.bin', sha256: SHA, download: 'forced', update: 'skip' };
    const before = s.backend.reports.length;
    const r = await s.time.runFor(s.make().step());
    assert.equal(r.state, 'idle');
    assert.equal(s.backend.reports.length, before);
  });

  it('a held image that no longer verifies is downloaded again from 0', async () => {
    const s = setup({ update: 'skip', sha256: SHA });
    await drive(s.make(), s.time);
    s.backend.offer = { actionId: '8', version: '1.3.0', url: 'https://srv/a.bin', sha256: SHA, download: 'forced', update: 'forced' };
    s.installer.rejectWith = new OtaError('bad-signature', 'slot changed');
    const agent = s.make();
    await s.time.runFor(agent.step()); // idle → verify (reuse)
    const r = await s.time.runFor(agent.step()); // verify fails → download from 0
    assert.equal(r.state, 'download');
    assert.ok(s.logs.includes('reuse.failed'));
    s.installer.rejectWith = undefined;
    const requests = s.http.requests.length;
    await drive(agent, s.time);
    assert.deepEqual(s.http.requests[requests].range, { start: 0, end: ARTIFACT.length - 1 }, 'from byte 0');
    assert.equal(s.installer.pending, true);
  });

  it('maintenance window unavailable: verify, report waiting, poll at the interval without journal writes, stage once available', async () => {
    const s = setup({ update: 'skip', maintenanceWindow: 'unavailable' });
    const agent = s.make();
    let r: StepResult | undefined;
    for (let i = 0; i < 4; i++) r = await s.time.runFor(agent.step()); // idle, download, verify → wait
    assert.equal(r!.state, 'wait');
    assert.equal(r!.sleepMs, 600_000, 'the server interval');
    assert.equal(s.installer.pending, false);
    assert.deepEqual(s.backend.reports.map((x) => x.phase), ['accepted', 'downloaded', 'waiting']);
    const writes = journalOf(s).writes;
    for (let i = 0; i < 5; i++) {
      r = await s.time.runFor(agent.step());
      assert.equal(r.state, 'wait');
      assert.equal(r.sleepMs, 600_000);
    }
    assert.equal(journalOf(s).writes, writes, 'no journal write per poll');
    s.backend.offer = { ...s.backend.offer!, update: 'forced', maintenanceWindow: 'available' };
    const rest = await drive(agent, s.time);
    assert.equal(rest.at(-1)!.rebooting, true);
    assert.equal(s.installer.pending, true);
    assert.deepEqual(s.backend.reports.map((x) => x.phase), ['accepted', 'downloaded', 'waiting', 'staged']);
  });

  it('a reset while waiting resumes waiting without downloading; once open, verifies again, then stages', async () => {
    const s = setup({ update: 'skip', maintenanceWindow: 'unavailable' });
    const agent = s.make();
    for (let i = 0; i < 4; i++) await s.time.runFor(agent.step());
    const requests = s.http.requests.length;
    const finishes = s.installer.finishes;
    const again = s.make(); // a reset
    assert.equal((await s.time.runFor(again.step())).state, 'wait');
    s.backend.offer = { ...s.backend.offer!, update: 'attempt', maintenanceWindow: 'available' };
    const r = await drive(again, s.time);
    assert.equal(r.at(-1)!.rebooting, true);
    assert.equal(s.http.requests.length, requests, 'no download after the reset');
    assert.equal(s.installer.finishes, finishes + 1, 'verified again in this boot before staging');
    assert.equal(s.installer.pending, true);
  });

  it('a cancel while waiting for the window abandons the image and confirms', async () => {
    const s = setup({ update: 'skip', maintenanceWindow: 'unavailable' });
    const agent = s.make();
    for (let i = 0; i < 4; i++) await s.time.runFor(agent.step());
    s.backend.cancelId = '7';
    const r = await s.time.runFor(agent.step());
    assert.equal(r.state, 'idle');
    assert.equal(s.installer.pending, false);
    assert.equal(s.backend.reports.at(-1)!.phase, 'cancelled');
  });
});
