/**
 * Host side of the XS bridge: one XS engine running one guest bundle, with host services the
 * guest calls synchronously (`hostCall`) and guest functions the host calls (`call`).
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeMessage, encodeMessage } from './codec.js';
import { activeDeviceProfile, deviceCreation, deviceWorkerPath, FREEZE_BUILT_INS, type DeviceCreation, type DeviceFigures, type DeviceSampling } from './device-profile.js';
import { findBootSnapshot, newBootSnapshot, snapshotKey, snapshotsEnabled } from './snapshot.js';
import { XsWorker, type XsCrank, type XsMeter } from './worker.js';

/** A host service: gets the guest's args, returns a JSON-able value (Uint8Array allowed). */
export type HostService = (args: any) => unknown;

export interface XsSessionOptions {
  /** Guest bundle name (built to build/xs/<name>.js by rollup) or a path to a script. */
  bundle: string;
  services?: Record<string, HostService>;
  name?: string;
  /** Lines the guest prints; default: kept in `session.printed`. */
  onPrint?: (line: string) => void;
  /** XS creation; default: manifest.json's (device-profile.ts deviceCreation). */
  creation?: DeviceCreation;
  /** Sample stack depth and live memory inside engine calls (the bench). */
  sampling?: DeviceSampling;
}

export interface GuestErrorInfo {
  message: string;
  reason?: string;
  name?: string;
}

/** An error thrown inside XS, carried to the host with its OtaError reason when it had one. */
export class GuestError extends Error {
  readonly reason: string | undefined;
  constructor(info: GuestErrorInfo) {
    super(info.message);
    this.name = 'GuestError';
    this.reason = info.reason;
  }
}

const here = path.dirname(fileURLToPath(import.meta.url));
/** build/xs, where rollup writes the guest bundles (this file runs from build/tools/xs). */
export const GUEST_BUNDLE_DIR = path.resolve(here, '..', '..', 'xs');

export function guestBundlePath(name: string): string {
  return name.includes('/') ? name : path.join(GUEST_BUNDLE_DIR, `${name}.js`);
}

/** Deterministic XS figures summed over a session. */
export interface XsMeterTotals {
  cranks: number;
  compute: number;
  peakHeapCount: number;
  lastHeapCount: number;
  /**
   * Bytes the engine has reserved for its heaps (xsnap `allocate`: slot heap + chunks, grown only
   * when a collection cannot make room), at the last crank and at its largest.
   */
  lastAllocate: number;
  peakAllocate: number;
}

/**
 * The bundle's text and snapshot key, kept per process while the file is unchanged (same size and
 * mtime): a campaign boots thousands of engines, and reading and hashing a bundle of a few
 * hundred KB for each boot was a tenth of the host's work.
 */
const bundleCache = new Map<string, { stamp: string; code: string; keys: Map<string, string> }>();

function loadBundle(file: string): { code: string; keys: Map<string, string> } {
  const st = statSync(file);
  const stamp = `${st.size}:${st.mtimeMs}`;
  const cached = bundleCache.get(file);
  if (cached && cached.stamp === stamp) return cached;
  const entry = { stamp, code: readFileSync(file, 'utf8'), keys: new Map<string, string>() };
  bundleCache.set(file, entry);
  return entry;
}

export class XsSession {
  readonly printed: string[] = [];
  readonly creation: DeviceCreation;
  /** Live heap bytes (slots x 16 + chunks) when the guest was loaded: where the heap bound starts. */
  baseLiveBytes = 0;
  /** Recorded by the bench's device profile (its peaks start once the guest is loaded). */
  #profiled = false;
  readonly meter: XsMeterTotals = { cranks: 0, compute: 0, peakHeapCount: 0, lastHeapCount: 0, lastAllocate: 0, peakAllocate: 0 };
  #worker: XsWorker;
  #services = new Map<string, HostService>();
  #nextId = 1;
  #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #tracker: ((crank: Promise<unknown>) => void) | undefined;

  private constructor(options: XsSessionOptions, snapshot?: string) {
    for (const [name, fn] of Object.entries(options.services ?? {})) this.#services.set(name, fn);
    this.#services.set('$settle', (args: { id: number; ok: boolean; value?: unknown; error?: GuestErrorInfo }) => {
      const waiter = this.#pending.get(args.id);
      this.#pending.delete(args.id);
      if (!waiter) throw new Error(`settle of unknown call ${args.id}`);
      if (args.ok) waiter.resolve(args.value);
      else waiter.reject(new GuestError(args.error ?? { message: 'unknown guest error' }));
      return null;
    });
    const profile = activeDeviceProfile();
    this.#profiled = profile !== undefined;
    this.creation = options.creation ?? profile?.creation ?? deviceCreation();
    const name = options.name ?? `xs-ota ${options.bundle}`;
    this.#worker = new XsWorker({
      name,
      creation: this.creation,
      sampling: options.sampling ?? profile?.sampling,
      profileFile: profile?.register(name, () => this.baseLiveBytes),
      snapshot,
      onQuery: (request) => this.#onQuery(request),
      onPrint: options.onPrint ?? ((line) => this.printed.push(line)),
      // An engine stopped by the device profile (stack overflow, memory full) settles nothing
      // more: its async calls fail with the reason instead of waiting for a timeout.
      onExit: (error) => {
        for (const waiter of this.#pending.values()) waiter.reject(error);
        this.#pending.clear();
      },
    });
  }

  /**
   * Start an XS engine as the device runs it (device-profile.ts): built-ins frozen, then the
   * guest bundle, then the heap bound of `creation` from there on.
   */
  static async start(options: XsSessionOptions): Promise<XsSession> {
    const bundle = loadBundle(guestBundlePath(options.bundle));
    const code = bundle.code;
    // Boot from the loaded heap when one was saved (tools/xs/snapshot.ts: the device boots its
    // preloaded heap too); not for the bench, whose figures come from engines loaded as always.
    const profile = activeDeviceProfile();
    const useSnapshot = snapshotsEnabled() && !profile && !options.sampling;
    const creation = options.creation ?? deviceCreation();
    const worker = useSnapshot ? deviceWorkerPath() : '';
    const keyOf = (): string => {
      const id = `${worker}\0${options.bundle}\0${JSON.stringify(creation)}`;
      let key = bundle.keys.get(id);
      if (key === undefined) bundle.keys.set(id, (key = snapshotKey(worker, options.bundle, creation, [FREEZE_BUILT_INS, code])));
      return key;
    };
    const key = useSnapshot ? keyOf() : '';
    const saved = useSnapshot ? findBootSnapshot(worker, key) : undefined;
    const session = new XsSession(options, saved?.file);
    if (saved) {
      for (const meter of saved.load) session.#account({ reply: new Uint8Array(0), meter });
    } else {
      const load = [await session.#worker.evaluate(FREEZE_BUILT_INS), await session.#worker.evaluate(code)];
      for (const crank of load) session.#account(crank);
      if (useSnapshot) {
        const next = newBootSnapshot(worker, key);
        await session.#worker.writeSnapshot(next.temp);
        next.commit(load.map((crank) => crank.meter));
      }
    }
    session.baseLiveBytes = await session.call<number>('$boundHeap', session.creation.heapBytes);
    // The recorded peaks start here, as the live base does: on the device the bundle is preloaded
    // into flash, so loading it (one frame with a slot per top-level binding of the IIFE bundle,
    // about 700) never runs there.
    if (session.#profiled) await session.deviceFigures(true);
    const engine = (await session.call('$engine')) as { engine: string };
    if (engine.engine !== 'xs') {
      await session.close();
      throw new Error(`guest bundle ${options.bundle} did not report the XS engine: ${JSON.stringify(engine)}`);
    }
    return session;
  }

  /**
   * Report every crank (a call or event while XS runs) to `tracker`: virtual time uses it to wait
   * for XS to go idle before it advances.
   */
  trackCranks(tracker: (crank: Promise<unknown>) => void): void {
    this.#tracker = tracker;
  }

  #command(message: Uint8Array): Promise<XsCrank> {
    const crank = this.#worker.command(message);
    this.#tracker?.(crank);
    return crank;
  }

  /** Add or replace a host service. */
  provide(name: string, service: HostService): void {
    this.#services.set(name, service);
  }

  /**
   * Call an exposed guest function. Resolves with its value; an async guest function resolves when
   * it settles, which may need further events (virtual time) to be delivered first.
   */
  async call<T = unknown>(name: string, args?: unknown): Promise<T> {
    const id = this.#nextId++;
    // The waiter exists before the call goes out: an async guest function that settles within
    // the same crank (no host event awaited, e.g. an early rejection) sends `$settle` before the
    // crank's reply arrives.
    const settled = new Promise<T>((resolve, reject) => this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject }));
    settled.catch(() => undefined);
    let reply: { ok: boolean; value?: unknown; pending?: boolean; error?: GuestErrorInfo };
    try {
      const crank = await this.#command(encodeMessage({ op: 'call', name, args, id }));
      this.#account(crank);
      reply = decodeMessage(crank.reply) as typeof reply;
    } catch (error) {
      this.#pending.delete(id);
      throw error;
    }
    if (!reply.ok) {
      this.#pending.delete(id);
      throw new GuestError(reply.error ?? { message: 'unknown guest error' });
    }
    if (!reply.pending) {
      this.#pending.delete(id);
      return reply.value as T;
    }
    return settled;
  }

  /** Whether an async guest call is still unsettled. */
  get pendingCalls(): number {
    return this.#pending.size;
  }

  /** Deliver an event to the guest (a timer, UART bytes readable); resolves when XS is idle again. */
  async event(name: string, args?: unknown): Promise<void> {
    const crank = await this.#command(encodeMessage({ op: 'event', name, args, id: 0 }));
    this.#account(crank);
    const reply = decodeMessage(crank.reply) as { ok: boolean; error?: GuestErrorInfo };
    if (!reply.ok) throw new GuestError(reply.error ?? { message: 'unknown guest error' });
  }

  async evaluate(code: string): Promise<XsMeter> {
    const crank = await this.#worker.evaluate(code);
    this.#account(crank);
    return crank.meter;
  }

  /**
   * Live heap slots: collects garbage in the guest (bridge `$gc`) and returns the slots in use
   * after that crank. Only between cranks (not from inside a host service).
   */
  async liveHeapCount(): Promise<number> {
    await this.call('$gc');
    return this.meter.lastHeapCount;
  }

  /**
   * The engine's device figures (sizes, live and peak memory, peak stack depth), after a full
   * collection; `reset` starts a new window for the peaks. Only between cranks.
   */
  deviceFigures(reset = false): Promise<DeviceFigures> {
    return this.call<DeviceFigures>('$device', reset);
  }

  async close(): Promise<void> {
    for (const waiter of this.#pending.values()) waiter.reject(new Error('XS session closed'));
    this.#pending.clear();
    await this.#worker.close();
  }

  /** Stop the engine at once, as a power cut or reset would. */
  kill(): void {
    for (const waiter of this.#pending.values()) waiter.reject(new Error('XS engine stopped'));
    this.#pending.clear();
    this.#worker.kill();
  }

  #account(crank: XsCrank): void {
    this.meter.cranks++;
    this.meter.compute += crank.meter.compute;
    this.meter.lastHeapCount = crank.meter.currentHeapCount;
    if (crank.meter.currentHeapCount > this.meter.peakHeapCount) this.meter.peakHeapCount = crank.meter.currentHeapCount;
    this.meter.lastAllocate = crank.meter.allocate;
    if (crank.meter.allocate > this.meter.peakAllocate) this.meter.peakAllocate = crank.meter.allocate;
  }

  #onQuery(request: Uint8Array): Uint8Array {
    let op = '?';
    try {
      const message = decodeMessage(request) as { op: string; args: unknown };
      op = message.op;
      const service = this.#services.get(op);
      if (!service) return encodeMessage({ ok: false, error: `no host service '${op}'` });
      return encodeMessage({ ok: true, value: service(message.args) ?? null });
    } catch (error) {
      return encodeMessage({ ok: false, error: error instanceof Error ? error.message : String(error) });
    }
  }
}
