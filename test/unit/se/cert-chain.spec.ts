/** parseDerChain: the A5000's certificate object is split into certificates; garbage is typed. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEVICE_CERT_CHAIN_MAX, parseDerChain } from '../../../src/se/cert-chain.js';
import { isOtaError } from '../../../src/util/errors.js';

function der(file: string): Uint8Array {
  const text = readFileSync(path.join(process.cwd(), 'tools', 'node', 'test-pki', file), 'utf8');
  return new Uint8Array(Buffer.from(text.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64'));
}
const reasonOf = (bytes: Uint8Array): string => {
  try {
    parseDerChain(bytes);
    return 'no error';
  } catch (error) {
    return isOtaError(error) ? error.reason : 'untyped';
  }
};

describe('device certificate chain (DER in one A5000 object)', () => {
  const leaf = der('server.pem');
  const ca = der('ca.pem');
  it('splits leaf + CA back to back', () => {
    const both = new Uint8Array([...leaf, ...ca]);
    const chain = parseDerChain(both);
    assert.equal(chain.length, 2);
    assert.deepEqual(chain[0], leaf);
    assert.deepEqual(chain[1], ca);
  });
  it('empty, garbage, truncated, trailing bytes and too large are config-invalid', () => {
    assert.equal(reasonOf(new Uint8Array(0)), 'config-invalid');
    assert.equal(reasonOf(new Uint8Array([1, 2, 3, 4])), 'config-invalid');
    assert.equal(reasonOf(leaf.subarray(0, leaf.length - 1)), 'config-invalid');
    assert.equal(reasonOf(new Uint8Array([...leaf, 0x30])), 'config-invalid');
    assert.equal(reasonOf(new Uint8Array(DEVICE_CERT_CHAIN_MAX + 1).fill(0x30)), 'config-invalid');
  });
});
