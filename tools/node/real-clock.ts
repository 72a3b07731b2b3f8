/**
 * A ClockPort on Node's real timers, for agent code talking to real processes (a mosquitto
 * broker, a loopback server) whose timing virtual time cannot drive.
 */
import type { ClockPort, TimerId } from '../../src/platform/clock.js';

export function realClock(): ClockPort & { readonly active: number } {
  const timers = new Map<number, NodeJS.Timeout>();
  let next = 1;
  const origin = performance.now();
  return {
    now: () => performance.now() - origin,
    wallClock: () => Math.floor(Date.now() / 1000),
    setTimeout(callback: () => void, ms: number): TimerId {
      const id = next++;
      timers.set(
        id,
        setTimeout(() => {
          timers.delete(id);
          callback();
        }, ms),
      );
      return id;
    },
    clearTimeout(id: TimerId): void {
      const timer = timers.get(id);
      if (timer !== undefined) clearTimeout(timer);
      timers.delete(id);
    },
    /** Timers not yet fired or cleared (a test checks that close() leaves none). */
    get active() {
      return timers.size;
    },
  };
}
