/** The journal's validation of the fields the campaign flags added: state `wait`, `held`, deployment flags. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  JOURNAL_FIELD_MAX, JOURNAL_TEXT_MAX, Journal, LEGACY_JOURNAL_KEY, journalText, validateJournal,
} from '../../../src/agent/journal.js';
import { IOTC_LIMITS } from '../../../src/backend/iotconnect.js';
import { ID_MAX, URL_MAX } from '../../../src/backend/json-http.js';
import { LIMITS } from '../../../src/net/limits.js';
import { OtaError } from '../../../src/util/errors.js';
import type { OtaReason } from '../../../src/agent/reasons.js';
import { DEVICE_MAX_VALUE_LENGTH, SimKeyValue } from '../../../tools/devkit/parts/sim-key-value.js';
import { repoRoot } from '../../support/paths.js';

const deployment = { actionId: '7', version: '1.1.0', url: 'https://h/a.bin', offset: 10, attempts: 1, bytesFetched: 10, install: true, fromVersion: '1.0.0' };
const held = { actionId: '7', size: 24_000, sha256: 'a'.repeat(64) };
const invalid = (field: string) => (e: Error & { reason?: string }) => e.reason === 'journal-invalid' && e.message.includes(field);

describe('journal: campaign fields', () => {
  it('accepts wait with a deployment waiting for the window, and idle holding a download-only image', () => {
    assert.equal(validateJournal({ v: 1, state: 'wait', writes: 3, deployment: { ...deployment, windowClosed: true } }).state, 'wait');
    assert.deepEqual(validateJournal({ v: 1, state: 'idle', writes: 1, held }).held, held);
    assert.equal(validateJournal({ v: 1, state: 'report', writes: 4, deployment, outcome: { phase: 'download-only' }, held }).outcome!.phase, 'download-only');
    assert.equal(validateJournal({ v: 1, state: 'verify', writes: 1, deployment: { ...deployment, reuse: true } }).deployment!.reuse, true);
  });

  it('refuses wait without its deployment, and malformed held or flags, naming the field', () => {
    assert.throws(() => validateJournal({ v: 1, state: 'wait', writes: 1 }), invalid('deployment'));
    assert.throws(() => validateJournal({ v: 1, state: 'idle', writes: 1, held: { ...held, sha256: 'xyz' } }), invalid('held.sha256'));
    assert.throws(() => validateJournal({ v: 1, state: 'idle', writes: 1, held: { ...held, size: 0 } }), invalid('held.size'));
    assert.throws(() => validateJournal({ v: 1, state: 'idle', writes: 1, held: 'x' }), invalid('held'));
    assert.throws(() => validateJournal({ v: 1, state: 'wait', writes: 1, deployment: { ...deployment, windowClosed: 'yes' } }), invalid('deployment.windowClosed'));
    assert.throws(() => validateJournal({ v: 1, state: 'verify', writes: 1, deployment: { ...deployment, reuse: 1 } }), invalid('deployment.reuse'));
    assert.throws(() => validateJournal({ v: 1, state: 'download', writes: 1, deployment: { ...deployment, linkHeaders: 'TargetToken x' } }), invalid('deployment.linkHeaders'));
    assert.throws(() => validateJournal({ v: 1, state: 'report', writes: 1, deployment, outcome: { phase: 'kept' } }), invalid('outcome.phase'));
    // The backend's label (hostile flash contents too): bounded, printable, no JSON escapes.
    validateJournal({ v: 1, state: 'health-check', writes: 1, deployment: { ...deployment, label: 'v1.3.0-rc1' } });
    assert.throws(() => validateJournal({ v: 1, state: 'health-check', writes: 1, deployment: { ...deployment, label: 'x'.repeat(65) } }), invalid('deployment.label'));
    assert.throws(() => validateJournal({ v: 1, state: 'health-check', writes: 1, deployment: { ...deployment, label: 'v1"' } }), invalid('deployment.label'));
    assert.throws(() => validateJournal({ v: 1, state: 'health-check', writes: 1, deployment: { ...deployment, label: 7 } }), invalid('deployment.label'));
  });
});

describe('journal: storage on the device limit (255-byte values)', () => {
  const longUrl = `https://bucket.s3.example.com/fw/1.1.0.bin?${'X-Amz-Signature=0123456789abcdef&'.repeat(60)}`.slice(0, 2048);
  const big = { ...deployment, url: longUrl, sha256: 'b'.repeat(64), validator: '"etag-1"' };

  it('the derived bound is the longest valid record: every field at its limit in its worst encoding', () => {
    const n = Number.MAX_SAFE_INTEGER;
    const anything = (len: number) => '\u0001'.repeat(len); // 6 bytes each in the JSON text
    const f = JOURNAL_FIELD_MAX;
    const worst = {
      v: 1, state: 'health-check' as const, writes: n, notBefore: n, retryDelayMs: n,
      deployment: { actionId: anything(f.id), version: anything(f.id), label: 'l'.repeat(f.label), url: `https://${'a'.repeat(f.url / 2 - 8)}`, size: n, sha256: 'c'.repeat(64), validator: anything(f.validator), offset: n, attempts: n, bytesFetched: n, install: false, fromVersion: anything(f.fromVersion), windowClosed: false, reuse: false, linkHeaders: false,
        // A delta deployment (src/delta/plan.ts): its full-image URL shares the url budget.
        delta: { fullUrl: `https://${'b'.repeat(f.url / 2 - 8)}`, fullSize: n, sha256: 'e'.repeat(64), source: 'f'.repeat(64) }, deltaFailed: 'r'.repeat(f.reason) },
      outcome: { phase: 'download-only' as const, reason: 'r'.repeat(f.reason) as OtaReason, detail: '"'.repeat(f.detail) },
      held: { actionId: anything(f.id), size: n, sha256: 'd'.repeat(64) },
    };
    validateJournal(worst);
    assert.equal(journalText(worst).length, JOURNAL_TEXT_MAX);
    assert.equal(JOURNAL_TEXT_MAX, 8871, 'docs/agent.md quotes this figure');
    // It covers the longest URL and id any backend accepts, and the longest validator kept.
    assert.ok(f.url >= URL_MAX && f.url >= IOTC_LIMITS.urlMax && f.id >= ID_MAX && f.id >= IOTC_LIMITS.ackIdMax);
    assert.ok(f.validator >= LIMITS.httpHeaderValueMax);
    // And the journal stores it through 255-byte values.
    const kv = new SimKeyValue();
    const journal = new Journal(kv);
    journal.save({ state: worst.state, notBefore: n, retryDelayMs: n, deployment: worst.deployment, outcome: worst.outcome, held: worst.held });
    assert.equal(journal.writeCounts.lastSave, Math.ceil(JOURNAL_TEXT_MAX / 255) + 1);
    assert.deepEqual(new Journal(kv).load().record.deployment, worst.deployment);
  });

  it("the store's limit is the device binding's", () => {
    const source = readFileSync(path.join(repoRoot, 'modules/ota-key-value.ts'), 'utf8');
    assert.equal(Number(/export const MAX_VALUE_LENGTH = (\d+);/.exec(source)![1]), DEVICE_MAX_VALUE_LENGTH);
    assert.equal(new SimKeyValue().maxValueLength, 255);
  });

  it('saves and loads a deployment with a 2 KB pre-signed URL; progress saves rewrite only the changed parts', () => {
    const kv = new SimKeyValue();
    const journal = new Journal(kv);
    const saved = journal.save({ state: 'download', deployment: big });
    assert.ok(journalText(saved).length > 2048);
    assert.equal(journal.writeCounts.lastSave, Math.ceil(journalText(saved).length / 255) + 1);
    const loaded = new Journal(kv).load();
    assert.equal(loaded.discarded, undefined);
    assert.deepEqual(loaded.record, saved);
    // Download progress: the same deployment, a new offset. From the third save on, each bank
    // already holds the URL's parts, so a save writes the changed parts and the header only.
    const counts: number[] = [];
    for (let offset = 8192; offset <= 8192 * 8; offset += 8192) {
      journal.save({ state: 'download', deployment: { ...big, offset, bytesFetched: offset } });
      counts.push(journal.writeCounts.lastSave);
    }
    assert.equal(counts[0], Math.ceil(journalText(journal.record as never).length / 255) + 1, 'bank b was empty');
    assert.ok(counts.slice(1).every((n) => n <= 3), counts.join(','));
    assert.equal(new Journal(kv).load().record.deployment!.offset, 8192 * 8);
  });

  it('an idle record costs 2 writes; non-ASCII text survives, escaped (bytes = characters)', () => {
    const kv = new SimKeyValue();
    const journal = new Journal(kv);
    journal.save({ state: 'idle', held });
    assert.equal(journal.writeCounts.lastSave, 2);
    const odd = { ...deployment, actionId: 'act-é-✓-𝄞', version: '1.1.0', validator: 'W/"ü"' };
    journal.save({ state: 'download', deployment: odd });
    for (const value of Object.values(kv.entries())) assert.match(value, /^[\x20-\x7e]*$/);
    assert.deepEqual(new Journal(kv).load().record.deployment, odd);
  });

  it('stores a fractional notBefore rounded up, so it loads (a reset during a backoff keeps its wait)', () => {
    const kv = new SimKeyValue();
    assert.equal(new Journal(kv).save({ state: 'download', deployment, notBefore: 23916.2 }).notBefore, 23917);
    const loaded = new Journal(kv).load();
    assert.equal(loaded.discarded, undefined);
    assert.equal(loaded.record.notBefore, 23917);
  });

  it('clips an outcome detail to printable ASCII of bounded length', () => {
    const journal = new Journal(new SimKeyValue());
    const saved = journal.save({ state: 'report', deployment: big, outcome: { phase: 'failed', reason: 'backend-protocol', detail: `${longUrl}: body\nis é not JSON` } });
    assert.equal(saved.outcome!.detail!.length, JOURNAL_FIELD_MAX.detail);
    assert.match(saved.outcome!.detail!, /^[\x20-\x7e]*\.\.\.$/);
    const short = journal.save({ state: 'report', deployment: big, outcome: { phase: 'failed', detail: 'a\nb é' } });
    assert.equal(short.outcome!.detail, 'a?b ?');
  });

  it('refuses a field over its limit, or a URL with characters a URI cannot have, before any write', () => {
    const kv = new SimKeyValue();
    const journal = new Journal(kv);
    assert.throws(() => journal.save({ state: 'download', deployment: { ...big, url: `https://h/${'a'.repeat(JOURNAL_FIELD_MAX.url)}` } }), invalid('deployment.url'));
    assert.throws(() => journal.save({ state: 'download', deployment: { ...big, url: 'https://h/a"b' } }), invalid('deployment.url'));
    assert.throws(() => journal.save({ state: 'download', deployment: { ...big, url: 'https://h/ü' } }), invalid('deployment.url'));
    assert.throws(() => journal.save({ state: 'download', deployment: { ...big, actionId: 'x'.repeat(JOURNAL_FIELD_MAX.id + 1) } }), invalid('deployment.actionId'));
    assert.throws(() => journal.save({ state: 'download', deployment: { ...big, validator: 'x'.repeat(JOURNAL_FIELD_MAX.validator + 1) } }), invalid('deployment.validator'));
    assert.equal(kv.writes, 0);
  });

  it('a power cut at any write of a save leaves the previous record or the new one, never a discard', () => {
    const before = { state: 'download' as const, deployment: { ...big, offset: 4096 } };
    const after = { state: 'download' as const, deployment: { ...big, offset: 8192, bytesFetched: 8192 } };
    for (let k = 1; ; k++) {
      const kv = new SimKeyValue();
      const journal = new Journal(kv);
      journal.save({ state: 'idle' });
      journal.save(before);
      kv.cutAtWrite = kv.writes + k;
      let threw = false;
      try {
        journal.save(after);
      } catch (error) {
        threw = true;
        assert.ok(error instanceof OtaError && error.reason === 'journal-write-failed');
        assert.equal(journal.record.deployment!.offset, 4096, 'the in-memory record stays the stored one');
      }
      const loaded = new Journal(kv).load();
      assert.equal(loaded.discarded, undefined, `cut at write ${k}`);
      // The torn bank is noted (not a discard): the save in progress, cut before its header.
      if (threw && k > 1) assert.match(loaded.ignored![0], /^[ab]: (part|crc)/);
      assert.equal(loaded.record.deployment!.offset, threw ? 4096 : 8192, `cut at write ${k}`);
      if (!threw) break;
    }
  });

  it('a corrupt bank is discarded with its reason; the other bank is used', () => {
    const kv = new SimKeyValue();
    const journal = new Journal(kv);
    journal.save({ state: 'download', deployment: big });
    journal.save({ state: 'verify', deployment: big });
    kv.delete('xs-ota.jr.b.3');
    const loaded = new Journal(kv).load();
    assert.equal(loaded.record.state, 'download');
    assert.equal(loaded.discarded, undefined);
    assert.match(loaded.ignored![0], /^b: part 3 of \d+ missing$/);
  });

  describe('migration from the single-value journal of earlier agents', () => {
    const legacy = { v: 1, state: 'health-check', writes: 7, deployment: { ...deployment, url: 'https://h/a.bin' } };

    it('loads the legacy record when no bank is valid, then saves into the banks and deletes it', () => {
      const kv = new SimKeyValue();
      kv.write(LEGACY_JOURNAL_KEY, JSON.stringify(legacy));
      const journal = new Journal(kv);
      assert.deepEqual(journal.load(), { record: legacy });
      const saved = journal.save({ state: 'confirm', deployment: legacy.deployment });
      assert.equal(saved.writes, 8, 'the same deployment continues its write count');
      assert.equal(kv.read(LEGACY_JOURNAL_KEY), undefined);
      assert.equal(new Journal(kv).load().record.state, 'confirm');
    });

    it('a power cut in the first save keeps the legacy record', () => {
      const kv = new SimKeyValue();
      kv.write(LEGACY_JOURNAL_KEY, JSON.stringify(legacy));
      const journal = new Journal(kv);
      journal.load();
      kv.cutAtWrite = kv.writes + 1;
      assert.throws(() => journal.save({ state: 'confirm', deployment: legacy.deployment }), (e: Error & { reason?: string }) => e.reason === 'journal-write-failed');
      assert.deepEqual(new Journal(kv).load().record, legacy);
    });

    it('a corrupt legacy record is discarded and says so', () => {
      const kv = new SimKeyValue();
      kv.write(LEGACY_JOURNAL_KEY, '{"v":1,"state":"stage"}');
      const loaded = new Journal(kv).load();
      assert.equal(loaded.record.state, 'idle');
      assert.match(loaded.discarded!, /^legacy journal-invalid: writes/);
    });

    it('a valid bank wins over a leftover legacy record', () => {
      const kv = new SimKeyValue();
      const journal = new Journal(kv);
      journal.save({ state: 'idle', held });
      kv.write(LEGACY_JOURNAL_KEY, JSON.stringify(legacy));
      assert.deepEqual(new Journal(kv).load().record.held, held);
    });
  });
});
