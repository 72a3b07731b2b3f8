/**
 * ClockPort on Moddable's `time` (Time.ticks) and `timer` (Timer.set / Timer.clear), both in
 * $(MODDABLE)/build/devices/zephyr/manifest.json's preloads.
 *
 * Time.ticks is a millisecond counter that wraps at 2^32 (or at 2^31 when the host hands it out
 * as a signed integer); the agent's clock must never go backwards over a months-long uptime, so
 * now() accumulates differences modulo 2^32. That is exact as long as now() runs at least once
 * per 24.8 days (2^31 ms); the agent's poll timer calls it far more often.
 */
import type { ClockPort, TimerId } from 'xs-ota';

const TICKS_MODULUS = 2 ** 32;
/** Before 2024-01-01 the RTC has not been set (Zephyr boots at 1970): no wall clock. */
const EARLIEST_PLAUSIBLE_MS = Date.UTC(2024, 0, 1);

export interface ModdableTime {
  readonly ticks: number;
}

export interface ModdableTimer {
  set(callback: () => void, interval: number): unknown;
  clear(timer: unknown): void;
}

export class ModdableClock implements ClockPort {
  readonly #time: ModdableTime;
  readonly #timer: ModdableTimer;
  readonly #dateNow: () => number;
  readonly #timers = new Map<TimerId, unknown>();
  #nextId = 1;
  #lastTicks: number;
  #elapsed = 0;

  constructor(time: ModdableTime, timer: ModdableTimer, dateNow: () => number = Date.now) {
    this.#time = time;
    this.#timer = timer;
    this.#dateNow = dateNow;
    this.#lastTicks = time.ticks;
  }

  now(): number {
    const ticks = this.#time.ticks;
    let delta = (ticks - this.#lastTicks) % TICKS_MODULUS;
    if (delta < 0) delta += TICKS_MODULUS;
    this.#lastTicks = ticks;
    this.#elapsed += delta;
    return this.#elapsed;
  }

  wallClock(): number | undefined {
    const ms = this.#dateNow();
    return ms >= EARLIEST_PLAUSIBLE_MS ? Math.floor(ms / 1000) : undefined;
  }

  setTimeout(callback: () => void, ms: number): TimerId {
    const id = this.#nextId++;
    const timer = this.#timer.set(() => {
      this.#timers.delete(id);
      callback();
    }, Math.max(0, ms));
    this.#timers.set(id, timer);
    return id;
  }

  clearTimeout(id: TimerId): void {
    const timer = this.#timers.get(id);
    if (timer === undefined) return;
    this.#timers.delete(id);
    this.#timer.clear(timer);
  }
}
