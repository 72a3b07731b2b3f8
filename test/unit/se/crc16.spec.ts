/** CRC-16/X-25 against the check value and every NXP host frame in crc_vectors.json. */
import assert from 'node:assert/strict';
import { crc16X25 } from '../../../src/se/crc16.js';
import { asciiEncode, unhex } from '../../../src/util/bytes.js';
import { loadSeJson } from '../../support/se-vectors.js';

interface CrcVectors {
  vectors: { frame_without_crc: string; crc_wire_bytes: string; crc16_x25_value: string }[];
}

describe('se/crc16', () => {
  it('has the CRC-16/X-25 check value 0x906E for "123456789"', () => {
    assert.equal(crc16X25(asciiEncode('123456789')), 0x906e);
  });

  const file = loadSeJson<CrcVectors>('crc_vectors.json');
  for (const v of file.vectors) {
    it(`${v.frame_without_crc} → ${v.crc_wire_bytes} on the wire (value ${v.crc16_x25_value})`, () => {
      const crc = crc16X25(unhex(v.frame_without_crc));
      assert.equal(crc, parseInt(v.crc16_x25_value, 16));
      // Sent least significant byte first.
      assert.deepEqual([crc & 0xff, crc >> 8], [...unhex(v.crc_wire_bytes)]);
    });
  }

  it('covers a sub-range without copying', () => {
    const frame = unhex('ff5ac000ff');
    assert.equal(crc16X25(frame, 1, 4), 0xfcff);
  });
});
