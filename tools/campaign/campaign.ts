/**
 * The fault campaign: many full updates on the simulated dev kit (the agent in XS, the MCUboot
 * model on the same flash), each with random cuts (power, link, modem reboot, or several at once)
 * drawn from one seed, and the truth checked after each run against what the device said:
 *
 * - bricked: MCUboot finds no bootable image (the run throws "does not boot");
 * - stuck: no final report within the run's device-time limit;
 * - wrong report: the final report disagrees with the flash. The truth is what MCUboot boots
 *   from the flash after the run: `running` (closed/success) must mean the target image boots,
 *   confirmed; any other outcome must mean the old image boots with nothing pending; exactly one
 *   closing report;
 * - unverified images staged: an MCUboot boot that found a pending secondary image invalid;
 * - bytes re-downloaded: image bytes the agent programmed into the slot beyond the image size
 *   (bytes that crossed the link again and reached flash), summed.
 *
 * Every run is one `xs-ota sim` invocation (same defaults, seed and faults), so each failing run
 * carries the command that reproduces it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatVersion } from '../../src/image/version.js';
import { decodeHeader } from '../../src/image/header.js';
import { parseFault, runDevkitUpdate, type DevkitSummary } from '../devkit/devkit.js';
import { bootMcuboot } from '../devkit/parts/sim-mcuboot.js';
import { DEVKIT_LAYOUT, type DevkitFlash } from '../devkit/parts/sim-flash.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const vectors = path.join(repoRoot, 'test', 'fixtures', 'mcuboot');
/** `xs-ota sim`'s defaults (tools/cli/sim.ts): the same files, so a reproducer is a plain sim command. */
export const CAMPAIGN_IMAGE = path.join(vectors, 'images', 'medium-v1.3.0+5.signed.bin');
export const CAMPAIGN_BASE = path.join(vectors, 'images', 'small-v1.2.3+4.signed.bin');
export const CAMPAIGN_KEY = path.join(vectors, 'keys', 'signing-key-p256.pub.pem');

/**
 * Agent log events a power cut can follow (power-cut@event:NAME[+N]): every step of the cycle.
 * `reboot.swap` and `device.reset-requested` with a large N land inside MCUboot's swap.
 */
const CUT_EVENTS = ['deployment.accepted', 'download.done', 'verify.start', 'stage.start', 'reboot.swap', 'device.reset-requested', 'health.start', 'confirm.start', 'image.confirmed'];
const SWAP_EVENTS = new Set(['reboot.swap', 'device.reset-requested']);

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
  const event = pick(CUT_EVENTS);
  if (random() < 0.2) return `power-cut@event:${event}`;
  // After a reboot request the agent does no more flash operations: N counts MCUboot's, whose
  // swap of the default image takes about 700; elsewhere the next few tens are the agent's.
  const n = SWAP_EVENTS.has(event) ? Math.floor(random() * 900) : Math.floor(random() * 40);
  return `power-cut@event:${event}+${n}`;
}

/**
 * The runs of a campaign of `cuts` cuts: each run has 1 to 3 faults ("combined" when more than
 * one), until the planned faults reach `cuts`. Deterministic in `seed`.
 */
export function planCampaign(cuts: number, seed: number): PlannedRun[] {
  const random = prng(seed);
  const runs: PlannedRun[] = [];
  let planned = 0;
  while (planned < cuts) {
    const count = Math.min(cuts - planned, random() < 0.6 ? 1 : random() < 0.7 ? 2 : 3);
    const faults: string[] = [];
    for (let i = 0; i < count; i++) {
      let f = drawFault(random);
      // Two download-fraction faults of the same kind at once would be one: draw again.
      while (faults.some((g) => g.split('@')[0] === f.split('@')[0] && !f.includes('event'))) f = drawFault(random);
      faults.push(f);
    }
    runs.push({ index: runs.length, seed: (seed * 1000 + runs.length) >>> 0, faults });
    planned += count;
  }
  return runs;
}

/** The `xs-ota sim` command line that replays a run. */
export function reproducer(run: PlannedRun): string {
  return ['xs-ota sim', `--seed ${run.seed}`, ...run.faults.map((f) => `--fault ${f}`)].join(' ');
}

export type Verdict = 'ok' | 'bricked' | 'stuck' | 'wrong-report' | 'crashed';

export interface RunResult {
  index: number;
  verdict: Verdict;
  why?: string;
  outcome?: string;
  faults: string[];
  faultsFired: number;
  cutsInBootloader: number;
  unverifiedStaged: number;
  reDownloadedBytes: number;
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
    if (/no outcome within/.test(message)) return { ...result, verdict: 'stuck', why: message };
    return { ...result, verdict: 'crashed', why: message };
  }
  result.outcome = summary.outcome;
  result.faultsFired = run.faults.length - summary.faultsNotFired.length;
  result.cutsInBootloader = summary.cutsInBootloader;
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

export interface CampaignReport {
  seed: number;
  cutsPlanned: number;
  runs: number;
  cuts: number;
  cutsInBootloader: number;
  bricked: number;
  stuck: number;
  wrongReports: number;
  crashed: number;
  unverifiedStaged: number;
  bytesReDownloaded: number;
  outcomes: Record<string, number>;
  failing: { index: number; verdict: Verdict; why?: string; reproducer: string }[];
}

export function summarize(seed: number, cutsPlanned: number, results: RunResult[]): CampaignReport {
  const count = (v: Verdict) => results.filter((r) => r.verdict === v).length;
  const outcomes: Record<string, number> = {};
  for (const r of results) outcomes[r.outcome ?? r.verdict] = (outcomes[r.outcome ?? r.verdict] ?? 0) + 1;
  return {
    seed,
    cutsPlanned,
    runs: results.length,
    cuts: results.reduce((n, r) => n + r.faultsFired, 0),
    cutsInBootloader: results.reduce((n, r) => n + r.cutsInBootloader, 0),
    bricked: count('bricked'),
    stuck: count('stuck'),
    wrongReports: count('wrong-report'),
    crashed: count('crashed'),
    unverifiedStaged: results.reduce((n, r) => n + r.unverifiedStaged, 0),
    bytesReDownloaded: results.reduce((n, r) => n + r.reDownloadedBytes, 0),
    outcomes,
    failing: results.filter((r) => r.verdict !== 'ok').map((r) => ({ index: r.index, verdict: r.verdict, why: r.why, reproducer: r.reproducer })),
  };
}
