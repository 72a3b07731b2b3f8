/**
 * The read loop both families' sockets share: the modem buffers received data and says so with a
 * URC (`+CADATAIND: <cid>` on SIM7080, `+CCHEVENT: <sid>,RECV EVENT` on SIM7600); the host reads it
 * in blocks with a counted command until a read comes back empty, then waits for the next URC. A
 * lost URC costs at most one poll interval, never the download.
 */
import type { ClockPort } from '../platform/clock.js';
import { OtaError } from '../util/errors.js';
import type { ByteSink, ModemSocket } from './modem.js';

/** Longest wait between reads when no URC arrives (a backstop, not the normal path). */
const POLL_MS = 2_000;
/**
 * Push mode: a complete block with nothing after it for this long, at a line boundary, is whole.
 * Only the fallback: a block that ends the reader's message (`needs`, e.g. the rest of a
 * Content-Length body) is whole at once, and inside a stream the next header proves it.
 */
const PUSH_QUIET_MS = 100;

/** Push-mode block states (small integers). */
const P_EMPTY = 0;
const P_FILLING = 1;
const P_HELD = 2;
const P_READY = 3;

export abstract class IndicatedSocket implements ModemSocket {
  readonly #clock: ClockPort;
  #closed = false;
  #linkLost = false;
  /** Data may be waiting (set by the URC, and after every non-empty read). */
  #indicated = true;
  #wake: (() => void) | undefined;
  /** Largest payload per send command. */
  protected abstract readonly sendMax: number;

  /**
   * Push mode (SIM7600 `AT+CCHSET=1,0`, SIM7080 `AT+CAOPEN=...,1`): the modem sends each received
   * block unsolicited as `+CCHRECV: DATA,<sid>,<n>` / `+CAURC: "recv",<cid>,<n>` + n bytes, with
   * no read command per block. The engine stops reading the UART while a block waits for the
   * reader (see `pushData`); only RTS/CTS flow control then keeps the modem from overrunning the
   * UART's receive FIFO, and an overrun reaches `pushLost`. A block is held in the
   * stage until the stream proves it whole (the next header, the close URC, or a quiet line
   * boundary); a line of noise while it is held drops it and fails the read (`at-garbled`).
   */
  readonly #push: { stage: Uint8Array; atLineStart: () => boolean } | undefined;
  #pState = P_EMPTY;
  #pLength = 0;
  #pExpected = 0;
  #pReceived = 0;
  #pGarbled = false;
  /** Bytes of blocks larger than the stage, handed on before the block could be proven whole. */
  unverifiedBytes = 0;
  #pEmptied: (() => void)[] = [];
  /** The reader gave up (error or close): pushed data is skipped from now on. */
  #abandoned = false;

  /** Drop the held block and wake whoever waits for the stage. */
  #pDrop(): void {
    this.#pState = P_EMPTY;
    this.#pLength = 0;
    const waiters = this.#pEmptied;
    this.#pEmptied = [];
    for (const w of waiters) w();
  }

  constructor(clock: ClockPort, push?: { stage: Uint8Array; atLineStart: () => boolean }) {
    this.#clock = clock;
    this.#push = push;
  }

  /** Push mode: a data header announcing `length` bytes (proves the held block whole). */
  pushHeader(length: number): void {
    if (this.#pState === P_HELD) this.#pState = P_READY;
    else if (this.#pState === P_FILLING) this.#pGarbled = true;
    this.#pExpected = length;
    this.#pReceived = 0;
    this.#wakeUp();
  }

  /** Push mode: payload bytes of the announced block. */
  pushData(chunk: Uint8Array): void | Promise<void> {
    const push = this.#push!;
    // Nobody will read it any more: skip (never keep the engine paused on a dead socket).
    if (this.#pGarbled || this.#abandoned) return;
    if (this.#pState === P_READY || this.#pState === P_HELD) {
      // The previous block is still with the reader: wait (the engine stops reading meanwhile).
      return new Promise<void>((resolve) => this.#pEmptied.push(resolve)).then(() => this.pushData(chunk));
    }
    if (this.#pLength + chunk.length > push.stage.length) {
      // A block larger than the stage cannot be held whole: hand on what is staged without proof
      // (counted; the image digest is then the only check), and stage the rest.
      this.unverifiedBytes += this.#pLength;
      this.#pState = P_READY;
      this.#wakeUp();
      return new Promise<void>((resolve) => this.#pEmptied.push(resolve)).then(() => this.pushData(chunk));
    }
    push.stage.set(chunk, this.#pLength);
    this.#pLength += chunk.length;
    this.#pReceived += chunk.length;
    this.#pState = this.#pReceived >= this.#pExpected ? P_HELD : P_FILLING;
    this.#wakeUp();
  }

  /**
   * Push mode: the stream is broken whatever state the block is in (a UART overrun lost bytes, or
   * a data header failed validation and its payload was skipped): the next read fails with
   * `at-garbled` and nothing staged or still to come on this socket is handed on.
   */
  pushLost(): void {
    if (this.#abandoned) return;
    this.#pGarbled = true;
    // Whatever is staged is void, and a push waiting for the stage must not keep the engine
    // paused (the reader may be busy elsewhere, e.g. in a send that waits for its OK).
    this.#pDrop();
    this.#wakeUp();
  }

  /** Push mode: a line nobody claimed arrived: a held or partial block is not trusted. */
  pushNoise(): void {
    if (this.#pState === P_FILLING || this.#pState === P_HELD) {
      this.#pGarbled = true;
      this.#wakeUp();
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The modem says data is waiting. */
  indicate(): void {
    this.#indicated = true;
    this.#wakeUp();
  }

  /** The peer closed (or, with `linkLost`, the bearer dropped and the buffered data is gone). */
  markClosed(linkLost = false): void {
    this.#closed = true;
    if (linkLost) this.#linkLost = true;
    this.#wakeUp();
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** One counted read; resolves the byte count (0: nothing buffered), or 'closed' when the modem
   * refused because the socket is gone. */
  protected abstract readBlock(sink: ByteSink): Promise<number | 'closed'>;
  protected abstract sendBlock(piece: Uint8Array): Promise<void>;
  protected abstract closeCommand(): Promise<void>;

  async write(bytes: Uint8Array): Promise<void> {
    for (let offset = 0; offset < bytes.length; offset += this.sendMax) {
      if (this.#closed) throw new OtaError(this.#linkLost ? 'link-lost' : 'body-truncated', 'socket closed while sending');
      await this.sendBlock(bytes.subarray(offset, Math.min(bytes.length, offset + this.sendMax)));
    }
  }

  /**
   * `needs`, when given, says how many bytes end the reader's message (undefined: not known): a
   * pushed block of exactly that length is whole without waiting for what follows it.
   */
  read(sink: ByteSink, idleMs: number, needs?: () => number | undefined): Promise<number> {
    // Not an async function: it only picks the mode, and an async layer here would add its
    // slots to every read's chain (a wait for data is one of a download's deepest stacks).
    return this.#push ? this.#readPushed(sink, idleMs, this.#push, needs) : this.#readPulled(sink, idleMs);
  }

  async #readPulled(sink: ByteSink, idleMs: number): Promise<number> {
    let idle = 0;
    for (;;) {
      if (this.#linkLost) throw new OtaError('link-lost', 'bearer lost while reading');
      // After the peer closed, data may still be buffered: drain it before reporting the end.
      if (this.#indicated || this.#closed) {
        this.#indicated = false;
        const n = await this.readBlock(sink);
        if (n === 'closed') return this.#end();
        if (n > 0) {
          this.#indicated = true; // keep reading until a read comes back empty
          return n;
        }
        if (this.#closed) return this.#end();
      }
      const step = Math.min(idleMs - idle, POLL_MS);
      if (step <= 0) throw new OtaError('timeout', `no socket data for ${idleMs} ms`);
      const woken = await new Promise<boolean>((resolve) => {
        const timer = this.#clock.setTimeout(() => {
          this.#wake = undefined;
          resolve(false);
        }, step);
        this.#wake = () => {
          this.#clock.clearTimeout(timer);
          resolve(true);
        };
      });
      if (woken) idle = 0;
      else {
        idle += step;
        this.#indicated = true; // poll once: the URC may have been lost
      }
    }
  }

  async #readPushed(sink: ByteSink, idleMs: number, push: { stage: Uint8Array; atLineStart: () => boolean }, needs?: () => number | undefined): Promise<number> {
    let idle = 0;
    for (;;) {
      if (this.#pGarbled || this.#linkLost) {
        this.#abandoned = true;
        this.#pDrop();
        throw this.#pGarbled ? new OtaError('at-garbled', 'noise in pushed socket data') : new OtaError('link-lost', 'bearer lost while reading');
      }
      // The peer closed after the held block, it ends the reader's message (the protocol's own
      // end), or nothing followed it: it is whole.
      if (this.#pState === P_HELD && (this.#closed || needs?.() === this.#pLength || (idle >= PUSH_QUIET_MS && push.atLineStart()))) this.#pState = P_READY;
      if (this.#pState === P_READY) {
        const n = this.#pLength;
        const partial = this.#pReceived < this.#pExpected;
        try {
          await sink(push.stage.subarray(0, n));
        } finally {
          this.#pState = partial ? P_FILLING : P_EMPTY;
          this.#pLength = 0;
          const waiters = this.#pEmptied;
          this.#pEmptied = [];
          for (const w of waiters) w();
        }
        return n;
      }
      if (this.#closed && this.#pState === P_EMPTY) return this.#end();
      const step = this.#pState === P_HELD ? PUSH_QUIET_MS : Math.min(idleMs - idle, POLL_MS);
      if (idle >= idleMs) throw new OtaError('timeout', `no socket data for ${idleMs} ms`);
      const woken = await this.#sleep(step);
      idle = woken ? 0 : idle + step;
    }
  }

  #sleep(ms: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const timer = this.#clock.setTimeout(() => {
        this.#wake = undefined;
        resolve(false);
      }, ms);
      this.#wake = () => {
        this.#clock.clearTimeout(timer);
        resolve(true);
      };
    });
  }

  #end(): number {
    if (this.#linkLost) throw new OtaError('link-lost', 'bearer lost while reading');
    return 0;
  }

  async close(): Promise<void> {
    this.#abandoned = true;
    this.#pDrop();
    const already = this.#closed;
    this.#closed = true;
    this.#wakeUp();
    if (already && this.#linkLost) return;
    await this.closeCommand().catch(() => undefined);
  }
}
