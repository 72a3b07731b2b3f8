/**
 * The layers of tools/ (README, "Layout"): each folder imports only the layers below it.
 *   tools/node          Node adapters of the platform ports and Node-only helpers: below everything
 *   tools/server        the reference server: tools/node only
 *   tools/devkit/parts  the simulated parts: tools/node only
 *   tools/devkit        the assembled kit: any of them
 * (Skipped before /work/layering/apply.sh laid the folders out.)
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot, tsFilesUnder } from '../../support/paths.js';

/** Repo paths a file imports (relative specifiers, resolved). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^'"\n]*?from\s*['"](\.{1,2}\/[^'"]+)['"]/gm)) {
    out.push(path.relative(repoRoot, path.resolve(path.dirname(file), m[1])).split(path.sep).join('/'));
  }
  return out;
}

const RULES: { layer: string; never: string[] }[] = [
  { layer: 'tools/node', never: ['tools/server/', 'tools/devkit/', 'tools/cli/', 'tools/bench/'] },
  { layer: 'tools/server', never: ['tools/devkit/', 'tools/cli/', 'tools/bench/'] },
  { layer: 'tools/devkit/parts', never: ['tools/server/', 'tools/devkit/', 'tools/cli/', 'tools/bench/'] },
];

describe('tools/ layers: each folder imports only the layers below it', () => {
  before(function () {
    if (!existsSync(path.join(repoRoot, 'tools', 'node'))) this.skip();
  });

  for (const { layer, never } of RULES) {
    it(`${layer} imports none of ${never.join(', ')}`, () => {
      const files = tsFilesUnder(path.join(repoRoot, ...layer.split('/')));
      assert.ok(files.length > 0, `${layer} is empty`);
      const wrong: string[] = [];
      for (const file of files) {
        for (const target of importsOf(file)) {
          // tools/devkit/parts may import itself; the assembled kit is what it must not reach.
          if (layer === 'tools/devkit/parts' && target.startsWith('tools/devkit/parts/')) continue;
          if (never.some((n) => target.startsWith(n))) wrong.push(`${path.relative(repoRoot, file)} → ${target}`);
        }
      }
      assert.deepEqual(wrong, []);
    });
  }

  it('no simulator is left among the Node adapters, and no Node adapter among the parts', () => {
    const names = (dir: string) => readdirSync(path.join(repoRoot, ...dir.split('/')));
    assert.deepEqual(names('tools/node').filter((n) => n.startsWith('sim-')), []);
    assert.deepEqual(names('tools/devkit/parts').filter((n) => n.startsWith('node-')), []);
    assert.deepEqual(names('tools/devkit').filter((n) => n.startsWith('sim-') || n.startsWith('node-')), []);
  });
});
