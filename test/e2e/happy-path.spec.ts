/**
 * End to end, the agent in XS on the simulated dev kit (SIM7080G, A5000, NOR flash, MCUboot) in
 * virtual time: the whole update cycle with each backend, and on both modems at both UART rates.
 */
import assert from 'node:assert/strict';
import { assertNothingPending, finals, run, seen, story } from './e2e-support.js';

describe('e2e: happy path', function () {
  this.timeout(30_000);

  it('hawkBit over SIM7080G: accepted, downloaded, staged, test swap, confirmed, closed/success', async () => {
    const s = await run({ backend: 'hawkbit', modem: 'sim7080' });
    assert.equal(s.outcome, 'running', story(s));
    assert.equal(s.versionBefore, '1.0.0+0');
    assert.equal(s.versionAfter, '1.1.0+0');
    assert.deepEqual(s.mcuboot, ['none', 'test-swap']);
    assert.deepEqual(
      seen(s).map((r) => r.what),
      ['download/none', 'downloaded/none', 'proceeding/none', 'closed/success'],
      story(s),
    );
    assert.deepEqual(finals(s).map((r) => r.what), ['closed/success']);
    assert.equal(s.artifactBytesSent, s.imageBytes);
    assert.equal(s.a5000.verifications, 1);
    assert.ok(s.tlsHandshakes > 0, 'the modem reached the server over TLS, verified against the dev kit CA');
    assertNothingPending(s);
  });

  it("a board with the modem's STATUS on a GPIO input: the off modem gets the power key at once (no AT probe), the update ends confirmed", async () => {
    const s = await run({ backend: 'hawkbit', modem: 'sim7080', modemStatusPin: true });
    assert.equal(s.outcome, 'running', story(s));
    assert.equal(s.versionAfter, '1.1.0+0');
    const firstBoot = s.logs.filter((l) => l.boot === 1);
    const press = firstBoot.find((l) => l.event === 'modem.power-key');
    assert.ok(press && press.at < 100, `first power key at ${press?.at} ms`);
    assert.ok(firstBoot.some((l) => l.event === 'modem.status-off'), story(s));
    // After the swap the modem is still on: STATUS reads 1, so it is probed and never pressed.
    assert.equal(s.logs.filter((l) => l.boot === 2 && l.event === 'modem.power-key').length, 0, story(s));
    assertNothingPending(s);
  });

  it('static manifest over SIM7080G: reports accepted … running, once final', async () => {
    const s = await run({ backend: 'manifest', modem: 'sim7080' });
    assert.equal(s.outcome, 'running', story(s));
    assert.equal(s.versionAfter, '1.1.0+0');
    assert.deepEqual(finals(s).map((r) => r.what), ['running'], story(s));
    assert.ok(s.reports.every((r) => r.kind === 'manifest-report'));
    assertNothingPending(s);
  });

  // Issue 12.4: a freshly booted SIM7600 answers its first request ERROR; the health check
  // retries within its deadline, so the good image is confirmed, never reverted.
  for (const modem of ['sim7080', 'sim7600'] as const) {
    for (const baud of [115_200, 921_600]) {
      it(`hawkBit over ${modem} at ${baud} baud: ends confirmed (closed/success), no revert`, async () => {
        const s = await run({ backend: 'hawkbit', modem, baud });
        assert.equal(s.outcome, 'running', story(s));
        assert.equal(s.versionAfter, '1.1.0+0', story(s));
        assert.deepEqual(s.mcuboot, ['none', 'test-swap'], story(s));
        assert.deepEqual(finals(s).map((r) => r.what), ['closed/success'], story(s));
        assertNothingPending(s);
      });
    }
  }
});
