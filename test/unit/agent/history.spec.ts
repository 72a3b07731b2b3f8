/**
 * Update history (src/agent/history.ts, history-report.ts): the line format, a ring that never
 * grows, power cuts at every key write of an append (the record-store approach: SimKeyValue's
 * cutAtWrite stores nothing from that write on), and delivery with the final report until the
 * backend took it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  decodeHistoryEntry,
  encodeHistoryEntry,
  HISTORY_DEPTH,
  HISTORY_ENTRY_MAX,
  HISTORY_FIELD_MAX,
  HISTORY_SENT_KEY,
  HISTORY_SLOT_MAX_BYTES,
  HISTORY_STORE_MAX_BYTES,
  UpdateHistory,
  type HistoryEntry,
} from '../../../src/agent/history.js';
import { HistoryRecorder, HistoryReportingBackend, HISTORY_PER_REPORT } from '../../../src/agent/history-report.js';
import type { PollResult, Report, UpdateBackend } from '../../../src/backend/backend.js';
import type { Deployment } from '../../../src/agent/journal.js';
import { OtaError } from '../../../src/util/errors.js';
import { SimKeyValue } from '../../../tools/devkit/parts/sim-key-value.js';
import { createDevkitFlash } from '../../../tools/devkit/parts/sim-flash.js';
import { digest, imageSha, makeImage, programRaw, signingKeyPem } from '../../support/devkit-update.js';
import { signImage } from '../../../tools/image/imgtool-sign.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const HASH_A = 'a'.repeat(64);
const HASH_B = '0123456789abcdef'.repeat(4);

function entry(seq: number, over: Partial<HistoryEntry> = {}): HistoryEntry {
  return {
    seq,
    time: 1_790_000_000 + seq,
    backend: 'hawkbit',
    actionId: String(1000 + seq),
    fromVersion: '1.0.0+0',
    toVersion: `1.${seq}.0+0`,
    fromHash: HASH_A,
    toHash: HASH_B,
    host: 'updates.example.invalid',
    bytes: 24_576 + seq,
    verdict: 'failed',
    reason: 'bad-signature',
    keyId: 'se:0x7b000201',
    securityCounter: 3,
    reverted: false,
    ...over,
  };
}
const bodyOf = (seq: number, over: Partial<HistoryEntry> = {}): Omit<HistoryEntry, 'seq'> => {
  const { seq: _x, ...rest } = entry(seq, over);
  void _x;
  return rest;
};

/** Value bytes and keys in the store. */
function footprint(kv: SimKeyValue): { keys: number; bytes: number } {
  const all = kv.entries();
  return { keys: Object.keys(all).length, bytes: Object.values(all).reduce((n, v) => n + v.length, 0) };
}

describe('update history: format', () => {
  it('round-trips an entry, optional fields absent as -', () => {
    const bare = entry(2, { verdict: 'running' });
    for (const k of ['time', 'fromHash', 'toHash', 'reason', 'securityCounter'] as const) delete bare[k];
    for (const e of [entry(1), bare, entry(3, { verdict: 'reverted', reverted: true, reason: 'health-check-failed' })]) {
      const text = encodeHistoryEntry(e);
      assert.ok(text.length <= HISTORY_ENTRY_MAX);
      assert.deepEqual(decodeHistoryEntry(text), e);
    }
    assert.equal(encodeHistoryEntry(entry(1)), 'H1|1|1790000001|hawkbit|1001|1.0.0+0|1.1.0+0|' + HASH_A + '|' + HASH_B + '|updates.example.invalid|24577|failed|bad-signature|se:0x7b000201|3|0');
  });

  it('the worst case fits HISTORY_ENTRY_MAX: every field at its limit, separators and non-ASCII cleaned', () => {
    const long = (n: number) => 'x|\u00e9\n'.repeat(n);
    const e = entry(Number.MAX_SAFE_INTEGER, {
      time: Number.MAX_SAFE_INTEGER,
      backend: long(20),
      actionId: long(100),
      fromVersion: long(40),
      toVersion: long(40),
      host: long(100),
      bytes: Number.MAX_SAFE_INTEGER,
      reason: long(50),
      keyId: long(40),
      securityCounter: Number.MAX_SAFE_INTEGER,
    });
    const text = encodeHistoryEntry(e);
    assert.ok(text.length <= HISTORY_ENTRY_MAX, `${text.length} > ${HISTORY_ENTRY_MAX}`);
    const back = decodeHistoryEntry(text);
    assert.equal(back.actionId.length, HISTORY_FIELD_MAX.actionId);
    assert.ok(back.actionId.endsWith('~'));
    assert.ok(!back.host.includes('|'));
  });

  it('refuses a line that is not an entry, naming the field', () => {
    const good = encodeHistoryEntry(entry(5));
    const cases: [string, RegExp][] = [
      [good.replace('H1|', 'H2|'), /format/],
      [good + '|x', /field count/],
      [good.replace('|failed|', '|great|'), /verdict/],
      [good.replace(HASH_A, 'A'.repeat(64)), /fromHash/],
      [good.replace('|24581|', '|-1|'), /bytes/],
      [good.replace('|24581|', '|0123|'), /bytes/],
      [good.replace(/\|0$/, '|2'), /reverted/],
      [good.replace('hawkbit', 'h\u00e9'), /printable/],
      ['H1|' + 'x'.repeat(HISTORY_ENTRY_MAX), /length/],
    ];
    for (const [text, why] of cases) {
      assert.throws(() => decodeHistoryEntry(text), (e: unknown) => e instanceof OtaError && e.reason === 'history-invalid' && why.test(e.message), text.slice(0, 60));
    }
  });
});

describe('update history: the ring', () => {
  it('keeps the last HISTORY_DEPTH attempts and never grows past HISTORY_STORE_MAX_BYTES', () => {
    assert.ok(HISTORY_DEPTH >= 16);
    const kv = new SimKeyValue();
    const history = new UpdateHistory(kv);
    const maxKeys = HISTORY_DEPTH * 2 * (Math.ceil(HISTORY_ENTRY_MAX / kv.maxValueLength) + 1) + 1;
    for (let i = 1; i <= 3 * HISTORY_DEPTH; i++) {
      history.append(bodyOf(i, { actionId: 'z'.repeat(i % 7 === 0 ? 64 : 4), host: 'h'.repeat(i % 5 === 0 ? 64 : 8) }));
      const f = footprint(kv);
      assert.ok(f.bytes <= HISTORY_STORE_MAX_BYTES, `${f.bytes} bytes after ${i}`);
      assert.ok(f.keys <= maxKeys, `${f.keys} keys after ${i}, bound ${maxKeys}`);
    }
    const loaded = new UpdateHistory(kv).entries();
    assert.equal(loaded.length, HISTORY_DEPTH);
    assert.deepEqual(loaded.map((e) => e.seq), Array.from({ length: HISTORY_DEPTH }, (_, i) => 2 * HISTORY_DEPTH + 1 + i));
    assert.equal(loaded[loaded.length - 1].toVersion, `1.${3 * HISTORY_DEPTH}.0+0`);
  });

  it('docs/history.md states the sizes the code derives', () => {
    const doc = readFileSync(path.join(repoRoot, 'docs', 'history.md'), 'utf8');
    for (const [name, value] of [['HISTORY_ENTRY_MAX', HISTORY_ENTRY_MAX], ['HISTORY_SLOT_MAX_BYTES', HISTORY_SLOT_MAX_BYTES], ['HISTORY_STORE_MAX_BYTES', HISTORY_STORE_MAX_BYTES]] as const) {
      assert.match(doc, new RegExp(`\\| \`${name}\` \\| ${value} bytes \\|`), name);
    }
    assert.match(doc, new RegExp(`last \\*\\*${HISTORY_DEPTH}\\*\\*`));
  });

  it('refuses a depth below 16', () => {
    assert.throws(() => new UpdateHistory(new SimKeyValue(), 8), /depth 8/);
  });

  it('a slot that does not parse is skipped and said so; the others load', () => {
    const kv = new SimKeyValue();
    const history = new UpdateHistory(kv);
    for (let i = 1; i <= 3; i++) history.append(bodyOf(i));
    kv.write('xs-ota.h2.a.0', 'garbage'); // entry 2's only bank: CRC mismatch now
    const loaded = new UpdateHistory(kv).load();
    assert.deepEqual(loaded.entries.map((e) => e.seq), [1, 3]);
    assert.equal(loaded.discarded.length, 1);
    assert.match(loaded.discarded[0], /^slot 2 a: /);
  });

  describe('power cut at every key write of an append', () => {
    for (const full of [false, true]) {
      it(full ? 'into a full ring (evicting the oldest)' : 'into a ring with room', () => {
        const before = full ? HISTORY_DEPTH + 3 : 5;
        const probe = new SimKeyValue();
        const p = new UpdateHistory(probe);
        for (let i = 1; i <= before; i++) p.append(bodyOf(i));
        const w0 = probe.writes;
        p.append(bodyOf(before + 1, { actionId: 'new', host: 'h'.repeat(64) }));
        const writesOfAppend = probe.writes - w0;
        assert.ok(writesOfAppend >= 2, `an entry of two parts takes parts + header: ${writesOfAppend}`);
        for (let k = 1; k <= writesOfAppend; k++) {
          const kv = new SimKeyValue();
          const history = new UpdateHistory(kv);
          for (let i = 1; i <= before; i++) history.append(bodyOf(i));
          const old = new UpdateHistory(kv).entries();
          kv.cutAtWrite = kv.writes + k;
          assert.throws(() => history.append(bodyOf(before + 1, { actionId: 'new', host: 'h'.repeat(64) })));
          kv.cutAtWrite = undefined;
          // After the reset: the old ring exactly (the cut lost the new entry's header), or, for
          // the last write, the new entry too. Never a torn or mixed entry.
          const after = new UpdateHistory(kv).entries();
          assert.deepEqual(after, old, `cut at write ${k} of ${writesOfAppend}`);
          // The machine ends the deployment again after the reset: the append works, next seq.
          const again = new UpdateHistory(kv).append(bodyOf(before + 1, { actionId: 'new' }));
          assert.equal(again.seq, before + 1);
          const final = new UpdateHistory(kv).entries();
          assert.equal(final[final.length - 1].actionId, 'new');
          assert.equal(final.length, Math.min(HISTORY_DEPTH, before + 1));
        }
      });
    }
  });
});

/** A backend that records what it was told and fails while `down`. */
class RecordingBackend implements UpdateBackend {
  readonly reports: Report[] = [];
  down = false;
  gone = false;
  async poll(): Promise<PollResult> {
    return {};
  }
  async report(report: Report): Promise<void> {
    if (this.gone) throw new OtaError('backend-gone', 'HTTP 410');
    if (this.down) throw new OtaError('backend-unavailable', 'HTTP 503');
    this.reports.push(report);
  }
  async acknowledgeCancel(): Promise<void> {}
  async refreshOffer(): Promise<undefined> {
    return undefined;
  }
}

const report = (phase: Report['phase'], actionId = '7'): Report => ({ actionId, phase, version: '1.1.0+0', runningVersion: '1.0.0+0' });

describe('update history: delivery with the final report', () => {
  it('carries every unsent entry with a final report, marks them sent when delivered, re-sends after a failure and a reset', async () => {
    const kv = new SimKeyValue();
    const history = new UpdateHistory(kv);
    const inner = new RecordingBackend();
    const backend = new HistoryReportingBackend(inner, history);
    history.append(bodyOf(1));
    await backend.report(report('downloading'));
    assert.equal(inner.reports[0].history, undefined, 'progress reports carry none');
    inner.down = true;
    await assert.rejects(backend.report(report('failed')));
    assert.equal(history.unsent().length, 1);
    // Reset: a new instance reads the store; the sent mark was never written.
    const history2 = new UpdateHistory(kv);
    const backend2 = new HistoryReportingBackend(inner, history2);
    history2.append(bodyOf(2));
    inner.down = false;
    await backend2.report(report('failed'));
    const last = inner.reports[inner.reports.length - 1];
    assert.deepEqual(last.history?.map((l) => decodeHistoryEntry(l).seq), [1, 2]);
    assert.equal(kv.read(HISTORY_SENT_KEY), '2');
    assert.equal(new UpdateHistory(kv).unsent().length, 0);
    await backend2.report(report('running'));
    assert.equal(inner.reports[inner.reports.length - 1].history, undefined, 'nothing unsent: nothing carried');
  });

  it(`carries at most ${HISTORY_PER_REPORT} per report, oldest first; a 410 keeps them for the next`, async () => {
    const kv = new SimKeyValue();
    const history = new UpdateHistory(kv);
    const inner = new RecordingBackend();
    const backend = new HistoryReportingBackend(inner, history);
    for (let i = 1; i <= HISTORY_PER_REPORT + 2; i++) history.append(bodyOf(i));
    inner.gone = true;
    await assert.rejects(backend.report(report('running')), /backend-gone/);
    assert.equal(history.unsent().length, HISTORY_PER_REPORT + 2);
    inner.gone = false;
    await backend.report(report('running'));
    assert.deepEqual(inner.reports[0].history!.map((l) => decodeHistoryEntry(l).seq), [1, 2, 3, 4]);
    await backend.report(report('failed', '8'));
    assert.deepEqual(inner.reports[1].history!.map((l) => decodeHistoryEntry(l).seq), [5, 6]);
  });
});

describe('update history: the recorder', () => {
  const clock = { now: () => 0, wallClock: () => 1_790_000_123, setTimeout: () => 0, clearTimeout: () => {} };
  const deployment = (over: Partial<Deployment> = {}): Deployment => ({
    actionId: '42',
    version: '1.1.0+0',
    url: 'https://cdn.example.invalid:8443/artifacts/app.bin?sig=abc',
    offset: 0,
    attempts: 1,
    bytesFetched: 24_064,
    install: true,
    fromVersion: '1.0.0+0',
    ...over,
  });

  it('records the end once: a repeat after a reset (same action, verdict, target) is not a new entry', () => {
    const history = new UpdateHistory(new SimKeyValue());
    const recorder = new HistoryRecorder({ history, clock, backend: 'hawkbit', keyId: 0x7b000201 });
    const e = recorder.record(deployment(), { phase: 'failed', reason: 'bad-signature', detail: 'x' }) as HistoryEntry;
    assert.equal(e.seq, 1);
    assert.deepEqual({ host: e.host, bytes: e.bytes, keyId: e.keyId, time: e.time, reverted: e.reverted }, { host: 'cdn.example.invalid', bytes: 24_064, keyId: 'se:0x7b000201', time: 1_790_000_123, reverted: false });
    assert.equal((recorder.record(deployment(), { phase: 'failed', reason: 'bad-signature' }) as HistoryEntry).seq, 1);
    assert.equal(history.entries().length, 1);
    assert.equal((recorder.record(deployment({ actionId: '43' }), { phase: 'failed', reason: 'bad-signature' }) as HistoryEntry).seq, 2);
  });

  it('reads image hashes and SEC_CNT from the slots: before the swap (failed) and after it (running)', () => {
    const base = makeImage('1.0.0', 2000);
    // SEC_CNT 5, signed as imgtool does (tools/image/imgtool-sign.ts).
    const target = signImage(new Uint8Array(0x200 + 9000).fill(0x33, 0x200), { keyPem: signingKeyPem, version: '1.1.0', securityCounter: 5 });
    const dk = createDevkitFlash({ seed: 3 });
    programRaw(dk.primary, base);
    programRaw(dk.secondary, target);
    const history = new UpdateHistory(new SimKeyValue());
    const recorder = new HistoryRecorder({ history, clock, backend: 'manifest', keyId: 1, slots: { primary: dk.primary, secondary: dk.secondary, digest } });
    const failed = recorder.record(deployment(), { phase: 'failed', reason: 'health-check-failed' }) as HistoryEntry;
    assert.equal(failed.fromHash, imageSha(base));
    assert.equal(failed.toHash, imageSha(target));
    assert.equal(failed.securityCounter, 5);
    // After a confirmed swap the target runs from the primary, the old image is in the secondary.
    programRaw(dk.primary, target);
    programRaw(dk.secondary, base);
    const running = recorder.record(deployment({ actionId: '44' }), { phase: 'running' }) as HistoryEntry;
    assert.equal(running.fromHash, imageSha(base));
    assert.equal(running.toHash, imageSha(target));
    // A partial download: no target hash, no counter, the rest recorded.
    const dk2 = createDevkitFlash({ seed: 4 });
    programRaw(dk2.primary, base);
    programRaw(dk2.secondary, target.subarray(0, 4096));
    const r2 = new HistoryRecorder({ history, clock, backend: 'manifest', keyId: 1, slots: { primary: dk2.primary, secondary: dk2.secondary, digest } });
    const partial = r2.record(deployment({ actionId: '45' }), { phase: 'failed', reason: 'retries-exhausted' }) as HistoryEntry;
    assert.equal(partial.toHash, undefined);
    assert.equal(partial.securityCounter, undefined);
    assert.equal(partial.fromHash, imageSha(base));
  });

  it('endedBefore: an ended action offered again is named only when taking it again would end the same way', () => {
    const fresh = () => new HistoryRecorder({ history: new UpdateHistory(new SimKeyValue()), clock, backend: 'manifest', keyId: 1 });
    const offer = { actionId: '42' };
    const r = fresh();
    assert.equal(r.endedBefore(offer, '1.0.0+0'), undefined, 'no history: taken');
    r.record(deployment(), { phase: 'running' });
    assert.equal(r.endedBefore(offer, '1.1.0+0')?.verdict, 'running', 'installed and running it: done');
    assert.equal(r.endedBefore(offer, '1.0.0+0'), undefined, 'installed, but the device runs another image now (reverted later, reflashed): taken');
    assert.equal(r.endedBefore({ actionId: '43' }, '1.1.0+0'), undefined, 'another action: taken');
    for (const [reason, again] of [['same-version', false], ['downgrade', false], ['bad-signature', false], ['health-check-failed', false], ['incompatible', false], ['retries-exhausted', true], ['link-lost', true], ['timeout', true], [undefined, true]] as const) {
      const f = fresh();
      f.record(deployment(), { phase: 'failed', ...(reason ? { reason } : {}) });
      assert.equal(f.endedBefore(offer, '1.0.0+0') === undefined, again, `failed ${reason}`);
      assert.equal(f.endedBefore(offer, '0.9.0+0'), undefined, `failed ${reason} from another running version: taken`);
    }
    const reverted = fresh();
    reverted.record(deployment(), { phase: 'reverted', reason: 'health-check-failed' });
    assert.equal(reverted.endedBefore(offer, '1.0.0+0')?.verdict, 'reverted', 'an image MCUboot reverted is not installed again and again');
    const held = fresh();
    held.record(deployment(), { phase: 'download-only' });
    assert.equal(held.endedBefore(offer, '1.0.0+0'), undefined, 'download only: the held image decides');
    const clipped = fresh();
    clipped.record(deployment({ actionId: 'a'.repeat(100) }), { phase: 'running' });
    assert.ok(clipped.endedBefore({ actionId: 'a'.repeat(100) }, '1.1.0+0'), 'a clipped stored id still names its action');
    const broken = new UpdateHistory(new SimKeyValue());
    broken.latest = () => {
      throw new OtaError('platform-error', 'store unreadable');
    };
    assert.equal(new HistoryRecorder({ history: broken, clock, backend: 'manifest', keyId: 1 }).endedBefore(offer, '1.1.0+0'), undefined, 'an unreadable store: taken');
  });

  it('a store that fails does not stop the deployment from ending: the error is returned', () => {
    const kv = new SimKeyValue();
    const recorder = new HistoryRecorder({ history: new UpdateHistory(kv), clock, backend: 'hawkbit', keyId: 1 });
    kv.failWrites = 100;
    assert.ok(recorder.record(deployment(), { phase: 'failed' }) instanceof Error);
  });
});
