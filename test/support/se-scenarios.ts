/**
 * The driver-against-simulated-A5000 scenarios, shared by the Node spec
 * (test/unit/se/driver-sim.spec.ts) and the XS spec (test/xs/se.spec.ts): each sets faults on the
 * simulator, makes one call through the driver and expects a verdict or a typed error; most then
 * clear the faults and check that the same driver recovers.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { I2cPort } from '../../src/platform/i2c.js';
import { hex, unhex } from '../../src/util/bytes.js';
import { SimA5000, type SimA5000Faults } from '../../tools/devkit/parts/sim-a5000.js';
import type { VirtualTime } from '../../tools/devkit/parts/virtual-time.js';
import type { DriverOptions } from './se-driver.js';
import { fixturePath } from './paths.js';

export const KEY_OBJECT = 0x7b000201;

/** An I2C bus whose target a test can swap (a fresh simulator per scenario, one XS session). */
export class SwitchableBus implements I2cPort {
  readonly address = 0x48;
  constructor(public target: I2cPort) {}
  write(bytes: Uint8Array): boolean {
    return this.target.write(bytes);
  }
  read(into: Uint8Array): boolean {
    return this.target.read(into);
  }
  close(): void {}
}

export interface ImageCase {
  file: string;
  imageHash: Uint8Array;
  keyHash: Uint8Array;
  signature: Uint8Array;
  /** 'verified' or the OtaError reason expected. */
  expected: string;
}

interface ImageVectors {
  vectors: {
    file: string;
    expected_verdict: string;
    failing_check: string | null;
    parsed: { hash_region_len?: number; tlv_area_offset: number; tlvs: { name: string; value_hex: string }[] };
  }[];
}

/** The MCUboot images of test/fixtures/se05x-images with what the A5000 must say about them. */
export function mcubootCases(): ImageCase[] {
  const file = JSON.parse(readFileSync(fixturePath('se05x-images', 'vectors.json'), 'utf8')) as ImageVectors;
  return file.vectors.map((v) => {
    const tlv = (name: string): Uint8Array => unhex(v.parsed.tlvs.find((t) => t.name === name)!.value_hex);
    const image = readFileSync(fixturePath('se05x-images', v.file.replace(/^images\//, '')));
    // Ground the digest in the image itself: SHA-256 over header + body (+ protected TLVs).
    const region = v.parsed.tlv_area_offset;
    assert.equal(createHash('sha256').update(image.subarray(0, region)).digest('hex'), hex(tlv('SHA256')), `${v.file}: SHA256 TLV`);
    // Signature TLV read from the image bytes too, not only from the JSON.
    const signature = tlv('ECDSA_SIG');
    assert.ok(image.includes(Buffer.from(signature)), `${v.file}: ECDSA_SIG bytes in the image`);
    const expected = v.expected_verdict === 'valid' ? 'verified' : v.file.includes('other-key') ? 'key-mismatch' : 'bad-signature';
    return { file: v.file, imageHash: tlv('SHA256'), keyHash: tlv('KEYHASH'), signature, expected };
  });
}

export function trustedKey(): Uint8Array {
  return unhex(readFileSync(fixturePath('se05x-images', 'signing-key-p256.pub.raw.hex'), 'utf8').trim());
}

export function otherKey(): Uint8Array {
  return unhex(readFileSync(fixturePath('se05x-images', 'other-key-p256.pub.raw.hex'), 'utf8').trim());
}

export type Outcome = { value: unknown } | { reason: string; message: string };

/** How a spec runs driver calls: directly in Node, or in an XS guest. */
export interface Runner {
  reset(options: DriverOptions): Promise<void>;
  call(name: 'verify' | 'random' | 'version' | 'keyExists' | 'stats' | 'close', args?: unknown): Promise<Outcome>;
}

export interface Scenario {
  name: string;
  /** Driver limits for this scenario. */
  options?: DriverOptions;
  /** A verification before the faults (to be mid-session when they strike). */
  warmUp?: boolean;
  /** GetRandom calls after the warm-up, to shift the T=1 sequence bits the fault meets. */
  prelude?: number;
  faults?: Partial<SimA5000Faults>;
  setup?: (sim: SimA5000) => void;
  call?: 'verify' | 'random';
  args?: (image: ImageCase) => unknown;
  expect: string;
  /** After the expected outcome, clear faults and verify the valid image again with the same driver. */
  recovers?: boolean;
  check?: (sim: SimA5000, stats: Record<string, number>) => void;
}

export function makeSim(time: VirtualTime): SimA5000 {
  const sim = new SimA5000({ clock: time.clockPort() });
  sim.provision(KEY_OBJECT, trustedKey());
  return sim;
}

export const SCENARIOS: Scenario[] = [
  { name: 'no fault: the valid image verifies', expect: 'verified', check: (sim) => assert.equal(sim.stats.verifications, 1) },
  { name: 'busy NACKs (40 reads)', faults: { busyNacks: 40 }, expect: 'verified', recovers: true, check: (_s, st) => assert.ok(st.nacks >= 40) },
  { name: 'write NACKs within the retries (6)', faults: { writeNacks: 6 }, expect: 'verified', recovers: true },
  { name: 'write NACKs past the retries (40): se-nack, then recovers', faults: { writeNacks: 40 }, expect: 'se-nack', recovers: true },
  { name: 'WTX requests (10 extra)', faults: { wtx: 10 }, expect: 'verified', recovers: true, check: (_s, st) => assert.ok(st.wtx >= 11) },
  { name: 'WTX with multiplier 3', faults: { wtx: 2, wtxMultiplier: 3 }, expect: 'verified', recovers: true },
  { name: 'WTX past the bound: t1-wtx-limit, then recovers', options: { limits: { wtxMax: 20 } }, faults: { wtx: 30 }, expect: 't1-wtx-limit', recovers: true },
  { name: 'CRC error on the RESYNCH answer (S-request sent again)', faults: { crcErrors: 1 }, expect: 'verified', recovers: true, check: (_s, st) => assert.ok(st.retransmits >= 1) },
  { name: 'CRC error on the ECDSAVerify answer (R-NACK, SE resends)', warmUp: true, faults: { crcErrors: 1 }, expect: 'verified', recovers: true, check: (_s, st) => assert.ok(st.rNacksSent >= 1) },
  { name: 'CRC errors on 3 SE frames', faults: { crcErrors: 3 }, expect: 'verified', recovers: true },
  {
    name: 'CRC errors mid-session on 6 frames (forces a RESYNCH)',
    warmUp: true,
    faults: { crcErrors: 6 },
    expect: 'verified',
    recovers: true,
    check: (_s, st) => assert.ok(st.resyncs >= 2, `resyncs ${st.resyncs}`),
  },
  {
    name: 'CRC errors on every frame: typed error, then recovers',
    warmUp: true,
    faults: { crcErrors: 1000 },
    expect: 't1-resync-failed',
    recovers: true,
  },
  {
    name: 'chip reset mid-session: timeout, R-NACK, retransmit, reselect, correct verdict',
    warmUp: true,
    faults: { chipResetOnCommand: 1 },
    expect: 'verified',
    check: (sim) => assert.equal(sim.stats.chipResets, 1),
  },
  {
    name: 'chip reset mid-session with the other N(S): resync, resend, reselect, correct verdict',
    warmUp: true,
    prelude: 1,
    faults: { chipResetOnCommand: 1 },
    expect: 'verified',
    check: (sim, st) => {
      assert.equal(sim.stats.chipResets, 1);
      assert.ok(st.resyncs >= 2, `resyncs ${st.resyncs}`);
    },
  },
  {
    name: 'chip reset on a verification of a bad signature: still bad-signature',
    warmUp: true,
    faults: { chipResetOnCommand: 1 },
    args: (image) => {
      const s = image.signature.slice();
      s[s.length - 1] ^= 1;
      return { ...image, signature: s };
    },
    expect: 'bad-signature',
  },
  { name: 'missing key object: se-no-object', setup: (sim) => sim.remove(KEY_OBJECT), expect: 'se-no-object' },
  { name: 'key object holds another key: key-mismatch', setup: (sim) => sim.provision(KEY_OBJECT, otherKey()), expect: 'key-mismatch' },
  {
    name: 'truncated DER signature: signature-malformed, the SE is not asked',
    args: (image) => ({ ...image, signature: image.signature.subarray(0, image.signature.length - 1) }),
    expect: 'signature-malformed',
    check: (sim) => assert.equal(sim.stats.verifications, 0),
  },
  {
    name: 'well-formed but wrong signature (r and s swapped): bad-signature from the SE',
    args: (image) => {
      const s = image.signature;
      const rLen = s[3];
      const r = s.subarray(2, 4 + rLen);
      const sPart = s.subarray(4 + rLen);
      const swapped = new Uint8Array(s.length);
      swapped.set(s.subarray(0, 2));
      swapped.set(sPart, 2);
      swapped.set(r, 2 + sPart.length);
      return { ...image, signature: swapped };
    },
    expect: 'bad-signature',
  },
  { name: 'GetRandom(256): a chained answer (262 bytes > IFSD 254)', call: 'random', args: () => ({ length: 256 }), expect: 'value' },
];

function outcomeName(outcome: Outcome): string {
  return 'reason' in outcome ? outcome.reason : outcome.value === 'verified' ? 'verified' : 'value';
}

/** Runs one scenario on a fresh simulator (put on `bus`) and a fresh driver. */
export async function runScenario(runner: Runner, bus: SwitchableBus, time: VirtualTime, scenario: Scenario, image: ImageCase): Promise<void> {
  const sim = makeSim(time);
  bus.target = sim;
  await runner.reset(scenario.options ?? {});
  if (scenario.warmUp) {
    const warm = await runner.call('verify', image);
    assert.equal(outcomeName(warm), 'verified', 'warm-up verification');
  }
  for (let i = 0; i < (scenario.prelude ?? 0); i++) {
    const r = await runner.call('random', { length: 8 });
    assert.equal(outcomeName(r), 'value', 'prelude GetRandom');
  }
  scenario.setup?.(sim);
  Object.assign(sim.faults, scenario.faults);
  const outcome = await runner.call(scenario.call ?? 'verify', scenario.args ? scenario.args(image) : image);
  assert.equal(outcomeName(outcome), scenario.expect, 'reason' in outcome ? outcome.message : 'no error');
  if (scenario.call === 'random') assert.equal((outcome as { value: Uint8Array }).value.length, 256);
  const stats = (await runner.call('stats')) as { value: Record<string, number> };
  scenario.check?.(sim, stats.value);
  if (scenario.recovers) {
    sim.faults = { busyNacks: 0, writeNacks: 0, wtx: 0, crcErrors: 0, chipResetOnCommand: 0, wtxMultiplier: 1 };
    const again = await runner.call('verify', image);
    assert.equal(outcomeName(again), 'verified', `recovery: ${'reason' in again ? again.message : ''}`);
  }
}
