/**
 * The simulated A5000 against the NXP vectors from the other side: fed the recorded host frames
 * (nano-package bytes), it must answer the recorded SE frames, given the same key store, version,
 * random bytes and verdicts ("expected output for the simulator, given the same scripted
 * verdict", README). Also: it streams a block across any reads, NACKs while it has nothing, and
 * its key store file round-trips.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hex, unhex } from '../../../src/util/bytes.js';
import { SimA5000, loadSimA5000Store, saveSimA5000Store } from '../../../tools/devkit/parts/sim-a5000.js';
import { loadSeVectors, scriptOf, type SeVectorFile } from '../../support/se-vectors.js';

class ManualClock {
  t = 0;
  now(): number {
    return this.t;
  }
}

function readFrame(sim: SimA5000, clock: ManualClock, chunk = 0): string {
  // Wait (in steps) until the SE stops NACKing, as a host would poll.
  const header = new Uint8Array(3);
  for (let polls = 0; !sim.read(header); polls++) {
    assert.ok(polls < 5000, 'SE never answered');
    clock.t += 1;
  }
  const rest = new Uint8Array(header[2] + 2);
  if (chunk > 0) {
    for (let at = 0; at < rest.length; at += chunk) {
      const part = rest.subarray(at, Math.min(rest.length, at + chunk));
      assert.ok(sim.read(part));
    }
  } else assert.ok(sim.read(rest));
  return hex(header) + hex(rest);
}

function replay(file: SeVectorFile, random: Uint8Array | undefined, chunk: number): void {
  const clock = new ManualClock();
  const sim = new SimA5000({ clock, random: random ? () => random : undefined });
  sim.provision(0x7b000201, unhex(file.fixtures.ec_p256_public_key_uncompressed));
  for (const vector of file.vectors) {
    sim.timing.verifyWtx = vector.t1_frames.some((f) => f.s_type === 'WTX_REQ');
    for (const step of scriptOf(vector)) {
      // A write is NACKed while the SE boots (after a chip reset): retry as a host would.
      for (let tries = 0; !sim.write(unhex(step.host)); tries++) {
        assert.ok(tries < 100, `${vector.id}: write ${step.host} NACKed`);
        clock.t += 1;
      }
      assert.equal(readFrame(sim, clock, chunk), step.se, `${vector.id}: answer to ${step.host}`);
    }
  }
}

describe('devkit/sim-a5000 against the NXP vectors', () => {
  const session = loadSeVectors('se05x_session_vectors.json');
  const random = unhex(String(session.vectors.find((v) => v.id === 'get_random_32')!.api_call.random));

  it('answers every recorded host frame of the session with the recorded SE frame', () => {
    replay(session, random, 0);
  });

  it('streams its blocks across reads of any size (1, 2, 7 bytes)', () => {
    for (const chunk of [1, 2, 7]) replay(session, random, chunk);
  });

  it('answers the S-block vectors (ATR, soft reset, chip reset, deep power down, end of session)', () => {
    replay(loadSeVectors('t1oi2c_sblock_vectors.json'), undefined, 0);
  });

  it('NACKs reads while it has nothing to send, and while it verifies', () => {
    const clock = new ManualClock();
    const sim = new SimA5000({ clock });
    assert.equal(sim.read(new Uint8Array(3)), false);
    const v = session.vectors.find((x) => x.id === 'ecdsa_verify_sha256_pass')!;
    sim.write(unhex('5ac000fffc'));
    readFrame(sim, clock);
    sim.write(unhex(session.vectors[0].t1_frames[6].hex)); // SELECT
    readFrame(sim, clock);
    sim.provision(0x7b000201, unhex(session.fixtures.ec_p256_public_key_uncompressed));
    sim.timing.verifyWtx = false;
    // The recorded command carries N(S) 0; after SELECT the host's next N(S) is 1.
    assert.ok(sim.write(unhex(relabel(v.t1_frames[0].hex, 1))));
    const start = clock.t;
    readFrame(sim, clock);
    assert.ok(clock.t - start >= sim.timing.verifyMs, `answered after ${clock.t - start} ms`);
  });

  it('keeps its key store in a JSON file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sim-a5000-'));
    try {
      const file = path.join(dir, 'a5000.json');
      const sim = new SimA5000({ clock: new ManualClock() });
      sim.provision(0x7b000201, unhex(session.fixtures.ec_p256_public_key_uncompressed));
      saveSimA5000Store(file, sim.objects);
      const back = loadSimA5000Store(file);
      assert.equal(hex(back.get(0x7b000201)!.value), session.fixtures.ec_p256_public_key_uncompressed);
      assert.equal(loadSimA5000Store(path.join(dir, 'none.json')).size, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** The same I-block with N(S) set to `ns` (and its CRC recomputed). */
function relabel(frameHex: string, ns: number): string {
  const bytes = unhex(frameHex);
  bytes[1] = (bytes[1] & ~0x40) | (ns << 6);
  const body = bytes.subarray(0, bytes.length - 2);
  let crc = 0xffff;
  for (const b of body) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x8408 : crc >>> 1;
  }
  crc ^= 0xffff;
  bytes[bytes.length - 2] = crc & 0xff;
  bytes[bytes.length - 1] = crc >> 8;
  return hex(bytes);
}
