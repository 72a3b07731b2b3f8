/** startAsJob (src/util/stack.ts): the work runs as a job of its own, never inside its caller's call. */
import assert from 'node:assert/strict';
import { startAsJob } from '../../../src/util/stack.js';

describe('util/stack startAsJob', () => {
  it('starts the work after the caller returned (a new job: none of the caller\'s frames below it)', async () => {
    const order: string[] = [];
    const running = startAsJob(async () => {
      order.push('work');
      return 7;
    });
    order.push('caller returned');
    assert.equal(await running, 7);
    assert.deepEqual(order, ['caller returned', 'work']);
  });

  it('passes a failure of the work on as a rejection, a synchronous throw included', async () => {
    await assert.rejects(
      startAsJob(() => {
        throw new Error('sync');
      }),
      /sync/,
    );
    await assert.rejects(startAsJob(async () => Promise.reject(new Error('async'))), /async/);
  });
});
