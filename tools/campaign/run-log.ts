/**
 * A campaign's run log (FILE.runs.jsonl beside the `--save FILE.json` report): a header line that
 * names the campaign, a line per session (commit, start, command), then one line per finished run,
 * appended the moment it finishes. A campaign stopped at any point (Ctrl-C, a killed job, the
 * host rebooted) keeps every finished run; `--resume FILE.json` reads them back and runs only the
 * others, so the report covers every run whichever session made it. Runs are deterministic in
 * (seed, run index), so a run made by one session is the run another would have made.
 */
import { appendFileSync, existsSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import type { PlannedRun, RunResult } from './campaign.js';

/** What makes two sessions the same campaign: the plan and the dev kit its runs use. */
export interface CampaignIdentity {
  cuts: number;
  seed: number;
  /** sha256 of the plan (every run's seed and faults): a changed planner is another campaign. */
  plan: string;
  /** How the campaign's dev kit differs from `xs-ota sim`'s defaults. */
  devkit: Record<string, unknown>;
  /** The images and key, by name, size and sha256. */
  files: { role: string; name: string; bytes: number; sha256: string }[];
}

export interface CampaignSession {
  commit: string;
  started: string;
  command: string;
}

export interface RunLog {
  identity: CampaignIdentity;
  sessions: CampaignSession[];
  /** Finished runs, one per index (the first line of an index wins), in log order. */
  results: RunResult[];
}

export function planHash(plan: PlannedRun[]): string {
  return createHash('sha256').update(JSON.stringify(plan)).digest('hex');
}

/** FILE.json -> FILE.runs.jsonl */
export function runLogPath(reportFile: string): string {
  return `${reportFile.replace(/\.json$/i, '')}.runs.jsonl`;
}

/**
 * Reads a run log. A last line cut short (the process died while writing it) is dropped: that run
 * runs again. Any other unreadable line is an error naming the file and line.
 */
export function readRunLog(file: string): RunLog {
  const lines = readFileSync(file, 'utf8').split('\n');
  let identity: CampaignIdentity | undefined;
  const sessions: CampaignSession[] = [];
  const results: RunResult[] = [];
  const seen = new Set<number>();
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i].trim();
    if (text === '') continue;
    let entry: { campaign?: CampaignIdentity; session?: CampaignSession; run?: RunResult };
    try {
      entry = JSON.parse(text) as typeof entry;
    } catch {
      const last = lines.slice(i + 1).every((l) => l.trim() === '');
      if (last) break;
      throw new Error(`${file} line ${i + 1}: not a run log line`);
    }
    if (entry.campaign) {
      if (identity) throw new Error(`${file} line ${i + 1}: a second campaign header`);
      identity = entry.campaign;
    } else if (entry.session) sessions.push(entry.session);
    else if (entry.run && Number.isSafeInteger(entry.run.index)) {
      if (!seen.has(entry.run.index)) results.push(entry.run);
      seen.add(entry.run.index);
    } else throw new Error(`${file} line ${i + 1}: not a run log line`);
  }
  if (!identity) throw new Error(`${file}: no campaign header (not a campaign run log)`);
  return { identity, sessions, results };
}

/** The differences between two identities, as "field: saved -> now" (empty: the same campaign). */
export function identityDifferences(saved: CampaignIdentity, now: CampaignIdentity): string[] {
  const out: string[] = [];
  for (const key of ['cuts', 'seed', 'plan', 'devkit', 'files'] as const) {
    const a = JSON.stringify(saved[key]);
    const b = JSON.stringify(now[key]);
    if (a !== b) out.push(`${key}: ${a} -> ${b}`);
  }
  return out;
}

export interface OpenedRunLog {
  file: string;
  /** Runs finished by earlier sessions (resume), or none. */
  done: RunResult[];
  sessions: CampaignSession[];
  append(result: RunResult): void;
}

/**
 * Starts a run log (`resume` false: a new file, an old one replaced) or continues one (`resume`
 * true: the same campaign, checked against `identity`; a missing file starts a new one, so the
 * same command line can be repeated after any interruption).
 */
export function openRunLog(file: string, identity: CampaignIdentity, session: CampaignSession, resume: boolean): OpenedRunLog {
  let done: RunResult[] = [];
  let sessions: CampaignSession[] = [];
  if (resume && existsSync(file)) {
    const log = readRunLog(file);
    const differences = identityDifferences(log.identity, identity);
    if (differences.length > 0) throw new Error(`${file} holds another campaign (${differences.join('; ')})`);
    done = log.results;
    sessions = log.sessions;
    // A last line cut short (no newline yet) goes: its run runs again.
    const bytes = readFileSync(file);
    if (bytes.length > 0 && bytes[bytes.length - 1] !== 0x0a) truncateSync(file, bytes.lastIndexOf(0x0a) + 1);
  } else {
    writeFileSync(file, `${JSON.stringify({ campaign: identity })}\n`);
  }
  appendFileSync(file, `${JSON.stringify({ session })}\n`);
  sessions = [...sessions, session];
  return {
    file,
    done,
    sessions,
    append: (result) => appendFileSync(file, `${JSON.stringify({ run: result })}\n`),
  };
}
