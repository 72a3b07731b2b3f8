/**
 * The bench's `delta` section (issue 14): for each committed firmware pair (test/fixtures/firmware),
 * a whole update on the simulated dev kit (agent in XS, SIM7080G at 115200 baud, static manifest
 * backend) once with the full image and once with the delta, and the decoder alone inside XS.
 * Every figure is a byte count, virtual time or an XS meter count.
 *
 * The targets are judged on the device-sized build (~730 KB of code and data, signed with
 * --align-end 0x10000 to 786 KB, the dev kit's 1 MiB slots: what a Zephyr + XS firmware of this
 * device class weighs); the small build's one-function pair (20 KB,
 * the tests' fixtures) is a row for contrast, where the fixed part of an update dominates.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DECODER_RAM_BYTES, DECODER_SLOTS_BUDGET } from '../../src/delta/decoder.js';
import { runDevkitUpdate, type DevkitSummary } from '../devkit/devkit.js';
import { NOR_TIMING_TYPICAL } from '../devkit/parts/sim-flash.js';
import { XsSession } from '../xs/session.js';
import { deviceCreation } from '../xs/device-profile.js';
import { SIGNING_KEY_FILE } from './update.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const firmware = path.join(repoRoot, 'test', 'fixtures', 'firmware');
const read = (name: string) => new Uint8Array(readFileSync(path.join(firmware, name)));

/** Issue 14's targets for a one-function change. */
export const DELTA_TARGETS = { airRatio: 0.1, timeRatio: 0.2, decoderRamBytes: 8192 } as const;

export interface DeltaPair {
  name: string;
  from: string;
  to: string;
  delta: string;
  /** The pair the targets are judged on (`meets`). */
  judged: boolean;
}

export const DELTA_PAIRS: readonly DeltaPair[] = [
  {
    name: 'device build, one function (v1.0.0+1 -> v1.1.0+2)',
    from: 'device-fw-v1.0.0+1.signed.bin',
    to: 'device-fw-v1.1.0+2.signed.bin',
    delta: 'device-v1.0.0+1-to-v1.1.0+2.vcdiff',
    judged: true,
  },
  {
    name: 'device build, library upgrade (v1.1.0+2 -> v1.2.0+3)',
    from: 'device-fw-v1.1.0+2.signed.bin',
    to: 'device-fw-v1.2.0+3.signed.bin',
    delta: 'device-v1.1.0+2-to-v1.2.0+3.vcdiff',
    judged: false,
  },
  {
    name: 'small build, one function (v1.0.0+1 -> v1.1.0+2)',
    from: 'fw-v1.0.0+1.signed.bin',
    to: 'fw-v1.1.0+2.signed.bin',
    delta: 'v1.0.0+1-to-v1.1.0+2.vcdiff',
    judged: false,
  },
];

export interface DeltaFigures {
  pair: string;
  fullBytes: number;
  deltaBytes: number;
  /** Payload bytes over the air for the whole update (requests, reports, artifact). */
  airFull: number;
  airDelta: number;
  /** Virtual seconds from the offer accepted to the final report (the update itself). */
  secondsFull: number;
  secondsDelta: number;
  /** The same two updates offered after the device idled (IDLE_BEFORE_OFFER_S): its slot erased ahead. */
  secondsFullAfterIdle: number;
  secondsDeltaAfterIdle: number;
  /** Virtual seconds from power-on (modem bring-up and network registration included) to the final report. */
  powerOnFull: number;
  powerOnDelta: number;
  /** XS meter units of the decoder alone, per target byte. */
  decoderUnitsPerByte: number;
  /** Live XS heap slots one decoder holds (its objects; typed-array bytes are chunks, counted in DECODER_RAM_BYTES). */
  decoderSlots: number;
  /** Virtual seconds of MCUboot's run at the swap boot (the same image, so the same in both updates). */
  swapSeconds: number;
  /** The phases of each update (virtual seconds). */
  phasesFull: UpdatePhases;
  phasesDelta: UpdatePhases;
  judged: boolean;
}

export interface UpdatePhases {
  /** download.start to download.done. */
  download: number;
  /**
   * verify.start to stage.start: for a delta its re-hash, the source check and the decode (the
   * target's erases and programs), then, for both, the image's re-hash and the A5000's check.
   */
  verify: number;
}

const air = (s: DevkitSummary) => s.network.rxBytes + s.network.txBytes;
/** Virtual seconds from `deployment.accepted` to `deployment.reported`. */
function updateSeconds(s: DevkitSummary): number {
  const start = s.logs.find((l) => l.event === 'deployment.accepted');
  const end = s.logs.find((l) => l.event === 'deployment.reported');
  if (!start || !end) throw new Error('bench delta: no accepted/reported events');
  return (end.at - start.at) / 1000;
}

/** Virtual seconds from the first `from` event after the offer was accepted to the first `to` after it. */
function phaseSeconds(s: DevkitSummary, from: string, to: string): number {
  const accepted = s.logs.findIndex((l) => l.event === 'deployment.accepted');
  const a = s.logs.findIndex((l, i) => i > accepted && l.event === from);
  const b = s.logs.findIndex((l, i) => i > a && l.event === to);
  if (accepted < 0 || a < 0 || b < 0) throw new Error(`bench delta: no ${from} -> ${to} in the update`);
  return (s.logs[b].at - s.logs[a].at) / 1000;
}

const phases = (s: DevkitSummary): UpdatePhases => ({ download: phaseSeconds(s, 'download.start', 'download.done'), verify: phaseSeconds(s, 'verify.start', 'stage.start') });

/** MCUboot's run that swapped the image in (the second boot's), virtual seconds. */
function swapSeconds(s: DevkitSummary): number {
  const ms = s.flash.bootloaderMs[1];
  if (ms === undefined) throw new Error('bench delta: no swap boot');
  return ms / 1000;
}

/**
 * Virtual seconds after power-on at which the field-like runs get their offer: the device polls,
 * finds its running image named and idles first, erasing its secondary slot ahead (issue 15),
 * as a fleet device meets an update; a whole 1 MiB slot is erased well within it.
 */
export const IDLE_BEFORE_OFFER_S = 60;

async function update(image: Uint8Array, baseImage: Uint8Array, delta?: Uint8Array, offerAfterS?: number): Promise<DevkitSummary> {
  const s = await runDevkitUpdate({
    offerAfterS,
    image,
    baseImage,
    trustedKeyPem: readFileSync(SIGNING_KEY_FILE, 'utf8'),
    backend: 'manifest',
    modem: 'sim7080',
    baud: 115_200,
    delta: delta && { bytes: delta },
  });
  if (s.outcome !== 'running') throw new Error(`bench delta: update ended ${s.outcome} (${s.reason})`);
  return s;
}

/**
 * XS meter units of one decode of `delta` (the decoder alone, inputs already in the engine), and
 * the live heap slots one decoder holds (after a full collection, with and without it).
 */
async function decoderUnits(delta: Uint8Array, source: Uint8Array, target: Uint8Array): Promise<{ units: number; slots: number }> {
  // The bench hands the whole delta, source and target to the engine (a device streams them from
  // flash): the heap bound of the device profile gets room for those inputs, as test/xs/image.spec.ts does.
  const creation = deviceCreation();
  const session = await XsSession.start({ bundle: 'decode', creation: { ...creation, heapBytes: creation.heapBytes + 4 * (delta.length + source.length + target.length) } });
  try {
    await session.call('hold', { delta, source, targetLength: target.length });
    const live = await session.liveHeapCount();
    await session.call('keep');
    const slots = (await session.liveHeapCount()) - live;
    const before = session.meter.compute;
    await session.call('decode');
    const units = session.meter.compute - before;
    const rebuilt = await session.call<Uint8Array>('target');
    if (!Buffer.from(rebuilt).equals(Buffer.from(target))) throw new Error('bench delta: the decoder in XS rebuilt other bytes');
    return { units, slots };
  } finally {
    await session.close();
  }
}

export async function deltaFigures(): Promise<DeltaFigures[]> {
  const out: DeltaFigures[] = [];
  for (const p of DELTA_PAIRS) {
    const [from, to, delta] = [read(p.from), read(p.to), read(p.delta)];
    const full = await update(to, from);
    const viaDelta = await update(to, from, delta);
    const fullAfterIdle = await update(to, from, undefined, IDLE_BEFORE_OFFER_S);
    const deltaAfterIdle = await update(to, from, delta, IDLE_BEFORE_OFFER_S);
    for (const run of [viaDelta, deltaAfterIdle]) if (run.artifactBytesSent !== delta.length) throw new Error(`bench delta: ${p.name} did not go by delta`);
    out.push({
      pair: p.name,
      fullBytes: to.length,
      deltaBytes: delta.length,
      airFull: air(full),
      airDelta: air(viaDelta),
      secondsFull: updateSeconds(full),
      secondsDelta: updateSeconds(viaDelta),
      secondsFullAfterIdle: updateSeconds(fullAfterIdle),
      secondsDeltaAfterIdle: updateSeconds(deltaAfterIdle),
      powerOnFull: full.virtualMs / 1000,
      powerOnDelta: viaDelta.virtualMs / 1000,
      ...(await decoderUnits(delta, from, to).then((d) => ({ decoderUnitsPerByte: d.units / to.length, decoderSlots: d.slots }))),
      swapSeconds: swapSeconds(viaDelta),
      phasesFull: phases(full),
      phasesDelta: phases(viaDelta),
      judged: p.judged,
    });
  }
  return out;
}

export { DECODER_RAM_BYTES };

/** The section as `xs-ota bench` prints it (tools/cli/bench.ts lists it). */
export async function deltaSection(): Promise<import('../cli/bench.js').BenchSection> {
  const figures = await deltaFigures();
  const rows: Record<string, string | number | boolean>[] = [];
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  for (const f of figures) {
    const airRatio = f.airDelta / f.airFull;
    const timeRatio = f.secondsDelta / f.secondsFull;
    rows.push({
      pair: f.pair,
      fullBytes: f.fullBytes,
      deltaBytes: f.deltaBytes,
      deltaRatio: r3(f.deltaBytes / f.fullBytes),
      airFull: f.airFull,
      airDelta: f.airDelta,
      airRatio: r3(airRatio),
      secondsFull: r3(f.secondsFull),
      secondsDelta: r3(f.secondsDelta),
      timeRatio: r3(timeRatio),
      secondsFullAfterIdle: r3(f.secondsFullAfterIdle),
      secondsDeltaAfterIdle: r3(f.secondsDeltaAfterIdle),
      timeRatioAfterIdle: r3(f.secondsDeltaAfterIdle / f.secondsFullAfterIdle),
      powerOnSecondsFull: r3(f.powerOnFull),
      powerOnSecondsDelta: r3(f.powerOnDelta),
      decoderRamBytes: DECODER_RAM_BYTES,
      decoderSlotsMeasured: f.decoderSlots,
      xsUnitsPerTargetByte: r3(f.decoderUnitsPerByte),
      downloadSecondsFull: r3(f.phasesFull.download),
      downloadSecondsDelta: r3(f.phasesDelta.download),
      verifySecondsFull: r3(f.phasesFull.verify),
      verifySecondsDelta: r3(f.phasesDelta.verify),
      swapSeconds: r3(f.swapSeconds),
      swapShareOfFull: r3(f.swapSeconds / f.secondsFull),
      meets: f.judged ? airRatio <= DELTA_TARGETS.airRatio && timeRatio <= DELTA_TARGETS.timeRatio && DECODER_RAM_BYTES <= DELTA_TARGETS.decoderRamBytes && f.decoderSlots <= DECODER_SLOTS_BUDGET : '',
    });
  }
  return {
    name: 'delta',
    title: 'Delta updates: firmware pairs (test/fixtures/firmware, the device build judged), full image vs VCDIFF delta, SIM7080G at 115200 baud, agent in XS',
    columns: Object.keys(rows[0]),
    rows,
    notes: [
      'fullBytes: the signed target image; deltaBytes: its VCDIFF delta (xdelta3 -e -9 -S none -A -W 16384).',
      'air: payload bytes the modem exchanged with the network for the whole update (poll, reports, artifact; after TLS, records not counted), from power-on to the final report.',
      'seconds: virtual time of the update, from the offer accepted (deployment.accepted) to the final report (deployment.reported): download, verify (decode), stage, swap, health check, confirm, and the reports, each a TLS connection; timeRatio = delta / full. powerOnSeconds: from power-on, adding the modem bring-up and network registration (about 24 s) that every poll pays, update or not.',
      'pairs: gcc-arm-none-eabi builds of one application (test/fixtures/firmware/README.md), signed in imgtool\'s format, the dev kit\'s 1 MiB slots. device build (signed with --align-end 0x10000: its copy size is a multiple of 64 KiB, so the swap block-erases, see swapSeconds): an RP2350 (Cortex-M33) firmware of the size of this device class, the application with newlib (full printf/scanf with float, libm), the static libstdc++ (iostreams, locales, regex) and the system CA bundle in DER; v1.1.0+2 changes one function, v1.2.0+3 upgrades a library. small build: the same application alone (the tests\' fixtures), a row for contrast where the fixed part of an update dominates.',
      `afterIdle: the same updates offered ${IDLE_BEFORE_OFFER_S} s after power-on: the device polls, finds its running image named, idles and erases its secondary slot ahead (src/slot/erased-ahead.ts), as a fleet device meets an update; the delta's decode then programs without erasing. meets judges the offer at the first poll (the slot not erased ahead), the worse case.`,
      'download/verify seconds: the phases download.start -> download.done and verify.start -> stage.start. A delta\'s verify holds its decode: the rebuilt image\'s erases and programs in the secondary slot, which a full download spreads over its reception.',
      `swapSeconds: MCUboot's run at the swap boot (swap using scratch: per scratch-sized group, three erases and three copies), the same in both updates; swapShareOfFull = swapSeconds / secondsFull is the least timeRatio any delta can reach with this bootloader and flash. Groups start from the image's last sector downward, so an image that does not end on a 64 KiB block boundary pays sector erases (${NOR_TIMING_TYPICAL.sectorEraseUs / 1000} ms each) for every group instead of block erases (${NOR_TIMING_TYPICAL.blockEraseUs / 1000} ms per 16 sectors).`,
      `decoderRamBytes: DECODER_RAM_BYTES (src/delta/decoder.ts), the decoder's buffers and address cache plus its objects on 32-bit XS, whatever the window sizes; beyond the slot writer's buffers.`,
      `decoderSlotsMeasured: live XS heap slots of one decoder measured in XS (full collection with and without it); DECODER_RAM_BYTES budgets ${DECODER_SLOTS_BUDGET} slots of 16 bytes for them (meets requires the measured count within it).`,
      'xsUnitsPerTargetByte: XS meter computation of the decoder alone (inputs already in the engine) divided by the target bytes.',
      `meets (the device build's one-function pair): air <= ${DELTA_TARGETS.airRatio} x full, time <= ${DELTA_TARGETS.timeRatio} x full, decoder RAM <= ${DELTA_TARGETS.decoderRamBytes} bytes (issue 14).`,
    ],
  };
}
