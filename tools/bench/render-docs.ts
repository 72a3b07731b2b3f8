/**
 * docs/benchmarks.md from the bench's JSON (docs/bench.json): every figure in the page comes from
 * that file, none is typed by hand (test/unit/bench/docs.spec.ts renders it again and compares).
 *
 *   npm run docs:bench      runs the whole bench with --json-out docs/bench.json, then this
 *   node build/tools/bench/render-docs.js [bench.json] [benchmarks.md]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BenchJsonSection {
  title: string;
  columns: string[];
  rows: Record<string, string | number | boolean>[];
  notes: string[];
}

export interface BenchJson {
  sections: Record<string, BenchJsonSection>;
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const DOCS_BENCH_JSON = path.join(repoRoot, 'docs', 'bench.json');
export const DOCS_BENCHMARKS_MD = path.join(repoRoot, 'docs', 'benchmarks.md');

const INTRO = `# Benchmarks (\`npm run bench\`)

This page is generated: \`npm run docs:bench\` runs the whole bench, writes its JSON to
\`docs/bench.json\` and renders this page from it (\`tools/bench/render-docs.ts\`);
\`test/unit/bench/docs.spec.ts\` fails when the page and the JSON disagree, so edit the renderer,
never the figures.

\`npm run bench\` (\`xs-ota bench\`) prints deterministic figures of the agent on the simulated dev
kit; \`--json\` prints them as JSON (always also written to \`build/bench.json\`), \`--section <name>\`
runs one section. Every figure is virtual time, a counter or an XS meter count, never wall-clock
seconds. The simulated parts keep every timer in virtual time: the modem's sockets hold virtual
time exactly while the loopback server owes an HTTP answer (requests and responses are counted:
\`tools/devkit/parts/sim-modem/exchange.ts\`), never for "real silence", and the loopback servers never
close idle connections by the host's clock. Two runs on an idle and a loaded host print the same
JSON (\`test/unit/bench/determinism.spec.ts\` runs a
bench case twice, once beside a CPU-burning process and a server that sits 1.5 s on every
request).

The flash is a Winbond W25Q64JV in timing (datasheet typical: 4 KiB sector erase 45 ms, 64 KiB
block erase 150 ms, 256-byte page program 0.4 ms; worst case 400 ms, 2000 ms and 3 ms;
\`tools/devkit/parts/sim-flash.ts\`); the slot writer erases 64 KiB blocks where the image needs
them and the next one ahead during a request's round trip (docs/flash-layout.md). Moddable's flash
calls are synchronous, so the MCU is blocked while the part erases or programs: its timers and
UART events wait (\`tools/devkit/parts/cpu-busy.ts\`), the UART keeps filling its RX FIFO, and with
RTS/CTS the modem holds when the FIFO is full. The bootloader's swap takes its flash time too.
`;

function cell(value: string | number | boolean | undefined): string {
  if (value === undefined) return '';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return String(value).replace(/\|/g, '\\|');
}

function table(section: BenchJsonSection): string[] {
  const lines = [`| ${section.columns.join(' | ')} |`, `|${section.columns.map(() => '---').join('|')}|`];
  for (const row of section.rows) lines.push(`| ${section.columns.map((c) => cell(row[c])).join(' | ')} |`);
  return lines;
}

function val(row: Record<string, string | number | boolean> | undefined, key: string): string | number | boolean | undefined {
  return row?.[key];
}

/** The issue-15 verdicts, computed from the cycle section's rows. */
function targets(json: BenchJson): string[] {
  const cycle = json.sections['cycle'];
  if (!cycle) return [];
  // Rows before modemStatus existed are the AT probe's.
  const row = (flash: string, modem: string, baud: number, status = 'probe') => cycle.rows.find((r) => r.flash === flash && r.modem === modem && r.baud === baud && (r.modemStatus ?? 'probe') === status);
  const lines = ['## Targets (issue 15)', '', '| figure | sim7080 115200 | sim7080 921600 | sim7600 115200 | sim7600 921600 | target |', '|---|---|---|---|---|---|'];
  const configs: [string, number][] = [
    ['sim7080', 115_200],
    ['sim7080', 921_600],
    ['sim7600', 115_200],
    ['sim7600', 921_600],
  ];
  for (const [flash, target] of [
    ['typical', '>= 0.95'],
    ['worst', '>= 0.9 where the flash allows'],
  ]) {
    lines.push(`| whole update, goodput / bottleneck, ${flash} flash | ${configs.map(([m, b]) => cell(val(row(flash, m, b), 'ratio'))).join(' | ')} | ${target} |`);
    lines.push(`| physical limit the flash sets (blocking 64 KiB erases with a 4 KiB RX FIFO; page programs alone where the slot was erased ahead), cold start, ${flash} flash | ${configs.map(([m, b]) => cell(val(row(flash, m, b), 'flashLimit'))).join(' | ')} | |`);
  }
  lines.push(`| power-on to confirmed / pure transfer, typical flash | ${configs.map(([m, b]) => cell(val(row('typical', m, b), 'confirmedOverTransfer'))).join(' | ')} | <= 1.15 at sim7080 115200 |`);
  if (cycle.rows.some((r) => r.modemStatus === 'pin')) {
    lines.push(`| the same with the modem's STATUS on a GPIO input (no AT probe before the power key) | ${configs.map(([m, b]) => cell(val(row('typical', m, b, 'pin'), 'confirmedOverTransfer'))).join(' | ')} | <= 1.15 at sim7080 115200 |`);
  }
  lines.push(`| registered to confirmed / pure transfer, typical flash | ${configs.map(([m, b]) => cell(val(row('typical', m, b), 'registeredToConfirmedOverTransfer'))).join(' | ')} | |`);
  lines.push(`| bootloader swap, typical flash (s) | ${configs.map(([m, b]) => cell(val(row('typical', m, b), 'swapS'))).join(' | ')} | |`);
  lines.push('');
  return lines;
}

export function renderBenchmarks(json: BenchJson): string {
  const out: string[] = [INTRO, ...targets(json)];
  for (const [name, section] of Object.entries(json.sections)) {
    out.push(`## \`${name}\`: ${section.title}`, '', ...table(section), '');
    for (const note of section.notes) out.push(`- ${note}`);
    out.push('');
  }
  return out.join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const input = process.argv[2] ?? DOCS_BENCH_JSON;
  const output = process.argv[3] ?? DOCS_BENCHMARKS_MD;
  writeFileSync(output, renderBenchmarks(JSON.parse(readFileSync(input, 'utf8')) as BenchJson));
  console.log(`${output}: rendered from ${input}`);
}
