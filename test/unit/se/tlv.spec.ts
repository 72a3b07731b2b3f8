/** SE05x TLVs and APDU building: the vectors' TLVs and APDUs, length forms, seeded fuzz. */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ApduBuilder } from '../../../src/se/apdu.js';
import { findTlv, readTlv, writeTlv } from '../../../src/se/tlv.js';
import { hex, unhex } from '../../../src/util/bytes.js';
import { OtaError, isOtaError } from '../../../src/util/errors.js';
import { loadSeVectors } from '../../support/se-vectors.js';

interface TlvNote {
  tag: string;
  len: number;
  len_encoding: string;
  value: string;
}

describe('se/tlv', () => {
  const vectors = loadSeVectors('se05x_session_vectors.json').vectors as unknown as {
    id: string;
    apdu: { command: { hex: string; data: string; tlvs?: TlvNote[] }; response: { hex: string; data: string; tlvs?: TlvNote[] } };
  }[];

  it('encodes every TLV of the vectors as nano did, and reads them back', () => {
    for (const v of vectors) {
      if (!v.apdu) continue;
      for (const side of [v.apdu.command, v.apdu.response]) {
        if (!side.tlvs) continue;
        let encoded = '';
        for (const t of side.tlvs) {
          const out = new Uint8Array(4 + t.len);
          encoded += hex(out.subarray(0, writeTlv(out, 0, parseInt(t.tag, 16), unhex(t.value))));
        }
        assert.equal(encoded, side.data, v.id);
        const data = unhex(side.data);
        for (const t of side.tlvs) assert.equal(hex(findTlv(data, parseInt(t.tag, 16))!), t.value);
      }
    }
  });

  it('uses 1-byte, 81 LL and 82 HH LL lengths at 0x7F / 0xFF boundaries', () => {
    const lengthBytes = (n: number): string => {
      const out = new Uint8Array(n + 4);
      writeTlv(out, 0, 0x41, new Uint8Array(n));
      return hex(out.subarray(1, n <= 0x7f ? 2 : n <= 0xff ? 3 : 4));
    };
    assert.equal(lengthBytes(0x7f), '7f');
    assert.equal(lengthBytes(0x80), '8180');
    assert.equal(lengthBytes(0xff), '81ff');
    assert.equal(lengthBytes(0x100), '820100');
    const t = readTlv(unhex('41820100'.padEnd(8 + 512, '0')), 0);
    assert.deepEqual(t, { tag: 0x41, start: 4, end: 260 });
  });

  it('rejects truncated values, odd length forms and trailing garbage', () => {
    for (const bad of ['41', '4105010203', '418001', '4183000001', '41820100', '410101ff']) {
      assert.throws(() => findTlv(unhex(bad), 0x41), (e) => isOtaError(e, 'se-response-malformed'), bad);
    }
  });

  it('builds the vectors APDUs byte for byte (nano Lc/Le choices)', () => {
    const b = new ApduBuilder(512);
    assert.equal(hex(b.start(0x80, 0x04, 0x00, 0x20).finish()), '80040020');
    assert.equal(hex(b.start(0x80, 0x02, 0x00, 0x00).tlvUint(0x41, 0x7b000201, 4).finish({ extended: true })), '8002000000000641047b0002010000');
    assert.equal(hex(b.start(0x80, 0x04, 0x00, 0x49).tlvUint(0x41, 32, 2).finish({ extended: true })), '80040049000004410200200000');
    const big = b.start(0x80, 0x01, 0x06, 0x00).tlv(0x44, new Uint8Array(300)).finish();
    assert.equal(hex(big.subarray(0, 7)), '80010600000130');
    assert.throws(() => new ApduBuilder(16).start(0, 0, 0, 0).tlv(0x41, new Uint8Array(20)).finish(), (e) => isOtaError(e, 'limit-exceeded'));
  });

  it('fuzz (seeded): findTlv on random bytes returns a view inside the input or a typed error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 255 }), (bytes, tag) => {
        try {
          const v = findTlv(bytes, tag);
          if (v) assert.ok(v.byteOffset >= bytes.byteOffset && v.byteOffset + v.length <= bytes.byteOffset + bytes.length);
        } catch (error) {
          assert.ok(error instanceof OtaError && error.reason === 'se-response-malformed', String(error));
        }
      }),
      { seed: 0x7171, numRuns: 5000 },
    );
  });

  it('fuzz (seeded): write then read round-trips any value up to 0xFFFF bytes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 700 }), (tag, value) => {
        const out = new Uint8Array(value.length + 4);
        const end = writeTlv(out, 0, tag, value);
        const t = readTlv(out, 0, end);
        assert.equal(t.tag, tag);
        assert.equal(t.end, end);
        assert.equal(hex(out.subarray(t.start, t.end)), hex(value));
      }),
      { seed: 0x7172, numRuns: 500 },
    );
  });
});
