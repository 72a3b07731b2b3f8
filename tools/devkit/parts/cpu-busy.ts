/**
 * The MCU blocked in a synchronous driver call (a flash erase or program): Moddable's flash
 * `erase` returns only when the part is ready, so for those milliseconds the agent runs nothing,
 * its timers and UART events wait, while the UART hardware keeps filling its RX FIFO (RTS/CTS
 * holds the modem when it is full; without them the FIFO overruns).
 *
 * The XS host (tools/xs/serve-platform.ts) asks `deferUntil` before delivering a guest event and
 * reads the guest's clock through `now`, so an erase of 45 ms costs 45 ms of virtual time on the
 * device exactly where it happens.
 */
import type { VirtualTime } from './virtual-time.js';

export class CpuBusy {
  #until = 0;
  /** Virtual ms the MCU spent blocked, in total. */
  blockedMs = 0;

  constructor(private readonly time: VirtualTime) {}

  /**
   * The MCU is blocked for `ms` more, from now or from the end of the block under way. A negative
   * `ms` takes back time not yet spent (the flash found a run of erases to be one block erase).
   */
  occupy(ms: number): void {
    if (ms > 0) {
      this.#until = Math.max(this.#until, this.time.now()) + ms;
      this.blockedMs += ms;
    } else if (ms < 0) {
      const back = Math.min(-ms, Math.max(0, this.#until - this.time.now()));
      this.#until -= back;
      this.blockedMs -= back;
    }
  }

  /** The instant a guest event may be delivered: now, or the end of the block under way. */
  get deferUntil(): number {
    return Math.max(this.#until, this.time.now());
  }

  /** The MCU's clock: inside a blocking call, time has moved on by what the call took. */
  now(): number {
    return this.deferUntil;
  }

  /** Forget any block (a reset: the MCU restarts). */
  clear(): void {
    this.#until = 0;
  }
}
