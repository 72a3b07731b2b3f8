/**
 * T1Link behaviours beyond the vectors, against the simulated A5000: it takes IFSC and BWT from
 * the ATR instead of assuming them, bounds its R-APDU buffer, and runs one exchange at a time.
 */
import assert from 'node:assert/strict';
import { Se05x } from '../../../src/se/se05x.js';
import { T1Link } from '../../../src/se/t1-link.js';
import { hex, unhex } from '../../../src/util/bytes.js';
import { isOtaError } from '../../../src/util/errors.js';
import { SIM_A5000_ATR, SimA5000 } from '../../../tools/devkit/parts/sim-a5000.js';
import { VirtualTime } from '../../../tools/devkit/parts/virtual-time.js';
import { loadSeVectors } from '../../support/se-vectors.js';

/** The SE051 ATR with another IFSC and BWT. */
function atrWith(ifsc: number, bwtMs: number): Uint8Array {
  const atr = SIM_A5000_ATR.slice();
  atr[7] = bwtMs >> 8;
  atr[8] = bwtMs & 0xff;
  atr[9] = ifsc >> 8;
  atr[10] = ifsc & 0xff;
  return atr;
}

describe('se/t1-link (against the simulated A5000)', () => {
  const fixtures = loadSeVectors('se05x_session_vectors.json').fixtures;
  const key = unhex(fixtures.ec_p256_public_key_uncompressed);
  const digest = unhex(fixtures.digest_sha256);
  const signature = unhex(fixtures.signature_der_valid_71);

  function setup(atr: Uint8Array, timing: Partial<SimA5000['timing']> = {}, limits = {}) {
    const time = new VirtualTime();
    const sim = new SimA5000({ clock: time.clockPort(), atr, timing });
    sim.provision(0x7b000201, key);
    sim.traceEnabled = true;
    const link = new T1Link({ i2c: sim, clock: time.clockPort(), limits });
    return { time, sim, link, se: new Se05x({ link }) };
  }

  it('sends blocks of the IFSC the ATR gives (32 bytes: the 121-byte ECDSAVerify in 4 blocks)', async () => {
    const { time, sim, se, link } = setup(atrWith(32, 1000));
    await time.runFor(se.open());
    assert.equal(link.atr?.ifsc, 32);
    sim.trace.length = 0;
    assert.equal(await time.runFor(se.ecdsaVerify(0x7b000201, digest, signature)), true);
    const iBlocks = sim.trace.filter((t) => t.dir === 'host->se' && (parseInt(t.hex.slice(2, 4), 16) & 0x80) === 0);
    assert.deepEqual(
      iBlocks.map((t) => parseInt(t.hex.slice(4, 6), 16)),
      [32, 32, 32, 25],
    );
  });

  it('waits as long as the ATR BWT allows: a 300 ms verify without WTX passes under BWT 500', async () => {
    const { time, se, link } = setup(atrWith(254, 500), { verifyWtx: false, verifyMs: 300 });
    assert.equal(await time.runFor(se.ecdsaVerify(0x7b000201, digest, signature)), true);
    assert.equal(link.stats.rNacksSent, 0);
  });

  it('and gives up under BWT 200 with a typed error', async () => {
    const { time, se } = setup(atrWith(254, 200), { verifyWtx: false, verifyMs: 300 });
    await assert.rejects(time.runFor(se.ecdsaVerify(0x7b000201, digest, signature)), (e) => isOtaError(e, 't1-timeout', 'se-nack', 't1-resync-failed'));
  });

  it('bounds the R-APDU: an answer over responseMax is limit-exceeded, and the link works after', async () => {
    const { time, se } = setup(SIM_A5000_ATR, {}, { responseMax: 64 });
    await assert.rejects(time.runFor(se.getRandom(100)), (e) => isOtaError(e, 'limit-exceeded'));
    assert.equal((await time.runFor(se.getRandom(16))).length, 16);
  });

  it('refuses a second exchange while one is under way', async () => {
    const { time, link } = setup(SIM_A5000_ATR);
    const first = link.open();
    await assert.rejects(link.transceive(unhex('80040020')), (e) => isOtaError(e, 'bad-state'));
    await time.runFor(first);
  });

  it('maps status words to typed errors and checks TAG_1', async () => {
    const { time, se, sim } = setup(SIM_A5000_ATR);
    await assert.rejects(time.runFor(se.readObject(0x7b000999)), (e) => isOtaError(e, 'se-no-object') && /SW 6985/.test((e as Error).message));
    await assert.rejects(time.runFor(se.ecdsaVerify(0x7b000999, digest, signature)), (e) => isOtaError(e, 'se-no-object'));
    assert.equal(await time.runFor(se.checkObjectExists(0x7b000999)), false);
    const corrupted = signature.slice();
    corrupted[10] ^= 1;
    assert.equal(await time.runFor(se.ecdsaVerify(0x7b000201, digest, corrupted)), false);
    assert.equal(sim.stats.verifications, 1);
    assert.equal(hex(await time.runFor(se.readObject(0x7b000201))), hex(key));
    assert.equal(await time.runFor(se.getVersion()).then((v) => `${v.major}.${v.minor}.${v.patch}`), '7.2.0');
  });
});
