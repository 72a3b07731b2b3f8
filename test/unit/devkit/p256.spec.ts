/** The simulator's prehashed ECDSA P-256 check, cross-checked against node:crypto. */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { p256Point, p256VerifyDigest } from '../../../tools/node/p256.js';
import { unhex } from '../../../src/util/bytes.js';
import { loadSeVectors } from '../../support/se-vectors.js';

function rawPoint(key: ReturnType<typeof generateKeyPairSync>['publicKey']): Uint8Array {
  const der = key.export({ type: 'spki', format: 'der' });
  return new Uint8Array(der.subarray(der.length - 65));
}

describe('devkit/p256 (simulated A5000 verification)', () => {
  it('agrees with node:crypto on 40 signatures and their tampered copies', () => {
    for (let i = 0; i < 40; i++) {
      const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const message = Buffer.from(`message ${i}`);
      const digest = new Uint8Array(createHash('sha256').update(message).digest());
      const signature = new Uint8Array(sign('sha256', message, privateKey));
      const point = rawPoint(publicKey);
      assert.ok(p256VerifyDigest(point, digest, signature), `signature ${i}`);
      const tampered = signature.slice();
      tampered[tampered.length - 1] ^= 1;
      assert.equal(p256VerifyDigest(point, digest, tampered), false);
      const otherDigest = digest.slice();
      otherDigest[0] ^= 0x80;
      assert.equal(p256VerifyDigest(point, otherDigest, signature), false);
    }
  });

  it('verifies the se05x vector signature (checked there with python cryptography)', () => {
    const f = loadSeVectors('se05x_session_vectors.json').fixtures;
    assert.ok(p256VerifyDigest(unhex(f.ec_p256_public_key_uncompressed), unhex(f.digest_sha256), unhex(f.signature_der_valid_71)));
  });

  it('rejects points off the curve and malformed DER', () => {
    const f = loadSeVectors('se05x_session_vectors.json').fixtures;
    const off = unhex(f.ec_p256_public_key_uncompressed);
    off[64] ^= 1;
    assert.equal(p256Point(off), undefined);
    assert.equal(p256VerifyDigest(unhex(f.ec_p256_public_key_uncompressed), unhex(f.digest_sha256), unhex('3006020101020101')), false);
    assert.equal(p256VerifyDigest(unhex(f.ec_p256_public_key_uncompressed), unhex(f.digest_sha256), new Uint8Array(0)), false);
  });
});
