/**
 * The fault campaign: many full updates on the simulated dev kit (the agent in XS, the MCUboot
 * model on the same flash), each with random cuts (power, link, modem reboot, or several at once)
 * drawn from one seed, and the truth checked after each run against what the device said:
 *
 * - bricked: MCUboot finds no bootable image (the run throws "does not boot");
 * - stuck: no final report within the run's device-time limit, or time stopped moving (a
 *   livelock: tens of thousands of events at one virtual instant);
 * - wrong report: the final report disagrees with the flash. The truth is what MCUboot boots
 *   from the flash after the run: `running` (closed/success) must mean the target image boots,
 *   confirmed; any other outcome must mean the old image boots with nothing pending; exactly one
 *   closing report;
 * - unverified images staged: an MCUboot boot that found a pending secondary image invalid;
 * - bytes re-downloaded: image bytes the agent programmed into the slot beyond the image size
 *   (bytes that crossed the link again and reached flash), summed.
 *
 * Every run is one `xs-ota sim` invocation (its defaults but CAMPAIGN_DEVKIT, the run's seed and
 * faults), so each failing run carries the command that reproduces it. Run i of a campaign depends
 * only on (seed, i): a campaign can be cut into sessions (tools/campaign/run-log.ts, `--resume`).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatVersion } from '../../src/image/version.js';
import { decodeHeader } from '../../src/image/header.js';
import { parseFault, runDevkitUpdate, type DevkitSummary } from '../devkit/devkit.js';
import { bootMcuboot } from '../devkit/parts/sim-mcuboot.js';
import { DEVKIT_LAYOUT, type DevkitFlash } from '../devkit/parts/sim-flash.js';
import { planHash, type CampaignIdentity } from './run-log.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const vectors = path.join(repoRoot, 'test', 'fixtures', 'mcuboot');
/** `xs-ota sim`'s defaults (tools/cli/sim.ts): the same files, so a reproducer is a plain sim command. */
export const CAMPAIGN_IMAGE = path.join(vectors, 'images', 'medium-v1.3.0+5.signed.bin');
export const CAMPAIGN_BASE = path.join(vectors, 'images', 'small-v1.2.3+4.signed.bin');
export const CAMPAIGN_KEY = path.join(vectors, 'keys', 'signing-key-p256.pub.pem');

/**
 * How the campaign's dev kit differs from `xs-ota sim`'s defaults, stated in every reproducer: a
 * DMA UART, 1024-byte RX events instead of 64-byte FIFO-threshold interrupts. The agent sees the
 * same bytes in fewer events, so a run makes about a quarter of the XS bridge round trips (most of
 * a run's cost); power cuts, link drops and modem reboots land where they did, and every check is
 * the same. (A faster baud rate saves device time, not host time: not used.)
 */
export const CAMPAIGN_DEVKIT = { uartBurstBytes: 1024 } as const;

/**
 * Agent log events a power cut can follow (power-cut@event:NAME[+N]): every step of the cycle,
 * each with the flash operations (program/erase) that follow it in the campaign's update, so that
 * +N lands on one of them (a cut planned past the last one never fires: a run wasted). After the
 * reboot request the agent does no more flash operations: N counts MCUboot's, whose swap of the
 * campaign image takes about 726 (a cut there lands inside the bootloader). After the swap the
 * agent programs one more word (image_ok), then nothing: past `confirm.start` only "at once" (the
 * MCU stops before its next flash or key-value access) can land.
 */
const CUT_EVENTS: readonly { event: string; flashOps: number }[] = [
  { event: 'deployment.accepted', flashOps: 40 },
  { event: 'download.done', flashOps: 40 },
  { event: 'verify.start', flashOps: 40 },
  { event: 'stage.start', flashOps: 40 },
  { event: 'reboot.swap', flashOps: 720 },
  { event: 'device.reset-requested', flashOps: 720 },
  { event: 'health.start', flashOps: 1 },
  { event: 'confirm.start', flashOps: 1 },
  { event: 'image.confirmed', flashOps: 0 },
];

/** A small seeded PRNG (mulberry32): the campaign is the same for the same seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface PlannedRun {
  index: number;
  seed: number;
  faults: string[];
}

/** One random fault spec. */
function drawFault(random: () => number): string {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)];
  const percent = 1 + Math.floor(random() * 99);
  const kind = random();
  if (kind < 0.3) return `power-cut@${percent}%`;
  if (kind < 0.45) return `link-drop@${percent}%`;
  if (kind < 0.55) return `modem-reboot@${percent}%`;
  const { event, flashOps } = pick(CUT_EVENTS);
  if (flashOps === 0 || random() < 0.2) return `power-cut@event:${event}`;
  return `power-cut@event:${event}+${Math.floor(random() * flashOps)}`;
}

/** Most faults one run carries: each after the last one's recovery, in the cycle's order or not. */
export const MAX_FAULTS_PER_RUN = 5;

/**
 * Two faults one run cannot both carry: download-fraction faults of the same kind (the second
 * would be the first), or cuts at the same agent event (only one cut can be pending at a time).
 */
function clash(a: string, b: string): boolean {
  const event = (f: string): string | undefined => /@event:([a-z0-9.-]+)/.exec(f)?.[1];
  const ea = event(a);
  const eb = event(b);
  if (ea !== undefined || eb !== undefined) return ea === eb;
  return a.split('@')[0] === b.split('@')[0];
}

/**
 * The runs of a campaign of `cuts` cuts: each run has 1 to MAX_FAULTS_PER_RUN faults, as many
 * of each count ("combined" when more than one), until the planned faults reach `cuts`. A run's
 * fixed cost (two boots, a registration, a full download, verify, swap, confirm) is paid once
 * for all its faults. Deterministic in `seed`: run i is the same whenever it runs.
 */
export function planCampaign(cuts: number, seed: number): PlannedRun[] {
  const random = prng(seed);
  const runs: PlannedRun[] = [];
  let planned = 0;
  while (planned < cuts) {
    const count = Math.min(cuts - planned, 1 + Math.floor(random() * MAX_FAULTS_PER_RUN));
    const faults: string[] = [];
    for (let i = 0; i < count; i++) {
      let f = drawFault(random);
      while (faults.some((g) => clash(g, f))) f = drawFault(random);
      faults.push(f);
    }
    runs.push({ index: runs.length, seed: (seed * 1000 + runs.length) >>> 0, faults });
    planned += count;
  }
  return runs;
}

/** What a run log must match to be continued (tools/campaign/run-log.ts). */
export function campaignIdentity(cuts: number, seed: number, plan = planCampaign(cuts, seed)): CampaignIdentity {
  const files = [
    { role: 'target image', file: CAMPAIGN_IMAGE },
    { role: 'base image', file: CAMPAIGN_BASE },
    { role: 'trusted key', file: CAMPAIGN_KEY },
  ].map(({ role, file }) => {
    const bytes = readFileSync(file);
    return { role, name: path.relative(repoRoot, file), bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
  });
  return { cuts, seed, plan: planHash(plan), devkit: { ...CAMPAIGN_DEVKIT }, files };
}

/** The `xs-ota sim` command line that replays a run. */
export function reproducer(run: PlannedRun): string {
  return ['xs-ota sim', `--uart-burst ${CAMPAIGN_DEVKIT.uartBurstBytes}`, `--seed ${run.seed}`, ...run.faults.map((f) => `--fault ${f}`)].join(' ');
}

export type Verdict = 'ok' | 'bricked' | 'stuck' | 'wrong-report' | 'crashed';

export interface RunResult {
  index: number;
  verdict: Verdict;
  why?: string;
  outcome?: string;
  faults: string[];
  faultsFired: number;
  /** The faults that took effect (a subset of `faults`, in order); unknown for a run that threw. */
  fired?: string[];
  cutsInBootloader: number;
  unverifiedStaged: number;
  reDownloadedBytes: number;
  /** XS computation (meter units) over every boot of the run: deterministic, the run's cost. */
  xsCompute?: number;
  reproducer: string;
}

/** Runs one planned update and judges it. */
export async function runOne(run: PlannedRun, files = { image: CAMPAIGN_IMAGE, base: CAMPAIGN_BASE, key: CAMPAIGN_KEY }): Promise<RunResult> {
  const image = new Uint8Array(readFileSync(files.image));
  const baseImage = new Uint8Array(readFileSync(files.base));
  const trustedKeyPem = readFileSync(files.key, 'utf8');
  const target = formatVersion(decodeHeader(image).version);
  const base = formatVersion(decodeHeader(baseImage).version);
  let flash: DevkitFlash | undefined;
  let unverifiedStaged = 0;
  const result: RunResult = { index: run.index, verdict: 'ok', faults: run.faults, faultsFired: 0, cutsInBootloader: 0, unverifiedStaged: 0, reDownloadedBytes: 0, reproducer: reproducer(run) };
  let summary: DevkitSummary;
  try {
    summary = await runDevkitUpdate({
      ...CAMPAIGN_DEVKIT,
      image,
      baseImage,
      trustedKeyPem,
      faults: run.faults.map(parseFault),
      seed: run.seed,
      onReady: (kit) => (flash = kit.flash),
      // MCUboot erases a pending secondary it cannot validate: the agent staged an unverified image.
      onBoot: (_boot, r) => {
        if (r.log.some((l) => l.includes('secondary slot is not valid'))) unverifiedStaged++;
      },
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    result.unverifiedStaged = unverifiedStaged;
    if (/does not boot/.test(message)) return { ...result, verdict: 'bricked', why: message };
    // Past the run's device-time limit, or a livelock (events without time moving on).
    if (/no outcome within|goal not reached/.test(message)) return { ...result, verdict: 'stuck', why: message };
    return { ...result, verdict: 'crashed', why: message };
  }
  result.outcome = summary.outcome;
  result.fired = run.faults.filter((_, i) => !summary.faultsNotFired.includes(i));
  result.faultsFired = result.fired.length;
  result.cutsInBootloader = summary.cutsInBootloader;
  result.xsCompute = summary.xs.compute;
  result.unverifiedStaged = unverifiedStaged;
  result.reDownloadedBytes = Math.max(0, summary.flash.agentImageBytesWritten - summary.imageBytes);
  const wrong = judgeReport(summary, flash!, trustedKeyPem, target, base);
  if (wrong) return { ...result, verdict: 'wrong-report', why: wrong };
  return result;
}

/** Why the final report is not the truth of the flash, or undefined when it is. */
export function judgeReport(summary: DevkitSummary, flash: DevkitFlash, trustedKeyPem: string, target: string, base: string): string | undefined {
  const closing = summary.reports.filter((r) => {
    const b = r.body as { status?: { execution?: string } };
    return r.kind === 'hawkbit-feedback' && b?.status?.execution === 'closed';
  });
  if (closing.length !== 1) return `${closing.length} closing reports`;
  const finished = (closing[0].body as { status?: { result?: { finished?: string } } }).status?.result?.finished;
  // The truth: what the next boot runs, and whether it would stay.
  const boot = bootMcuboot(flash, { trustedKeyPem, maxSectors: DEVKIT_LAYOUT.maxSectors });
  if (boot.booted === null) return `reported ${summary.outcome} but the flash does not boot`;
  const again = bootMcuboot(flash, { trustedKeyPem, maxSectors: DEVKIT_LAYOUT.maxSectors });
  if (summary.outcome === 'running') {
    if (finished !== 'success') return `outcome running but hawkBit closed/${finished}`;
    if (boot.version !== target || again.version !== target) return `reported running ${target}, but the flash boots ${boot.version} then ${again.version}`;
    return undefined;
  }
  if (finished === 'success') return `outcome ${summary.outcome} but hawkBit closed/success`;
  if (boot.version !== base || again.version !== base) return `reported ${summary.outcome}, but the flash boots ${boot.version} then ${again.version} (not the old ${base})`;
  return undefined;
}

/** What a fault is (power-cut, link-drop, modem-reboot) and where in the cycle it was aimed. */
export function faultKindAndPhase(spec: string): { kind: string; phase: string } {
  const event = /^([a-z-]+)@event:([a-z0-9.-]+)/.exec(spec);
  if (event) return { kind: event[1], phase: event[2] };
  return { kind: spec.split('@')[0], phase: 'download' };
}

export interface CampaignReport {
  seed: number;
  cutsPlanned: number;
  /** Faults planned in the runs that ran (all of `cutsPlanned` once the campaign is complete). */
  cutsPlannedInRuns: number;
  /** Runs the plan holds; `runs` below is how many of them ran (fewer: the campaign stopped). */
  runsPlanned: number;
  runs: number;
  cuts: number;
  /** Cuts that fired, by kind (power-cut, link-drop, modem-reboot). */
  cutsByKind: Record<string, number>;
  /** Cuts that fired, by where they were aimed: `download` (a fraction of the image) or the agent event. */
  cutsByPhase: Record<string, number>;
  cutsInBootloader: number;
  /** Runs in which more than one fault fired. */
  combinedRuns: number;
  bricked: number;
  stuck: number;
  wrongReports: number;
  crashed: number;
  unverifiedStaged: number;
  bytesReDownloaded: number;
  outcomes: Record<string, number>;
  /** XS meter units over all runs (runs that threw not counted): the campaign's deterministic cost. */
  xsCompute: number;
  failing: { index: number; verdict: Verdict; why?: string; reproducer: string }[];
}

export function summarize(seed: number, cutsPlanned: number, results: RunResult[], runsPlanned = results.length): CampaignReport {
  const count = (v: Verdict) => results.filter((r) => r.verdict === v).length;
  const outcomes: Record<string, number> = {};
  const cutsByKind: Record<string, number> = {};
  const cutsByPhase: Record<string, number> = {};
  for (const r of results) {
    outcomes[r.outcome ?? r.verdict] = (outcomes[r.outcome ?? r.verdict] ?? 0) + 1;
    for (const f of r.fired ?? []) {
      const { kind, phase } = faultKindAndPhase(f);
      cutsByKind[kind] = (cutsByKind[kind] ?? 0) + 1;
      cutsByPhase[phase] = (cutsByPhase[phase] ?? 0) + 1;
    }
  }
  const sorted = [...results].sort((a, b) => a.index - b.index);
  return {
    seed,
    cutsPlanned,
    cutsPlannedInRuns: results.reduce((n, r) => n + r.faults.length, 0),
    runsPlanned,
    runs: results.length,
    cuts: results.reduce((n, r) => n + r.faultsFired, 0),
    cutsByKind,
    cutsByPhase,
    cutsInBootloader: results.reduce((n, r) => n + r.cutsInBootloader, 0),
    combinedRuns: results.filter((r) => r.faultsFired > 1).length,
    bricked: count('bricked'),
    stuck: count('stuck'),
    wrongReports: count('wrong-report'),
    crashed: count('crashed'),
    unverifiedStaged: results.reduce((n, r) => n + r.unverifiedStaged, 0),
    bytesReDownloaded: results.reduce((n, r) => n + r.reDownloadedBytes, 0),
    outcomes,
    xsCompute: results.reduce((n, r) => n + (r.xsCompute ?? 0), 0),
    failing: sorted.filter((r) => r.verdict !== 'ok').map((r) => ({ index: r.index, verdict: r.verdict, why: r.why, reproducer: r.reproducer })),
  };
}
