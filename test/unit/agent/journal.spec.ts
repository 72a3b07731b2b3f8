/** The journal's validation of the fields the campaign flags added: state `wait`, `held`, deployment flags. */
import assert from 'node:assert/strict';
import { validateJournal } from '../../../src/agent/journal.js';

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
    assert.throws(() => validateJournal({ v: 1, state: 'report', writes: 1, deployment, outcome: { phase: 'kept' } }), invalid('outcome.phase'));
  });
});
