/**
 * The driver (T1Link + Se05x + Se05xImageVerifier) against the simulated A5000, in Node, with
 * every injected fault: each ends in the correct verdict or a typed error, and the same driver
 * works again once the fault is gone. The same scenarios run inside XS in test/xs/se.spec.ts.
 */
import assert from 'node:assert/strict';
import { isOtaError } from '../../../src/util/errors.js';
import { NodeDigest } from '../../../tools/node/node-digest.js';
import { VirtualTime } from '../../../tools/devkit/parts/virtual-time.js';
import { createSeDriver, type SeDriver } from '../../support/se-driver.js';
import { SCENARIOS, SwitchableBus, makeSim, mcubootCases, runScenario, type Outcome, type Runner } from '../../support/se-scenarios.js';

function nodeRunner(time: VirtualTime, bus: SwitchableBus): Runner {
  let driver: SeDriver;
  const ports = { i2c: bus, clock: time.clockPort(), digest: new NodeDigest() };
  return {
    async reset(options) {
      driver = createSeDriver(ports, options);
    },
    async call(name, args): Promise<Outcome> {
      try {
        const work = (driver as unknown as Record<string, (a: unknown) => unknown>)[name](args);
        return { value: work instanceof Promise ? await time.runFor(work, { maxEvents: 200_000 }) : work };
      } catch (error) {
        if (isOtaError(error)) return { reason: error.reason, message: error.message };
        throw error;
      }
    },
  };
}

describe('se driver against the simulated A5000 (Node)', () => {
  const time = new VirtualTime();
  const bus = new SwitchableBus(makeSim(time));
  const runner = nodeRunner(time, bus);
  const images = mcubootCases();
  const valid = images.find((i) => i.expected === 'verified')!;

  for (const image of images) {
    it(`MCUboot ${image.file}: ${image.expected}`, async () => {
      await runScenario(runner, bus, time, { name: image.file, expect: image.expected }, image);
    });
  }

  for (const scenario of SCENARIOS) {
    it(scenario.name, async () => {
      await runScenario(runner, bus, time, scenario, valid);
    });
  }

  it('reads the key once, then sends only ECDSAVerify per image', async () => {
    const sim = makeSim(time);
    bus.target = sim;
    await runner.reset({});
    await runner.call('verify', valid);
    const first = sim.stats.commands;
    await runner.call('verify', valid);
    // SELECT + CheckObjectExists + ReadObject + ECDSAVerify, then ECDSAVerify alone.
    assert.deepEqual([first, sim.stats.commands - first], [4, 1]);
  });
});
