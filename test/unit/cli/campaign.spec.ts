/**
 * `xs-ota campaign`: the plan is the seed's (the same runs every time), every fault it draws is one
 * `xs-ota sim` accepts, the reproducer is a sim command line, and the docs page is rendered from
 * the JSON report. The campaign itself runs in test/e2e/fault-campaign.spec.ts.
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseFault } from '../../../tools/devkit/devkit.js';
import { campaignIdentity, MAX_FAULTS_PER_RUN, planCampaign, prng, reproducer, summarize, type RunResult } from '../../../tools/campaign/campaign.js';
import { openRunLog, readRunLog, runLogPath } from '../../../tools/campaign/run-log.js';
import { command, renderMarkdown } from '../../../tools/cli/campaign.js';

describe('CLI: xs-ota campaign (plan, report)', () => {
  it('the same seed plans the same runs; another seed others; the planned faults add up to --cuts', () => {
    assert.deepEqual(planCampaign(200, 7), planCampaign(200, 7));
    assert.notDeepEqual(planCampaign(200, 7), planCampaign(200, 8));
    for (const cuts of [1, 2, 3, 50, 1000]) assert.equal(planCampaign(cuts, 1).reduce((n, r) => n + r.faults.length, 0), cuts);
    const r = prng(1);
    for (let i = 0; i < 1000; i++) {
      const x = r();
      assert.ok(x >= 0 && x < 1);
    }
  });

  it('draws power, link, modem and combined faults, all valid `xs-ota sim --fault` specs, some inside MCUboot', () => {
    const plan = planCampaign(2000, 1);
    const all = plan.flatMap((r) => r.faults);
    for (const f of all) parseFault(f);
    for (const kind of ['power-cut@', 'link-drop@', 'modem-reboot@', 'power-cut@event:']) assert.ok(all.some((f) => f.startsWith(kind)), kind);
    assert.ok(plan.some((r) => r.faults.length > 1), 'combined faults');
    assert.ok(plan.some((r) => r.faults.length === 1), 'single faults');
    assert.ok(all.some((f) => /reboot\.swap\+\d{3}/.test(f)), 'cuts far enough after reboot.swap to land in the swap');
    assert.equal(reproducer(plan[0]), `xs-ota sim --uart-burst 1024 --seed ${plan[0].seed} ${plan[0].faults.map((f) => `--fault ${f}`).join(' ')}`);
  });

  it('several faults per run, never two that cannot both fire: one per download-fraction kind, one per event', () => {
    const plan = planCampaign(5000, 2);
    assert.ok(Math.max(...plan.map((r) => r.faults.length)) === MAX_FAULTS_PER_RUN);
    assert.ok(plan.length < 5000 / 2.5, `${plan.length} runs for 5000 cuts: the fixed cost of a run is shared`);
    for (const run of plan) {
      const events = run.faults.map((f) => /@event:([a-z0-9.-]+)/.exec(f)?.[1]).filter((e) => e !== undefined);
      assert.equal(new Set(events).size, events.length, run.faults.join(' '));
      const fractions = run.faults.filter((f) => !f.includes('@event:')).map((f) => f.split('@')[0]);
      assert.equal(new Set(fractions).size, fractions.length, run.faults.join(' '));
    }
    // After the swap the agent programs one word: a cut planned further on could never fire.
    const late = plan.flatMap((r) => r.faults).filter((f) => /@event:(health\.start|confirm\.start|image\.confirmed)\+/.test(f));
    assert.ok(late.length > 0 && late.every((f) => f.endsWith('+0')), late.find((f) => !f.endsWith('+0')));
  });

  it('the run log: every run appended, a torn last line dropped, another campaign refused, a resume runs only the rest', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'xs-ota-runlog-'));
    try {
      const file = runLogPath(path.join(dir, 'c.json'));
      assert.equal(file, path.join(dir, 'c.runs.jsonl'));
      const identity = campaignIdentity(9, 4);
      const session = { commit: 'abc', started: '2026-01-01T00:00:00.000Z', command: 'xs-ota campaign --cuts 9 --seed 4' };
      const result = (index: number): RunResult => ({ index, verdict: 'ok', outcome: 'running', faults: ['power-cut@10%'], fired: ['power-cut@10%'], faultsFired: 1, cutsInBootloader: 0, unverifiedStaged: 0, reDownloadedBytes: 0, reproducer: 'x' });
      const first = openRunLog(file, identity, session, false);
      assert.deepEqual(first.done, []);
      first.append(result(0));
      first.append(result(2));
      appendFileSync(file, '{"run":{"index":1,"verd'); // killed mid-line
      assert.deepEqual(readRunLog(file).results.map((r) => r.index), [0, 2]);
      const again = openRunLog(file, identity, { ...session, commit: 'def' }, true);
      assert.deepEqual(again.done.map((r) => r.index), [0, 2]);
      assert.deepEqual(again.sessions.map((s) => s.commit), ['abc', 'def']);
      again.append(result(1));
      assert.deepEqual(readRunLog(file).results.map((r) => r.index), [0, 2, 1], 'the torn line is gone, the new run readable');
      assert.throws(() => openRunLog(file, campaignIdentity(10, 4), session, true), /holds another campaign \(cuts: 9 -> 10; plan/);
      assert.throws(() => openRunLog(file, campaignIdentity(9, 5), session, true), /seed: 4 -> 5/);
      // --save starts over
      assert.deepEqual(openRunLog(file, identity, session, false).done, []);
      assert.deepEqual(readRunLog(file).results, []);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('the report counts each verdict and lists every failing run with its reproducer; the doc comes from it', () => {
    const base: RunResult = { index: 0, verdict: 'ok', outcome: 'running', faults: ['power-cut@10%'], fired: ['power-cut@10%'], faultsFired: 1, cutsInBootloader: 0, unverifiedStaged: 0, reDownloadedBytes: 4096, reproducer: 'xs-ota sim --seed 1 --fault power-cut@10%' };
    const report = summarize(1, 5, [
      base,
      { ...base, index: 1, verdict: 'bricked', outcome: undefined, fired: undefined, why: 'the device does not boot', reproducer: 'xs-ota sim --seed 2' },
      { ...base, index: 2, fired: [], faultsFired: 0 },
      { ...base, index: 3, faults: ['link-drop@5%', 'power-cut@event:reboot.swap+400'], fired: ['link-drop@5%', 'power-cut@event:reboot.swap+400'], faultsFired: 2, cutsInBootloader: 1 },
    ], 6);
    assert.equal(report.cutsPlannedInRuns, 5);
    assert.deepEqual([report.runs, report.runsPlanned, report.cuts, report.bricked, report.stuck, report.wrongReports, report.bytesReDownloaded], [4, 6, 4, 1, 0, 0, 16384]);
    assert.deepEqual(report.cutsByKind, { 'power-cut': 2, 'link-drop': 1 });
    assert.deepEqual(report.cutsByPhase, { download: 2, 'reboot.swap': 1 });
    assert.deepEqual([report.cutsInBootloader, report.combinedRuns], [1, 1]);
    assert.deepEqual(report.failing.map((f) => f.reproducer), ['xs-ota sim --seed 2']);
    const md = renderMarkdown({ command: 'xs-ota campaign --cuts 5 --seed 1', commits: ['abc123'], ...report });
    assert.match(md, /\| bricked \| 1 \|/);
    assert.match(md, /\| reboot\.swap \| 1 \|/);
    assert.match(md, /Commit: `abc123`/);
    assert.match(md, /`xs-ota sim --seed 2`/);
  });

  it('--render writes the docs page from a saved report; bad options are usage errors', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'xs-ota-campaign-'));
    try {
      const json = path.join(dir, 'c.json');
      writeFileSync(json, JSON.stringify({ command: 'xs-ota campaign --cuts 9 --seed 4', ...summarize(4, 9, []) }));
      const md = path.join(dir, 'c.md');
      assert.equal(await command.run(['--render', json, '--markdown', md]), 0);
      assert.match(readFileSync(md, 'utf8'), /xs-ota campaign --cuts 9 --seed 4/);
      const err = console.error;
      console.error = () => undefined;
      try {
        assert.equal(await command.run(['--cuts', '0']), 2);
        assert.equal(await command.run(['--seed', 'abc']), 2);
        assert.equal(await command.run(['--frob']), 2);
        assert.equal(await command.run(['--save', path.join(dir, 'x.txt')]), 2);
        assert.equal(await command.run(['--save', path.join(dir, 'a.json'), '--resume', path.join(dir, 'a.json')]), 2);
        assert.equal(await command.run(['--stop-after', '0']), 2);
      } finally {
        console.error = err;
      }
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
