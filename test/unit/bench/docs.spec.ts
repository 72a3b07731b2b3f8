/** docs/benchmarks.md is exactly what the renderer makes of the committed bench JSON: no hand edits. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DOCS_BENCH_JSON, DOCS_BENCHMARKS_MD, renderBenchmarks, type BenchJson } from '../../../tools/bench/render-docs.js';
import { SECTIONS } from '../../../tools/cli/bench.js';

describe('docs/benchmarks.md', () => {
  const json = JSON.parse(readFileSync(DOCS_BENCH_JSON, 'utf8')) as BenchJson;

  it('is the rendering of docs/bench.json (regenerate with npm run docs:bench)', () => {
    assert.equal(readFileSync(DOCS_BENCHMARKS_MD, 'utf8'), renderBenchmarks(json));
  });

  it('docs/bench.json holds every default section of the bench', () => {
    assert.deepEqual(Object.keys(json.sections), Object.keys(SECTIONS));
  });

  it('a changed figure in the JSON changes the page', () => {
    const cycle = json.sections['cycle'];
    const edited: BenchJson = { sections: { ...json.sections, cycle: { ...cycle, rows: cycle.rows.map((r, i) => (i === 0 ? { ...r, ratio: 0.123 } : r)) } } };
    assert.notEqual(renderBenchmarks(edited), renderBenchmarks(json));
  });
});
