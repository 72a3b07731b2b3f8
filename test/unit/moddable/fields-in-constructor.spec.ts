/**
 * tools/bundle/fields-in-constructor.ts: class fields set by the constructor, the program
 * unchanged; a class whose fields an assignment could treat differently keeps them. Each case
 * runs its code before and after the move and compares what it returns.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fieldsInConstructor } from '../../../tools/bundle/fields-in-constructor.js';
import { repoRoot } from '../../support/paths.js';
import { sameProgram } from '../../support/same-program.js';

const moved = sameProgram(fieldsInConstructor);

describe('tools/bundle/fields-in-constructor: fields set by the constructor, the same program', () => {
  it('a base class: the fields first, in order, then the constructor body; a class without constructor gets one', () => {
    const out = moved(`
      const log = [];
      class Counter { count = (log.push('count'), 0); step = 2; empty; constructor(start) { log.push('body'); this.count = start ?? this.count; } }
      class Plain { items = []; other = this.items; }
      const c = new Counter(5), d = new Counter(), p = new Plain();
      [c.count, d.count, c.step, 'empty' in c, c.empty, log, p.other === p.items, Object.keys(c)]`);
    assert.doesNotMatch(out, /^\s+step = 2;/m);
    assert.match(out, /constructor\(\) \{ this\.items = \(\[\]\); this\.other = \(this\.items\); \}/);
  });

  it('a derived class: the fields right after super(), which sees none of them', () => {
    const out = moved(`
      class Base { constructor() { this.seen = this.late; } get kind() { return 'base'; } }
      class Derived extends Base { late = 'set'; constructor(x) { const y = x + 1; super(); this.y = y; } }
      class NoCtor extends Base { extra = 'extra'; }
      const d = new Derived(1), n = new NoCtor();
      [d.seen, d.late, d.y, n.extra, n.seen, n.kind, n instanceof Base]`);
    assert.match(out, /super\(\); this\.late = \('set'\);/);
    assert.match(out, /constructor\(\.\.\.args\) \{ super\(\.\.\.args\); this\.extra = \('extra'\); \}/);
  });

  it('leaves a class as it is when an assignment would differ from a definition', () => {
    for (const code of [
      // A setter of the class or an ancestor would run.
      'class A { set x(v) { this.y = v; } x = 1; }',
      'class B { get value() { return 1; } } class C extends B { value = 2; }',
      // A method of a preloaded (read-only) prototype would be assigned.
      'class D { run() {} } class E extends D { run = () => 1; }',
      // Inherited built-in properties: Error's, Object.prototype's (and __proto__).
      'class F extends Error { cause = 1; }',
      'class G { toString = () => "g"; }',
      'class H { __proto__ = null; }',
      // A superclass outside the chunk, new.target, arguments, a name the constructor declares.
      'class I extends SomethingElse { x = 1; }',
      'class J { x = new.target; }',
      'const limit = 1; class K { x = limit; constructor(limit) { this.y = limit; } }',
      // super() not one top-level statement.
      'class L { } class M extends L { x = 1; constructor(a) { if (a) super(); else super(); } }',
      // A parameter default that reads this (a base class initializes its fields before the parameters).
      'class N { x = 1; constructor(y = this.x) { this.y = y; } }',
    ]) {
      assert.equal(fieldsInConstructor(code, 'script', 'case'), code, code);
    }
    // An Error subclass's own new fields may move (Error has no such property).
    assert.notEqual(fieldsInConstructor('class O extends Error { reasonCode = 1; }', 'script', 'case'), 'class O extends Error { reasonCode = 1; }');
  });

  it('the device bundles have their fields moved (rollup.config.mjs): the hawkBit backend class has none left', () => {
    const text = readFileSync(path.join(repoRoot, 'dist', 'xs-ota-hawkbit.js'), 'utf8');
    const body = /class HawkbitBackend \{([\s\S]*?)\n\}/.exec(text)?.[1];
    assert.ok(body, 'class HawkbitBackend not found');
    // A field is a class-body line `name;` or `name = ...;` (rollup indents members by 4).
    const fields = body.split('\n').filter((l) => /^ {4}[\w$]+( = .*)?;$/.test(l));
    assert.deepEqual(fields, [], 'HawkbitBackend still declares fields');
    assert.match(body, /constructor\(\w*\) \{ this\.cancellable = \(true\); this\.rootUrl = undefined;/);
  });
});
