/**
 * The SE05x / T=1-over-I2C vectors (NXP nano-package host bytes, scripted SE answers) and a
 * scripted I2C target that replays them: it checks every host write against the recorded host
 * frame and serves the recorded SE frame across whatever reads the host makes.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { I2cPort } from '../../src/platform/i2c.js';
import { hex, unhex } from '../../src/util/bytes.js';
import { NAD_HOST_TO_SE, S_WTX, encodeFrame, sPcb } from '../../src/se/t1-frame.js';
import { vectorDir } from './paths.js';

export const SE05X_VECTOR_ENV = 'XS_OTA_VECTORS_SE05X';

export interface VectorFrame {
  dir: 'host->se' | 'se->host';
  hex: string;
  block: 'I' | 'R' | 'S';
  s_type?: string;
  crc_ok: boolean;
  wtx_multiplier?: number;
}

export interface I2cOp {
  op: string;
  hex?: string;
  len?: number;
  nack?: boolean;
  why?: string;
  ms?: number;
}

export interface SeVector {
  id: string;
  title: string;
  t1_state_before: { host_next_ns: number; se_next_ns: number };
  api_call: Record<string, string | number>;
  apdu?: { command: { hex: string }; response: { hex: string } };
  crypto_check?: { public_key_uncompressed: string; digest_sha256: string; signature_verifies_with_host_crypto: boolean };
  t1_frames: VectorFrame[];
  i2c_ops: I2cOp[];
  notes: string[];
}

export interface SeVectorFile {
  fixtures: {
    ec_p256_public_key_uncompressed: string;
    ec_p256_public_key_spki_der: string;
    digest_sha256: string;
    signature_der_valid_71: string;
  };
  vectors: SeVector[];
}

export function se05xDir(): string {
  return vectorDir(SE05X_VECTOR_ENV, 'se05x');
}

export function loadSeVectors(file: 'se05x_session_vectors.json' | 't1oi2c_sblock_vectors.json'): SeVectorFile {
  return JSON.parse(readFileSync(path.join(se05xDir(), file), 'utf8')) as SeVectorFile;
}

export function loadSeJson<T>(file: string): T {
  return JSON.parse(readFileSync(path.join(se05xDir(), file), 'utf8')) as T;
}

/** One host frame and the SE frame that answered it. */
export interface ScriptStep {
  host: string;
  /** Other host frames accepted here (the README's allowed differences, e.g. the WTX answer INF). */
  alternatives?: string[];
  se: string;
  /** Reads NACKed before the answer is served (the busy-SE vector). */
  nacksBefore?: number;
}

/** Pairs each host->se frame of a vector with the se->host frame after it. */
export function scriptOf(vector: SeVector): ScriptStep[] {
  const steps: ScriptStep[] = [];
  const frames = vector.t1_frames;
  for (let i = 0; i < frames.length; i += 2) {
    if (frames[i].dir !== 'host->se' || frames[i + 1]?.dir !== 'se->host') throw new Error(`${vector.id}: frames are not host/SE pairs at ${i}`);
    const step: ScriptStep = { host: frames[i].hex, se: frames[i + 1].hex };
    if (frames[i].s_type === 'WTX_RSP' && i > 0 && frames[i - 1].s_type === 'WTX_REQ') {
      // Allowed difference: nano answers WTX with INF 0x01 whatever was asked; ISO 7816-3 echoes
      // the requested multiplier. Both are accepted.
      const requested = unhex(frames[i - 1].hex)[3];
      const echo = new Uint8Array(6);
      encodeFrame(echo, NAD_HOST_TO_SE, sPcb(S_WTX, true), new Uint8Array([requested]));
      step.alternatives = [hex(echo)];
    }
    steps.push(step);
  }
  // Busy polls recorded before an answer: NACKed 2-byte header reads after the write.
  let step = -1;
  let nacks = 0;
  for (const op of vector.i2c_ops) {
    if (op.op === 'write') {
      if (step >= 0 && nacks > 0) steps[step].nacksBefore = nacks;
      step++;
      nacks = 0;
    } else if (op.op === 'read' && op.nack && op.why === 'SE busy') nacks++;
  }
  if (step >= 0 && nacks > 0 && steps[step]) steps[step].nacksBefore = nacks;
  return steps;
}

/**
 * An I2C target that plays a script: each write must equal the next step's host frame (else it
 * records a mismatch and throws, failing the exchange); the step's SE frame is then served over
 * any reads, after its NACKs. Reads with nothing to serve are NACKed.
 */
export class ScriptedSe implements I2cPort {
  readonly address = 0x48;
  readonly written: string[] = [];
  mismatch: string | undefined;
  #steps: ScriptStep[];
  #next = 0;
  #out: Uint8Array | undefined;
  #pos = 0;
  #nacks = 0;
  readNacks = 0;

  constructor(steps: ScriptStep[]) {
    this.#steps = steps;
  }

  get done(): boolean {
    return this.#next === this.#steps.length && this.#out === undefined;
  }

  write(bytes: Uint8Array): boolean {
    const got = hex(bytes);
    this.written.push(got);
    const step = this.#steps[this.#next];
    if (!step || (step.host !== got && !step.alternatives?.includes(got))) {
      this.mismatch ??= `write #${this.written.length}: host sent ${got}, vector has ${step?.host ?? '(nothing more)'}`;
      throw new Error(this.mismatch);
    }
    this.#next++;
    this.#out = unhex(step.se);
    this.#pos = 0;
    this.#nacks = step.nacksBefore ?? 0;
    return true;
  }

  read(into: Uint8Array): boolean {
    if (!this.#out || this.#nacks > 0) {
      if (this.#nacks > 0) this.#nacks--;
      this.readNacks++;
      return false;
    }
    for (let i = 0; i < into.length; i++) into[i] = this.#out[this.#pos + i] ?? 0;
    this.#pos += into.length;
    if (this.#pos >= this.#out.length) this.#out = undefined;
    return true;
  }

  close(): void {}
}
