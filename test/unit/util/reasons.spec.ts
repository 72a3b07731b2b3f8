/**
 * src/util/errors.ts knows only OtaError and the open Reason type, so the compiler no longer
 * checks a reason name where an error is made. This suite is that check: every reason literal
 * src/ hands to OtaError, BackendError or isOtaError is declared in a subsystem's reasons.ts
 * (or errors.ts's CommonReason), and the layering holds (errors.ts imports no subsystem, a
 * subsystem's reasons.ts imports nothing but what src/agent/reasons.ts assembles).
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot, tsFilesUnder } from '../../support/paths.js';

const srcRoot = path.join(repoRoot, 'src');

const files = tsFilesUnder(srcRoot);
const rel = (file: string): string => path.relative(repoRoot, file);
const reasonFiles = files.filter((f) => path.basename(f) === 'reasons.ts');

/** The names a union type declares: each `| 'name'` member. */
function declaredNames(text: string): string[] {
  return [...text.matchAll(/\|\s*'([a-z0-9-]+)'/g)].map((m) => m[1]);
}

/** Reason literals made or tested in `text`: `new OtaError('x'`, `new BackendError('x'`, `isOtaError(e, 'x', 'y')`. */
export function namedReasons(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/new (?:OtaError|BackendError)(?:<[^>]*>)?\(\s*'([^']+)'/g)) out.push(m[1]);
  for (const m of text.matchAll(/isOtaError\(\s*[^,()]+((?:,\s*'[^']+')+)\s*\)/g)) {
    for (const lit of m[1].matchAll(/'([^']+)'/g)) out.push(lit[1]);
  }
  return out;
}

describe('failure reasons (src/util/errors.ts, each subsystem reasons.ts, src/agent/reasons.ts)', () => {
  const common = declaredNames(readFileSync(path.join(srcRoot, 'util', 'errors.ts'), 'utf8').split('export type CommonReason')[1].split(';')[0]);
  const declared = new Set<string>(common);
  for (const file of reasonFiles) for (const name of declaredNames(readFileSync(file, 'utf8'))) declared.add(name);

  it('finds the subsystems and their reasons', () => {
    assert.ok(reasonFiles.length >= 9, `reasons.ts files: ${reasonFiles.map(rel).join(', ')}`);
    assert.ok(common.includes('config-invalid') && declared.has('at-garbled') && declared.has('url-expired'));
  });

  it('src/util/errors.ts imports no subsystem', () => {
    const text = readFileSync(path.join(srcRoot, 'util', 'errors.ts'), 'utf8');
    assert.deepEqual([...text.matchAll(/^import .*$/gm)].map((m) => m[0]), []);
  });

  it("a subsystem's reasons.ts imports nothing; src/agent/reasons.ts assembles every one of them", () => {
    const assembly = readFileSync(path.join(srcRoot, 'agent', 'reasons.ts'), 'utf8');
    for (const file of reasonFiles) {
      if (rel(file) === path.join('src', 'agent', 'reasons.ts')) continue;
      const text = readFileSync(file, 'utf8');
      assert.doesNotMatch(text, /^import /m, `${rel(file)} imports`);
      const unionName = /export type (\w+Reason) =/.exec(text)?.[1];
      assert.ok(unionName, `${rel(file)} declares no *Reason union`);
      assert.match(assembly, new RegExp(`\\|\\s*${unionName}\\b`), `OtaReason lacks ${unionName}`);
    }
  });

  it('every reason src/ names is declared in one reasons.ts (or CommonReason)', () => {
    const undeclared: string[] = [];
    let named = 0;
    for (const file of files) {
      for (const name of namedReasons(readFileSync(file, 'utf8'))) {
        named++;
        if (!declared.has(name)) undeclared.push(`${rel(file)}: '${name}'`);
      }
    }
    assert.ok(named > 300, `only ${named} reason literals found: the scan no longer sees the calls`);
    assert.deepEqual(undeclared, []);
  });

  it('the scan sees a misspelt reason', () => {
    const names = namedReasons(`throw new OtaError('at-garbeld', 'x'); if (isOtaError(e, 'timeout', 'link-lots')) {}`);
    assert.deepEqual(names, ['at-garbeld', 'timeout', 'link-lots']);
    assert.deepEqual(names.filter((n) => !declared.has(n)), ['at-garbeld', 'link-lots']);
  });
});
