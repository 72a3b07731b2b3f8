/**
 * `xs-ota campaign`: the plan is the seed's (the same runs every time), every fault it draws is one
 * `xs-ota sim` accepts, the reproducer is a sim command line, and the docs page is rendered from
 * the JSON report. The campaign itself runs in test/e2e/fault-campaign.spec.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseFault } from '../../../tools/devkit/devkit.js';
import { planCampaign, prng, reproducer, summarize, type RunResult } from '../../../tools/campaign/campaign.js';
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
    assert.ok(all.some((f) => /reboot\.swap\+\d{3}/.test(f)), 'cuts far enough after reboot.swap to land in the swap');
    assert.equal(reproducer(plan[0]), `xs-ota sim --seed ${plan[0].seed} ${plan[0].faults.map((f) => `--fault ${f}`).join(' ')}`);
  });

  it('the report counts each verdict and lists every failing run with its reproducer; the doc comes from it', () => {
    const base: RunResult = { index: 0, verdict: 'ok', outcome: 'running', faults: ['power-cut@10%'], faultsFired: 1, cutsInBootloader: 0, unverifiedStaged: 0, reDownloadedBytes: 4096, reproducer: 'xs-ota sim --seed 1 --fault power-cut@10%' };
    const report = summarize(1, 3, [base, { ...base, index: 1, verdict: 'bricked', outcome: undefined, why: 'the device does not boot', reproducer: 'xs-ota sim --seed 2' }, { ...base, index: 2, faultsFired: 0 }]);
    assert.deepEqual([report.runs, report.cuts, report.bricked, report.stuck, report.wrongReports, report.bytesReDownloaded], [3, 2, 1, 0, 0, 12288]);
    assert.deepEqual(report.failing.map((f) => f.reproducer), ['xs-ota sim --seed 2']);
    const md = renderMarkdown(report, 'xs-ota campaign --cuts 3 --seed 1');
    assert.match(md, /\| bricked \| 1 \|/);
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
      } finally {
        console.error = err;
      }
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
