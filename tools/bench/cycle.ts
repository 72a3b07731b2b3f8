/**
 * Whole-update figures against issue 15's targets: the update on both modems at both line rates
 * with typical and worst-case flash timing, where the time from power-on to confirmed goes, and
 * xs-ota's download beside the peers' request patterns. Runs are shared between sections (each
 * configuration runs once per bench).
 */
import { CAT_1, CAT_M } from '../devkit/parts/sim-modem/index.js';
import type { FlashTiming, FlashTimingName } from '../devkit/parts/sim-flash.js';
import { DEFAULT_RX_FIFO_BYTES } from '../devkit/parts/sim-uart.js';
import type { LogEntry } from '../devkit/device.js';
import { benchImage, boardSlotLayout, runBenchUpdate, type UpdateRun } from './update.js';
import type { Model } from './rig.js';

export const MODEMS: Model[] = ['sim7080', 'sim7600'];
export const BAUDS = [115_200, 921_600];
export const TIMINGS: FlashTimingName[] = ['typical', 'worst'];
/**
 * How the update meets the device: `cold`, assigned before power-on (the first poll takes it, the
 * slot writer erases as it receives); `idle`, assigned IDLE_OFFER_AFTER_S after power-on, so the
 * device polled, found nothing and erased its secondary slot ahead first (src/slot/erased-ahead.ts),
 * as a fleet device in the field meets an update.
 */
export type CycleStart = 'cold' | 'idle';
export const STARTS: CycleStart[] = ['cold', 'idle'];
/** After the first empty poll (~24 s) and long enough for the worst-case idle erase of the slot (20 x 2 s). */
export const IDLE_OFFER_AFTER_S = 60;

/** Slots of the bench's update layout (a 1 MiB image does not fit the default 0x60000). */
export const CYCLE_SLOT_SIZE = 0x140000;

/** Issue 15's targets. */
export const TARGET_TYPICAL = 0.95;
export const TARGET_WORST = 0.9;
export const TARGET_CONFIRMED_OVER_TRANSFER = 1.15;

export function bottleneckBps(model: Model, baud: number): number {
  return Math.min(baud / 10, (model === 'sim7080' ? CAT_M : CAT_1).downlinkBps / 8);
}

/**
 * The physical limit the flash sets on the download, as a ratio of the bottleneck, for a slot
 * writer that erases 64 KiB blocks (tBE2) and programs 256-byte pages while the MCU is blocked:
 * per block, the line needs T = 64 KiB / bottleneck; the MCU is busy B = tBE2 + 256 tPP, so it
 * cannot be faster than B; and during the block erase the line keeps going only while the RX FIFO
 * has room (F / UART rate). The backlog past that (bottleneck x tBE2 - F) is lost time unless the
 * UART has spare rate over the network to catch up within the block (network-bound SIM7080 at
 * 921600). limit = min(1, T / max(B, T + loss)).
 */
export function flashLimit(model: Model, baud: number, t: FlashTiming, rxFifoBytes = DEFAULT_RX_FIFO_BYTES): number {
  const block = 0x10000;
  const r = bottleneckBps(model, baud);
  const u = baud / 10;
  const T = block / r;
  const busy = (t.blockEraseUs + (block / 256) * t.programUsPer256) / 1e6;
  const backlog = r * (t.blockEraseUs / 1e6) - rxFifoBytes;
  const catchUp = (u - r) * T;
  const loss = Math.max(0, backlog - catchUp) / u;
  return Math.min(1, T / Math.max(busy, T + loss));
}

/**
 * The same limit when the slot was erased ahead: only page programs block the MCU (tPP per 256
 * bytes, shorter than the RX FIFO lasts), so limit = min(1, 256 B / tPP / bottleneck).
 */
export function flashLimitErased(model: Model, baud: number, t: FlashTiming): number {
  return Math.min(1, 256 / (t.programUsPer256 / 1e6) / bottleneckBps(model, baud));
}

const cache = new Map<string, Promise<UpdateRun>>();
let image: Uint8Array | undefined;

/**
 * How the board learns whether the modem is on: 'probe' = AT at every rate before the power key
 * (the boards' default wiring), 'pin' = its STATUS output on a GPIO input (Platform.modemStatus).
 */
export type ModemStatusWiring = 'probe' | 'pin';

/** The whole update of a 1 MiB image with default settings (cached per configuration). */
export function cycleRun(model: Model, baud: number, timing: FlashTimingName, size = 1 << 20, start: CycleStart = 'cold', status: ModemStatusWiring = 'probe'): Promise<UpdateRun> {
  const key = `${model}@${baud}/${timing}/${size}/${start}/${status}`;
  let run = cache.get(key);
  if (!run) {
    if (!image || image.length !== size) image = benchImage(size);
    const img = image;
    // A run that does not end 'running' is still reported (its outcome is a column, and the
    // section's note lists it).
    run = runBenchUpdate({ image: img, layout: boardSlotLayout(CYCLE_SLOT_SIZE), modem: model, baud, flashTiming: timing, offerAfterS: start === 'idle' ? IDLE_OFFER_AFTER_S : undefined, modemStatusPin: status === 'pin' });
    cache.set(key, run);
  }
  return run;
}

/** Milestones from power-on to the report, in order: the phase ends at the named event. */
const MILESTONES: { phase: string; event: string; boot: 1 | 2; last?: boolean }[] = [
  { phase: 'modem probe before the power key', event: 'modem.power-key', boot: 1 },
  { phase: 'modem boot, configuration, registration', event: 'modem.registered', boot: 1 },
  { phase: 'polls and deployment', event: 'download.start', boot: 1 },
  { phase: 'transfer (download)', event: 'download.done', boot: 1, last: true },
  { phase: 'verify (re-hash, A5000)', event: 'stage.start', boot: 1 },
  { phase: 'stage (trailer, feedback)', event: 'reboot.swap', boot: 1 },
  { phase: 'bootloader (swap)', event: 'agent.started', boot: 2 },
  { phase: 'modem again after the reboot', event: 'modem.registered', boot: 2 },
  { phase: 'health check and confirm', event: 'image.confirmed', boot: 2 },
  { phase: 'report', event: 'deployment.reported', boot: 2 },
];

export interface Phase {
  phase: string;
  seconds: number;
}

/** Where the time from power-on to the report went (virtual seconds per phase). */
export function phases(logs: LogEntry[]): Phase[] {
  const out: Phase[] = [];
  let at = 0;
  for (const m of MILESTONES) {
    const hits = logs.filter((e) => e.event === m.event && e.boot === m.boot);
    const hit = m.last ? hits.at(-1) : hits[0];
    if (!hit) continue;
    out.push({ phase: m.phase, seconds: round((hit.at - at) / 1000, 3) });
    at = hit.at;
  }
  return out;
}

/** Virtual ms from power-on to the agent's `image.confirmed`. */
export function confirmedMs(logs: LogEntry[]): number {
  return logs.find((e) => e.event === 'image.confirmed')?.at ?? NaN;
}

export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
