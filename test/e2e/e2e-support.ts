/**
 * Shared pieces of the end-to-end specs: images signed at test time with the vector set's trusted
 * key (small, so that each run stays a few seconds of real time), one `run` over the simulated dev
 * kit with the agent in XS, and readers for what the reference server recorded.
 */
import assert from 'node:assert/strict';
import { runDevkitUpdate, type DevkitOptions, type DevkitSummary } from '../../tools/devkit/devkit.js';
import type { RecordedReport } from '../../tools/server/index.js';
import { makeImage, trustedKeyPem } from '../support/devkit-update.js';

/** Running at power-on. */
export const BASE = makeImage('1.0.0', 2000);
/** Offered: 24 000 bytes of body, about 6 sectors, 3 s of download at 115200 baud. */
export const TARGET = makeImage('1.1.0', 24_000);

export function run(options: Partial<DevkitOptions> = {}): Promise<DevkitSummary> {
  return runDevkitUpdate({ image: TARGET, baseImage: BASE, trustedKeyPem, maxVirtualMs: 4 * 3600_000, ...options });
}

/** One recorded report, reduced to what the assertions compare. */
export interface Seen {
  kind: RecordedReport['kind'];
  /** hawkBit `execution/finished`, or the manifest report's phase. */
  what: string;
  details: string;
}

export function seen(summary: DevkitSummary): Seen[] {
  return summary.reports.map((r) => {
    const b = r.body as { status?: { execution?: string; result?: { finished?: string }; details?: string[] }; phase?: string; reason?: string; detail?: string };
    if (b?.status) return { kind: r.kind, what: `${b.status.execution}/${b.status.result?.finished}`, details: (b.status.details ?? []).join('; ') };
    return { kind: r.kind, what: String(b?.phase), details: `${b?.reason ?? ''} ${b?.detail ?? ''}`.trim() };
  });
}

/** Reports that close the deployment (hawkBit `closed`, manifest final phases). */
export function finals(summary: DevkitSummary): Seen[] {
  return seen(summary).filter((s) => s.what.startsWith('closed/') || ['running', 'failed', 'reverted', 'cancelled'].includes(s.what));
}

/** Nothing pending in the secondary slot: MCUboot will not swap at the next boot. */
export function assertNothingPending(summary: DevkitSummary): void {
  assert.notEqual(summary.secondary.magic, 'good', `secondary trailer still pending: ${JSON.stringify(summary.secondary)}`);
}

/** The whole story, for assertion messages. */
export function story(summary: DevkitSummary): string {
  return [
    `outcome ${summary.outcome} (${summary.reason}) ${summary.versionBefore} -> ${summary.versionAfter}; mcuboot ${summary.mcuboot.join(',')}; resets ${summary.resets.join(',')}`,
    ...seen(summary).map((s) => `  ${s.kind} ${s.what} ${s.details}`),
    ...summary.logs.filter((l) => l.level !== 'debug').map((l) => `  [${l.boot}] ${l.at} ${l.event} ${JSON.stringify(l.fields ?? {})}`),
  ].join('\n');
}
