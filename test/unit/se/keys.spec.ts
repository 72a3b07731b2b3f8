/**
 * The device's own key in the A5000: the agent's SE05x driver (WriteECKey generate, ReadObject,
 * ECDSASign, ECDHGenerateSharedSecret, DeleteSecureObject; APDUs as NXP's nano package builds
 * them) against the simulated A5000 over T=1, every result cross-checked with node:crypto.
 */
import assert from 'node:assert/strict';
import { createECDH, createHash, createPublicKey, verify } from 'node:crypto';
import { Se05x } from '../../../src/se/se05x.js';
import { T1Link } from '../../../src/se/t1-link.js';
import { p256Spki } from '../../../src/se/image-verifier.js';
import { hex } from '../../../src/util/bytes.js';
import { isOtaError } from '../../../src/util/errors.js';
import { SimA5000 } from '../../../tools/devkit/parts/sim-a5000.js';
import { VirtualTime } from '../../../tools/devkit/parts/virtual-time.js';
import { trustedKey } from '../../support/se-scenarios.js';
import { deleteObject, ecdh, ecdsaSign, generateEcKey } from '../../../src/se/se05x-keys.js';

const DEVICE_KEY = 0x7b000301;
const EPHEMERAL = 0x7b000302;

function setup() {
  const time = new VirtualTime();
  const sim = new SimA5000({ clock: time.clockPort() });
  sim.traceEnabled = true;
  const se = new Se05x({ link: new T1Link({ i2c: sim, clock: time.clockPort() }) });
  const run = <T>(p: Promise<T>) => time.runFor(p, { maxEvents: 200_000 });
  return { time, sim, se, run };
}

const nodeKey = (point: Uint8Array) => createPublicKey({ key: Buffer.from(p256Spki(point)), format: 'der', type: 'spki' });

/** The command APDUs (host->SE I-block payloads after NAD/PCB/LEN) the driver sent, hex. */
function commandsSent(sim: SimA5000): string[] {
  return sim.trace.filter((t) => t.dir === 'host->se' && t.hex.length > 10 && (parseInt(t.hex.slice(2, 4), 16) & 0x80) === 0).map((t) => t.hex.slice(6, -4));
}

describe('se05x: key generation, signing and key agreement in the A5000', () => {
  it('generates a key pair inside the SE: ReadObject gives the public point only; the APDU is nano WriteECKey', async () => {
    const { sim, se, run } = setup();
    await run(generateEcKey(se, DEVICE_KEY));
    const point = await run(se.readObject(DEVICE_KEY));
    assert.equal(point.length, 65);
    assert.equal(point[0], 0x04);
    assert.equal(hex(point), hex(sim.publicKeyOf(DEVICE_KEY)!));
    assert.equal(sim.stats.keyGenerations, 1);
    // 80 01 61 00 | Lc 09 | 41 04 7B000301 | 42 01 03 (NIST P-256)
    assert.ok(commandsSent(sim).includes('80016100094104' + '7b000301' + '420103'), commandsSent(sim).join('\n'));
  });

  it('ECDSASign over a digest: node:crypto verifies the signature over the message', async () => {
    const { sim, se, run } = setup();
    await run(generateEcKey(se, DEVICE_KEY));
    const point = await run(se.readObject(DEVICE_KEY));
    for (let i = 0; i < 8; i++) {
      const message = Buffer.from(`TLS 1.3, client CertificateVerify ${i}`);
      const digest = new Uint8Array(createHash('sha256').update(message).digest());
      const signature = await run(ecdsaSign(se, DEVICE_KEY, digest));
      assert.ok(verify('sha256', message, nodeKey(point), Buffer.from(signature)), `signature ${i}`);
      assert.equal(verify('sha256', Buffer.from('other'), nodeKey(point), Buffer.from(signature)), false);
    }
    assert.equal(sim.stats.signatures, 8);
    // 80 03 0C 09 | Lc 2B | 41 04 id | 42 01 21 | 43 20 digest | Le 00
    assert.ok(commandsSent(sim).some((c) => c.startsWith('80030c092b41047b0003014201214320') && c.endsWith('00') && c.length === 2 * (5 + 0x2b + 1)));
  });

  it('ECDH with a transient key pair agrees with node:crypto, and the transient object is gone after the session', async () => {
    const { sim, se, run } = setup();
    await run(generateEcKey(se, EPHEMERAL, { transient: true }));
    const point = await run(se.readObject(EPHEMERAL));
    const peer = createECDH('prime256v1');
    peer.generateKeys();
    const shared = await run(ecdh(se, EPHEMERAL, new Uint8Array(peer.getPublicKey())));
    assert.equal(hex(shared), peer.computeSecret(Buffer.from(point)).toString('hex'));
    assert.equal(sim.stats.agreements, 1);
    assert.ok(commandsSent(sim).some((c) => c.startsWith('80816100')), 'CLA 80, INS_WRITE | INS_TRANSIENT');
    await run(se.close());
    assert.equal(sim.objects.has(EPHEMERAL), false);
    assert.equal(await run(se.checkObjectExists(EPHEMERAL)), false);
  });

  it('DeleteSecureObject removes a key; using it afterwards is se-no-object', async () => {
    const { se, run } = setup();
    await run(generateEcKey(se, DEVICE_KEY));
    await run(deleteObject(se, DEVICE_KEY));
    await assert.rejects(run(ecdsaSign(se, DEVICE_KEY, new Uint8Array(32))), (e: unknown) => isOtaError(e, 'se-no-object'));
    await assert.rejects(run(deleteObject(se, DEVICE_KEY)), (e: unknown) => isOtaError(e, 'se-no-object'));
  });

  it('refuses to sign with a public key object, and bad arguments before any APDU', async () => {
    const { sim, se, run } = setup();
    sim.provision(0x7b000201, trustedKey());
    await assert.rejects(run(ecdsaSign(se, 0x7b000201, new Uint8Array(32))), (e: unknown) => isOtaError(e, 'se-no-object'));
    await assert.rejects(run(ecdh(se, 0x7b000201, trustedKey())), (e: unknown) => isOtaError(e, 'se-no-object'));
    const before = sim.stats.commands;
    await assert.rejects(run(ecdsaSign(se, DEVICE_KEY, new Uint8Array(20))), (e: unknown) => isOtaError(e, 'invalid-argument'));
    await assert.rejects(run(ecdh(se, DEVICE_KEY, new Uint8Array(33))), (e: unknown) => isOtaError(e, 'invalid-argument'));
    assert.equal(sim.stats.commands, before);
  });

  it('the peer point must be on the curve (the SE refuses: se-wrong-data)', async () => {
    const { se, run } = setup();
    await run(generateEcKey(se, EPHEMERAL, { transient: true }));
    const off = trustedKey().slice();
    off[64] ^= 1;
    await assert.rejects(run(ecdh(se, EPHEMERAL, off)), (e: unknown) => isOtaError(e, 'se-wrong-data'));
  });
});
