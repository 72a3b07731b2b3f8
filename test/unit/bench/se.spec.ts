/** The A5000 bench figures are deterministic and add up to the frames on the wire. */
import assert from 'node:assert/strict';
import { benchSeVerification } from '../../../tools/bench/se.js';

describe('bench: bytes over I2C per verification', () => {
  it('gives the same figures on every run', async () => {
    assert.deepEqual(await benchSeVerification(), await benchSeVerification());
  });

  it('counts the ECDSAVerify exchange frame by frame', async () => {
    const { next } = await benchSeVerification();
    // Host: I-block 3 + 121 (APDU: 5 header/Lc + 6 + 3 + 34 + 73 TLVs) + 2 CRC = 126, S(WTX rsp) 6.
    // SE: S(WTX req) 6, I-block 3 + 5 (41 01 01 90 00) + 2 = 10.
    assert.deepEqual([next.i2cBytesWritten, next.i2cBytesRead, next.writes, next.wtx, next.seCommands], [132, 16, 2, 1, 1]);
  });
});
