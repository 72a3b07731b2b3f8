/**
 * How every XS session runs the guest: as a device runs the agent. Three differences from what
 * `@agoric/xsnap` builds and runs by default, each of which hid a defect on the device:
 *  - a 32-bit engine (16-byte slots, 4-byte pointers, as on a Cortex-M), built from the XS
 *    sources the package ships by tools/xs/build-xsnap32.sh into build/xsnap32/;
 *  - the JS stack and heap of manifest.json's `creation`, so that an overflow or a full heap
 *    stops the engine (and fails the test) as it would reset the device;
 *  - built-ins frozen before the guest loads, as Moddable's preload leaves them (its XS linker
 *    freezes every built-in object; an assignment to an inherited built-in property such as
 *    `this.name` in an Error subclass then throws in strict code).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The repository (this file runs from build/tools/xs). */
const ROOT = path.resolve(here, '..', '..', '..');

/** The XS creation parameters a session runs with (Moddable's manifest `creation` names). */
export interface DeviceCreation {
  /** JS stack, in slots (XS keeps its ~190 intrinsics there too, as on the device). */
  stack: number;
  chunk: { initial: number; incremental: number };
  heap: { initial: number; incremental: number };
  /**
   * What the agent may add to the engine's heap (slots x 16 + chunk bytes) once its bundle is
   * loaded. On the device the bundle is preloaded into flash and this is the whole RAM heap
   * (`creation.static`); here the built-ins and the bundle's code are in RAM too, so the bound
   * starts after they are loaded.
   */
  heapBytes: number;
}

/**
 * Used while manifest.json has no `creation`. Heap: 160 KiB, the agent's measured peak during a
 * 1 MiB update on this engine (109,140 bytes live above the loaded bundle: `npm run bench --
 * --section device-profile`) with about half again for margin. Stack: 1024 slots, because the
 * measured peak is 758 (SE verification during an install; about 80 of them are the test
 * bridge's host calls). Issue 11's target is a 512-slot stack with a peak of at most 384: until
 * the agent's deepest paths are flattened that far, a manifest `creation.stack` of 512 makes the
 * agent overflow, on the device and therefore here. Chunk and slot increments are small so that
 * the engine collects before it grows, as a device with a fixed heap must.
 */
export const DEFAULT_CREATION: DeviceCreation = {
  stack: 1024,
  chunk: { initial: 16 * 1024, incremental: 4 * 1024 },
  heap: { initial: 1024, incremental: 256 },
  heapBytes: 160 * 1024,
};

/** Bytes of a slot on the 32-bit engine (sizeof(txSlot), checked by test/xs/device.spec.ts). */
export const SLOT_BYTES = 16;

type ManifestCreation = {
  static?: number;
  stack?: number;
  chunk?: { initial?: number; incremental?: number };
  heap?: { initial?: number; incremental?: number };
};

function positive(value: unknown, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new Error(`manifest.json creation.${what} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * The creation the sessions use: manifest.json's `creation` where it says (`stack`, `chunk`,
 * `heap`, `static` as the heap bound), the defaults above where it does not.
 */
export function deviceCreation(manifestPath = path.join(ROOT, 'manifest.json')): DeviceCreation {
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { creation?: ManifestCreation };
  const c = manifest.creation ?? {};
  const d = DEFAULT_CREATION;
  const staticBytes = positive(c.static, 'static');
  return {
    stack: positive(c.stack, 'stack') ?? d.stack,
    chunk: {
      initial: positive(c.chunk?.initial, 'chunk.initial') ?? d.chunk.initial,
      incremental: positive(c.chunk?.incremental, 'chunk.incremental') ?? d.chunk.incremental,
    },
    heap: {
      initial: positive(c.heap?.initial, 'heap.initial') ?? d.heap.initial,
      incremental: positive(c.heap?.incremental, 'heap.incremental') ?? d.heap.incremental,
    },
    heapBytes: staticBytes ?? d.heapBytes,
  };
}

/** What the 32-bit engine reports (tools/xs/native/xs-ota-device-worker.c). */
export interface DeviceFigures {
  slotSize: number;
  pointerSize: number;
  stackSlots: number;
  heapBytesLimit: number;
  reservedBytes: number;
  /** Bytes reserved from the system (xsnap's meter, the stack included). */
  allocatedBytes: number;
  /** Live bytes the engine may hold: live when the guest was loaded + heapBytes. */
  boundBytes: number;
  liveSlots: number;
  /** Chunk bytes live after the last collection, byte code left out (codeBytes). */
  liveChunkBytes: number;
  /**
   * Byte code XS copied into chunks for the function objects it made (the guest is a script);
   * on a device a function's code stays in the preloaded archive (flash), so every live figure
   * here leaves these bytes out.
   */
  codeBytes: number;
  /** Peak of slots x slotSize + chunk bytes after a full collection, over the samples. */
  peakLiveBytes: number;
  peakLiveSlots: number;
  peakLiveChunkBytes: number;
  /**
   * Deepest JS stack seen (slots, XS's intrinsics included), over the samples, as a device would
   * have it: without the test bridge's frames (tools/xs/native/xs-ota-device-platform.c
   * xsOtaDeviceDepth: below `hostCall`, inside `handleCommand` before the guest function).
   */
  peakStackSlots: number;
  /** The same with the bridge's frames: the deepest stack this engine really ran. */
  peakRawStackSlots: number;
  samples: number;
  collections: number;
}

/** Sampling inside engine calls: how often, in XS meter units. */
export interface DeviceSampling {
  /** Meter units between samples (stack depth; the heap bound is checked there too). */
  interval: number;
  /** Every how many samples to collect garbage and sample live memory. */
  gcEvery: number;
}

/**
 * What every test session samples: nothing at meter checks (a callback at every function entry
 * made the 1 MiB XS suites several times slower). The heap bound is then checked at every host
 * call the guest makes (its port calls, inside its engine calls) and at every crank end, so the
 * call that passes it fails; the JS stack is bounded by XS itself (creation.stack).
 */
export const TEST_SAMPLING: DeviceSampling = { interval: 0, gcEvery: 0 };

/** Environment for build/xsnap32's xsnap-worker (the names it reads). */
export function deviceEnvironment(creation: DeviceCreation, sampling: DeviceSampling = TEST_SAMPLING, profileFile?: string): Record<string, string> {
  return {
    ...(profileFile ? { XSOTA_PROFILE_FILE: profileFile } : {}),
    XSOTA_STACK_SLOTS: String(creation.stack),
    XSOTA_CHUNK_INITIAL: String(creation.chunk.initial),
    XSOTA_CHUNK_INCREMENTAL: String(creation.chunk.incremental),
    XSOTA_HEAP_INITIAL: String(creation.heap.initial),
    XSOTA_HEAP_INCREMENTAL: String(creation.heap.incremental),
    XSOTA_SAMPLE_INTERVAL: String(sampling.interval),
    XSOTA_GC_EVERY: String(sampling.gcEvery),
  };
}

/** What the engine wrote of its peaks (XSOTA_PROFILE_FILE), with where its heap bound started. */
export interface DeviceProfilePeaks {
  name: string;
  /** Live bytes when the guest was loaded (built-ins and the bundle's code: flash on the device). */
  baseLiveBytes: number;
  peakLiveBytes: number;
  peakLiveSlots: number;
  peakLiveChunkBytes: number;
  /** Without the test bridge's frames (DeviceFigures.peakStackSlots). */
  peakStackSlots: number;
  peakRawStackSlots: number;
  collections: number;
}

/**
 * Records the peaks of every XS session started while it is active (the bench: a simulated
 * device reboots into new engines, and a reset kills an engine without asking it). Sessions
 * sample with `sampling`; each engine rewrites its peaks into a file whenever one grows.
 */
export class DeviceProfileRecorder {
  readonly sampling: DeviceSampling;
  /**
   * Creation for the recorded sessions: room to measure how deep and how large the agent goes,
   * rather than stopping it at the manifest's limits.
   */
  readonly creation: DeviceCreation;
  readonly #dir = mkdtempSync(path.join(tmpdir(), 'xs-ota-profile-'));
  readonly #sessions: { name: string; file: string; base: () => number }[] = [];

  constructor(sampling: DeviceSampling, creation: DeviceCreation = { ...deviceCreation(), stack: 4096, heapBytes: 8 * 1024 * 1024 }) {
    this.sampling = sampling;
    this.creation = creation;
  }

  /** A file for the next session's engine; `base` reads its base once the guest is loaded. */
  register(name: string, base: () => number): string {
    const file = path.join(this.#dir, `${this.#sessions.length}.json`);
    this.#sessions.push({ name, file, base });
    return file;
  }

  peaks(): DeviceProfilePeaks[] {
    return this.#sessions
      .filter((s) => existsSync(s.file))
      .map((s) => ({ name: s.name, baseLiveBytes: s.base(), ...(JSON.parse(readFileSync(s.file, 'utf8')) as Omit<DeviceProfilePeaks, 'name' | 'baseLiveBytes'>) }));
  }

  dispose(): void {
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

let recorder: DeviceProfileRecorder | undefined;

/** Sessions started from now on are recorded by `next` (undefined: none). */
export function recordDeviceProfile(next: DeviceProfileRecorder | undefined): void {
  recorder = next;
}

export function activeDeviceProfile(): DeviceProfileRecorder | undefined {
  return recorder;
}

/** build/xsnap32's worker, built on first use (the same script .ci/run runs). */
let checkedWorker: string | undefined;

export function deviceWorkerPath(): string {
  // Checked once per process: the check runs a shell and hashes the engine's sources (about
  // 0.1 s), and every simulated boot starts an engine.
  if (checkedWorker) return checkedWorker;
  const bin = path.join(ROOT, 'build', 'xsnap32', 'bin', 'xsnap-worker');
  const script = path.join(ROOT, 'tools', 'xs', 'build-xsnap32.sh');
  // The script returns at once when the engine is built and current.
  const run = spawnSync('bash', [script], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (run.status !== 0 || !existsSync(bin)) {
    throw new Error(`the 32-bit XS engine did not build (${script}, exit ${run.status}); it needs gcc-multilib`);
  }
  checkedWorker = bin;
  return bin;
}

/**
 * Script evaluated before the guest bundle: hardens every built-in (each global binding that is
 * an object or function, and the intrinsics reachable only through them: %TypedArray%, the
 * iterator and generator prototypes), as preload leaves them. The global object itself stays
 * extensible: the guest defines its `handleCommand` there, as a device's modules have their own
 * scope. Then the heap bound starts (see DeviceCreation.heapBytes).
 */
export const FREEZE_BUILT_INS = `(() => {
  "use strict";
  const hidden = [
    Object.getPrototypeOf(Uint8Array),
    Object.getPrototypeOf(function* () {}),
    Object.getPrototypeOf(async function () {}),
    Object.getPrototypeOf(async function* () {}),
    Object.getPrototypeOf([][Symbol.iterator]()),
    Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())),
    Object.getPrototypeOf(new Map()[Symbol.iterator]()),
    Object.getPrototypeOf(new Set()[Symbol.iterator]()),
    Object.getPrototypeOf(''[Symbol.iterator]()),
    Object.getPrototypeOf(/x/[Symbol.matchAll]('')),
    Object.getPrototypeOf(Object.getPrototypeOf((function* () {})())),
  ];
  for (const name of Object.getOwnPropertyNames(globalThis)) {
    const d = Object.getOwnPropertyDescriptor(globalThis, name);
    if (d && 'value' in d && d.value !== globalThis && (typeof d.value === 'object' || typeof d.value === 'function') && d.value !== null) harden(d.value);
  }
  for (const intrinsic of hidden) harden(intrinsic);
})();`;
