/**
 * The A5000 driver inside Moddable's XS engine: the guest bundle (test/xs/guests/se.guest.ts)
 * runs src/se on remote I2C, clock and digest ports, served by the simulated A5000 in Node on
 * virtual time. The MCUboot vector images verify (or fail with the right reason) through the
 * simulated SE, and every fault scenario of the Node spec runs here too.
 */
import assert from 'node:assert/strict';
import { NodeDigest } from '../../tools/node/node-digest.js';
import { VirtualTime } from '../../tools/devkit/parts/virtual-time.js';
import { GuestError, XsSession } from '../../tools/xs/session.js';
import { servePlatform } from '../../tools/xs/serve-platform.js';
import { SCENARIOS, SwitchableBus, makeSim, mcubootCases, runScenario, type Outcome, type Runner } from '../support/se-scenarios.js';

describe('se driver on XS against the simulated A5000', function () {
  let session: XsSession;
  const time = new VirtualTime();
  const bus = new SwitchableBus(makeSim(time));
  const images = mcubootCases();
  const valid = images.find((i) => i.expected === 'verified')!;

  const runner: Runner = {
    async reset(options) {
      await session.call('reset', options);
    },
    async call(name, args): Promise<Outcome> {
      try {
        return { value: await time.runFor(session.call(name, args), { maxEvents: 200_000 }) };
      } catch (error) {
        if (error instanceof GuestError && error.reason) return { reason: error.reason, message: error.message };
        throw error;
      }
    },
  };

  before(async function () {
    session = await XsSession.start({ bundle: 'se' });
    servePlatform(session, { seI2c: bus, digest: new NodeDigest() }, time);
  });
  after(async () => session?.close());

  for (const image of images) {
    it(`MCUboot ${image.file}: ${image.expected} (on XS)`, async () => {
      await runScenario(runner, bus, time, { name: image.file, expect: image.expected }, image);
    });
  }

  for (const scenario of SCENARIOS) {
    it(`${scenario.name} (on XS)`, async () => {
      await runScenario(runner, bus, time, scenario, valid);
    });
  }

  it('runs in XS: no Node globals in the guest, XS meters the work', async () => {
    assert.ok(session.meter.cranks > 0);
    assert.ok(session.meter.compute > 0);
  });
});
