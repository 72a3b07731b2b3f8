/**
 * WriteBinary and the chunked ReadObject/ReadSize of the agent's Se05x against the simulated
 * A5000: a 900-byte object (a device certificate chain is 500-900 bytes) goes in over several
 * short APDUs and comes back byte for byte; an object larger than the caller's buffer, an absent
 * object and a range past the end are typed errors.
 */
import assert from 'node:assert/strict';
import { isOtaError } from '../../../src/util/errors.js';
import { Se05x, SE05X_READ_CHUNK } from '../../../src/se/se05x.js';
import { T1Link } from '../../../src/se/t1-link.js';
import { VirtualTime } from '../../../tools/devkit/parts/virtual-time.js';
import { makeSim } from '../../support/se-scenarios.js';

const CERT_OBJECT = 0x7b000304;

describe('se binary objects: WriteBinary, ReadSize, chunked ReadObject (simulated A5000)', () => {
  const time = new VirtualTime();
  const sim = makeSim(time);
  const se = new Se05x({ link: new T1Link({ i2c: sim, clock: time.clockPort() }) });
  const run = <T>(work: Promise<T>): Promise<T> => time.runFor(work, { maxEvents: 200_000 });
  const reason = async (work: Promise<unknown>): Promise<string> => {
    try {
      await run(work);
    } catch (error) {
      if (isOtaError(error)) return error.reason;
      throw error;
    }
    return 'no error';
  };
  const data = new Uint8Array(900).map((_, i) => (i * 7 + 3) & 0xff);

  it('writes 900 bytes in chunks and reads them back in chunks', async () => {
    await run(se.open());
    await run(se.writeBinary(CERT_OBJECT, data));
    assert.equal(await run(se.readSize(CERT_OBJECT)), 900);
    const out = new Uint8Array(1024);
    assert.equal(await run(se.readBinaryInto(CERT_OBJECT, out)), 900);
    assert.deepEqual(out.subarray(0, 900), data);
    assert.ok(900 > SE05X_READ_CHUNK, 'the object needs more than one read');
  });

  it('an object larger than the buffer is limit-exceeded', async () => {
    assert.equal(await reason(se.readBinaryInto(CERT_OBJECT, new Uint8Array(512))), 'limit-exceeded');
  });

  it('an absent object and a range past the end are typed SE errors', async () => {
    assert.notEqual(await reason(se.readSize(0x7b0003ff)), 'no error');
    assert.notEqual(await reason(se.readObjectRange(CERT_OBJECT, 890, 20)), 'no error');
  });
});
