/**
 * Writes the bench's `delta` figures into docs/delta.md between its markers, from the bench's JSON
 * (`xs-ota bench --section delta --json`), so the doc's figures are never typed by hand:
 *
 *   node tools/xs-ota.mjs bench --section delta --json > /tmp/delta.json
 *   node build/tools/delta/render-doc.js /tmp/delta.json
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const BEGIN = '<!-- delta-figures:begin (tools/delta/render-doc.ts) -->';
const END = '<!-- delta-figures:end -->';

export function renderTable(rows: Record<string, string | number | boolean>[]): string {
  const cols: [string, string][] = [
    ['pair', 'pair'],
    ['fullBytes', 'full image, bytes'],
    ['deltaBytes', 'delta, bytes'],
    ['airFull', 'over the air, full'],
    ['airDelta', 'over the air, delta'],
    ['airRatio', 'air ratio'],
    ['secondsFull', 'update s, full'],
    ['secondsDelta', 'update s, delta'],
    ['timeRatio', 'time ratio'],
    ['timeRatioAfterIdle', 'time ratio, offered after idling'],
    ['verifySecondsDelta', 'verify s, delta (decode)'],
    ['swapSeconds', 'MCUboot swap s'],
    ['swapShareOfFull', 'swap / full update'],
    ['decoderRamBytes', 'decoder RAM, bytes'],
    ['decoderSlotsMeasured', 'decoder slots in XS'],
    ['xsUnitsPerTargetByte', 'XS units / target byte'],
    ['meets', 'meets'],
  ];
  const head = `| ${cols.map((c) => c[1]).join(' | ')} |`;
  const rule = `|${cols.map(() => '---').join('|')}|`;
  return [head, rule, ...rows.map((r) => `| ${cols.map(([k]) => String(r[k] ?? '')).join(' | ')} |`)].join('\n');
}

function main(): void {
  const file = process.argv[2];
  if (!file) throw new Error('usage: render-doc.js BENCH.json (from xs-ota bench --section delta --json)');
  const bench = JSON.parse(readFileSync(file, 'utf8')) as { sections: { delta: { rows: Record<string, string | number | boolean>[] } } };
  const doc = path.join(repoRoot, 'docs', 'delta.md');
  const text = readFileSync(doc, 'utf8');
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  if (a < 0 || b < a) throw new Error('docs/delta.md has no figure markers');
  writeFileSync(doc, `${text.slice(0, a + BEGIN.length)}\n${renderTable(bench.sections.delta.rows)}\n${text.slice(b)}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) main();
