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

export abstract class IndicatedSocket implements ModemSocket {
  readonly #clock: ClockPort;
  #closed = false;
  #linkLost = false;
  /** Data may be waiting (set by the URC, and after every non-empty read). */
  #indicated = true;
  #wake: (() => void) | undefined;
  /** Largest payload per send command. */
  protected abstract readonly sendMax: number;

  constructor(clock: ClockPort) {
    this.#clock = clock;
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

  async read(sink: ByteSink, idleMs: number): Promise<number> {
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

  #end(): number {
    if (this.#linkLost) throw new OtaError('link-lost', 'bearer lost while reading');
    return 0;
  }

  async close(): Promise<void> {
    const already = this.#closed;
    this.#closed = true;
    this.#wakeUp();
    if (already && this.#linkLost) return;
    await this.closeCommand().catch(() => undefined);
  }
}
