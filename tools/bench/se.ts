/**
 * Bench figures for one image verification through the A5000 (simulated, virtual time): bytes
 * over I2C, transactions, NACKed polls, WTX and virtual milliseconds. Deterministic counts, no
 * wall clock: the same run gives the same numbers, so they can be compared across commits.
 *
 * Inputs are the se05x vectors' fixtures (NIST P-256 key, SHA-256 digest, 71-byte DER signature:
 * a signature's DER length varies by a byte or two, so a fixed one keeps the count fixed).
 */
import { createHash } from 'node:crypto';
import { Se05xImageVerifier, p256Spki } from '../../src/se/image-verifier.js';
import { Se05x } from '../../src/se/se05x.js';
import { T1Link, type T1Stats } from '../../src/se/t1-link.js';
import { unhex } from '../../src/util/bytes.js';
import { NodeDigest } from '../node/node-digest.js';
import { SimA5000, type SimA5000Timing } from '../devkit/parts/sim-a5000.js';
import { VirtualTime } from '../devkit/parts/virtual-time.js';

const PUBLIC_KEY = unhex('04c9dfae74aa1b7d944ee8d52ec7734981a033e2f77de6fb8400245378571e60b4917aab222d9fbf137cad4686fd5ab1e0aad56a5f24d6858a588976a8d9ec24af');
const DIGEST = unhex('5371d036bc166c885c32ed7d211e49e30cdc5ff865ba9e7454df0d798f5f0ea7');
const SIGNATURE = unhex(
  '3045022100832a6eed5462f8f8536e318a4713eb4f4ec884da3676e9f3392eed30a3f13f8e0220390bda0a855ddf81adccd7fc984acc2878c388699e1b1cffa32c4766281f7990',
);
const KEY_OBJECT = 0x7b000201;

export interface SeVerificationFigures {
  /** Data bytes the host wrote / read over I2C (ACKed transactions; NACKed polls carry none). */
  i2cBytesWritten: number;
  i2cBytesRead: number;
  i2cBytes: number;
  /** ACKed write and read transactions, and NACKed ones (busy polls). */
  writes: number;
  reads: number;
  nacks: number;
  wtx: number;
  /** APDUs the SE processed. */
  seCommands: number;
  /** Virtual time the verification took on the simulated A5000's timing. */
  virtualMs: number;
}

export interface SeBenchResult {
  /** First verification: session start (RESYNCH, GET ATR, SELECT), key check and read, ECDSAVerify. */
  first: SeVerificationFigures;
  /** Every later verification: ECDSAVerify alone. */
  next: SeVerificationFigures;
}

function diff(after: T1Stats, before: T1Stats, commands: number, ms: number): SeVerificationFigures {
  const written = after.bytesWritten - before.bytesWritten;
  const read = after.bytesRead - before.bytesRead;
  return {
    i2cBytesWritten: written,
    i2cBytesRead: read,
    i2cBytes: written + read,
    writes: after.writes - before.writes,
    reads: after.reads - before.reads,
    nacks: after.nacks - before.nacks,
    wtx: after.wtx - before.wtx,
    seCommands: commands,
    virtualMs: ms,
  };
}

/**
 * Runs two verifications on a fresh simulated A5000 and returns their figures.
 * @example const { first, next } = await benchSeVerification(); console.log(next.i2cBytes);
 */
export async function benchSeVerification(timing: Partial<SimA5000Timing> = {}): Promise<SeBenchResult> {
  const time = new VirtualTime();
  const sim = new SimA5000({ clock: time.clockPort(), timing });
  sim.provision(KEY_OBJECT, PUBLIC_KEY);
  const link = new T1Link({ i2c: sim, clock: time.clockPort() });
  const verifier = new Se05xImageVerifier({ se: new Se05x({ link }), digest: new NodeDigest(), keyId: KEY_OBJECT });
  const keyHash = new Uint8Array(createHash('sha256').update(p256Spki(PUBLIC_KEY)).digest());
  const check = { algorithm: 'ecdsa-p256' as const, imageHash: DIGEST, keyHash, signature: SIGNATURE };
  const once = async (): Promise<SeVerificationFigures> => {
    const before = { ...link.stats };
    const commands = sim.stats.commands;
    const start = time.now();
    await time.runFor(verifier.verify(check));
    return diff(link.stats, before, sim.stats.commands - commands, time.now() - start);
  };
  const first = await once();
  const next = await once();
  return { first, next };
}
