/**
 * End to end, the agent in XS on the simulated dev kit: the secondary slot erased ahead while the
 * device idles between polls (src/slot/erased-ahead.ts, issue 15 "erase off the critical path"),
 * so the download that follows programs erased flash with no erase in series with reception;
 * and a power cut during that idle erase costs nothing but the erase again.
 */
import assert from 'node:assert/strict';
import type { DevkitFlash } from '../../tools/devkit/parts/sim-flash.js';
import type { DevkitOptions } from '../../tools/devkit/devkit.js';
import { assertNothingPending, finals, run, story } from './e2e-support.js';

interface Marks {
  events: string[];
  /** Flash erases (sector and block) the device made between download.start and the last download.done. */
  erasesDuringDownload: number;
}

async function runMarked(options: Partial<DevkitOptions>): Promise<{ s: Awaited<ReturnType<typeof run>>; marks: Marks }> {
  let flash: DevkitFlash | undefined;
  let atStart: number | undefined;
  const marks: Marks = { events: [], erasesDuringDownload: 0 };
  const erases = () => (flash ? flash.device.stats.erases : 0);
  const s = await run({
    backend: 'hawkbit',
    flashTiming: 'typical',
    ...options,
    onReady: (kit) => {
      flash = kit.flash;
    },
    onLog: (entry) => {
      marks.events.push(entry.event);
      if (entry.event === 'download.start') atStart = erases();
      if (entry.event === 'download.done' && atStart !== undefined) marks.erasesDuringDownload = erases() - atStart;
    },
  });
  return { s, marks };
}

describe('e2e: the secondary slot erased ahead between polls', function () {
  this.timeout(60_000);

  it('a device that idled before the offer downloads without a single erase, and the update completes', async () => {
    const { s, marks } = await runMarked({ offerAfterS: 30 });
    assert.equal(s.outcome, 'running', story(s));
    assert.deepEqual(finals(s).map((r) => r.what), ['closed/success'], story(s));
    const erased = marks.events.indexOf('slot.erased-ahead');
    assert.ok(erased >= 0, 'the idle erase finished');
    assert.ok(erased < marks.events.indexOf('download.start'), 'before the download');
    assert.equal(marks.erasesDuringDownload, 0, 'no erase in series with reception');
    assert.equal(Math.max(...s.flash.agentSecondaryErases), 1, 'each sector erased once, by the idle erase');
    assertNothingPending(s);
  });

  it('a device offered the update at its first poll erases as it downloads (the control case)', async () => {
    const { s, marks } = await runMarked({});
    assert.equal(s.outcome, 'running', story(s));
    assert.ok(!marks.events.includes('slot.erased-ahead'));
    assert.ok(marks.erasesDuringDownload > 0, 'the slot writer erased while receiving');
  });

  it('a power cut during the idle erase: the next boot erases again and the update completes', async () => {
    const { s, marks } = await runMarked({ offerAfterS: 120, faults: [{ kind: 'power-cut', event: { event: 'edge', afterFlashOps: 2 } }] });
    assert.equal(s.outcome, 'running', story(s));
    assert.ok(marks.events.filter((e) => e === 'agent.boot').length >= 3, 'the cut rebooted the device');
    assert.equal(marks.erasesDuringDownload, 0, 'the second idle erase completed before the offer');
    assertNothingPending(s);
  });
});
