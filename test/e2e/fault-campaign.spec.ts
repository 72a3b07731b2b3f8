/**
 * End to end on XS: a small fault campaign (tools/campaign/campaign.ts) as CI runs it: random
 * power cuts (some inside MCUboot's swap), link drops and modem reboots, alone and several in one
 * run, over full updates; no device bricks or gets stuck, and every final report is the truth of
 * the flash. The big one is `npm run campaign -- --cuts 10000` (docs/campaign.md).
 *
 * The cut of issue 17 item 1 (`power-cut@event:confirm.start`: the agent "confirmed" the reverted
 * old image and reported success) runs on its own here, as the test that would have caught it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { planCampaign, runOne, summarize, type RunResult } from '../../tools/campaign/campaign.js';
import { readRunLog, runLogPath } from '../../tools/campaign/run-log.js';
import { command, formatReport, type SavedReport } from '../../tools/cli/campaign.js';
import { run as xsOta } from '../../tools/cli/main.js';

describe('e2e: fault campaign (small, seeded)', function () {
  this.timeout(10 * 60_000);

  it('24 cuts: 0 bricked, 0 stuck, 0 wrong reports, 0 unverified images staged', async () => {
    const plan = planCampaign(24, 17);
    const results: RunResult[] = [];
    for (const run of plan) results.push(await runOne(run));
    const report = summarize(17, 24, results);
    const text = formatReport(report);
    assert.ok(report.cuts >= 18, `most planned cuts fired:\n${text}`);
    assert.ok(report.combinedRuns > 0, `some runs carry several cuts:\n${text}`);
    assert.deepEqual([report.bricked, report.stuck, report.wrongReports, report.crashed, report.unverifiedStaged], [0, 0, 0, 0, 0], text);
  });

  it('a cut after the health check, before image_ok: MCUboot reverts, and the report says so (issue 17.1); the reproducer replays the run exactly', async () => {
    const r = await runOne({ index: 0, seed: 17007, faults: ['power-cut@event:confirm.start'] });
    assert.equal(r.verdict, 'ok', `${r.why} (${r.reproducer})`);
    assert.equal(r.faultsFired, 1);
    // The printed command, as a QA engineer would paste it: the same run, to the XS meter unit.
    const stdout: string[] = [];
    const [log, write] = [console.log, process.stderr.write.bind(process.stderr)];
    console.log = (...a: unknown[]) => void stdout.push(a.join(' '));
    process.stderr.write = () => true;
    try {
      await xsOta([...r.reproducer.replace(/^xs-ota /, '').split(' '), '--json']);
    } finally {
      console.log = log;
      process.stderr.write = write;
    }
    const replay = JSON.parse(stdout.join('\n')) as { outcome: string; xs: { compute: number }; faultsNotFired: number[] };
    assert.deepEqual([replay.outcome, replay.faultsNotFired], [r.outcome, []]);
    // The same work to within a few meter units in 10^7 (the meter varies by a few units between
    // engine sessions); without --uart-burst 1024 it would be about twice as much.
    assert.ok(Math.abs(replay.xs.compute - r.xsCompute!) < 100, `${replay.xs.compute} vs ${r.xsCompute}`);
  });

  it('with workers, a run that never finishes is stuck (its worker killed, a new one goes on), with its reproducer', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'xs-ota-campaign-'));
    const err = process.stderr.write.bind(process.stderr);
    const log = console.log;
    try {
      const save = path.join(dir, 't.json');
      process.stderr.write = () => true;
      console.log = () => undefined;
      // No run of the dev kit ends within 1 s of real time: each one stands for a hang.
      assert.equal(await command.run(['--cuts', '6', '--seed', '5', '--workers', '2', '--run-timeout', '1', '--save', save]), 1);
      process.stderr.write = err;
      console.log = log;
      const report = JSON.parse(readFileSync(save, 'utf8')) as SavedReport;
      const plan = planCampaign(6, 5);
      assert.equal(report.runs, plan.length);
      assert.equal(report.stuck, plan.length);
      assert.ok(report.failing.every((f) => /no result within 1 s of real time/.test(f.why ?? '') && f.reproducer.startsWith('xs-ota sim --uart-burst 1024 --seed ')), JSON.stringify(report.failing));
    } finally {
      process.stderr.write = err;
      console.log = log;
      rmSync(dir, { recursive: true });
    }
  });

  it('an interrupted campaign resumes where it stopped: each run once, the report over all, the same runs as one session', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'xs-ota-campaign-'));
    const err = process.stderr.write.bind(process.stderr);
    const log = console.log;
    try {
      const save = path.join(dir, 'c.json');
      // Quiet: progress goes to stderr, the report to stdout.
      process.stderr.write = () => true;
      console.log = () => undefined;
      assert.equal(await command.run(['--cuts', '6', '--seed', '5', '--save', save, '--stop-after', '1']), 0);
      const partial = JSON.parse(readFileSync(save, 'utf8')) as SavedReport;
      const plan = planCampaign(6, 5);
      assert.equal(partial.complete, false);
      assert.match(partial.command, new RegExp(`stopped after 1 of ${plan.length} runs`));
      assert.equal(await command.run(['--cuts', '6', '--seed', '5', '--resume', save]), 0);
      process.stderr.write = err;
      console.log = log;
      const final = JSON.parse(readFileSync(save, 'utf8')) as SavedReport;
      assert.equal(final.complete, true);
      assert.equal(final.command, 'xs-ota campaign --cuts 6 --seed 5');
      assert.equal(final.runs, plan.length);
      // The page rendered from the saved report and its run log says the same.
      const md = path.join(dir, 'c.md');
      assert.equal(await command.run(['--render', save, '--markdown', md]), 0);
      assert.match(readFileSync(md, 'utf8'), new RegExp(`\\| runs \\(full simulated updates[^|]*\\| ${plan.length} \\|`));
      const logged = readRunLog(runLogPath(save));
      assert.deepEqual(logged.results.map((r) => r.index).sort(), plan.map((r) => r.index), 'every run once');
      assert.equal(logged.sessions.length, 2);
      // Deterministic in (seed, run index): run 0 again gives what the first session logged (the
      // XS meter to within a few units).
      const { xsCompute, ...again } = await runOne(plan[0]);
      const { xsCompute: loggedCompute, ...first } = logged.results.find((r) => r.index === 0)!;
      assert.deepEqual(again, first);
      assert.ok(Math.abs(xsCompute! - loggedCompute!) < 100, `${xsCompute} vs ${loggedCompute}`);
    } finally {
      process.stderr.write = err;
      console.log = log;
      rmSync(dir, { recursive: true });
    }
  });
});
