/**
 * The agent's device profile during a whole 1 MiB update on the simulated dev kit, measured on the
 * 32-bit XS engine every XS session runs (tools/xs/device-profile.ts): peak live memory in bytes
 * as on a Cortex-M (slots x 16 + chunk bytes, after a full collection, sampled inside engine calls
 * as well as between them) and the peak JS stack depth in slots. Deterministic: XS meter counts
 * decide when a sample is taken, never the clock.
 */
import { DeviceProfileRecorder, deviceCreation, recordDeviceProfile, SLOT_BYTES, type DeviceSampling } from '../xs/device-profile.js';
import { MiB } from './rig.js';
import { benchImage, boardSlotLayout, runBenchUpdate, updateFigures } from './update.js';

/** Targets of issue 11 ("Benchmark"). */
export const PEAK_LIVE_TARGET_BYTES = 48 * 1024;
export const PEAK_STACK_TARGET_SLOTS = 384;

/**
 * A stack sample at every meter check (function entries, backward branches) and a full
 * collection with a live-memory sample at every 500th host call (the agent's port calls).
 */
export const BENCH_SAMPLING: DeviceSampling = { interval: 1, gcEvery: 500 };

/** Slots of the 1 MiB update's slot layout (the update section's). */
const SLOT_SIZE = 0x140000;

export interface DeviceProfileFigures {
  /** Engines the update ran in (one per boot). */
  boots: number;
  /** Live bytes once the agent bundle was loaded (built-ins + code; flash on the device). */
  baseLiveBytes: number;
  /** Largest live bytes over every boot, less its base: what the agent needs of the RAM heap. */
  peakLiveBytes: number;
  peakLiveSlots: number;
  peakLiveChunkBytes: number;
  /** Deepest JS stack over every boot, XS's own intrinsics included (as creation.stack counts). */
  peakStackSlots: number;
  /** The same with the test bridge's frames (hostCall, handleCommand), which a device has not. */
  peakRawStackSlots: number;
  collections: number;
  /** The manifest's (or default) creation the tests run with. */
  creationStack: number;
  heapBound: number;
}

export async function measureDeviceProfile(size = MiB): Promise<DeviceProfileFigures> {
  const recorder = new DeviceProfileRecorder(BENCH_SAMPLING);
  recordDeviceProfile(recorder);
  try {
    const run = await runBenchUpdate({ image: benchImage(size), layout: boardSlotLayout(SLOT_SIZE), modem: 'sim7080', baud: 115_200 });
    const outcome = updateFigures(run).outcome;
    if (outcome !== 'running') throw new Error(`device profile update: outcome ${outcome} (${run.summary.reason ?? ''})`);
    const peaks = recorder.peaks();
    if (peaks.length === 0) throw new Error('device profile: no XS session recorded');
    const growth = (p: (typeof peaks)[number]) => p.peakLiveBytes - p.baseLiveBytes;
    const top = peaks.reduce((a, b) => (growth(b) > growth(a) ? b : a));
    const creation = deviceCreation();
    return {
      boots: peaks.length,
      baseLiveBytes: top.baseLiveBytes,
      peakLiveBytes: growth(top),
      peakLiveSlots: top.peakLiveSlots,
      peakLiveChunkBytes: top.peakLiveChunkBytes,
      peakStackSlots: Math.max(...peaks.map((p) => p.peakStackSlots)),
      peakRawStackSlots: Math.max(...peaks.map((p) => p.peakRawStackSlots)),
      collections: peaks.reduce((n, p) => n + p.collections, 0),
      creationStack: creation.stack,
      heapBound: creation.heapBytes,
    };
  } finally {
    recordDeviceProfile(undefined);
    recorder.dispose();
  }
}

/** The bench section (tools/cli/bench.ts). */
export async function deviceProfileSection(): Promise<{ name: string; title: string; columns: string[]; rows: Record<string, string | number | boolean>[]; notes: string[] }> {
  const f = await measureDeviceProfile();
  const rows = [
    { figure: 'peak live XS memory of the agent', value: f.peakLiveBytes, unit: 'bytes', target: `<= ${PEAK_LIVE_TARGET_BYTES}`, meets: f.peakLiveBytes <= PEAK_LIVE_TARGET_BYTES },
    { figure: '  at the peak: slots x 16 (absolute)', value: f.peakLiveSlots * SLOT_BYTES, unit: 'bytes', target: '', meets: '' as const },
    { figure: '  at the peak: chunks (absolute)', value: f.peakLiveChunkBytes, unit: 'bytes', target: '', meets: '' as const },
    { figure: 'live XS memory once the bundle is loaded', value: f.baseLiveBytes, unit: 'bytes', target: '', meets: '' as const },
    { figure: 'peak JS stack depth', value: f.peakStackSlots, unit: 'slots', target: `<= ${PEAK_STACK_TARGET_SLOTS}`, meets: f.peakStackSlots <= PEAK_STACK_TARGET_SLOTS },
    { figure: '  with the test bridge\'s frames', value: f.peakRawStackSlots, unit: 'slots', target: '', meets: '' as const },
    { figure: 'XS creation stack / heap bound in the tests', value: `${f.creationStack} / ${f.heapBound}`, unit: 'slots / bytes', target: '', meets: '' as const },
    { figure: 'boots, collections sampled', value: `${f.boots}, ${f.collections}`, unit: '', target: '', meets: '' as const },
  ];
  return {
    name: 'device-profile',
    title: 'Device profile: a 1 MiB update (sim7080 @ 115200) on the 32-bit XS engine (16-byte slots)',
    columns: ['figure', 'value', 'unit', 'target', 'meets'],
    rows,
    notes: [
      'peak live = max over the update of (slots x 16 + chunk bytes) after a full collection, less the same once the agent bundle was loaded (XS built-ins and the bundle code, which a device keeps in flash); byte code is left out throughout (the guest runs as a script, so XS copies each new function object\'s code into a chunk; a preloaded device points it into flash); sampled at every 500th host call the agent makes (inside its engine calls: a UART read, a flash write, a timer), at every crank end and at every heap-bound check.',
      'peak JS stack = deepest XS stack at any meter check (function entries, backward branches), in slots, XS\'s ~190 intrinsic slots included as creation.stack counts them, the test bridge\'s frames left out (what runs below a hostCall, which stands for a native port call, and handleCommand\'s locals above the handler it calls, which a native callback calls from its host frame; tools/xs/native/xs-ota-device-platform.c xsOtaDeviceDepth).',
    ],
  };
}
