/**
 * End to end on XS: a small fault campaign (tools/campaign/campaign.ts) as CI runs it: random
 * power cuts (some inside MCUboot's swap), link drops and modem reboots, alone and combined, over
 * full updates; no device bricks or gets stuck, and every final report is the truth of the flash.
 * The big one is `npm run campaign -- --cuts 10000` (docs/campaign.md).
 *
 * Seed 17 draws `power-cut@event:confirm.start` (run #7): the false success of issue 17 item 1
 * (the agent "confirms" the reverted old image and reports success). This test fails until the
 * machine compares the running version with the target in #confirm (core's fix); it is kept on
 * that seed on purpose, as the test that would have caught it.
 */
import assert from 'node:assert/strict';
import { planCampaign, runOne, summarize, type RunResult } from '../../tools/campaign/campaign.js';
import { formatReport } from '../../tools/cli/campaign.js';

describe('e2e: fault campaign (small, seeded)', function () {
  this.timeout(20 * 60_000);

  it('24 cuts: 0 bricked, 0 stuck, 0 wrong reports, 0 unverified images staged', async () => {
    const plan = planCampaign(24, 17);
    const results: RunResult[] = [];
    for (const run of plan) results.push(await runOne(run));
    const report = summarize(17, 24, results);
    const text = formatReport(report);
    assert.ok(report.cuts >= 12, `most planned cuts fired:\n${text}`);
    assert.deepEqual([report.bricked, report.stuck, report.wrongReports, report.crashed, report.unverifiedStaged], [0, 0, 0, 0, 0], text);
  });
});
