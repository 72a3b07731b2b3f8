/**
 * One dev-kit run idle, then the same run beside two CPU burners (this is a 2-core host), with
 * the simulated sockets' real-time fallbacks counted. A socket wait that ends on counts moves no
 * virtual instant when the servers answer late in real time; one that ends on a window of real
 * silence (SimSocket.quietSettles) or on the hang guard (SimSocket.guardExpiries) does, so none
 * may happen in either run.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { DevkitSummary } from '../../tools/devkit/devkit.js';
import { SimSocket } from '../../tools/devkit/parts/sim-modem/net.js';

export interface IdleAndLoaded {
  idle: DevkitSummary;
  loaded: DevkitSummary;
  /** The largest difference of one log line's virtual instant between the two runs, in ms. */
  driftMs: number;
}

export async function idleAndLoaded(run: () => Promise<DevkitSummary>, check: (summary: DevkitSummary) => void): Promise<IdleAndLoaded> {
  const quiet = SimSocket.quietSettles;
  const guards = SimSocket.guardExpiries;
  const idle = await run();
  check(idle);
  assert.equal(SimSocket.quietSettles, quiet, 'no wait ended by a window of real silence');
  const burners = [0, 1].map(() => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
  let loaded: DevkitSummary;
  try {
    loaded = await run();
  } finally {
    for (const b of burners) b.kill();
  }
  check(loaded);
  assert.equal(SimSocket.quietSettles, quiet, 'none under load either');
  assert.equal(SimSocket.guardExpiries, guards, 'no wait ended by the real-time hang guard');
  assert.equal(loaded.logs.length, idle.logs.length, 'the same log lines idle and loaded');
  const driftMs = Math.max(...idle.logs.map((e, i) => Math.abs(e.at - loaded.logs[i].at)));
  return { idle, loaded, driftMs };
}
