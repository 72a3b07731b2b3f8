/**
 * Virtual time for the simulated dev kit: a deterministic discrete-event scheduler.
 *
 * Everything that takes time on the device (UART bytes at the baud rate, a modem's command
 * latency, the network, the agent's own timers) is an event at a virtual instant. `run*` pops
 * events in (time, sequence) order; before each pop it lets all work already under way finish:
 * Node's microtasks (an agent running in Node) and tracked promises (an agent running in XS,
 * whose event deliveries are pipe round trips). So a 2 MiB download at 115200 baud takes minutes
 * of virtual time and a few seconds of real time, with the same result on every run.
 */
import type { ClockPort, TimerId } from '../../../src/platform/clock.js';

interface Scheduled {
  at: number;
  seq: number;
  fn: () => unknown;
  cancelled: boolean;
}

export interface RunLimits {
  /** Stop (and throw) past this virtual instant. */
  untilMs?: number;
  /** Stop (and throw) after this many events: a hang guard for tests. */
  maxEvents?: number;
  /**
   * Stop (and throw) after this many events in a row at one instant (default 50,000): work
   * that re-arms itself without time moving on is a livelock, not progress.
   */
  maxEventsAtOneInstant?: number;
}

export class VirtualTimeLimit extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VirtualTimeLimit';
  }
}

export class VirtualTime {
  #now = 0;
  #seq = 0;
  #heap: Scheduled[] = [];
  #handles = new Map<number, Scheduled>();
  #inflight = new Set<Promise<unknown>>();
  #failure: unknown;
  /** Events run so far. */
  events = 0;
  /** Wall-clock seconds at virtual time 0, for `wallClock()`. */
  epochS: number;

  constructor(epochS = 1_790_000_000) {
    this.epochS = epochS;
  }

  now(): number {
    return this.#now;
  }

  /** Run `fn` at virtual instant `at` (not before now). Returns a handle for `cancel`. */
  at(at: number, fn: () => unknown): number {
    const item: Scheduled = { at: Math.max(at, this.#now), seq: ++this.#seq, fn, cancelled: false };
    this.#push(item);
    this.#handles.set(item.seq, item);
    return item.seq;
  }

  after(ms: number, fn: () => unknown): number {
    return this.at(this.#now + Math.max(0, ms), fn);
  }

  cancel(handle: number): void {
    const item = this.#handles.get(handle);
    if (item) {
      item.cancelled = true;
      this.#handles.delete(handle);
    }
  }

  /** Work under way that must finish before time moves on (an XS delivery, say). */
  track(work: Promise<unknown>): void {
    this.#inflight.add(work);
    work.then(
      () => this.#inflight.delete(work),
      (error: unknown) => {
        this.#inflight.delete(work);
        this.#failure ??= error;
      },
    );
  }

  /** Let everything already under way finish, without advancing time. */
  async settle(): Promise<void> {
    for (let rounds = 0; ; rounds++) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.#failure !== undefined) {
        const failure = this.#failure;
        this.#failure = undefined;
        throw failure;
      }
      if (this.#inflight.size === 0) {
        // One more turn: a settled delivery may have queued microtasks of its own.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (this.#inflight.size === 0) return;
      }
      await Promise.race(this.#inflight).catch(() => undefined);
    }
  }

  /** Run events until `done()` holds after settling. Throws VirtualTimeLimit past the limits. */
  async runUntil(done: () => boolean, limits: RunLimits = {}): Promise<void> {
    const maxEvents = limits.maxEvents ?? 50_000_000;
    const maxAtOneInstant = limits.maxEventsAtOneInstant ?? 50_000;
    let ran = 0;
    let atOneInstant = 0;
    for (;;) {
      await this.settle();
      if (done()) return;
      const next = this.#pop();
      if (!next) throw new VirtualTimeLimit(`virtual time ran out of events at ${this.#now} ms before the goal`);
      if (limits.untilMs !== undefined && next.at > limits.untilMs) {
        this.#push(next);
        throw new VirtualTimeLimit(`goal not reached by ${limits.untilMs} ms of virtual time`);
      }
      if (++ran > maxEvents) throw new VirtualTimeLimit(`goal not reached within ${maxEvents} events`);
      atOneInstant = next.at === this.#now ? atOneInstant + 1 : 0;
      if (atOneInstant > maxAtOneInstant) {
        this.#push(next);
        throw new VirtualTimeLimit(`goal not reached: ${maxAtOneInstant} events at ${this.#now} ms without time advancing (a livelock)`);
      }
      this.#now = next.at;
      this.#handles.delete(next.seq);
      this.events++;
      const result = next.fn();
      if (result instanceof Promise) this.track(result);
    }
  }

  /** Run until `promise` settles; returns its value (or throws its error). */
  async runFor<T>(promise: Promise<T>, limits: RunLimits = {}): Promise<T> {
    let settled = false;
    const watched = promise.finally(() => {
      settled = true;
    });
    watched.catch(() => undefined);
    await this.runUntil(() => settled, limits);
    return watched;
  }

  /** Advance to `now + ms`, running every event on the way. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await this.runUntil(() => this.#peek() === undefined || this.#peek()!.at > target);
    this.#now = Math.max(this.#now, target);
  }

  /** Events still scheduled (not cancelled). */
  get pending(): number {
    return this.#handles.size;
  }

  /** A ClockPort on this virtual time, for agent code running in Node. */
  /**
   * A clock that reads 0 at this call, as the device's clock does after every reset (the MCU's
   * tick counter, modules/ota-clock.ts): give each boot its own, so that what the agent persists
   * as an instant of one boot is seen in the next boot's clock (issue 17.2). Timers run on the
   * same virtual time.
   */
  bootClockPort(): ClockPort {
    const origin = this.#now;
    const base = this.clockPort();
    return { ...base, now: () => this.#now - origin };
  }

  clockPort(): ClockPort {
    return {
      now: () => this.#now,
      wallClock: () => this.epochS + Math.floor(this.#now / 1000),
      setTimeout: (callback: () => void, ms: number): TimerId => this.after(ms, callback),
      clearTimeout: (id: TimerId) => this.cancel(id),
    };
  }

  #peek(): Scheduled | undefined {
    while (this.#heap.length > 0 && this.#heap[0].cancelled) this.#popRaw();
    return this.#heap[0];
  }

  #pop(): Scheduled | undefined {
    const top = this.#peek();
    if (top) this.#popRaw();
    return top;
  }

  #less(a: Scheduled, b: Scheduled): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  #push(item: Scheduled): void {
    const heap = this.#heap;
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(heap[i], heap[parent])) break;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  }

  #popRaw(): void {
    const heap = this.#heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && this.#less(heap[l], heap[m])) m = l;
      if (r < heap.length && this.#less(heap[r], heap[m])) m = r;
      if (m === i) break;
      [heap[i], heap[m]] = [heap[m], heap[i]];
      i = m;
    }
  }
}
