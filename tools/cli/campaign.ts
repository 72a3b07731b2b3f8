/**
 * `xs-ota campaign [--cuts N] [--seed S] [--workers W] [--json] [--save FILE.json | --resume FILE.json] [--stop-after K] [--markdown FILE.md]`
 *   Runs random cuts (power, link, modem reboot, combined) over full simulated updates and prints
 *   runs, cuts, bricked, stuck, wrong reports, unverified images staged, bytes re-downloaded, and
 *   each failing run's reproducer command (tools/campaign/campaign.ts says what each one means).
 *   With --save every finished run is appended to FILE.runs.jsonl at once and FILE.json is
 *   rewritten after each run; --resume continues that log (tools/campaign/run-log.ts).
 *   Exit 0 when no run bricked, got stuck, crashed or reported wrongly; 1 otherwise; 2 usage.
 * `xs-ota campaign --render FILE.json --markdown FILE.md`
 *   Writes the docs page from a saved report (docs/campaign.md is generated this way, never typed).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CAMPAIGN_DEVKIT, campaignIdentity, MAX_FAULTS_PER_RUN, planCampaign, reproducer, runOne, summarize, type CampaignReport, type PlannedRun, type RunResult } from '../campaign/campaign.js';
import { openRunLog, planHash, readRunLog, runLogPath, type CampaignIdentity, type CampaignSession } from '../campaign/run-log.js';
import { EXIT, parseInteger, UsageError, wantsHelp } from './cli-common.js';
import type { Command } from './main.js';

const USAGE = `usage: xs-ota campaign [--cuts N] [--seed S] [--workers W] [--json] [--save FILE.json | --resume FILE.json]
                       [--stop-after K] [--run-timeout S] [--markdown FILE.md]
       xs-ota campaign --render FILE.json --markdown FILE.md
  --cuts N         faults to plan (default 100): runs of 1 to ${MAX_FAULTS_PER_RUN} faults each until N are planned
  --seed S         the campaign's seed (default 1): the same seed gives the same runs
  --workers W      parallel worker processes (default 1), each running one run after another
  --json           print the report as JSON
  --save FILE      write the JSON report to FILE (rewritten after every run) and append every
                   finished run to FILE's run log (FILE.runs.jsonl, replaced if it exists)
  --resume FILE    as --save, but continue FILE's run log: runs already in it are not run again
                   (the same campaign: seed, cuts, images; a missing log starts one)
  --stop-after K   stop after K more runs (the log can be resumed later)
  --run-timeout S  with --workers 2+: a run without a result after S seconds of real time (default
                   600) is stuck: its worker (and its XS engine) is killed, a new one goes on
  --markdown F     write the report as a docs page (docs/campaign.md)
  --render FILE    with --markdown: write the page from a saved report, run nothing
exit codes: 0 nothing bricked, stuck, crashed or reported wrongly; 1 otherwise; 2 usage`;

interface Options {
  cuts: number;
  seed: number;
  workers: number;
  json: boolean;
  save?: string;
  resume: boolean;
  stopAfter?: number;
  runTimeoutS: number;
  markdown?: string;
  render?: string;
  /** Internal: a worker process, running the run indices it reads on stdin (one per line). */
  worker: boolean;
}

function parse(args: string[]): Options {
  const o: Options = { cuts: 100, seed: 1, workers: 1, json: false, resume: false, worker: false, runTimeoutS: 600 };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = (): string => {
      const v = args[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--cuts') o.cuts = parseInteger(value(), a, { min: 1, max: 1_000_000 });
    else if (a === '--seed') o.seed = parseInteger(value(), a, { max: 0xffffffff });
    else if (a === '--workers') o.workers = parseInteger(value(), a, { min: 1, max: 64 });
    else if (a === '--json') o.json = true;
    else if (a === '--save' || a === '--resume') {
      if (o.save !== undefined) throw new UsageError('--save and --resume name one report: give one of them, once');
      o.save = value();
      o.resume = a === '--resume';
    } else if (a === '--stop-after') o.stopAfter = parseInteger(value(), a, { min: 1 });
    else if (a === '--run-timeout') o.runTimeoutS = parseInteger(value(), a, { min: 1, max: 86_400 });
    else if (a === '--markdown') o.markdown = value();
    else if (a === '--render') o.render = value();
    else if (a === '--worker') o.worker = true;
    else throw new UsageError(`unknown option ${a}`);
  }
  if (o.render && !o.markdown) throw new UsageError('--render needs --markdown FILE');
  if (o.save !== undefined && !/\.json$/i.test(o.save)) throw new UsageError(`${o.resume ? '--resume' : '--save'} ${o.save}: a .json file (its run log goes beside it)`);
  return o;
}

/** The saved report: the summary plus what the docs page states about the campaign. */
export interface SavedReport extends CampaignReport {
  command: string;
  /** Commits of the tree the runs came from, one per session (with "+dirty" for local changes). */
  commits?: string[];
  devkit?: Record<string, unknown>;
  files?: CampaignIdentity['files'];
  complete?: boolean;
}

export const command: Command = {
  summary: 'random power/link/modem cuts over many simulated updates; the truth checked after each',
  async run(args) {
    if (wantsHelp(args)) {
      console.log(USAGE);
      return EXIT.done;
    }
    let o: Options;
    try {
      o = parse(args);
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      console.error(`xs-ota campaign: ${error.message} (xs-ota campaign --help lists the options)`);
      return EXIT.usage;
    }
    if (o.render) {
      writeFileSync(o.markdown!, renderMarkdown(reportToRender(o.render)));
      return EXIT.done;
    }
    const plan = planCampaign(o.cuts, o.seed);
    if (o.worker) return runAsWorker(plan);

    const command = `xs-ota campaign --cuts ${o.cuts} --seed ${o.seed}`;
    const identity = campaignIdentity(o.cuts, o.seed, plan);
    const session: CampaignSession = { commit: treeCommit(), started: new Date().toISOString(), command: ['xs-ota campaign', ...args].join(' ') };
    let log;
    try {
      log = o.save === undefined ? undefined : openRunLog(runLogPath(o.save), identity, session, o.resume);
    } catch (error) {
      console.error(`xs-ota campaign: ${error instanceof Error ? error.message : String(error)}`);
      return EXIT.usage;
    }
    const results: RunResult[] = [...(log?.done ?? [])];
    const doneIndices = new Set(results.map((r) => r.index));
    let todo = plan.filter((r) => !doneIndices.has(r.index));
    if (o.stopAfter !== undefined) todo = todo.slice(0, o.stopAfter);
    const commits = [...new Set((log?.sessions ?? [session]).map((s) => s.commit))];
    const reportOf = (): SavedReport => {
      const report = summarize(o.seed, o.cuts, results, plan.length);
      const complete = report.runs === plan.length;
      return { command: complete ? command : `${command} (stopped after ${report.runs} of ${plan.length} runs)`, commits, devkit: identity.devkit, files: identity.files, complete, ...report };
    };
    const save = (): void => {
      if (!o.save) return;
      // Written beside, then renamed: a reader (or a kill) never sees half a report.
      writeFileSync(`${o.save}.tmp`, `${JSON.stringify(reportOf(), null, 2)}\n`);
      renameSync(`${o.save}.tmp`, o.save);
    };
    if (results.length > 0) process.stderr.write(`campaign: resuming ${log!.file}: ${results.length} of ${plan.length} runs already done\n`);
    const started = Date.now();
    let ran = 0;
    const progress = (r: RunResult): void => {
      results.push(r);
      log?.append(r);
      ran++;
      const left = todo.length - ran;
      const eta = left > 0 ? `, about ${formatDuration(((Date.now() - started) / ran) * left)} left` : '';
      process.stderr.write(`campaign: run ${results.length}/${plan.length} #${r.index} ${r.verdict === 'ok' ? r.outcome : r.verdict.toUpperCase()} [${r.faults.join(' ')}] fired ${r.faultsFired}${eta}\n`);
      save();
    };
    if (o.workers === 1 || todo.length <= 1) {
      for (const run of todo) progress(await runOne(run));
    } else {
      await runWorkers(o, todo, progress);
    }
    const report = reportOf();
    save();
    if (o.markdown) writeFileSync(o.markdown, renderMarkdown(report));
    if (o.json) console.log(JSON.stringify(report, null, 2));
    else console.log(formatReport(report));
    const bad = report.bricked + report.stuck + report.wrongReports + report.crashed;
    return bad === 0 ? EXIT.done : EXIT.failed;
  },
};

/**
 * The report a page is rendered from: FILE.json, or, when its run log is beside it, the summary of
 * every run in the log (the same figures from the runs themselves, with any this version of the
 * summary adds), under the JSON's command line and files.
 */
export function reportToRender(file: string): SavedReport {
  const saved = JSON.parse(readFileSync(file, 'utf8')) as SavedReport;
  const logFile = runLogPath(file);
  if (!existsSync(logFile)) return saved;
  const log = readRunLog(logFile);
  const { cuts, seed } = log.identity;
  const plan = planCampaign(cuts, seed);
  const runsPlanned = planHash(plan) === log.identity.plan ? plan.length : saved.runsPlanned;
  const report = summarize(seed, cuts, log.results, runsPlanned);
  const complete = report.runs === runsPlanned;
  const command = `xs-ota campaign --cuts ${cuts} --seed ${seed}`;
  return {
    ...saved,
    ...report,
    command: complete ? command : `${command} (stopped after ${report.runs} of ${runsPlanned} runs)`,
    commits: [...new Set(log.sessions.map((x) => x.commit))],
    complete,
  };
}

/** The commit the runs come from (`+dirty` with local changes), or 'unknown' outside a git tree. */
function treeCommit(): string {
  const cwd = path.dirname(fileURLToPath(import.meta.url));
  try {
    const head = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim() !== '';
    return dirty ? `${head}+dirty` : head;
  } catch {
    return 'unknown';
  }
}

function formatDuration(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** Worker: runs each index read from stdin, one JSON line per run on stdout. */
async function runAsWorker(plan: PlannedRun[]): Promise<number> {
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    const index = Number(line.trim());
    const run = plan[index];
    if (!Number.isSafeInteger(index) || !run) throw new Error(`campaign worker: no run ${line.trim()}`);
    process.stdout.write(`${JSON.stringify(await runOne(run))}\n`);
  }
  return EXIT.done;
}

/**
 * W persistent worker processes (the same CLI, so they run the same code), fed one run at a time
 * from one queue: a worker that drew short runs takes more of them, and a run is never given twice.
 * A run with no result after `runTimeoutS` of real time (an XS crank that never returns: the
 * device's CPU in an endless loop) is recorded as stuck; its worker's process group (the worker
 * and its XS engine) is killed and a new worker takes the rest of the queue.
 */
function runWorkers(o: Options, todo: PlannedRun[], onResult: (r: RunResult) => void): Promise<void> {
  const main = fileURLToPath(new URL('../../../tools/xs-ota.mjs', import.meta.url));
  const queue = [...todo];
  const worker = (): Promise<void> =>
    new Promise((resolve, reject) => {
      // Its own process group, so that a kill reaches the XS engines it started too.
      const child: ChildProcess = spawn(process.execPath, [main, 'campaign', '--cuts', String(o.cuts), '--seed', String(o.seed), '--worker'], { stdio: ['pipe', 'pipe', 'inherit'], detached: true });
      let current: PlannedRun | undefined;
      let timedOut = false;
      let timer: NodeJS.Timeout | undefined;
      const next = (): void => {
        clearTimeout(timer);
        current = queue.shift();
        if (!current) {
          child.stdin!.end();
          return;
        }
        child.stdin!.write(`${current.index}\n`);
        timer = setTimeout(() => {
          timedOut = true;
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            child.kill('SIGKILL');
          }
        }, o.runTimeoutS * 1000);
      };
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (line) => {
        if (!line.startsWith('{') || timedOut) return;
        onResult(JSON.parse(line) as RunResult);
        next();
      });
      child.on('error', reject);
      child.on('exit', (code) => {
        clearTimeout(timer);
        if (timedOut && current) {
          onResult({
            index: current.index,
            verdict: 'stuck',
            why: `no result within ${o.runTimeoutS} s of real time: the run never finished (its worker and XS engine were killed)`,
            faults: current.faults,
            faultsFired: 0,
            cutsInBootloader: 0,
            unverifiedStaged: 0,
            reDownloadedBytes: 0,
            reproducer: reproducer(current),
          });
          resolve();
        } else if (code === 0) resolve();
        else reject(new Error(`campaign worker exited with ${code}`));
      });
      next();
    });
  const lane = async (): Promise<void> => {
    while (queue.length > 0) await worker();
  };
  return Promise.all(Array.from({ length: Math.min(o.workers, queue.length) }, lane)).then(() => undefined);
}

const table = (record: Record<string, number>): string =>
  Object.entries(record)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

export function formatReport(r: CampaignReport): string {
  const lines = [
    `runs                      ${r.runs}${r.runsPlanned !== undefined && r.runsPlanned !== r.runs ? ` of ${r.runsPlanned} planned` : ''}`,
    `cuts (fired / planned)    ${r.cuts} / ${r.cutsPlannedInRuns ?? r.cutsPlanned}${r.cutsPlannedInRuns !== undefined && r.cutsPlannedInRuns !== r.cutsPlanned ? ` (of ${r.cutsPlanned})` : ''}  (${r.cutsInBootloader} inside MCUboot's swap; ${r.combinedRuns ?? 0} runs with more than one)`,
    `cuts by kind              ${table(r.cutsByKind ?? {})}`,
    `cuts by phase             ${table(r.cutsByPhase ?? {})}`,
    `bricked                   ${r.bricked}`,
    `stuck                     ${r.stuck}`,
    `wrong reports             ${r.wrongReports}`,
    `crashed (harness)         ${r.crashed}`,
    `unverified images staged  ${r.unverifiedStaged}`,
    `bytes re-downloaded       ${r.bytesReDownloaded}`,
    `outcomes                  ${table(r.outcomes)}`,
    `XS meter units            ${r.xsCompute ?? 0}${r.cuts > 0 ? ` (${Math.round((r.xsCompute ?? 0) / r.cuts)} per cut that fired)` : ''}`,
  ];
  if (r.failing.length) {
    lines.push('failing runs (reproduce with):');
    for (const f of r.failing) lines.push(`  #${f.index} ${f.verdict}: ${f.why ?? ''}\n    ${f.reproducer}`);
  }
  return lines.join('\n');
}

/** The docs page, from a saved report (figures never typed by hand). */
export function renderMarkdown(r: SavedReport): string {
  const command = r.command ?? `xs-ota campaign --cuts ${r.cutsPlanned} --seed ${r.seed}`;
  const devkit = r.devkit ?? CAMPAIGN_DEVKIT;
  const rows = (record: Record<string, number> | undefined): string[] =>
    Object.entries(record ?? {})
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `| ${k} | ${v} |`);
  return [
    '# Fault campaign: the last result',
    '',
    'Generated by `xs-ota campaign ... --markdown docs/campaign.md` (or `--render FILE.json`) from the',
    "campaign's JSON report; do not edit the figures by hand. What each figure means:",
    '`tools/campaign/campaign.ts`. Resume an interrupted campaign with `--resume FILE.json`',
    '(docs/cli.md).',
    '',
    '```',
    command,
    '```',
    '',
    ...(/stopped after/.test(command) ? ['The campaign had not finished its plan when this page was written (stopped, or still running): the figures are those of the runs completed.', ''] : []),
    `Commit${(r.commits ?? []).length > 1 ? 's' : ''}: ${(r.commits ?? ['not recorded']).map((c) => `\`${c}\``).join(', ')}. Seed ${r.seed}. ` +
      `Dev kit as \`xs-ota sim\` defaults except ${Object.entries(devkit)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')} (every reproducer says so).`,
    '',
    ...(r.files ? ['| file | bytes | sha256 |', '|---|---|---|', ...r.files.map((f) => `| ${f.role}: \`${f.name}\` | ${f.bytes} | \`${f.sha256.slice(0, 16)}…\` |`), ''] : []),
    '| figure | value |',
    '|---|---|',
    `| runs (full simulated updates, agent in XS, MCUboot model on the same flash) | ${r.runs}${r.runsPlanned !== undefined && r.runsPlanned !== r.runs ? ` of ${r.runsPlanned}` : ''} |`,
    `| cuts planned | ${r.cutsPlanned}${r.cutsPlannedInRuns !== undefined && r.cutsPlannedInRuns !== r.cutsPlanned ? ` (${r.cutsPlannedInRuns} in the runs completed)` : ''} |`,
    `| cuts that fired (power, link, modem reboot) | ${r.cuts} |`,
    `| of which inside MCUboot's swap | ${r.cutsInBootloader} |`,
    `| runs in which more than one fault fired | ${r.combinedRuns ?? 'not recorded'} |`,
    `| bricked | ${r.bricked} |`,
    `| stuck | ${r.stuck} |`,
    `| wrong reports | ${r.wrongReports} |`,
    `| harness crashes | ${r.crashed} |`,
    `| unverified images staged | ${r.unverifiedStaged} |`,
    `| bytes re-downloaded (programmed into the slot beyond the image size) | ${r.bytesReDownloaded} |`,
    `| outcomes | ${table(r.outcomes)} |`,
    ...(r.xsCompute ? [`| XS meter units per cut that fired (the agent's computation, all boots; deterministic) | ${Math.round(r.xsCompute / Math.max(1, r.cuts))} |`] : []),
    '',
    ...(r.cutsByKind ? ['Cuts that fired, by kind:', '', '| kind | cuts |', '|---|---|', ...rows(r.cutsByKind), ''] : []),
    ...(r.cutsByPhase
      ? ['Cuts that fired, by where they were aimed (`download`: a fraction of the image; otherwise the agent log event they followed):', '', '| phase | cuts |', '|---|---|', ...rows(r.cutsByPhase), '']
      : []),
    r.failing.length ? '## Failing runs\n' : 'No failing run.',
    ...r.failing.map((f) => `- #${f.index} ${f.verdict}: ${f.why ?? ''}  \n  \`${f.reproducer}\``),
    '',
  ].join('\n');
}
