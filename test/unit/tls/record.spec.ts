/**
 * The TLS record layer (src/tls/record.ts) and the certificate reader (src/tls/x509.ts): records
 * split at every offset, AEAD nonces per RFC 8446 §5.3 checked against node:crypto, tampering,
 * oversized records, padding; the dev kit's test certificates (made by OpenSSL) read field by field.
 */
import assert from 'node:assert/strict';
import { createCipheriv, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONTENT, plainRecord, RecordProtection, RecordReader, type TlsRecord } from '../../../src/tls/record.js';
import { TLS_LIMITS } from '../../../src/tls/limits.js';
import { certificateNames, parseCertificate } from '../../../src/tls/x509.js';
import { hex } from '../../../src/util/bytes.js';
import { isOtaError } from '../../../src/util/errors.js';
import { NodeTlsCrypto } from '../../../tools/node/node-tls-crypto.js';

const PKI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'tools', 'node', 'test-pki');
const derOf = (f: string) => new Uint8Array(Buffer.from(readFileSync(path.join(PKI, f), 'utf8').replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64'));

const keys = { key: new Uint8Array(16).map((_, i) => i + 1), iv: new Uint8Array(12).map((_, i) => 0xa0 + i) };

describe('tls: record layer', () => {
  const crypto = new NodeTlsCrypto();

  it('seals as RFC 8446 §5.2-5.3 says: nonce = iv XOR seq, AAD = the record header, inner type last', () => {
    const sender = new RecordProtection(crypto, keys);
    for (let seq = 0; seq < 3; seq++) {
      const record = sender.seal(CONTENT.applicationData, new Uint8Array([1, 2, 3]));
      const nonce = keys.iv.slice();
      nonce[11] ^= seq;
      const c = createCipheriv('aes-128-gcm', keys.key, nonce);
      c.setAAD(record.subarray(0, 5));
      const expected = Buffer.concat([c.update(new Uint8Array([1, 2, 3, 23])), c.final(), c.getAuthTag()]);
      assert.equal(hex(record.subarray(5)), expected.toString('hex'), `record ${seq}`);
      assert.equal(hex(record.subarray(0, 5)), `170303${(4 + 16).toString(16).padStart(4, '0')}`);
    }
  });

  it('opens what it sealed, in order, from a stream split at every offset', () => {
    const sender = new RecordProtection(crypto, keys);
    const records = [sender.seal(CONTENT.handshake, new Uint8Array(300).fill(7)), sender.seal(CONTENT.applicationData, new Uint8Array([9])), sender.seal(CONTENT.alert, new Uint8Array([1, 0]))];
    const stream = new Uint8Array(records.reduce((n, r) => n + r.length, 0));
    let at = 0;
    for (const r of records) {
      stream.set(r, at);
      at += r.length;
    }
    for (let cut = 0; cut <= stream.length; cut++) {
      const reader = new RecordReader();
      const receiver = new RecordProtection(crypto, keys);
      const got: TlsRecord[] = [];
      reader.push(stream.subarray(0, cut), (r) => got.push(receiver.open(r)));
      reader.push(stream.subarray(cut), (r) => got.push(receiver.open(r)));
      assert.deepEqual(got.map((r) => [r.type, r.fragment.length]), [[22, 300], [23, 1], [21, 2]], `cut at ${cut}`);
    }
  });

  it('a flipped byte is tls-bad-record-mac; a record past the limit is limit-exceeded; padding is stripped', () => {
    const sender = new RecordProtection(crypto, keys);
    const record = sender.seal(CONTENT.applicationData, new Uint8Array([5, 6]));
    record[record.length - 1] ^= 1;
    const reader = new RecordReader();
    assert.throws(() => reader.push(record, (r) => new RecordProtection(crypto, keys).open(r)), (e: unknown) => isOtaError(e, 'tls-bad-record-mac'));
    const big = new Uint8Array([23, 3, 3, 0x40, 0x00]);
    assert.throws(() => new RecordReader().push(big, () => undefined), (e: unknown) => isOtaError(e, 'limit-exceeded'));
    assert.ok(TLS_LIMITS.recordMax < 0x4000 + 5);
    assert.throws(() => new RecordReader().push(new Uint8Array([99, 3, 3, 0, 1, 0]), () => undefined), (e: unknown) => isOtaError(e, 'tls-protocol'));
    // Zero padding after the content type (RFC 8446 §5.4).
    const padded = crypto.aes128GcmSeal(keys.key, keys.iv, new Uint8Array([23, 3, 3, 0, 4 + 3 + 16]), new Uint8Array([0xaa, 0xbb, 0xcc, 23, 0, 0, 0]));
    const opened = new RecordProtection(crypto, keys).open({ type: 23, fragment: padded });
    assert.deepEqual([opened.type, [...opened.fragment]], [23, [0xaa, 0xbb, 0xcc]]);
    assert.equal(hex(plainRecord(CONTENT.handshake, new Uint8Array([1]))), '160301000101');
  });
});

describe('tls: X.509 fields', () => {
  it('reads the dev kit server certificate as OpenSSL wrote it', () => {
    const der = derOf('server.pem');
    const c = parseCertificate(der);
    const node = new X509Certificate(der);
    assert.equal(c.notAfter, Date.parse(node.validTo) / 1000);
    assert.equal(c.notBefore, Date.parse(node.validFrom) / 1000);
    assert.deepEqual(c.dnsNames, ['*.example.com', 'example.com', 'localhost']);
    assert.deepEqual(c.ipAddresses.map((a) => [...a].join('.')), ['127.0.0.1']);
    assert.equal(c.isCa, false);
    assert.equal(hex(c.publicKey), hex(new Uint8Array(node.publicKey.export({ type: 'spki', format: 'der' }).subarray(-65))));
    const ca = parseCertificate(derOf('ca.pem'));
    assert.equal(ca.isCa, true);
    assert.equal(hex(ca.subject), hex(c.issuer));
  });

  it('matches host names as RFC 6125 says (one left-most wildcard label, IP literals by SAN only)', () => {
    const c = parseCertificate(derOf('server.pem'));
    for (const ok of ['updates.example.com', 'UPDATES.example.com', 'example.com', 'localhost', '127.0.0.1']) assert.ok(certificateNames(c, ok), ok);
    for (const bad of ['a.b.example.com', 'example.org', 'evil-example.com', '127.0.0.2', 'localhost.example.org']) assert.equal(certificateNames(c, bad), false, bad);
  });

  it('malformed DER is a typed failure at every truncation', () => {
    const der = derOf('server.pem');
    for (let n = 0; n < der.length; n += 7) {
      assert.throws(() => parseCertificate(der.subarray(0, n)), (e: unknown) => isOtaError(e, 'tls-certificate-malformed'), `truncated at ${n}`);
    }
  });
});
