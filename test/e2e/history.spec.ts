/**
 * End to end, the agent in XS on the simulated dev kit: every attempt leaves one update-history
 * entry in the key-value store (src/agent/history.ts) and the entry reaches the backend with the
 * final report (hawkBit feedback `details`), also when the power is cut as the deployment ends.
 */
import assert from 'node:assert/strict';
import { decodeHistoryEntry } from '../../src/agent/history.js';
import { sign as cryptoSign } from 'node:crypto';
import { signImage } from '../../tools/image/imgtool-sign.js';
import { signingKeyPem, imageSha } from '../support/devkit-update.js';
import { parseFault } from '../../tools/devkit/devkit.js';
import { BASE, TARGET, finals, run, seen, story } from './e2e-support.js';

/** The history lines the server got in the closing feedback. */
function historyAtServer(details: string): string[] {
  return details.split('; ').filter((d) => d.startsWith('history ')).map((d) => d.slice('history '.length));
}

describe('e2e: update history', function () {
  this.timeout(60_000);

  it('a successful update: one entry (running, hashes, bytes, host, key) in the store and at the hawkBit server', async () => {
    const s = await run({ backend: 'hawkbit' });
    assert.equal(s.outcome, 'running', story(s));
    assert.equal(s.history.length, 1);
    const e = s.history[0];
    assert.deepEqual(
      { verdict: e.verdict, from: e.fromVersion, to: e.toVersion, fromHash: e.fromHash, toHash: e.toHash, host: e.host, bytes: e.bytes, reverted: e.reverted, backend: e.backend, key: e.keyId },
      { verdict: 'running', from: '1.0.0+0', to: '1.1.0+0', fromHash: imageSha(BASE), toHash: imageSha(TARGET), host: '127.0.0.1', bytes: TARGET.length, reverted: false, backend: 'hawkbit', key: 'se:0x7b000201' },
    );
    const closing = finals(s);
    assert.equal(closing.length, 1, story(s));
    assert.deepEqual(historyAtServer(closing[0].details).map(decodeHistoryEntry), s.history);
  });

  it('a rejected image: the entry says failed and why', async () => {
    const input = new Uint8Array(0x200 + 9000).fill(0x77, 0x200);
    const bad = signImage(input, {
      keyPem: signingKeyPem,
      version: '1.2.0',
      signFn: (region, key) => {
        const sig = new Uint8Array(cryptoSign('sha256', region, key));
        sig[sig.length - 1] ^= 1;
        return sig;
      },
    });
    const s = await run({ backend: 'hawkbit', image: bad });
    assert.equal(s.outcome, 'failed', story(s));
    assert.equal(s.history.length, 1);
    assert.equal(s.history[0].verdict, 'failed');
    assert.equal(s.history[0].reason, 'bad-signature');
    assert.equal(s.history[0].toHash, imageSha(bad));
    assert.deepEqual(historyAtServer(finals(s)[0].details).map(decodeHistoryEntry), s.history);
  });

  it('health check fails, power cut as the deployment ends: one entry (reverted), delivered after the reset', async () => {
    const s = await run({ backend: 'hawkbit', faults: [parseFault('health-fail'), parseFault('power-cut@event:deployment.ended')] });
    assert.equal(s.outcome, 'reverted', story(s));
    assert.ok(s.resets.includes('power cut'), story(s));
    assert.equal(s.history.length, 1, JSON.stringify(s.history));
    assert.equal(s.history[0].verdict, 'reverted');
    assert.equal(s.history[0].reverted, true);
    const closing = finals(s);
    assert.deepEqual(historyAtServer(closing[closing.length - 1].details).map(decodeHistoryEntry), s.history);
  });
  it('a deployment the server cancels: the entry (cancelled) goes with the cancelAction confirmation', async () => {
    const s = await run({ backend: 'hawkbit', faults: [parseFault('cancel@50%')] });
    assert.equal(s.outcome, 'cancelled', story(s));
    assert.equal(s.history.length, 1);
    assert.equal(s.history[0].verdict, 'cancelled');
    const confirm = seen(s).filter((r) => r.kind === 'hawkbit-cancel-feedback' && r.what === 'closed/success');
    assert.equal(confirm.length, 1, story(s));
    assert.deepEqual(historyAtServer(confirm[0].details).map(decodeHistoryEntry), s.history);
  });
});
