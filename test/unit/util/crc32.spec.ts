/** CRC-32 against zlib's (node:zlib crc32) and the standard check value. */
import assert from 'node:assert/strict';
import { crc32 as zlibCrc32 } from 'node:zlib';
import fc from 'fast-check';
import { crc32, crc32Ascii } from '../../../src/util/crc32.js';

describe('crc32', () => {
  it('gives the standard check value and the empty CRC', () => {
    // CRC-32/ISO-HDLC check value: CRC of the ASCII digits 1..9.
    assert.equal(crc32Ascii('123456789'), 0xcbf43926);
    assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
    assert.equal(crc32(new Uint8Array(0)), 0);
    assert.equal(crc32Ascii(''), 0);
  });

  it('matches zlib for any bytes, in one piece or continued', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(600), (bytes, cut) => {
        const at = Math.min(cut, bytes.length);
        const expected = zlibCrc32(bytes);
        assert.equal(crc32(bytes), expected);
        assert.equal(crc32(bytes.subarray(at), crc32(bytes.subarray(0, at))), expected);
      }),
    );
  });

  it('matches zlib on ASCII strings and refuses a non-ASCII one', () => {
    fc.assert(fc.property(fc.string({ unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)), maxLength: 400 }), (text) => {
      assert.equal(crc32Ascii(text), zlibCrc32(text));
    }));
    assert.throws(() => crc32Ascii('caf\u00e9'), RangeError);
  });
});
