/**
 * End to end, the agent in XS on the simulated dev kit: the secondary slot erased ahead while the
 * device idles between polls and while the modem comes up at boot (src/slot/erased-ahead.ts,
 * issue 15 "erase off the critical path"), so the download that follows programs erased flash
 * with no erase in series with reception; the bring-up is not slowed by more than one erase unit;
 * and a power cut during either erase costs nothing but the erase again.
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

describe('e2e: the secondary slot erased ahead between polls and at link-up', function () {
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

  it('a device offered the update at its first poll erases its slot while the modem comes up: no erase in series with reception', async () => {
    const { s, marks } = await runMarked({});
    assert.equal(s.outcome, 'running', story(s));
    const at = (event: string) => marks.events.indexOf(event);
    assert.ok(at('slot.erase-at-link-up') >= 0 && at('slot.erase-at-link-up') < at('modem.registered'), 'the erase started before registration');
    assert.ok(at('slot.erased-ahead') >= 0 && at('slot.erased-ahead') < at('download.start'), 'the whole slot erased before the download');
    assert.equal(marks.erasesDuringDownload, 0, 'no erase in series with reception');
    assert.equal(Math.max(...s.flash.agentSecondaryErases), 1, 'each sector erased once, by the link-up erase');
    assertNothingPending(s);
  });

  it('with worst-case erase times the link-up erase does what the quiet waits of the bring-up allow, and no sector is erased twice', async () => {
    const { s, marks } = await runMarked({ flashTiming: 'worst' });
    assert.equal(s.outcome, 'running', story(s));
    assert.ok(marks.events.includes('slot.erase-at-link-up'));
    assert.ok(!marks.events.includes('slot.erased-ahead'), 'forty seconds of block erases do not fit the bring-up');
    assert.equal(Math.max(...s.flash.agentSecondaryErases), 1, 'no sector erased twice');
  });

  for (const modem of ['sim7080', 'sim7600'] as const) {
    it(`${modem}: the link-up erase delays registration by at most one erase unit (against flash that erases in no time)`, async () => {
      const registeredAt = async (flashTiming: 'none' | 'typical' | 'worst') => {
        let at: number | undefined;
        const s = await run({ backend: 'hawkbit', modem, flashTiming, onLog: (e) => void (e.event === 'modem.registered' && at === undefined && (at = e.at)) });
        assert.equal(s.outcome, 'running', story(s));
        return at!;
      };
      const reference = await registeredAt('none');
      // W25Q64JV 64 KiB block erase: 150 ms typical, 2000 ms worst (tools/devkit/parts/sim-flash.ts).
      for (const [timing, unitMs] of [['typical', 150], ['worst', 2000]] as const) {
        const late = (await registeredAt(timing)) - reference;
        assert.ok(late >= 0 && late <= unitMs, `${timing}: registered ${late} ms later than with instant erases`);
      }
    });
  }

  it('a power cut during the link-up erase: the device boots, erases again at the next link-up, and the update completes', async () => {
    const { s, marks } = await runMarked({ faults: [{ kind: 'power-cut', event: { event: 'slot.erase-at-link-up', afterFlashOps: 2 } }] });
    assert.equal(s.outcome, 'running', story(s));
    assert.ok(marks.events.filter((e) => e === 'agent.boot').length >= 3, 'the cut rebooted the device');
    assert.ok(marks.events.filter((e) => e === 'slot.erase-at-link-up').length >= 2, 'erased again after the cut');
    assert.equal(marks.erasesDuringDownload, 0, 'the second link-up erase completed before the download');
    assert.deepEqual(finals(s).map((r) => r.what), ['closed/success'], story(s));
    assertNothingPending(s);
  });

  it('a power cut during the idle erase: the next boot erases again and the update completes', async () => {
    // Worst-case erase times: the link-up erase leaves part of the slot to the idle erase after
    // the first empty poll, and the cut lands in that.
    const { s, marks } = await runMarked({ offerAfterS: 120, flashTiming: 'worst', faults: [{ kind: 'power-cut', event: { event: 'edge', afterFlashOps: 2 } }] });
    assert.equal(s.outcome, 'running', story(s));
    const boots = marks.events.filter((e) => e === 'agent.boot').length;
    assert.ok(boots >= 3, 'the cut rebooted the device');
    assert.ok(marks.events.filter((e) => e === 'slot.erase-at-link-up').length >= 2, 'erased again from the next link-up');
    assert.equal(marks.erasesDuringDownload, 0, 'the second erase completed before the offer');
    assertNothingPending(s);
  });
});
