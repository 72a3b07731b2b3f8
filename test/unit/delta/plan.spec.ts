/**
 * The delta deployment's journal field and the decisions around it (src/delta/plan.ts): choosing
 * by the running image's hash, the fallback to the full image, what the report says, and the
 * journal's validation of the field (named on failure, the two URLs within one URL budget).
 */
import assert from 'node:assert/strict';
import type { UpdateOffer } from '../../../src/backend/backend.js';
import { JOURNAL_FIELD_MAX, validateJournal, type Deployment } from '../../../src/agent/journal.js';
import { chooseDelta, deliveryNote, fallBackToFull, useDelta, type DeltaOffer } from '../../../src/delta/plan.js';
import { OtaError } from '../../../src/util/errors.js';

const h = (byte: number) => new Uint8Array(32).fill(byte);
const delta = (from: number, size = 900): DeltaOffer => ({ url: `https://u.example/d${from}.vcdiff`, size, sha256: h(0xdd), fromVersion: '1.0.0', fromImageHash: h(from) });
const offer = (deltas: DeltaOffer[], size: number | null = 20_000): UpdateOffer => ({ actionId: 'a', version: '1.1.0', url: 'https://u.example/full.bin', size: size ?? undefined, download: 'forced', update: 'forced', deltas });
const base = (): Deployment => ({ actionId: 'a', version: '1.1.0', url: 'https://u.example/full.bin', size: 20_000, offset: 0, attempts: 3, bytesFetched: 0, install: true, fromVersion: '1.0.0', validator: '"e1"' });

describe('delta: plan, fallback, journal field', () => {
  it('chooses the delta made from the running image, if it fits and the full size is known', () => {
    const fits = () => true;
    assert.equal(chooseDelta(offer([delta(1), delta(2)]), h(2), fits)?.url, 'https://u.example/d2.vcdiff');
    assert.equal(chooseDelta(offer([delta(1), delta(2)]), h(1), fits)?.url, 'https://u.example/d1.vcdiff');
    assert.equal(chooseDelta(offer([delta(1)]), h(2), fits), undefined);
    assert.equal(chooseDelta(offer([delta(2)]), undefined, fits), undefined, 'no readable running image');
    // No full size (IoTConnect): taken, the target bounded by the staging area alone.
    assert.equal(chooseDelta(offer([delta(2)], null), h(2), (_, target) => target === undefined)?.url, 'https://u.example/d2.vcdiff');
    assert.equal(chooseDelta(offer([delta(2)]), h(2), () => false), undefined);
  });

  it('a delta deployment falls back to the full image from 0, keeping why; the report says which', () => {
    const d = base();
    useDelta(d, offer([delta(2)]), delta(2));
    assert.equal(d.url, 'https://u.example/d2.vcdiff');
    assert.equal(d.size, 900);
    assert.match(deliveryNote(d)!, /installed from a 900-byte delta \(full image 20000 bytes\)/);
    validateJournal({ v: 1, state: 'download', writes: 1, deployment: d });
    const full = fallBackToFull({ ...d, offset: 4096 }, 'delta-checksum');
    assert.equal(full.url, 'https://u.example/full.bin');
    assert.equal(full.size, 20_000);
    assert.equal(full.offset, 0);
    assert.equal(full.attempts, 0);
    assert.equal(full.delta, undefined);
    assert.equal(full.validator, undefined, 'the delta URL\'s validator is not the image\'s');
    assert.equal(full.deltaFailed, 'delta-checksum');
    assert.equal(deliveryNote(full), 'installed from the full image after the delta failed: delta-checksum');
    assert.equal(deliveryNote(base()), undefined);
    validateJournal({ v: 1, state: 'download', writes: 1, deployment: full });
    // Without a full size the fallback has none either, and the note names only the delta.
    const unsized = base();
    delete unsized.size;
    useDelta(unsized, offer([delta(2)], null), delta(2));
    assert.equal(unsized.delta?.fullSize, undefined);
    assert.equal(deliveryNote(unsized), 'installed from a 900-byte delta');
    assert.equal('size' in fallBackToFull(unsized, 'delta-address'), false);
    validateJournal({ v: 1, state: 'download', writes: 1, deployment: unsized });
  });

  it('the journal refuses a malformed delta field, naming it', () => {
    const d = base();
    useDelta(d, offer([delta(2)]), delta(2));
    const invalid = (field: string) => (e: unknown) => e instanceof OtaError && e.reason === 'journal-invalid' && e.message.endsWith(field);
    const rec = (dep: object) => ({ v: 1, state: 'download', writes: 1, deployment: dep });
    assert.throws(() => validateJournal(rec({ ...d, delta: { ...d.delta!, sha256: 'x' } })), invalid('deployment.delta.sha256'));
    assert.throws(() => validateJournal(rec({ ...d, delta: { ...d.delta!, source: 'A'.repeat(64) } })), invalid('deployment.delta.source'));
    assert.throws(() => validateJournal(rec({ ...d, delta: { ...d.delta!, fullSize: 0 } })), invalid('deployment.delta.fullSize'));
    assert.throws(() => validateJournal(rec({ ...d, delta: { ...d.delta!, fullUrl: 'a b' } })), invalid('deployment.delta.fullUrl'));
    assert.throws(() => validateJournal(rec({ ...d, delta: 'x' })), invalid('deployment.delta.'));
    assert.throws(() => validateJournal(rec({ ...d, deltaFailed: 'Not A Reason' })), invalid('deployment.deltaFailed'));
    // Both URLs share the URL budget.
    const long = `https://u.example/${'a'.repeat(JOURNAL_FIELD_MAX.url / 2)}`;
    assert.throws(() => validateJournal(rec({ ...d, url: long, delta: { ...d.delta!, fullUrl: long } })), invalid('deployment.delta.fullUrl'));
  });
});
