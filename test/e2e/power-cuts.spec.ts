/**
 * End to end on XS in virtual time: power fails at many points of the cycle. After recovery the
 * device boots (the harness throws if MCUboot finds nothing bootable), and the deployment ends in
 * success or a correctly reported failure, reported once as final.
 */
import assert from 'node:assert/strict';
import { parseFault } from '../../tools/devkit/devkit.js';
import { assertNothingPending, finals, run, story } from './e2e-support.js';

/** `power-cut@N%` (download), `power-cut@event:NAME[#K][+N]` (N-th flash op after the event). */
// A cut powers the whole board off, the modem included (tools/devkit/devkit.ts), so the next boot
// starts the modem from cold, as on hardware.
const CUTS = [
  'power-cut@15%',
  'power-cut@55%',
  'power-cut@95%',
  'power-cut@event:stage.start+0',
  'power-cut@event:stage.start+1',
  'power-cut@event:verify.start',
  'power-cut@event:device.reset-requested',
  'power-cut@event:health.start',
  'power-cut@event:confirm.start+0',
  // The confirm window (issue 17.1): at once (before image_ok is programmed; +0 above lands in
  // the image_ok write, the only flash operation of the window), and after it (image_ok set,
  // the outcome not yet persisted).
  'power-cut@event:confirm.start',
  'power-cut@event:image.confirmed',
];

describe('e2e: power cuts across the update cycle', function () {
  this.timeout(40_000);

  for (const cut of CUTS) {
    it(`${cut}: boots, ends once, never half-installed`, async () => {
      const s = await run({ faults: [parseFault(cut)], seed: 7 });
      assert.ok(s.resets.includes('power cut'), `the cut happened: ${story(s)}`);
      const f = finals(s);
      assert.equal(f.length, 1, story(s));
      if (s.outcome === 'running') {
        assert.equal(s.versionAfter, '1.1.0+0', story(s));
        assert.equal(f[0].what, 'closed/success');
      } else {
        // A failure is reported as such and leaves the old image running, nothing pending.
        assert.equal(s.versionAfter, '1.0.0+0', story(s));
        assert.equal(f[0].what, 'closed/failure');
        assertNothingPending(s);
      }
      assert.ok(!s.mcuboot.includes('unbootable'), story(s));
      // A cut while marking pending: the re-stage re-verifies from flash and continues (MCUboot's
      // order, src/slot/boot-state.ts markPending), never a second download. (In the boot of the
      // cut itself the dying write is logged as stage.failed before the power is gone.)
      if (/stage\.start/.test(cut)) assert.ok(!s.logs.some((l) => l.event === 'stage.failed' && l.boot > 1), story(s));
      // An interrupted cycle before the swap resumes: the outcome is still success.
      if (!/health|confirm|reset-requested/.test(cut)) assert.equal(s.outcome, 'running', story(s));
    });
  }

  it('power-cut@event:confirm.start: MCUboot reverts the unconfirmed image; reported reverted, never success', async () => {
    const s = await run({ faults: [parseFault('power-cut@event:confirm.start')], seed: 7 });
    assert.ok(s.resets.includes('power cut'), story(s));
    assert.notEqual(s.outcome, 'running', story(s));
    assert.equal(s.outcome, 'reverted', story(s));
    assert.equal(s.versionAfter, '1.0.0+0', story(s));
    const f = finals(s);
    assert.equal(f.length, 1, story(s));
    assert.equal(f[0].what, 'closed/failure', story(s));
    assertNothingPending(s);
  });

  it('a cut scheduled past the agent\'s last flash operation lands in MCUboot\'s swap; the next power-on carries on, the update ends running', async () => {
    // After reboot.swap the agent writes nothing more: the 40th operation from there is MCUboot's.
    const s = await run({ faults: [parseFault('power-cut@event:reboot.swap+40')], seed: 7 });
    assert.equal(s.cutsInBootloader, 1, story(s));
    assert.deepEqual(s.faultsNotFired, []);
    assert.ok(s.resets.includes('power cut (in MCUboot)'), story(s));
    // Depending on where the cut fell, the next power-on resumes the swap or (before its first
    // status write) starts it again; either way the new image ends up running.
    assert.ok(s.mcuboot.some((o) => o === 'resumed-swap' || o === 'test-swap'), story(s));
    assert.equal(s.outcome, 'running', story(s));
    assert.equal(s.versionAfter, '1.1.0+0');
  });

  it('a fault that never fires is reported as such (an event name that does not exist)', async () => {
    const s = await run({ faults: [parseFault('power-cut@event:no.such.event')], seed: 7 });
    assert.deepEqual(s.faultsNotFired, [0]);
  });
});
