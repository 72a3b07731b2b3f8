/**
 * `xs-ota campaign --cuts N --seed S [--workers W] [--json] [--save FILE] [--markdown FILE]`
 *   Runs random cuts (power, link, modem reboot, combined) over full simulated updates and prints
 *   runs, cuts, bricked, stuck, wrong reports, unverified images staged, bytes re-downloaded, and
 *   each failing run's reproducer command (tools/campaign/campaign.ts says what each one means).
 *   Exit 0 when no run bricked, got stuck, crashed or reported wrongly; 1 otherwise; 2 usage.
 * `xs-ota campaign --render FILE.json --markdown FILE.md`
 *   Writes the docs page from a saved report (docs/campaign.md is generated this way, never typed).
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { planCampaign, runOne, summarize, type CampaignReport, type RunResult } from '../campaign/campaign.js';
import { EXIT, parseInteger, UsageError, wantsHelp } from './cli-common.js';
import type { Command } from './main.js';

const USAGE = `usage: xs-ota campaign [--cuts N] [--seed S] [--workers W] [--json] [--save FILE.json] [--markdown FILE.md]
       xs-ota campaign --render FILE.json --markdown FILE.md
  --cuts N       faults to plan (default 100): runs of 1 to 3 faults each until N are planned
  --seed S       the campaign's seed (default 1): the same seed gives the same runs
  --workers W    parallel worker processes (default 1)
  --json         print the report as JSON
  --save FILE    also write the JSON report to FILE
  --markdown F   write the report as a docs page (docs/campaign.md)
exit codes: 0 nothing bricked, stuck, crashed or reported wrongly; 1 otherwise; 2 usage`;

interface Options {
  cuts: number;
  seed: number;
  workers: number;
  json: boolean;
  save?: string;
  markdown?: string;
  render?: string;
  /** Internal: run only runs i, i+W, i+2W... and print their results as JSON lines. */
  slice?: { index: number; of: number };
}

function parse(args: string[]): Options {
  const o: Options = { cuts: 100, seed: 1, workers: 1, json: false };
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
    else if (a === '--save') o.save = value();
    else if (a === '--markdown') o.markdown = value();
    else if (a === '--render') o.render = value();
    else if (a === '--slice') {
      const m = /^(\d+)\/(\d+)$/.exec(value());
      if (!m || Number(m[1]) >= Number(m[2])) throw new UsageError('--slice i/W');
      o.slice = { index: Number(m[1]), of: Number(m[2]) };
    } else throw new UsageError(`unknown option ${a}`);
  }
  if (o.render && !o.markdown) throw new UsageError('--render needs --markdown FILE');
  return o;
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
      const report = JSON.parse(readFileSync(o.render, 'utf8')) as CampaignReport & { command?: string };
      writeFileSync(o.markdown!, renderMarkdown(report, report.command ?? `xs-ota campaign --cuts ${report.cutsPlanned} --seed ${report.seed}`));
      return EXIT.done;
    }
    const plan = planCampaign(o.cuts, o.seed);
    if (o.slice) {
      // Worker: one JSON line per run, for the parent to merge.
      for (const run of plan.filter((r) => r.index % o.slice!.of === o.slice!.index)) console.log(JSON.stringify(await runOne(run)));
      return EXIT.done;
    }
    const results: RunResult[] = [];
    const command = `xs-ota campaign --cuts ${o.cuts} --seed ${o.seed}${o.workers > 1 ? ` --workers ${o.workers}` : ''}`;
    const progress = (r: RunResult): void => {
      results.push(r);
      process.stderr.write(`campaign: run ${results.length}/${plan.length} ${r.verdict === 'ok' ? r.outcome : r.verdict.toUpperCase()} [${r.faults.join(' ')}]\n`);
      // --save is rewritten after every run: a campaign stopped early still leaves its figures
      // (for the runs done, which the command line then says).
      if (o.save && results.length < plan.length) {
        const done = [...results].sort((a, b) => a.index - b.index);
        const partial = summarize(o.seed, done.reduce((n, x) => n + x.faults.length, 0), done);
        writeFileSync(o.save, `${JSON.stringify({ command: `${command} (stopped after ${done.length} of ${plan.length} runs)`, ...partial }, null, 2)}\n`);
      }
    };
    if (o.workers === 1) {
      for (const run of plan) progress(await runOne(run));
    } else {
      await Promise.all(Array.from({ length: o.workers }, (_, i) => runWorker(args, i, o.workers, progress)));
    }
    results.sort((a, b) => a.index - b.index);
    const report = summarize(o.seed, o.cuts, results);
    const withCommand = { command, ...report };
    if (o.save) writeFileSync(o.save, `${JSON.stringify(withCommand, null, 2)}\n`);
    if (o.markdown) writeFileSync(o.markdown, renderMarkdown(report, command));
    if (o.json) console.log(JSON.stringify(withCommand, null, 2));
    else console.log(formatReport(report));
    const bad = report.bricked + report.stuck + report.wrongReports + report.crashed;
    return bad === 0 ? EXIT.done : EXIT.failed;
  },
};

/** A worker process running slice i of W (the same CLI, so it runs the same code). */
function runWorker(args: string[], index: number, of: number, onResult: (r: RunResult) => void): Promise<void> {
  const main = fileURLToPath(new URL('../../../tools/xs-ota.mjs', import.meta.url));
  const childArgs = [main, 'campaign', ...args.filter((a, i) => !['--json', '--workers', '--save', '--markdown'].includes(a) && !['--workers', '--save', '--markdown'].includes(args[i - 1])), '--slice', `${index}/${of}`];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, childArgs, { stdio: ['ignore', 'pipe', 'inherit'] });
    let buffered = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line.startsWith('{')) onResult(JSON.parse(line) as RunResult);
      }
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`campaign worker ${index}/${of} exited with ${code}`))));
  });
}

export function formatReport(r: CampaignReport): string {
  const lines = [
    `runs                      ${r.runs}`,
    `cuts (fired / planned)    ${r.cuts} / ${r.cutsPlanned}  (${r.cutsInBootloader} inside MCUboot's swap)`,
    `bricked                   ${r.bricked}`,
    `stuck                     ${r.stuck}`,
    `wrong reports             ${r.wrongReports}`,
    `crashed (harness)         ${r.crashed}`,
    `unverified images staged  ${r.unverifiedStaged}`,
    `bytes re-downloaded       ${r.bytesReDownloaded}`,
    `outcomes                  ${Object.entries(r.outcomes)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  ];
  if (r.failing.length) {
    lines.push('failing runs (reproduce with):');
    for (const f of r.failing) lines.push(`  #${f.index} ${f.verdict}: ${f.why ?? ''}\n    ${f.reproducer}`);
  }
  return lines.join('\n');
}

/** The docs page, from a report (figures never typed by hand). */
export function renderMarkdown(r: CampaignReport, command: string): string {
  return [
    '# Fault campaign: the last result',
    '',
    'Generated by `xs-ota campaign ... --markdown docs/campaign.md` (or `--render FILE.json`) from the',
    "campaign's JSON report; do not edit the figures by hand. What each figure means:",
    '`tools/campaign/campaign.ts`.',
    '',
    '```',
    command,
    '```',
    '',
    ...(/stopped after/.test(command) ? ['The campaign was stopped before its plan ended: the figures are those of the runs completed.', ''] : []),
    '| figure | value |',
    '|---|---|',
    `| runs (full simulated updates, agent in XS, MCUboot model on the same flash) | ${r.runs} |`,
    `| cuts planned | ${r.cutsPlanned} |`,
    `| cuts that fired (power, link, modem reboot) | ${r.cuts} |`,
    `| of which inside MCUboot's swap | ${r.cutsInBootloader} |`,
    `| bricked | ${r.bricked} |`,
    `| stuck | ${r.stuck} |`,
    `| wrong reports | ${r.wrongReports} |`,
    `| harness crashes | ${r.crashed} |`,
    `| unverified images staged | ${r.unverifiedStaged} |`,
    `| bytes re-downloaded (programmed into the slot beyond the image size) | ${r.bytesReDownloaded} |`,
    `| outcomes | ${Object.entries(r.outcomes)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')} |`,
    '',
    r.failing.length ? '## Failing runs\n' : 'No failing run.',
    ...r.failing.map((f) => `- #${f.index} ${f.verdict}: ${f.why ?? ''}  \n  \`${f.reproducer}\``),
    '',
  ].join('\n');
}
