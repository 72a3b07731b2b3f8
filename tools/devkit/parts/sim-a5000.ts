/**
 * Simulated NXP A5000 on the dev kit's I2C bus at 0x48: the SE side of T=1-over-I2C (UM11225) and
 * the SE05x IoT-applet subset the agent uses, with a key store and real ECDSA P-256 verification.
 *
 * Like the part (README of the se05x vectors):
 *  - one host write carries one block; the SE streams its pending block across any number of
 *    reads and NACKs its address while it has nothing to send or is busy computing;
 *  - commands take time (virtual time, from the clock given), the ECDSA verification long enough
 *    that the SE first answers S(WTX) and NACKs until the result is ready;
 *  - CRC-16/X-25 on every frame, both ways: a bad host frame is answered R(CRC error), an R-NACK
 *    makes the SE send its last block again, a wrong N(S) is answered R(other error);
 *  - chaining both ways with IFSC/IFSD 254; S-blocks RESYNCH, IFS, WTX, INTERFACE SOFT RESET (ATR),
 *    GET ATR, END OF APDU SESSION, CHIP RESET, DEEP POWER DOWN.
 * Faults on demand (`faults`, counters that run down): busy NACKs, write NACKs, extra WTX
 * requests, corrupted CRCs on its frames, a chip reset instead of answering a command. A missing
 * key object is simply an object not provisioned (`remove`).
 *
 * Not established for the A5000 and chosen here (docs/provisioning-a5000.md lists them): the ATR
 * (the SE051 ATR from an NXP log), VersionInfo (the vectors' synthetic 7.2.0), command timings,
 * the answer with no applet selected (6D00), bytes read past the end of a block (0xFF).
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { I2cPort } from '../../../src/platform/i2c.js';
import { OtaError } from '../../../src/util/errors.js';
import { hex, unhex } from '../../../src/util/bytes.js';
import {
  NAD_HOST_TO_SE,
  NAD_SE_TO_HOST,
  R_CRC_ERROR,
  R_OK,
  R_OTHER_ERROR,
  S_ABORT,
  S_CHIP_RESET,
  S_DEEP_POWER_DOWN,
  S_END_OF_APDU_SESSION,
  S_GET_ATR,
  S_IFS,
  S_INTERFACE_SOFT_RESET,
  S_RESYNCH,
  S_WTX,
  T1_FRAME_MAX,
  T1_INF_MAX,
  T1FrameDecoder,
  blockKind,
  encodeFrame,
  iPcb,
  pcbMore,
  pcbNr,
  pcbNs,
  pcbRError,
  pcbSCommand,
  pcbSResponse,
  rPcb,
  sPcb,
} from '../../../src/se/t1-frame.js';
import { readTlv } from '../../../src/se/tlv.js';
import { p256Ecdh, p256KeyFromSeed, p256Point, p256PublicKey, p256SignDigest, p256VerifyDigest } from '../../node/p256.js';

export const SIM_A5000_ADDRESS = 0x48;
/** SE051 ATR printed in an NXP Plug&Trust log (no A5000 ATR was available): BWT 1000 ms, IFSC 254, MPOT 1 ms. */
export const SIM_A5000_ATR = unhex('01a0000003960403e800fe020b03e80001000000006413880a00655345303531000000');
/** VersionInfo of the vectors (synthetic): applet 7.2.0, AppletConfig 3FFF, SecureBox 010B. */
export const SIM_A5000_VERSION = unhex('0702003fff010b');
const APPLET_AID = unhex('a0000003965453000000010300000000');
/** The SE's command buffer: APDUs up to this size are accepted, longer chains answered 6700. */
const SIM_APDU_MAX = 2048;

export interface SimA5000Timing {
  /** Processing time of a simple command (ms). */
  commandMs: number;
  /** ECDSA P-256 verification time (ms; not published for the A5000). */
  verifyMs: number;
  /** GetRandom time (ms). */
  randomMs: number;
  /** When a command needs a WTX, the S(WTX) request is ready this soon (ms). */
  wtxAfterMs: number;
  /** Whether ECDSAVerify answers S(WTX) first (it is the SE's one slow command here). */
  verifyWtx: boolean;
  /** NACK time after a chip reset (the ATR's WUT, 5 ms). */
  bootMs: number;
}

export const SIM_A5000_TIMING: SimA5000Timing = { commandMs: 1, verifyMs: 80, randomMs: 2, wtxAfterMs: 1, verifyWtx: true, bootMs: 5 };
/**
 * ECDSASign, ECDH and key generation times (ms): the order of NXP's A5000 data sheet figures for
 * P-256 (sign and ECDH about half a verify, generation about a verify).
 */
export const SIM_A5000_KEY_TIMING = { signMs: 45, ecdhMs: 40, keyGenMs: 80 } as const;

export interface SimA5000Faults {
  /** NACK this many reads even when a block is ready (the SE busy). */
  busyNacks: number;
  /** NACK this many writes. */
  writeNacks: number;
  /** Precede the next command's answer by this many extra S(WTX) requests. */
  wtx: number;
  /** Corrupt the CRC of this many of the SE's next frames (the retransmission is clean). */
  crcErrors: number;
  /** Reset the chip on receiving this many next commands, instead of answering them. */
  chipResetOnCommand: number;
  /** WTX multiplier the SE asks for. */
  wtxMultiplier: number;
}

/**
 * A secure object. `ec-p256-keypair` is generated inside the simulated SE (WriteECKey without key
 * material) and its secret never leaves it: ReadObject answers the public point only, as the
 * SE05x does for a key pair (AN12413 ReadObject). `transient` objects (INS_WRITE | INS_TRANSIENT)
 * are gone after a chip reset or the end of the APDU session, and never reach the store file.
 */
export type SimKeyObject =
  | { type: 'ec-p256-public'; value: Uint8Array; transient?: boolean }
  | { type: 'binary'; value: Uint8Array }
  | { type: 'ec-p256-keypair'; value: Uint8Array; secret: Uint8Array; transient?: boolean };

export interface SimA5000Options {
  /** The simulation's time source (VirtualTime or its clock port). */
  clock: { now(): number };
  timing?: Partial<SimA5000Timing>;
  atr?: Uint8Array;
  version?: Uint8Array;
  /** Random bytes for GetRandom; default a seeded deterministic generator. */
  random?: (length: number) => Uint8Array;
  /** Key store to start with (see loadSimA5000Store). */
  objects?: Map<number, SimKeyObject>;
}

export interface SimA5000Stats {
  framesIn: number;
  framesOut: number;
  badFramesIn: number;
  readNacks: number;
  writeNacks: number;
  commands: number;
  verifications: number;
  /** ECDSASign, ECDHGenerateSharedSecret and key generations answered (A5000 operations per TLS handshake). */
  signatures: number;
  agreements: number;
  keyGenerations: number;
  chipResets: number;
  /** Data bytes of ACKed host writes (frames in) and ACKed host reads (frames out, padding included). */
  bytesIn: number;
  bytesOut: number;
}

interface Outgoing {
  frame: Uint8Array;
  readyAt: number;
  pos: number;
}

export class SimA5000 implements I2cPort {
  readonly address = SIM_A5000_ADDRESS;
  readonly objects: Map<number, SimKeyObject>;
  readonly timing: SimA5000Timing;
  faults: SimA5000Faults = { busyNacks: 0, writeNacks: 0, wtx: 0, crcErrors: 0, chipResetOnCommand: 0, wtxMultiplier: 1 };
  stats: SimA5000Stats = { framesIn: 0, framesOut: 0, badFramesIn: 0, readNacks: 0, writeNacks: 0, commands: 0, verifications: 0, signatures: 0, agreements: 0, keyGenerations: 0, chipResets: 0, bytesIn: 0, bytesOut: 0 };
  /** Every frame on the bus, both directions (hex), for tests and `--trace`. */
  trace: { dir: 'host->se' | 'se->host'; hex: string; at: number }[] = [];
  traceEnabled = false;

  #clock: { now(): number };
  #atr: Uint8Array;
  #version: Uint8Array;
  #random: (length: number) => Uint8Array;
  #decoder = new T1FrameDecoder(NAD_HOST_TO_SE);
  #out: Outgoing | undefined;
  #lastSent: Uint8Array | undefined;
  #busyUntil = 0;
  #resetAfterSend = false;
  // T=1 state
  #hostNs = 0;
  #seNs = 0;
  #command = new Uint8Array(SIM_APDU_MAX);
  #commandLength = 0;
  #commandOverflow = false;
  #response: Uint8Array | undefined;
  #responseOffset = 0;
  #ifsd = T1_INF_MAX;
  #wtxLeft = 0;
  #awaitingWtxResponse = false;
  #answerAt = 0;
  // Applet state
  #selected = false;
  #seed = 0x2545f491;

  constructor(options: SimA5000Options) {
    this.#clock = options.clock;
    this.timing = { ...SIM_A5000_TIMING, ...options.timing };
    this.#atr = options.atr ?? SIM_A5000_ATR;
    this.#version = options.version ?? SIM_A5000_VERSION;
    this.#random = options.random ?? ((n) => this.#prng(n));
    this.objects = options.objects ?? new Map();
  }

  /** Puts an uncompressed P-256 public key (04||X||Y) into `objectId`. */
  provision(objectId: number, publicKey: Uint8Array): void {
    if (!p256Point(publicKey)) throw new Error(`not a P-256 public point: ${hex(publicKey)}`);
    this.objects.set(objectId >>> 0, { type: 'ec-p256-public', value: publicKey.slice() });
  }

  remove(objectId: number): void {
    this.objects.delete(objectId >>> 0);
  }

  /** Whether the IoT applet is selected (lost on a chip reset). */
  get selected(): boolean {
    return this.#selected;
  }

  close(): void {}

  write(bytes: Uint8Array): boolean {
    const now = this.#clock.now();
    if (now < this.#busyUntil || this.faults.writeNacks > 0) {
      if (this.faults.writeNacks > 0 && now >= this.#busyUntil) this.faults.writeNacks--;
      this.stats.writeNacks++;
      return false;
    }
    if (this.traceEnabled) this.trace.push({ dir: 'host->se', hex: hex(bytes), at: now });
    // A new host block ends whatever the SE had left to send.
    this.#out = undefined;
    this.stats.framesIn++;
    this.stats.bytesIn += bytes.length;
    const decoder = this.#decoder;
    decoder.reset();
    const used = decoder.push(bytes);
    if (decoder.status !== 'ok' || used !== bytes.length) {
      this.stats.badFramesIn++;
      this.#sendControl(rPcb(this.#hostNs, decoder.status === 'bad-crc' ? R_CRC_ERROR : R_OTHER_ERROR), now + 1);
      return true;
    }
    const pcb = decoder.pcb;
    switch (blockKind(pcb)) {
      case 'I':
        this.#onIBlock(pcb, decoder.inf, now);
        break;
      case 'R':
        this.#onRBlock(pcb, now);
        break;
      case 'S':
        this.#onSBlock(pcb, decoder.inf, now);
        break;
    }
    return true;
  }

  read(into: Uint8Array): boolean {
    const now = this.#clock.now();
    const out = this.#out;
    if (now < this.#busyUntil || !out || now < out.readyAt) {
      this.stats.readNacks++;
      return false;
    }
    if (this.faults.busyNacks > 0) {
      this.faults.busyNacks--;
      this.stats.readNacks++;
      return false;
    }
    this.stats.bytesOut += into.length;
    for (let i = 0; i < into.length; i++) into[i] = out.pos + i < out.frame.length ? out.frame[out.pos + i] : 0xff;
    out.pos += into.length;
    if (out.pos >= out.frame.length) {
      this.#out = undefined;
      if (this.#resetAfterSend) this.#chipReset(now);
    }
    return true;
  }

  // --- T=1, SE side -------------------------------------------------------------------------

  #queue(frame: Uint8Array, readyAt: number): void {
    this.#lastSent = frame;
    let wire = frame;
    if (this.faults.crcErrors > 0) {
      this.faults.crcErrors--;
      wire = frame.slice();
      wire[wire.length - 1] ^= 0x5a;
    }
    this.stats.framesOut++;
    if (this.traceEnabled) this.trace.push({ dir: 'se->host', hex: hex(wire), at: readyAt });
    this.#out = { frame: wire, readyAt, pos: 0 };
  }

  #frame(pcb: number, inf?: Uint8Array): Uint8Array {
    const buffer = new Uint8Array(T1_FRAME_MAX);
    return buffer.slice(0, encodeFrame(buffer, NAD_SE_TO_HOST, pcb, inf));
  }

  #sendControl(pcb: number, readyAt: number, inf?: Uint8Array): void {
    this.#queue(this.#frame(pcb, inf), readyAt);
  }

  #restartT1(): void {
    this.#hostNs = 0;
    this.#seNs = 0;
    this.#commandLength = 0;
    this.#commandOverflow = false;
    this.#response = undefined;
    this.#awaitingWtxResponse = false;
    this.#lastSent = undefined;
  }

  #chipReset(now: number): void {
    this.stats.chipResets++;
    this.#resetAfterSend = false;
    this.#restartT1();
    this.#out = undefined;
    this.#selected = false;
    this.#dropTransient();
    this.#ifsd = T1_INF_MAX;
    this.#busyUntil = now + this.timing.bootMs;
  }

  /** Transient objects live in RAM: a reset or the end of the session clears them. */
  #dropTransient(): void {
    for (const [id, object] of this.objects) if (object.type !== 'binary' && object.transient) this.objects.delete(id);
  }

  /**
   * The public point of a key pair generated in the SE (for tests and `xs-ota se show`); the
   * secret is never returned by any method or command.
   */
  publicKeyOf(objectId: number): Uint8Array | undefined {
    const object = this.objects.get(objectId >>> 0);
    return object && object.type !== 'binary' ? object.value.slice() : undefined;
  }

  /**
   * For the dev kit's TLS observer (tools/devkit/parts/tls13-observer.ts), a test instrument that
   * reads the device's own connections: the ECDH this SE would answer for the key pair whose public
   * point is `ownPublic`, bound at the call (a transient pair may be deleted before the peer's share
   * is known). No command reaches it; the device never sees it.
   */
  ecdhFor(ownPublic: Uint8Array): ((peer: Uint8Array) => Uint8Array) | undefined {
    for (const object of this.objects.values()) {
      if (object.type !== 'ec-p256-keypair' || object.value.length !== ownPublic.length || !object.value.every((b, i) => b === ownPublic[i])) continue;
      const secret = object.secret.slice();
      return (peer) => p256Ecdh(secret, peer);
    }
    return undefined;
  }

  #onIBlock(pcb: number, inf: Uint8Array, now: number): void {
    if (pcbNs(pcb) !== this.#hostNs || this.#response !== undefined || this.#awaitingWtxResponse) {
      this.#sendControl(rPcb(this.#hostNs, R_OTHER_ERROR), now + 1);
      return;
    }
    this.#hostNs ^= 1;
    if (this.#commandLength + inf.length > this.#command.length) this.#commandOverflow = true;
    else this.#command.set(inf, this.#commandLength);
    this.#commandLength += inf.length;
    if (pcbMore(pcb)) {
      this.#sendControl(rPcb(this.#hostNs, R_OK), now + 1);
      return;
    }
    const length = this.#commandLength;
    this.#commandLength = 0;
    if (this.faults.chipResetOnCommand > 0) {
      // The SE resets while working on the command: it is lost, the host hears nothing.
      this.faults.chipResetOnCommand--;
      this.#chipReset(now);
      return;
    }
    this.stats.commands++;
    const overflow = this.#commandOverflow;
    this.#commandOverflow = false;
    const { response, ms, slow } = overflow ? { response: sw(0x6700), ms: this.timing.commandMs, slow: false } : this.#process(this.#command.subarray(0, length));
    this.#response = response;
    this.#responseOffset = 0;
    this.#answerAt = now + ms;
    this.#wtxLeft = this.faults.wtx + (slow && this.timing.verifyWtx ? 1 : 0);
    this.faults.wtx = 0;
    this.#busyUntil = now + Math.min(ms, this.timing.wtxAfterMs);
    this.#next(now);
  }

  /** Sends the next thing of the current answer: a WTX request or the next I-block. */
  #next(now: number): void {
    if (this.#wtxLeft > 0) {
      this.#wtxLeft--;
      this.#awaitingWtxResponse = true;
      this.#sendControl(sPcb(S_WTX, false), Math.max(now + this.timing.wtxAfterMs, this.#busyUntil), new Uint8Array([this.faults.wtxMultiplier]));
      return;
    }
    const response = this.#response;
    if (!response) return;
    const start = this.#responseOffset;
    const end = Math.min(response.length, start + this.#ifsd);
    const more = end < response.length;
    const readyAt = Math.max(now + 1, this.#answerAt);
    // Busy (NACKing everything) until the answer exists.
    this.#busyUntil = Math.max(this.#busyUntil, this.#answerAt);
    this.#queue(this.#frame(iPcb(this.#seNs, more), response.subarray(start, end)), readyAt);
    this.#seNs ^= 1;
    this.#responseOffset = end;
    if (!more) this.#response = undefined;
  }

  #onRBlock(pcb: number, now: number): void {
    if (this.#response !== undefined && pcbNr(pcb) === this.#seNs && pcbRError(pcb) === R_OK && !this.#awaitingWtxResponse) {
      // The host acknowledged our chained block.
      this.#next(now);
      return;
    }
    if (this.#lastSent) {
      // R-NACK (or an R-block asking for our last block): send it again.
      this.#queue(this.#lastSent, now + 1);
      return;
    }
    this.#sendControl(rPcb(this.#hostNs, R_OTHER_ERROR), now + 1);
  }

  #onSBlock(pcb: number, inf: Uint8Array, now: number): void {
    const command = pcbSCommand(pcb);
    if (pcbSResponse(pcb)) {
      if (command === S_WTX && this.#awaitingWtxResponse) {
        this.#awaitingWtxResponse = false;
        this.#next(now);
        return;
      }
      this.#sendControl(rPcb(this.#hostNs, R_OTHER_ERROR), now + 1);
      return;
    }
    const reply = (data?: Uint8Array): void => this.#sendControl(sPcb(command, true), now + this.timing.commandMs, data);
    switch (command) {
      case S_RESYNCH:
        this.#restartT1();
        reply();
        return;
      case S_IFS:
        if (inf.length === 1 && inf[0] > 0 && inf[0] <= T1_INF_MAX) this.#ifsd = inf[0];
        reply(inf);
        return;
      case S_ABORT:
        this.#restartT1();
        reply();
        return;
      case S_GET_ATR:
        reply(this.#atr);
        return;
      case S_INTERFACE_SOFT_RESET:
        this.#restartT1();
        this.#ifsd = T1_INF_MAX;
        reply(this.#atr);
        return;
      case S_END_OF_APDU_SESSION:
        this.#selected = false;
        this.#dropTransient();
        reply();
        return;
      case S_CHIP_RESET:
        reply();
        this.#resetAfterSend = true;
        return;
      case S_DEEP_POWER_DOWN:
        reply();
        return;
      default:
        this.#sendControl(rPcb(this.#hostNs, R_OTHER_ERROR), now + 1);
    }
  }

  // --- SE05x applet subset ------------------------------------------------------------------

  #process(apdu: Uint8Array): { response: Uint8Array; ms: number; slow: boolean } {
    const quick = (response: Uint8Array) => ({ response, ms: this.timing.commandMs, slow: false });
    const parsed = parseCommand(apdu);
    if (!parsed) return quick(sw(0x6700));
    const { cla, ins, p1, p2, data } = parsed;
    if (cla === 0x00 && ins === 0xa4 && p1 === 0x04) {
      if (data.length !== APPLET_AID.length || hex(data) !== hex(APPLET_AID)) return quick(sw(0x6a82));
      this.#selected = true;
      return quick(withSw(this.#version));
    }
    if (cla !== 0x80) return quick(sw(0x6e00));
    // No applet selected: the card manager knows no SE05x instruction.
    if (!this.#selected) return quick(sw(0x6d00));
    let tlvs: Map<number, Uint8Array>;
    try {
      tlvs = parseTlvs(data);
    } catch {
      return quick(sw(0x6a80));
    }
    const objectId = (): number | undefined => {
      const id = tlvs.get(0x41);
      return id && id.length === 4 ? ((id[0] << 24) | (id[1] << 16) | (id[2] << 8) | id[3]) >>> 0 : undefined;
    };
    if (ins === 0x04 && p1 === 0x00 && p2 === 0x20) return quick(tlv41(this.#version));
    if (ins === 0x04 && p1 === 0x00 && p2 === 0x27) {
      const id = objectId();
      if (id === undefined) return quick(sw(0x6a80));
      return quick(tlv41(new Uint8Array([this.objects.has(id) ? 0x01 : 0x02])));
    }
    if (ins === 0x04 && p1 === 0x00 && p2 === 0x49) {
      const size = tlvs.get(0x41);
      if (!size || size.length !== 2) return quick(sw(0x6a80));
      const n = (size[0] << 8) | size[1];
      if (n === 0 || n > 0x200) return quick(sw(0x6a80));
      return { response: tlv41(this.#random(n)), ms: this.timing.randomMs, slow: false };
    }
    if (ins === 0x02 && p1 === 0x00 && p2 === 0x00) {
      const id = objectId();
      if (id === undefined) return quick(sw(0x6a80));
      const object = this.objects.get(id);
      // Absent objects and (here never stored) private parts answer "conditions not satisfied".
      if (!object) return quick(sw(0x6985));
      // Se05x_API_ReadObject (Plug&Trust se05x_APDU.c): optional TAG_2 offset u16, TAG_3 length u16;
      // a range past the object's end is "wrong data" (6A80).
      const offsetTag = tlvs.get(0x42);
      const lengthTag = tlvs.get(0x43);
      if (offsetTag || lengthTag) {
        const u16 = (b: Uint8Array | undefined, fallback: number): number | undefined =>
          b === undefined ? fallback : b.length === 2 ? (b[0] << 8) | b[1] : undefined;
        const offset = u16(offsetTag, 0);
        const length = u16(lengthTag, object.value.length - (offset ?? 0));
        if (offset === undefined || length === undefined || offset + length > object.value.length) return quick(sw(0x6a80));
        return quick(tlv41(object.value.subarray(offset, offset + length)));
      }
      return quick(tlv41(object.value));
    }
    // Se05x_API_ReadSize: 80 02 00 07, TAG_1 id → TAG_1 the size as u16.
    if (ins === 0x02 && p1 === 0x00 && p2 === 0x07) {
      const id = objectId();
      if (id === undefined) return quick(sw(0x6a80));
      const object = this.objects.get(id);
      if (!object) return quick(sw(0x6985));
      const n = object.value.length;
      return quick(tlv41(new Uint8Array([n >> 8, n & 0xff])));
    }
    if (ins === 0x03 && p1 === 0x0c && p2 === 0x0a) {
      const id = objectId();
      const algorithm = tlvs.get(0x42);
      const digest = tlvs.get(0x43);
      const signature = tlvs.get(0x45);
      if (id === undefined || !algorithm || !digest || !signature) return quick(sw(0x6a80));
      const object = this.objects.get(id);
      if (!object || object.type === 'binary') return quick(sw(0x6985));
      if (algorithm.length !== 1 || algorithm[0] !== 0x21 || digest.length !== 32) return quick(sw(0x6a80));
      this.stats.verifications++;
      // A malformed DER signature is "invalid" (41 01 02, SW 9000), as NXP's corr_sig test expects.
      const valid = p256VerifyDigest(object.value, digest, signature);
      return { response: tlv41(new Uint8Array([valid ? 0x01 : 0x02])), ms: this.timing.verifyMs, slow: true };
    }
    // WriteECKey (nano se05x_APDU_impl.c Se05x_API_WriteECKey): INS_WRITE [| INS_TRANSIENT],
    // P1 = P1_EC | P1_KEY_PAIR, TAG_1 object id, TAG_2 curve (NIST_P256 = 0x03), no TAG_3/TAG_4:
    // the SE generates the pair. Importing key material is not simulated (6A80).
    if ((ins & 0x1f) === 0x01 && p1 === 0x61 && p2 === 0x00) {
      const id = objectId();
      const curve = tlvs.get(0x42);
      if (id === undefined || !curve || curve.length !== 1) return quick(sw(0x6a80));
      if (curve[0] !== 0x03) return quick(sw(0x6a80));
      if (tlvs.has(0x43) || tlvs.has(0x44)) return quick(sw(0x6a80));
      const existing = this.objects.get(id);
      if (existing && existing.type !== 'ec-p256-keypair') return quick(sw(0x6985));
      const pair = p256KeyFromSeed(this.#random(48));
      this.objects.set(id, { type: 'ec-p256-keypair', value: pair.publicKey, secret: pair.secretKey, transient: (ins & 0x80) !== 0 });
      this.stats.keyGenerations++;
      return { response: sw(0x9000), ms: SIM_A5000_KEY_TIMING.keyGenMs, slow: true };
    }
    // WriteECKey public (P1_EC | P1_PUBLIC): TAG_1 id, TAG_2 curve, TAG_4 the point. A new object
    // only (writing over one is not simulated: 6985).
    if ((ins & 0x1f) === 0x01 && p1 === 0x21 && p2 === 0x00) {
      const id = objectId();
      const curve = tlvs.get(0x42);
      const point = tlvs.get(0x44);
      if (id === undefined || !curve || curve.length !== 1 || curve[0] !== 0x03 || !point || !p256Point(point)) return quick(sw(0x6a80));
      if (this.objects.has(id)) return quick(sw(0x6985));
      this.objects.set(id, { type: 'ec-p256-public', value: point.slice(), ...((ins & 0x80) !== 0 ? { transient: true } : {}) });
      return quick(sw(0x9000));
    }
    // ECDSASign (Se05x_API_ECDSASign): 80 03 0C 09, TAG_1 id, TAG_2 ECSignatureAlgo, TAG_3 the
    // digest (SIG_ECDSA_SHA_256: the host hashed) → TAG_1 DER signature.
    if (ins === 0x03 && p1 === 0x0c && p2 === 0x09) {
      const id = objectId();
      const algorithm = tlvs.get(0x42);
      const digest = tlvs.get(0x43);
      if (id === undefined || !algorithm || !digest) return quick(sw(0x6a80));
      const object = this.objects.get(id);
      if (!object || object.type !== 'ec-p256-keypair') return quick(sw(0x6985));
      if (algorithm.length !== 1 || algorithm[0] !== 0x21 || digest.length !== 32) return quick(sw(0x6a80));
      this.stats.signatures++;
      return { response: tlv41(p256SignDigest(object.secret, digest)), ms: SIM_A5000_KEY_TIMING.signMs, slow: true };
    }
    // ECDHGenerateSharedSecret (Se05x_API_ECDHGenerateSharedSecret): 80 03 01 0F, TAG_1 id,
    // TAG_2 the peer's uncompressed point → TAG_1 the shared x coordinate.
    if (ins === 0x03 && p1 === 0x01 && p2 === 0x0f) {
      const id = objectId();
      const peer = tlvs.get(0x42);
      if (id === undefined || !peer) return quick(sw(0x6a80));
      const object = this.objects.get(id);
      if (!object || object.type !== 'ec-p256-keypair') return quick(sw(0x6985));
      if (!p256Point(peer)) return quick(sw(0x6a80));
      this.stats.agreements++;
      return { response: tlv41(p256Ecdh(object.secret, peer)), ms: SIM_A5000_KEY_TIMING.ecdhMs, slow: true };
    }
    // DeleteSecureObject (Se05x_API_DeleteSecureObject): 80 04 00 28, TAG_1 id.
    if (ins === 0x04 && p1 === 0x00 && p2 === 0x28) {
      const id = objectId();
      if (id === undefined) return quick(sw(0x6a80));
      if (!this.objects.delete(id)) return quick(sw(0x6985));
      return quick(sw(0x9000));
    }
    if (ins === 0x01 && p1 === 0x06) {
      const id = objectId();
      const value = tlvs.get(0x44);
      if (id === undefined || !value) return quick(sw(0x6a80));
      // Se05x_API_WriteBinary (NXPPlugNTrust/nano-package lib/apdu/se05x_APDU_impl.c): TAG_2 offset
      // u16, TAG_3 the total length u16 (on creation), both optional (absent when 0). With
      // neither, the whole object is the data (a single-shot write).
      const offsetTag = tlvs.get(0x42);
      const lengthTag = tlvs.get(0x43);
      if (!offsetTag && !lengthTag) {
        this.objects.set(id, { type: 'binary', value: value.slice() });
        return quick(sw(0x9000));
      }
      if ((offsetTag && offsetTag.length !== 2) || (lengthTag && lengthTag.length !== 2)) return quick(sw(0x6a80));
      const offset = offsetTag ? (offsetTag[0] << 8) | offsetTag[1] : 0;
      let object = this.objects.get(id);
      if (lengthTag) {
        const total = (lengthTag[0] << 8) | lengthTag[1];
        if (total === 0 || (object && object.type !== 'binary')) return quick(sw(0x6a80));
        object = { type: 'binary', value: new Uint8Array(total) };
        this.objects.set(id, object);
      }
      if (!object || object.type !== 'binary' || offset + value.length > object.value.length) return quick(sw(0x6a80));
      object.value.set(value, offset);
      return quick(sw(0x9000));
    }
    return quick(sw(0x6d00));
  }

  /** xorshift32: deterministic "random" bytes, so simulated runs repeat. */
  #prng(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      let x = this.#seed;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      this.#seed = x >>> 0;
      out[i] = this.#seed & 0xff;
    }
    return out;
  }
}

function sw(value: number): Uint8Array {
  return new Uint8Array([value >> 8, value & 0xff]);
}

function withSw(data: Uint8Array, status = 0x9000): Uint8Array {
  const out = new Uint8Array(data.length + 2);
  out.set(data);
  out.set(sw(status), data.length);
  return out;
}

function tlv41(value: Uint8Array): Uint8Array {
  const n = value.length;
  const header = n <= 0x7f ? [0x41, n] : n <= 0xff ? [0x41, 0x81, n] : [0x41, 0x82, n >> 8, n & 0xff];
  const out = new Uint8Array(header.length + n + 2);
  out.set(header);
  out.set(value, header.length);
  out.set(sw(0x9000), header.length + n);
  return out;
}

function parseTlvs(data: Uint8Array): Map<number, Uint8Array> {
  const tlvs = new Map<number, Uint8Array>();
  for (let at = 0; at < data.length; ) {
    const tlv = readTlv(data, at);
    tlvs.set(tlv.tag, data.subarray(tlv.start, tlv.end));
    at = tlv.end;
  }
  return tlvs;
}

/** ISO 7816-4 C-APDU cases 1, 2S/E, 3S/E, 4S/E; undefined when the lengths do not add up. */
function parseCommand(apdu: Uint8Array): { cla: number; ins: number; p1: number; p2: number; data: Uint8Array } | undefined {
  if (apdu.length < 4) return undefined;
  const [cla, ins, p1, p2] = apdu;
  const header = { cla, ins, p1, p2 };
  const rest = apdu.length - 4;
  if (rest === 0 || rest === 1) return { ...header, data: new Uint8Array(0) };
  if (apdu[4] !== 0) {
    const lc = apdu[4];
    if (rest !== 1 + lc && rest !== 2 + lc) return undefined;
    return { ...header, data: apdu.subarray(5, 5 + lc) };
  }
  if (rest === 3) return { ...header, data: new Uint8Array(0) }; // case 2E
  const lc = (apdu[5] << 8) | apdu[6];
  if (lc === 0 || (rest !== 3 + lc && rest !== 5 + lc)) return undefined;
  return { ...header, data: apdu.subarray(7, 7 + lc) };
}

/**
 * The dev kit's A5000: a simulator on `clock` with the key store of `store` (written by
 * `xs-ota se provision`; default .xs-ota/a5000.json, empty when absent).
 */
export function devkitA5000(clock: { now(): number }, store = SIM_A5000_DEFAULT_STORE): SimA5000 {
  return new SimA5000({ clock, objects: loadSimA5000Store(store) });
}

// --- Key store file (what `xs-ota se provision` writes and the dev kit loads) ----------------

export const SIM_A5000_STORE_FORMAT = 'xs-ota-sim-a5000/1';
/** Where `xs-ota se provision` writes and the dev kit reads the key store by default. */
export const SIM_A5000_DEFAULT_STORE = '.xs-ota/a5000.json';

interface StoreFile {
  format: string;
  /** `secret`: the simulated chip's non-volatile memory for a generated key pair (never read out over I2C). */
  objects: Record<string, { type: SimKeyObject['type']; value: string; secret?: string }>;
}

export function objectIdText(id: number): string {
  return `0x${(id >>> 0).toString(16).padStart(8, '0').toUpperCase()}`;
}

/** Reads a key store file; a missing file is an empty store. */
export function loadSimA5000Store(file: string): Map<number, SimKeyObject> {
  const objects = new Map<number, SimKeyObject>();
  if (!existsSync(file)) return objects;
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as StoreFile;
  if (parsed.format !== SIM_A5000_STORE_FORMAT) throw new OtaError('config-invalid', `${file}: format ${String(parsed.format)}, expected ${SIM_A5000_STORE_FORMAT}`);
  for (const [key, object] of Object.entries(parsed.objects ?? {})) {
    const id = Number(key);
    if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) throw new OtaError('config-invalid', `${file}: object id ${key}`);
    if (object.type !== 'ec-p256-public' && object.type !== 'binary' && object.type !== 'ec-p256-keypair') throw new OtaError('config-invalid', `${file}: object ${key} type ${String(object.type)}`);
    const value = unhex(object.value);
    if (object.type !== 'binary' && !p256Point(value)) throw new OtaError('config-invalid', `${file}: object ${key} is not a P-256 point`);
    if (object.type === 'ec-p256-keypair') {
      const secret = unhex(object.secret ?? '');
      if (secret.length !== 32 || hex(p256PublicKey(secret)) !== hex(value)) throw new OtaError('config-invalid', `${file}: key pair ${key} does not match its public point`);
      objects.set(id, { type: object.type, value, secret });
    } else objects.set(id, { type: object.type, value });
  }
  return objects;
}

/** Writes a key store file atomically (temp file + rename). */
export function saveSimA5000Store(file: string, objects: Map<number, SimKeyObject>): void {
  const out: StoreFile = { format: SIM_A5000_STORE_FORMAT, objects: {} };
  for (const [id, object] of [...objects].sort((a, b) => a[0] - b[0])) {
    if (object.type !== 'binary' && object.transient) continue;
    if (object.type === 'ec-p256-keypair') out.objects[objectIdText(id)] = { type: object.type, value: hex(object.value), secret: hex(object.secret) };
    else out.objects[objectIdText(id)] = { type: object.type, value: hex(object.value) };
  }
  writeFileSync(`${file}.tmp`, `${JSON.stringify(out, null, 1)}\n`);
  renameSync(`${file}.tmp`, file);
}
