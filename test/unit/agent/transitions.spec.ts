/**
 * The state table is what the machine does: one case per edge of TRANSITIONS, generated from the
 * table, each driving the fakes (machine-fakes.ts) until the machine takes that edge and checking
 * that the journal then holds the edge's target state. Every edge any case took must be in the
 * table (the machine refuses others with `bad-state`, which would show as a failure), every edge
 * of the table must have a case, and docs/agent.md must draw the same table.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CANCEL_RULE, TRANSITIONS, tableEdges } from '../../../src/agent/machine.js';
import { Journal, MAX_WRITES_PER_DEPLOYMENT, type State } from '../../../src/agent/journal.js';
import { OtaError } from '../../../src/util/errors.js';
import { repoRoot } from '../../support/paths.js';
import { ARTIFACT, FakeInstaller, deltaOffer, drive, fakeDeltaHook, setup } from './machine-fakes.js';
import { installerContract } from '../../support/installer-contract.js';

type Setup = ReturnType<typeof setup>;

/** The whole update up to the reboot into the test image, then MCUboot's boot. */
async function toTestImage(s: Setup): Promise<void> {
  await drive(s.make(), s.time);
  s.installer.boot();
}

async function update(s: Setup): Promise<void> {
  await toTestImage(s);
  await drive(s.make(), s.time);
}

/** Until the maintenance-window wait has begun (idle, download, verify → wait). */
async function toWait(s: Setup) {
  const agent = s.make();
  for (let i = 0; i < 4; i++) await s.time.runFor(agent.step());
  return agent;
}

function windowClosed(): Setup {
  return setup({ update: 'skip', maintenanceWindow: 'unavailable' });
}

/** For each edge `from.name`: a run that takes it (and what it leaves to check). */
const CASES: Record<string, () => Promise<Setup>> = {
  'idle.nothing': async () => {
    const s = setup();
    s.backend.offer = undefined;
    await s.time.runFor(s.make().step());
    return s;
  },
  'idle.unconfirmed-wait': async () => {
    const s = setup();
    s.installer.confirmed = false;
    await s.time.runFor(s.make().step());
    return s;
  },
  'idle.unconfirmed-revert': async () => {
    const s = setup();
    s.installer.confirmed = false;
    await drive(s.make(), s.time, 3);
    assert.equal(s.reboots, 1);
    return s;
  },
  'idle.unconfirmed-adopted': async () => {
    const s = setup();
    s.installer.confirmed = false;
    s.installer.secondaryHoldsImage = false;
    await s.time.runFor(s.make().step());
    assert.equal(s.installer.confirmed, true);
    return s;
  },
  'idle.unconfirmed-unhealthy': async () => {
    const s = setup();
    s.installer.confirmed = false;
    s.installer.secondaryHoldsImage = false;
    s.setHealthy(false);
    await s.time.runFor(s.make().step());
    assert.equal(s.reboots, 0);
    return s;
  },
  'idle.accept': async () => {
    const s = setup();
    await s.time.runFor(s.make().step());
    return s;
  },
  'idle.reuse': async () => {
    const s = setup({ update: 'skip' });
    await drive(s.make(), s.time);
    s.backend.offer = { actionId: '7', version: '1.3.0', url: 'https://srv/a.bin', download: 'forced', update: 'forced' };
    await s.time.runFor(s.make().step());
    return s;
  },
  'idle.refuse': async () => {
    const s = setup({ version: '1.0.0' });
    await drive(s.make(), s.time);
    return s;
  },
  'idle.fail': async () => {
    const s = setup();
    s.kv.failWrites = 1; // the save of 'download' fails: nothing may be downloaded
    await drive(s.make(), s.time);
    assert.equal(s.http.requests.length, 0);
    return s;
  },
  'download.done': async () => {
    const s = setup();
    await drive(s.make(), s.time);
    return s;
  },
  'download.retry': async () => {
    const s = setup();
    s.http.dropAt = [9000];
    await drive(s.make(), s.time);
    return s;
  },
  'download.restart': async () => {
    const s = setup();
    s.http.status = [416];
    await drive(s.make(), s.time);
    return s;
  },
  'download.refresh-url': async () => {
    const s = setup();
    s.http.status = [403];
    await drive(s.make(), s.time);
    return s;
  },
  'download.cancel': async () => {
    const s = setup({}, { downloadSegmentBytes: 4096 });
    s.backend.onReport = (r) => {
      if (r.phase === 'accepted') s.backend.cancelId = '7';
    };
    await drive(s.make(), s.time);
    return s;
  },
  'download.fail': async () => {
    const s = setup();
    s.http.status = [404];
    await drive(s.make(), s.time);
    return s;
  },
  'verify.verified': async () => {
    const s = setup();
    await drive(s.make(), s.time);
    return s;
  },
  'verify.window-closed': async () => {
    const s = windowClosed();
    await toWait(s);
    return s;
  },
  'verify.download-only': async () => {
    const s = setup({ update: 'skip' });
    await drive(s.make(), s.time);
    return s;
  },
  'verify.reuse-failed': async () => {
    const s = setup({ update: 'skip' });
    await drive(s.make(), s.time);
    s.backend.offer = { actionId: '8', version: '1.3.0', url: 'https://srv/a.bin', download: 'forced', update: 'forced' };
    s.backend.offer.actionId = '7';
    s.installer.rejectWith = new OtaError('bad-signature', 'slot changed');
    const agent = s.make();
    await s.time.runFor(agent.step());
    await s.time.runFor(agent.step());
    return s;
  },
  'download.delta-fallback': async () => {
    const s = setup(deltaOffer());
    s.http.status = [404]; // the delta's URL is gone: the full image instead, same deployment
    await drive(s.make({ delta: fakeDeltaHook }), s.time);
    assert.equal(s.http.requests[1]?.url, 'https://srv/a.bin');
    assert.equal(s.installer.pending, true);
    return s;
  },
  'verify.delta-fallback': async () => {
    const s = setup(deltaOffer());
    s.installer.rejectWith = new OtaError('delta-checksum', 'window 0: Adler-32 differs');
    s.installer.rejectTimes = 1;
    await drive(s.make({ delta: fakeDeltaHook }), s.time);
    assert.equal(s.http.requests.at(-1)?.url, 'https://srv/a.bin');
    assert.equal(s.installer.pending, true);
    return s;
  },
  'verify.retry': async () => {
    const s = setup();
    s.installer.rejectWith = new OtaError('t1-crc', 'the A5000 link garbled a frame');
    s.installer.rejectTimes = 1;
    await drive(s.make(), s.time);
    assert.equal(s.installer.pending, true);
    return s;
  },
  'verify.cancel': async () => {
    const s = setup();
    s.backend.onReport = (r) => {
      if (r.phase === 'downloaded') s.backend.cancelId = '7';
    };
    await drive(s.make(), s.time);
    return s;
  },
  'verify.fail': async () => {
    const s = setup();
    s.installer.rejectWith = new OtaError('bad-signature', 'SE says no');
    await drive(s.make(), s.time);
    return s;
  },
  'wait.closed': async () => {
    const s = windowClosed();
    const agent = await toWait(s);
    await s.time.runFor(agent.step());
    return s;
  },
  'wait.open': async () => {
    const s = windowClosed();
    const agent = await toWait(s);
    s.backend.offer = { ...s.backend.offer!, update: 'forced', maintenanceWindow: 'available' };
    await s.time.runFor(agent.step());
    return s;
  },
  'wait.withdrawn': async () => {
    const s = windowClosed();
    const agent = await toWait(s);
    s.backend.offer = undefined;
    await s.time.runFor(agent.step());
    return s;
  },
  'wait.cancel': async () => {
    const s = windowClosed();
    const agent = await toWait(s);
    s.backend.cancelId = '7';
    await s.time.runFor(agent.step());
    return s;
  },
  'wait.fail': async () => {
    const s = windowClosed();
    const agent = await toWait(s);
    s.backend.offer = { ...s.backend.offer!, update: 'forced', maintenanceWindow: 'available' };
    s.kv.failWrites = 1; // the save of 'stage' fails
    await s.time.runFor(agent.step());
    assert.equal(s.installer.pending, false);
    return s;
  },
  'stage.staged': async () => {
    const s = setup();
    await drive(s.make(), s.time);
    return s;
  },
  'stage.reverify': async () => {
    const s = windowClosed();
    const agent = await toWait(s);
    s.backend.offer = { ...s.backend.offer!, update: 'forced', maintenanceWindow: 'available' };
    await s.time.runFor(agent.step()); // wait → stage
    await s.time.runFor(s.make().step()); // a reset: stage in a new boot verifies again
    return s;
  },
  'stage.found-swapped': async () => {
    const s = setup();
    await drive(s.make(), s.time);
    const j = new Journal(s.kv);
    j.load();
    j.save({ state: 'stage', deployment: j.record.deployment });
    s.installer.boot();
    await drive(s.make(), s.time);
    return s;
  },
  'stage.stage-failed': async () => {
    const s = setup();
    s.installer.failStage = true;
    await drive(s.make(), s.time);
    assert.equal(s.installer.pending, true, 'fetched and staged again');
    return s;
  },
  'stage.cancel': async () => {
    const s = setup();
    s.backend.onReport = (r) => {
      if (r.phase === 'staged') s.backend.cancelId = '7';
    };
    await drive(s.make(), s.time);
    assert.equal(s.installer.pending, false);
    return s;
  },
  'stage.fail': async () => {
    const s = setup();
    s.backend.onReport = (r) => {
      if (r.phase === 'staged') s.kv.failWrites = 1; // the save of 'reboot' fails: no reboot
    };
    await drive(s.make(), s.time);
    assert.equal(s.reboots, 0);
    return s;
  },
  'reboot.booted': async () => {
    const s = setup();
    await update(s);
    return s;
  },
  'reboot.reverted': async () => {
    const s = setup();
    await drive(s.make(), s.time);
    s.installer.pending = false; // MCUboot refused the image: the old one boots
    s.installer.boot();
    await drive(s.make(), s.time);
    return s;
  },
  'reboot.fail': async () => {
    const s = setup();
    await toTestImage(s);
    s.kv.failWrites = 1; // the save of 'health-check' fails
    await drive(s.make(), s.time);
    return s;
  },
  'health-check.healthy': async () => {
    const s = setup();
    await update(s);
    return s;
  },
  'health-check.unhealthy': async () => {
    const s = setup();
    await toTestImage(s);
    s.setHealthy(false);
    await drive(s.make(), s.time);
    assert.equal(s.reboots, 2);
    return s;
  },
  'health-check.reverted': async () => {
    const s = setup();
    await toTestImage(s);
    s.setHealthy(false);
    await drive(s.make(), s.time);
    s.installer.boot();
    await drive(s.make(), s.time);
    return s;
  },
  'health-check.fail': async () => {
    const s = setup();
    await toTestImage(s);
    const agent = s.make();
    await s.time.runFor(agent.step()); // reboot → health-check
    s.kv.failWrites = 1; // the save of 'confirm' fails
    await drive(agent, s.time);
    return s;
  },
  'confirm.confirmed': async () => {
    const s = setup();
    await update(s);
    return s;
  },
  'confirm.reverted': async () => {
    const s = setup();
    await toTestImage(s);
    const agent = s.make();
    await s.time.runFor(agent.step()); // → health-check
    await s.time.runFor(agent.step()); // → confirm (persisted), then a reset before image_ok
    s.installer.boot(); // MCUboot reverts the unconfirmed image
    await drive(s.make(), s.time);
    return s;
  },
  'confirm.fail': async () => {
    const s = setup();
    await toTestImage(s);
    s.installer.failConfirm = true;
    await drive(s.make(), s.time);
    return s;
  },
  'report.delivered': async () => {
    const s = setup({ version: '1.0.0' });
    await drive(s.make(), s.time);
    return s;
  },
  'report.retry': async () => {
    const s = setup({ version: '1.0.0' });
    s.backend.failReports = [new OtaError('backend-unavailable', 'down')];
    await drive(s.make(), s.time);
    return s;
  },
};

/** What the journal holds after each case (the edge's target, or later states for cases that go on). */
const taken = new Set<string>();

describe('agent state table: one case per edge of TRANSITIONS', () => {
  for (const [from, name, edge] of tableEdges()) {
    const key = `${from}.${name}`;
    it(`${from} --${name}--> ${edge.to}${edge.persist === false ? ' (not persisted)' : ''}`, async () => {
      const run = CASES[key];
      assert.ok(run, `no case for ${key}: every edge of the table needs one`);
      const s = await run();
      for (const e of s.edges) taken.add(e);
      assert.ok(s.edges.includes(key), `the case took ${s.edges.join(', ')}`);
      assert.ok(!s.logs.includes('step.failed') || name === 'fail' || key === 'confirm.fail', `a step failed: ${s.logs.join(' ')}`);
      // A terminal error is a reported failure, never a silent loop.
      if (name === 'fail') {
        const last = s.backend.reports.at(-1);
        assert.equal(last?.phase, 'failed', JSON.stringify(s.backend.reports));
        assert.equal(s.backend.reports.filter((r) => r.phase === 'failed').length, 1);
      }
    });
  }

  it('no case took an edge the table lacks, and every case names an edge of the table', () => {
    const table = new Set(tableEdges().map(([from, name]) => `${from}.${name}`));
    assert.deepEqual([...taken].filter((e) => !table.has(e)), []);
    assert.deepEqual(Object.keys(CASES).filter((k) => !table.has(k)), []);
  });

  it('every state honours, rejects or ignores a cancel, and every honouring state has a cancel edge', () => {
    for (const state of Object.keys(TRANSITIONS) as State[]) {
      const edges = TRANSITIONS[state] as Record<string, unknown>;
      assert.equal(CANCEL_RULE[state] === 'honour', 'cancel' in edges, state);
      if (state !== 'idle' && state !== 'report') assert.ok('fail' in edges, `${state} has a fail edge`);
    }
  });

  it('docs/agent.md draws the same table', () => {
    const text = readFileSync(path.join(repoRoot, 'docs', 'agent.md'), 'utf8');
    const rows = [...text.matchAll(/^\| `([a-z-]+)` \| `([a-z-]+)` \| `([a-z-]+)` \| (yes|no) \| (yes|no) \|/gm)].map((m) => `${m[1]}.${m[2]}>${m[3]} persist:${m[4]} cancel-check:${m[5]}`);
    const table = tableEdges().map(([from, name, e]) => `${from}.${name}>${e.to} persist:${e.persist === false ? 'no' : 'yes'} cancel-check:${e.cancelCheck ? 'yes' : 'no'}`);
    assert.deepEqual(rows, table);
  });
});

describe('agent: terminal errors are reported failures, never a silent loop', () => {
  it('a deployment at the journal-write cap reports loop-detected once and goes idle', async () => {
    const s = setup({}, { progressEveryBytes: 4096 });
    const agent = s.make();
    await s.time.runFor(agent.step()); // idle → download
    // The deployment has written its journal up to the cap (a reset loop, a server that never lets go).
    const j = new Journal(s.kv);
    j.load();
    while (j.record.writes < MAX_WRITES_PER_DEPLOYMENT) j.save({ state: 'download', deployment: j.record.deployment });
    const results = await drive(s.make(), s.time, 20);
    assert.equal(results.at(-1)!.state, 'idle');
    const failed = s.backend.reports.filter((r) => r.phase === 'failed');
    assert.deepEqual(failed.map((r) => r.reason), ['loop-detected']);
    assert.equal(s.logs.filter((e) => e === 'step.failed').length, 0);
    assert.ok(results.length < 5, `${results.length} steps`);
    assert.equal(new Journal(s.kv).load().record.state, 'idle');
  });

  it('a store that refuses every write: the failure is still reported once, from memory', async () => {
    const s = setup();
    const agent = s.make();
    await s.time.runFor(agent.step()); // idle → download (stored)
    s.kv.failWrites = 1_000_000;
    const results = await drive(agent, s.time, 20);
    assert.equal(results.at(-1)!.state, 'idle');
    const failed = s.backend.reports.filter((r) => r.phase === 'failed');
    assert.deepEqual(failed.map((r) => r.reason), ['journal-write-failed']);
    assert.equal(s.installer.pending, false);
    assert.ok(s.logs.includes('journal.unsaved'));
  });
});

// The fake the machine tests trust must do what the real installer does (slot-installer.spec.ts).
installerContract('the machine tests\' FakeInstaller', () => ({ installer: new FakeInstaller(), image: ARTIFACT, version: '1.3.0+5', sector: 4096 }));
