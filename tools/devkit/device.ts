/**
 * One simulated device: the MCU running the agent bundle inside XS, wired to the dev kit's parts
 * (served by tools/xs/serve-platform.ts), with resets. A reboot (or a power cut) stops the XS
 * engine at once, like a reset stops the MCU; `onReset` then runs the boot ROM's work (the
 * simulated MCUboot on the flash) and the device boots the agent again in a fresh engine, with
 * only what the flash and the key-value store kept.
 */
import type { LogFields, LogLevel } from '../../src/platform/log.js';
import { XsSession } from '../xs/session.js';
import { servePlatform, type HostPlatform, type ServedPlatform } from '../xs/serve-platform.js';
import type { VirtualTime } from './parts/virtual-time.js';
import type { CpuBusy } from './parts/cpu-busy.js';

export interface LogEntry {
  at: number;
  boot: number;
  level: LogLevel;
  event: string;
  fields?: LogFields;
}

export interface SimDeviceOptions {
  time: VirtualTime;
  /** Guest bundle with the agent (build/xs/<bundle>.js) exposing `start(args)`. */
  bundle: string;
  /** The dev kit's parts, less reboot and log (the device provides those). */
  platform: Omit<HostPlatform, 'reboot' | 'log'>;
  /** Arguments for the guest's `start` (configuration). */
  startArgs: () => unknown;
  /** Runs between reset and the next boot: MCUboot's decision and swap. */
  onReset: (reason: string) => void | Promise<void>;
  onLog?: (entry: LogEntry) => void;
  /**
   * The agent's clock restarts at 0 at every boot, as the device's does (modules/ota-clock.ts):
   * an instant persisted in one boot means nothing in the next. Default true; false keeps one
   * clock across boots.
   */
  clockRestartsAtBoot?: boolean;
  /** The MCU's blocking calls (flash timing): its events wait while it is blocked. */
  cpu?: CpuBusy;
}

export class SimDevice {
  readonly logs: LogEntry[] = [];
  boots = 0;
  /**
   * XS meter figures over every boot: computation summed; heap slots in use (live and not yet
   * collected) and bytes the engine reserved (`allocate`), at their peak over all boots and at the
   * base (the first boot, agent bundle loaded, before `start`).
   */
  readonly meter = { compute: 0, peakHeapCount: 0, baseHeapCount: 0, peakAllocate: 0, baseAllocate: 0, baseLiveHeapCount: 0, peakLiveHeapCount: 0, liveSamples: 0 };
  #o: SimDeviceOptions;
  #session: XsSession | undefined;
  #served: ServedPlatform | undefined;
  #resetReason: string | undefined;
  #running: Promise<unknown> | undefined;

  constructor(options: SimDeviceOptions) {
    this.#o = options;
  }

  /** Power on (or boot after a reset): start XS, load the agent, call its `start`. */
  async boot(): Promise<void> {
    this.boots++;
    this.#resetReason = undefined;
    const session = await XsSession.start({ bundle: this.#o.bundle, name: `device boot ${this.boots}` });
    this.#session = session;
    this.#served = servePlatform(
      session,
      {
        ...this.#o.platform,
        reboot: { reboot: (reason) => this.#requestReset(reason) },
        log: { log: (level, event, fields) => this.#log(level, event, fields) },
      },
      this.#o.time,
      this.#o.clockRestartsAtBoot === false ? 0 : this.#o.time.now(),
      this.#o.cpu,
    );
    if (this.boots === 1) {
      this.meter.baseHeapCount = session.meter.lastHeapCount;
      this.meter.baseAllocate = session.meter.lastAllocate;
      this.meter.baseLiveHeapCount = await session.liveHeapCount();
    }
    this.#running = session.call('start', this.#o.startArgs());
    this.#running.catch((error: unknown) => {
      if (this.#session === session && this.#resetReason === undefined) this.#log('error', 'agent.crashed', { detail: String(error) });
    });
  }

  /**
   * Collect garbage in the running engine and record the live heap slots (peak over the run).
   * Call between cranks (e.g. from a virtual-time event); does nothing while the engine is down.
   */
  async sampleLiveHeap(): Promise<void> {
    const session = this.#session;
    if (!session || this.#resetReason !== undefined) return;
    const live = await session.liveHeapCount();
    this.meter.liveSamples++;
    if (live > this.meter.peakLiveHeapCount) this.meter.peakLiveHeapCount = live;
  }

  /** A reset was requested (by the agent's reboot, or a power cut) and not yet carried out. */
  get resetPending(): boolean {
    return this.#resetReason !== undefined;
  }

  /** Stop the engine now and run the reset path (MCUboot), then boot again. */
  async reset(reason = this.#resetReason ?? 'reset'): Promise<void> {
    this.#stopEngine();
    await this.#o.onReset(reason);
    await this.boot();
  }

  /** Power off: the engine stops where it is (a power cut mid-operation). */
  powerOff(): void {
    this.#stopEngine();
  }

  async close(): Promise<void> {
    this.#stopEngine();
  }

  #stopEngine(): void {
    const session = this.#session;
    if (!session) return;
    this.meter.compute += session.meter.compute;
    this.meter.peakHeapCount = Math.max(this.meter.peakHeapCount, session.meter.peakHeapCount);
    this.meter.peakAllocate = Math.max(this.meter.peakAllocate, session.meter.peakAllocate);
    this.#served?.dispose();
    this.#session = undefined;
    this.#served = undefined;
    session.kill();
  }

  #requestReset(reason: string): void {
    this.#resetReason = reason;
    this.#log('info', 'device.reset-requested', { reason });
  }

  #log(level: LogLevel, event: string, fields?: LogFields): void {
    const entry: LogEntry = { at: this.#o.time.now(), boot: this.boots, level, event, fields };
    this.logs.push(entry);
    this.#o.onLog?.(entry);
  }
}
