/**
 * The T=1-over-I2C protocol engine (NXP UM11225) on the I2C and clock ports: the host side of the
 * link to the A5000 at 0x48. `transceive(apdu)` sends one C-APDU and returns its R-APDU, handling
 * on the way:
 *  - chaining in both directions (I-blocks of at most IFSC bytes with the M bit, each acknowledged
 *    by R(N(R) = N(S) xor 1));
 *  - the SE's flow control: it NACKs its address while busy, so reads are polled every MPOT ms
 *    (backing off) until the block waiting time BWT runs out, writes retried a bounded number of times;
 *  - S(WTX) requests, each answered, each extending the next wait to BWT × multiplier, bounded;
 *  - errors: a bad CRC, bad NAD/LEN or no answer → R(N(R), CRC error), as nano does; a wrong N(S) →
 *    R(N(R), other error); an R-block asking for it → retransmission. Past `blockRetries` the link
 *    resynchronises (S(RESYNCH), falling back to S(INTERFACE SOFT RESET)) and sends the whole APDU
 *    again, at most `resyncMax` times. Every command this agent sends is idempotent, so resending
 *    after a resync is safe; `epoch` counts these recoveries so the APDU layer can reselect the
 *    applet when the SE may have lost it.
 * Timing (BWT, MPOT, SEGT) and the send block size (IFSC) come from the ATR read at `open()`.
 */
import { startAsJob } from '../util/stack.js';
import type { ClockPort } from '../platform/clock.js';
import type { I2cPort } from '../platform/i2c.js';
import { hex } from '../util/bytes.js';
import { OtaError, type CommonReason } from '../util/errors.js';
import type { SeReason } from './reasons.js';
import { parseAtr, type Atr } from './atr.js';
import {
  NAD_HOST_TO_SE,
  NAD_SE_TO_HOST,
  R_CRC_ERROR,
  R_OK,
  R_OTHER_ERROR,
  S_CHIP_RESET,
  S_DEEP_POWER_DOWN,
  S_END_OF_APDU_SESSION,
  S_GET_ATR,
  S_IFS,
  S_INTERFACE_SOFT_RESET,
  S_RESYNCH,
  S_WTX,
  T1_FRAME_MAX,
  T1_HEADER_LENGTH,
  T1FrameDecoder,
  type FrameStatus,
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
} from './t1-frame.js';

export interface T1Limits {
  /** Retries of a write whose address the SE NACKs (nano MAX_RETRY_COUNT = 8); then se-nack. */
  writeRetries: number;
  /**
   * Bad frames, missing answers or retransmission requests tolerated per block before the link
   * resynchronises (nano allows 2 R-NACKs and 10 recoveries; 3 keeps a noisy bus working and a
   * dead one failing fast).
   */
  blockRetries: number;
  /** Whole-APDU retries after a RESYNCH; then the last failure's reason is thrown. */
  resyncMax: number;
  /**
   * S(WTX) requests answered per APDU (nano: 500). At the SE05x's BWT of 1 s, 100 is more than
   * 100 s of extension, far beyond any command this agent sends; then t1-wtx-limit.
   */
  wtxMax: number;
  /**
   * R-APDU buffer (nano MAX_APDU_BUFFER = 512): the largest answer we ask for is a 65-byte public
   * key. A longer chained answer is dropped, the link resynchronised, and limit-exceeded thrown.
   */
  responseMax: number;
  /** The read poll interval starts at MPOT and doubles every 16 NACKs up to this (ms). */
  pollIntervalMaxMs: number;
  /** Wait before the first frame after power-up (nano WAKE_UP_DELAY_MS = 5). */
  wakeUpMs: number;
  /**
   * Longest single wait for a block, whatever BWT × WTX multiplier says (BWT up to 60 s times a
   * multiplier up to 255 would be hours): a broken SE cannot stall the agent; t1-timeout instead.
   */
  waitMaxMs: number;
}

export const T1_LIMITS: T1Limits = {
  writeRetries: 8,
  blockRetries: 3,
  resyncMax: 2,
  wtxMax: 100,
  responseMax: 512,
  pollIntervalMaxMs: 16,
  wakeUpMs: 5,
  waitMaxMs: 120_000,
};

/**
 * What the link assumes before it has read the ATR: the values every SE05x ATR seen carries
 * (BWT 1000 ms, IFSC 254, MPOT 1 ms, SEGT 100 µs, WUT 5000 µs). Replaced at `open()`.
 */
export const T1_PRE_ATR = { bwtMs: 1000, ifsc: 254, mpotMs: 1, segtUs: 100, wutUs: 5000 };

/** Deterministic traffic figures (the bench reports them; no wall clock involved). */
export interface T1Stats {
  /** Write transactions ACKed, and the data bytes they carried. */
  writes: number;
  bytesWritten: number;
  /** Read transactions ACKed, and the data bytes they returned. */
  reads: number;
  bytesRead: number;
  /** Transactions whose address the SE NACKed (busy polls and write retries). */
  nacks: number;
  wtx: number;
  retransmits: number;
  rNacksSent: number;
  resyncs: number;
  softResets: number;
}

function emptyStats(): T1Stats {
  return { writes: 0, bytesWritten: 0, reads: 0, bytesRead: 0, nacks: 0, wtx: 0, retransmits: 0, rNacksSent: 0, resyncs: 0, softResets: 0 };
}

/** Internal: a failure the link may recover from by resynchronising. */
class Recover {
  constructor(
    readonly reason: SeReason | CommonReason,
    readonly detail: string,
  ) {}
}

type Received = 'ok' | 'bad' | 'timeout';

export interface T1LinkOptions {
  i2c: I2cPort;
  clock: ClockPort;
  limits?: Partial<T1Limits>;
}

export class T1Link {
  readonly stats: T1Stats = emptyStats();
  /** Bumped by every resync, soft reset or chip reset: the SE may have lost its applet selection. */
  epoch = 0;
  #i2c: I2cPort;
  #clock: ClockPort;
  #limits: T1Limits;
  #atr: Atr | undefined;
  #bwtMs = T1_PRE_ATR.bwtMs;
  #ifsc = T1_PRE_ATR.ifsc;
  #pollMs = T1_PRE_ATR.mpotMs;
  #guardMs = Math.ceil(T1_PRE_ATR.segtUs / 1000);
  #wakeMs = Math.ceil(T1_PRE_ATR.wutUs / 1000);
  /** N(S) of the next I-block we send / we expect from the SE. */
  #hostNs = 0;
  #seNs = 0;
  /** The last I-block or R-ack we sent, kept for retransmission. */
  #txLast = new Uint8Array(T1_FRAME_MAX);
  #txLastLength = 0;
  /** R-NACKs and S-blocks. */
  #txCtl = new Uint8Array(T1_FRAME_MAX);
  #rx = new Uint8Array(T1_FRAME_MAX);
  #decoder = new T1FrameDecoder(NAD_SE_TO_HOST);
  #response: Uint8Array;
  #busy = false;
  #needsResync = false;

  constructor(options: T1LinkOptions) {
    this.#i2c = options.i2c;
    this.#clock = options.clock;
    this.#limits = { ...T1_LIMITS, ...options.limits };
    this.#response = new Uint8Array(this.#limits.responseMax);
  }

  /** The ATR read at `open()` (or by the last soft reset), if any. */
  get atr(): Atr | undefined {
    return this.#atr;
  }

  /** The N(S) the host and the SE will put in their next I-block (tests start mid-session with it). */
  get sequence(): { hostNs: number; seNs: number } {
    return { hostNs: this.#hostNs, seNs: this.#seNs };
  }

  setSequence(hostNs: number, seNs: number): void {
    this.#hostNs = hostNs & 1;
    this.#seNs = seNs & 1;
  }

  /**
   * Starts a session: wake-up delay, S(RESYNCH) (falling back to an interface soft reset), then
   * S(GET ATR), whose timing and IFSC the link adopts. nano sends RESYNCH twice around a flush
   * read; one is enough here because a WTX left over from an earlier session is answered by the
   * same loop that answers every WTX.
   */
  async open(): Promise<Atr> {
    return this.#exclusive(async () => {
      await this.#sleep(this.#limits.wakeUpMs);
      try {
        await this.#resync();
      } catch (error) {
        if (!(error instanceof OtaError)) throw error;
        return this.#softReset();
      }
      return this.#getAtr();
    });
  }

  /** S(GET ATR): reads and adopts the ATR. */
  async getAtr(): Promise<Atr> {
    return this.#exclusive(() => this.#getAtr());
  }

  /** S(RESYNCH): both sequence numbers back to 0. */
  async resync(): Promise<void> {
    return this.#exclusive(() => this.#resync());
  }

  /** S(INTERFACE SOFT RESET): resets the SE's T=1 layer; returns (and adopts) the ATR. */
  async softReset(): Promise<Atr> {
    return this.#exclusive(() => this.#softReset());
  }

  /** S(SE CHIP RESET): the SE reboots; the applet must be selected again. */
  async chipReset(): Promise<void> {
    return this.#exclusive(async () => {
      await this.#sExchange(S_CHIP_RESET);
      this.#restart();
      await this.#sleep(this.#wakeMs);
    });
  }

  /** S(DEEP POWER DOWN) (nano-only S-block 0x1F): the SE sleeps until woken. */
  async deepPowerDown(): Promise<void> {
    return this.#exclusive(async () => {
      await this.#sExchange(S_DEEP_POWER_DOWN);
    });
  }

  /** S(END OF APDU SESSION): the SE may power down until the next frame. */
  async endSession(): Promise<void> {
    return this.#exclusive(async () => {
      await this.#sExchange(S_END_OF_APDU_SESSION);
    });
  }

  /**
   * Sends `apdu` and resolves with the R-APDU (data and SW). The result is a view into the
   * link's buffer, valid until the next call. Rejects with an OtaError: se-nack, t1-crc,
   * t1-protocol, t1-timeout, t1-wtx-limit, t1-resync-failed or limit-exceeded.
   * @example const rapdu = await link.transceive(unhex('80040020'));
   */
  async transceive(apdu: Uint8Array): Promise<Uint8Array> {
    if (apdu.length === 0) throw new OtaError('invalid-argument', 'empty APDU');
    return this.#exclusive(async () => {
      if (this.#needsResync) await this.#recover();
      for (let attempt = 0; ; attempt++) {
        try {
          const length = await this.#exchange(apdu);
          return this.#response.subarray(0, length);
        } catch (error) {
          if (!(error instanceof Recover)) {
            if (error instanceof OtaError && error.reason === 'limit-exceeded') this.#needsResync = true;
            throw error;
          }
          if (attempt >= this.#limits.resyncMax) {
            this.#needsResync = true;
            throw new OtaError(error.reason, `${error.detail} (after ${attempt} resync${attempt === 1 ? '' : 's'})`);
          }
          try {
            await this.#recover();
          } catch (failure) {
            this.#needsResync = true;
            throw failure;
          }
        }
      }
    });
  }

  /**
   * One exchange at a time. Not an async function: an async layer costs about 20 slots of the
   * device's JS stack, and every SE command passes through here. The exchange starts as a job of
   * its own (src/util/stack.ts): the frame layering below (exchange, I-block, write, guard time)
   * then starts from the job queue, not on top of the caller's chain (agent, installer, image,
   * SE driver), which made signature verification the deepest stack of an update (805 slots).
   */
  #exclusive<T>(work: () => Promise<T>): Promise<T> {
    if (this.#busy) return Promise.reject(new OtaError('bad-state', 'T=1 link already busy (one exchange at a time)'));
    this.#busy = true;
    const running = startAsJob(work);
    return running.finally(() => {
      this.#busy = false;
    });
  }


  /** RESYNCH, else interface soft reset, else t1-resync-failed. */
  async #recover(): Promise<void> {
    try {
      await this.#resync();
    } catch (error) {
      if (!(error instanceof OtaError)) throw error;
      try {
        await this.#softReset();
      } catch (second) {
        if (!(second instanceof OtaError)) throw second;
        throw new OtaError('t1-resync-failed', `RESYNCH: ${error.message}; soft reset: ${second.message}`, second);
      }
    }
    this.#needsResync = false;
  }

  async #resync(): Promise<void> {
    this.stats.resyncs++;
    await this.#sExchange(S_RESYNCH);
    // UM11225: after RESYNCH both sides start again at N(S) = 0.
    this.#restart();
    this.#needsResync = false;
  }

  async #softReset(): Promise<Atr> {
    this.stats.softResets++;
    const inf = await this.#sExchange(S_INTERFACE_SOFT_RESET);
    this.#restart();
    this.#needsResync = false;
    return this.#adopt(inf);
  }

  async #getAtr(): Promise<Atr> {
    return this.#adopt(await this.#sExchange(S_GET_ATR));
  }

  #restart(): void {
    this.#hostNs = 0;
    this.#seNs = 0;
    this.#txLastLength = 0;
    this.epoch++;
  }

  #adopt(inf: Uint8Array): Atr {
    const atr = parseAtr(inf);
    this.#atr = atr;
    this.#bwtMs = atr.bwtMs;
    this.#ifsc = atr.ifsc;
    // MPOT 0 would mean "poll back to back"; one clock tick is the finest the clock port offers.
    this.#pollMs = Math.max(1, atr.mpotMs);
    this.#guardMs = Math.ceil(atr.segtUs / 1000);
    this.#wakeMs = Math.ceil(atr.wutUs / 1000);
    return atr;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => this.#clock.setTimeout(resolve, ms));
  }

  /**
   * Writes start as jobs too: an exchange is already four async layers deep (transceive,
   * exchange, I-block, write) when the guard time waits, and the write's own waits (guard time,
   * NACK polls) need not stack on them.
   */
  #write(frame: Uint8Array, length: number): Promise<void> {
    return startAsJob(() => this.#writeNow(frame, length));
  }

  async #writeNow(frame: Uint8Array, length: number): Promise<void> {
    const bytes = frame.subarray(0, length);
    // SEGT: guard time between the previous transaction and this write.
    if (this.#guardMs > 0) await this.#sleep(this.#guardMs);
    for (let tries = 0; ; tries++) {
      if (this.#i2c.write(bytes)) break;
      this.stats.nacks++;
      if (tries >= this.#limits.writeRetries) {
        throw new OtaError('se-nack', `write of ${length} bytes NACKed ${tries + 1} times at 0x${this.#i2c.address.toString(16)}`);
      }
      await this.#sleep(this.#pollMs);
    }
    this.stats.writes++;
    this.stats.bytesWritten += length;
    if (this.#guardMs > 0) await this.#sleep(this.#guardMs);
  }

  async #sendControl(pcb: number, inf?: Uint8Array): Promise<void> {
    const length = encodeFrame(this.#txCtl, NAD_HOST_TO_SE, pcb, inf);
    await this.#write(this.#txCtl, length);
  }

  /**
   * Frames and sends one I-block of `apdu` from `offset`; returns the offset after it. Started as
   * a job of its own: the frame encoding and CRC do not stack on the exchange's frame.
   */
  #sendI(apdu: Uint8Array, offset: number): Promise<number> {
    return startAsJob(() => this.#sendINow(apdu, offset));
  }

  async #sendINow(apdu: Uint8Array, offset: number): Promise<number> {
    const end = Math.min(apdu.length, offset + this.#ifsc);
    const more = end < apdu.length;
    this.#txLastLength = encodeFrame(this.#txLast, NAD_HOST_TO_SE, iPcb(this.#hostNs, more), apdu, offset, end);
    this.#hostNs ^= 1;
    await this.#write(this.#txLast, this.#txLastLength);
    return end;
  }

  async #sendRAck(): Promise<void> {
    this.#txLastLength = encodeFrame(this.#txLast, NAD_HOST_TO_SE, rPcb(this.#seNs, R_OK));
    await this.#write(this.#txLast, this.#txLastLength);
  }

  async #sendRNack(error: number): Promise<void> {
    this.stats.rNacksSent++;
    await this.#sendControl(rPcb(this.#seNs, error));
  }

  async #retransmit(): Promise<void> {
    this.stats.retransmits++;
    await this.#write(this.#txLast, this.#txLastLength);
  }

  /**
   * Reads one block, polling the header while the SE NACKs (the SE streams its block across any
   * reads: 3 header bytes, then LEN + 2). 'timeout' once `budgetMs` has passed without an answer.
   */
  async #receive(budgetMs: number): Promise<Received> {
    const decoder = this.#decoder;
    decoder.reset();
    const start = this.#clock.now();
    const header = this.#rx.subarray(0, T1_HEADER_LENGTH);
    for (let polls = 0; ; polls++) {
      if (this.#i2c.read(header)) break;
      this.stats.nacks++;
      // Every poll sleeps at least 1 ms, so `polls` bounds the loop even if the clock stalls.
      if (this.#clock.now() - start >= budgetMs || polls > budgetMs) return 'timeout';
      const interval = Math.min(this.#pollMs * 2 ** Math.floor(polls / 16), Math.max(this.#pollMs, this.#limits.pollIntervalMaxMs));
      await this.#sleep(interval);
    }
    this.stats.reads++;
    this.stats.bytesRead += T1_HEADER_LENGTH;
    decoder.push(header);
    if (decoder.status !== 'pending') return 'bad';
    const rest = this.#rx.subarray(0, decoder.needed);
    for (let tries = 0; !this.#i2c.read(rest); tries++) {
      // The SE is mid-block: a NACK here is a glitch, not flow control.
      this.stats.nacks++;
      if (tries >= this.#limits.writeRetries) return 'bad';
      await this.#sleep(this.#pollMs);
    }
    this.stats.reads++;
    this.stats.bytesRead += rest.length;
    decoder.push(rest);
    return (decoder.status as FrameStatus) === 'ok' ? 'ok' : 'bad';
  }

  /** Answers an S(WTX request) (INF = multiplier); returns the multiplier for the next wait. */
  async #answerWtx(wtxCount: number): Promise<number> {
    this.stats.wtx++;
    if (wtxCount > this.#limits.wtxMax) {
      // nano: past its WTX limit it sends an interface soft reset so the SE abandons the command.
      try {
        await this.#softReset();
      } catch {
        this.#needsResync = true;
      }
      throw new OtaError('t1-wtx-limit', `more than ${this.#limits.wtxMax} waiting-time extensions`);
    }
    const inf = this.#decoder.inf;
    const multiplier = inf.length === 1 && inf[0] > 0 ? inf[0] : 1;
    // ISO 7816-3 §11.6.2.3: the response echoes the multiplier (nano always answers 0x01; the SE
    // applies its own request either way).
    await this.#sendControl(sPcb(S_WTX, true), this.#decoder.inf.length === 1 ? this.#decoder.inf : new Uint8Array([multiplier]));
    return multiplier;
  }

  /** One APDU over I-blocks; returns the R-APDU length in #response. */
  async #exchange(apdu: Uint8Array): Promise<number> {
    const limits = this.#limits;
    let offset = await this.#sendI(apdu, 0);
    let lastMore = offset < apdu.length;
    let received = 0;
    let errors = 0;
    let wtx = 0;
    let budget = this.#bwtMs;
    const fail = (reason: SeReason | CommonReason, detail: string): void => {
      if (++errors > limits.blockRetries) throw new Recover(reason, detail);
    };
    for (;;) {
      const waited = budget;
      const got = await this.#receive(budget);
      budget = this.#bwtMs;
      if (got !== 'ok') {
        fail(got === 'timeout' ? 't1-timeout' : 't1-crc', got === 'timeout' ? `no block within ${waited} ms` : `bad frame ${hex(this.#decoder.bytes)}`);
        // nano: a CRC error or a missing answer is answered with R(N(R), CRC error).
        await this.#sendRNack(R_CRC_ERROR);
        continue;
      }
      const pcb = this.#decoder.pcb;
      const kind = blockKind(pcb);
      if (kind === 'S') {
        const command = pcbSCommand(pcb);
        if (!pcbSResponse(pcb) && command === S_WTX) {
          budget = Math.min(this.#bwtMs * (await this.#answerWtx(++wtx)), limits.waitMaxMs);
          continue;
        }
        if (!pcbSResponse(pcb) && command === S_IFS && this.#decoder.inf.length === 1) {
          // The SE announces its IFSD; we already accept the maximum, so just confirm.
          await this.#sendControl(sPcb(S_IFS, true), this.#decoder.inf);
          continue;
        }
        throw new Recover('t1-protocol', `unexpected S-block PCB 0x${pcb.toString(16)}`);
      }
      if (kind === 'R') {
        const nr = pcbNr(pcb);
        const lastNs = this.#hostNs ^ 1;
        if (lastMore && received === 0 && nr === this.#hostNs && pcbRError(pcb) === R_OK) {
          // Chaining: the SE acknowledged our block; send the next one.
          errors = 0;
          offset = await this.#sendI(apdu, offset);
          lastMore = offset < apdu.length;
          continue;
        }
        // Otherwise the SE asks for our last block again (N(R) = its N(S), or an error code).
        fail(pcbRError(pcb) === R_CRC_ERROR ? 't1-crc' : 't1-protocol', `SE sent R-block 0x${pcb.toString(16)} (last N(S) ${lastNs})`);
        if (this.#txLastLength === 0) throw new Recover('t1-protocol', 'retransmission asked before any block');
        await this.#retransmit();
        continue;
      }
      // I-block from the SE.
      if (lastMore) throw new Recover('t1-protocol', 'SE answered before the chained command was complete');
      if (pcbNs(pcb) !== this.#seNs) {
        fail('t1-protocol', `SE I-block N(S) ${pcbNs(pcb)}, expected ${this.#seNs}`);
        await this.#sendRNack(R_OTHER_ERROR);
        continue;
      }
      const inf = this.#decoder.inf;
      if (received + inf.length > this.#response.length) {
        throw new OtaError('limit-exceeded', `R-APDU longer than ${this.#response.length} bytes`);
      }
      this.#response.set(inf, received);
      received += inf.length;
      this.#seNs ^= 1;
      errors = 0;
      if (!pcbMore(pcb)) {
        if (received < 2) throw new Recover('t1-protocol', `R-APDU of ${received} bytes has no status word`);
        return received;
      }
      await this.#sendRAck();
    }
  }

  /** Sends an S-block request and returns the INF of the matching response (a copy). */
  async #sExchange(command: number): Promise<Uint8Array> {
    const limits = this.#limits;
    await this.#sendControl(sPcb(command, false));
    let errors = 0;
    let wtx = 0;
    let budget = this.#bwtMs;
    let lastProblem = '';
    for (;;) {
      const waited = budget;
      const got = await this.#receive(budget);
      budget = this.#bwtMs;
      if (got === 'ok') {
        const pcb = this.#decoder.pcb;
        if (blockKind(pcb) === 'S' && pcbSCommand(pcb) === command && pcbSResponse(pcb)) return this.#decoder.inf.slice();
        if (blockKind(pcb) === 'S' && pcbSCommand(pcb) === S_WTX && !pcbSResponse(pcb)) {
          // Also the pending WTX of an interrupted earlier command (nano's phNxpEse_waitForWTX).
          budget = Math.min(this.#bwtMs * (await this.#answerWtx(++wtx)), limits.waitMaxMs);
          continue;
        }
        lastProblem = `answered S(0x${command.toString(16)}) with PCB 0x${pcb.toString(16)}`;
      } else lastProblem = got === 'timeout' ? `no answer to S(0x${command.toString(16)}) within ${waited} ms` : `bad frame ${hex(this.#decoder.bytes)}`;
      if (++errors > limits.blockRetries) {
        throw new OtaError(got === 'timeout' ? 't1-timeout' : got === 'bad' ? 't1-crc' : 't1-protocol', lastProblem);
      }
      // An S-request is simply sent again (UM11225: an S-block is retransmitted on error).
      this.stats.retransmits++;
      await this.#sendControl(sPcb(command, false));
    }
  }
}
