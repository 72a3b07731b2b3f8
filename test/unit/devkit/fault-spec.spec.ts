/** `--fault` specs of the simulated dev kit (tools/devkit/devkit.ts parseFault), cancel included. */
import assert from 'node:assert/strict';
import { parseFault } from '../../../tools/devkit/devkit.js';

describe('dev kit fault specs', () => {
  it('cancel@N% cancels at a fraction of the download', () => {
    assert.deepEqual(parseFault('cancel@50%'), { kind: 'cancel', at: 0.5 });
  });

  it('cancel@event:NAME[#K] cancels at an agent log event', () => {
    assert.deepEqual(parseFault('cancel@event:stage.start'), { kind: 'cancel', event: { event: 'stage.start', occurrence: undefined, afterFlashOps: undefined } });
    assert.deepEqual(parseFault('cancel@event:health.start#2'), { kind: 'cancel', event: { event: 'health.start', occurrence: 2, afterFlashOps: undefined } });
  });

  it('power-cut@event keeps its flash-operation offset', () => {
    assert.deepEqual(parseFault('power-cut@event:stage.start+1'), { kind: 'power-cut', event: { event: 'stage.start', occurrence: undefined, afterFlashOps: 1 } });
  });

  it('refuses a cancel without a place, or with a flash offset', () => {
    assert.throws(() => parseFault('cancel'), /say where/);
    assert.throws(() => parseFault('cancel@event:stage.start+1'), /power-cut only/);
    assert.throws(() => parseFault('cancel@150%'), /above 100/);
  });
});
