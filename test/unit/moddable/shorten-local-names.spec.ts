/**
 * tools/bundle/shorten-local-names.ts: every local binding of a bundle renamed short, the program
 * unchanged. Each case runs its code before and after the renaming and compares what it returns.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ShortenNamesError, shortName, shortenLocalNames } from '../../../tools/bundle/shorten-local-names.js';
import { repoRoot } from '../../support/paths.js';
import { sameProgram } from '../../support/same-program.js';

const same = sameProgram(shortenLocalNames, { outer: 'global value' });

describe('tools/bundle/shorten-local-names: short local names, the same program', () => {
  it('short names: a..Z, then two characters, all distinct', () => {
    const names = Array.from({ length: 5000 }, (_, i) => shortName(i));
    assert.deepEqual(names.slice(0, 3), ['a', 'b', 'c']);
    assert.equal(names[52], 'aa');
    assert.equal(new Set(names).size, names.length);
  });

  it('renames locals and parameters; a name used from outside is never shadowed', () => {
    const out = same(`
      const longOuterName = 1;
      function total(firstValue, secondValue) {
        const a = firstValue + secondValue; // an original short name beside renamed ones
        const inner = (x) => x + longOuterName + a + outer;
        return inner(a);
      }
      [total(2, 3), typeof longOuterName]`);
    assert.doesNotMatch(out, /firstValue|secondValue|longOuterName|inner\b/);
    assert.match(out, /\bouter\b/, 'the global kept');
  });

  it('keeps shorthand properties, destructuring defaults and export names as they were', () => {
    same(`
      const widthPx = 3, heightPx = 4;
      const box = { widthPx, heightPx };
      const { widthPx: w, heightPx: h = 9, depth = widthPx } = box;
      let swapFirst = 1, swapSecond = 2;
      [swapFirst, swapSecond] = [swapSecond, swapFirst];
      ({ widthPx: swapFirst } = box);
      [box, w, h, depth, swapFirst, swapSecond, Object.keys(box)]`);
    const module = shortenLocalNames('const helperValue = 1;\nexport { helperValue };\nexport { helperValue as renamedExport };\n', 'module', 'case');
    assert.match(module, /export \{ \w+ as helperValue \}/);
    assert.match(module, /as renamedExport/);
  });

  it('keeps the names of classes and function declarations (their .name, frame names); arrows take short ones', () => {
    const out = same(`
      class ImageParser { static make() { return new ImageParser(); } }
      const Alias = class {};
      function topLevelHelper() { function innerHelper() { return 1; } return innerHelper(); }
      const arrowHelper = () => 2;
      [ImageParser.name, ImageParser.make().constructor.name, Alias.name, topLevelHelper.name, topLevelHelper(), arrowHelper()]`);
    assert.match(out, /class ImageParser/);
    assert.match(out, /function innerHelper/);
    assert.doesNotMatch(out, /arrowHelper/);
    // An IIFE bundle (the XS test guests): its top-level functions are inner ones, kept by name.
    const iife = shortenLocalNames('(function () {\n  function hostCall(op) { return op; }\n  const frameLocal = 1;\n  globalThis.handle = () => hostCall(frameLocal);\n})();\n', 'script', 'case');
    assert.match(iife, /function hostCall\(\w+\)/);
    assert.doesNotMatch(iife, /frameLocal/);
  });

  it('labels, var hoisting, catch parameters, closures in loops', () => {
    same(`
      const results = [];
      outerLoop: for (let index = 0; index < 3; index++) {
        for (let other = 0; other < 3; other++) { if (other === index) continue outerLoop; results.push(() => index * 10 + other); }
      }
      function hoisting() { hoistedVar = 5; var hoistedVar; return hoistedVar; }
      let caught; try { throw new Error('boom'); } catch (problem) { caught = problem.message; }
      [results.map((f) => f()), hoisting(), caught]`);
  });

  it('refuses what reaches names at run time: a direct eval, a with statement', () => {
    assert.throws(() => shortenLocalNames('function f(localName) { return eval("localName"); }', 'script', 'case'), ShortenNamesError);
    assert.throws(() => shortenLocalNames('function f(o) { with (o) { return x; } }', 'script', 'case'), (e: unknown) => e instanceof ShortenNamesError || e instanceof SyntaxError);
  });

  it('the device bundles are renamed (rollup.config.mjs): no long local names left in dist/xs-ota-hawkbit.js', () => {
    const text = readFileSync(path.join(repoRoot, 'dist', 'xs-ota-hawkbit.js'), 'utf8');
    // Module-level constants of src/agent/config.ts and setting-spec.ts, as the source names them.
    for (const local of ['AGENT_VALUE', 'POLICY_DEFAULTS', 'DEVICE_SETTINGS', 'isAlnum']) assert.doesNotMatch(text, new RegExp(`\\b(const|let|function) ${local}\\b`), local);
    // Kept: the classes the bundle checks and `.name` read.
    assert.match(text, /\bclass HawkbitBackend\b/);
    assert.match(text, /export \{[^}]*\bcreateAgent\b/);
  });
});
