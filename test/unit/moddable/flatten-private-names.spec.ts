/**
 * The bundle step that flattens class private names (tools/bundle/flatten-private-names.ts): what
 * it rewrites keeps the program's meaning, what could change it stops the build, and no bundle a
 * device or an XS test loads still carries a private name.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { parseAst } from 'rollup/parseAst';
import { FLATTENED_PREFIX, PrivateNameError, flattenPrivateNames } from '../../../tools/bundle/flatten-private-names.js';
import { repoRoot } from '../../support/paths.js';

type Ast = Parameters<typeof flattenPrivateNames>[1];
const flatten = (code: string) => flattenPrivateNames(code, parseAst(code) as unknown as Ast, 'test.js');

function privateNames(code: string): number {
  let count = 0;
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (typeof node !== 'object' || node === null) return;
    if ((node as { type?: string }).type === 'PrivateIdentifier') count++;
    for (const value of Object.values(node)) visit(value);
  };
  visit(parseAst(code));
  return count;
}

describe('bundle: class private names flattened', () => {
  it('fields, methods and accessors become properties, and the program computes the same', () => {
    const plain = `
      class Counter {
        #count = 0;
        #step;
        constructor(step) { this.#step = step; }
        get #next() { return this.#count + this.#step; }
        #bump() { this.#count = this.#next; return this; }
        run(n) { for (let i = 0; i < n; i++) this.#bump(); return \`count \${this.#count}\`; }
      }
      result = [new Counter(2).run(3), JSON.stringify(Object.keys(new Counter(1)))];`;
    const flat = flatten(plain);
    assert.equal(privateNames(flat), 0);
    assert.match(flat, new RegExp(`this\\.\\${FLATTENED_PREFIX}count`));
    const before = vm.runInNewContext(`let result; ${plain}; result`);
    const after = vm.runInNewContext(`let result; ${flat}; result`);
    assert.equal(after[0], before[0]);
    assert.equal(after[0], 'count 6');
  });

  it('a private name also private to an ancestor class stops the build', () => {
    assert.throws(() => flatten('class A { #x = 1; } class B extends A { #x = 2; }'), (e: unknown) => e instanceof PrivateNameError && /#x is private to both B and its ancestor A/.test(e.message));
    // Two levels up, and through a class bound to a const.
    assert.throws(() => flatten('const A = class { #x; }; class B extends A { #y; } class C extends B { #x; }'), /#x is private to both C and its ancestor A/);
  });

  it('a flattened name the chunk already uses as a property, a member or a string stops the build', () => {
    for (const other of [`o.${FLATTENED_PREFIX}x = 1;`, `const o = { ${FLATTENED_PREFIX}x: 1 };`, `o['${FLATTENED_PREFIX}x'];`, `class B { ${FLATTENED_PREFIX}x() {} }`]) {
      assert.throws(() => flatten(`class A { #x; } ${other}`), /would become/, other);
    }
    // A variable of that name reaches no property: allowed.
    assert.doesNotThrow(() => flatten(`class A { #x; m(${FLATTENED_PREFIX}x) { return ${FLATTENED_PREFIX}x; } }`));
  });

  it('a brand check, a static private member and an unknown superclass stop the build', () => {
    assert.throws(() => flatten('class A { #x; static is(o) { return #x in o; } }'), /brand check #x/);
    assert.throws(() => flatten('class A { static #n = 0; }'), /static private member #n/);
    assert.throws(() => flatten('class A extends Imported { #x; }'), /extends Imported, which is not in the chunk/);
    assert.throws(() => flatten('class A extends mix(B) { #x; }'), /extends an expression/);
    assert.doesNotThrow(() => flatten('class E extends Error { #code; }'));
  });

  it('no bundle a device or an XS test loads carries a private name', () => {
    const files = [
      ...readdirSync(path.join(repoRoot, 'dist')).filter((f) => /^xs-ota.*\.m?js$/.test(f)).map((f) => path.join(repoRoot, 'dist', f)),
      ...readdirSync(path.join(repoRoot, 'build/xs')).filter((f) => f.endsWith('.js')).map((f) => path.join(repoRoot, 'build/xs', f)),
    ];
    assert.ok(files.length > 20, `${files.length} bundles`);
    for (const file of files) assert.equal(privateNames(readFileSync(file, 'utf8')), 0, file);
  });
});
