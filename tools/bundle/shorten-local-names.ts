/**
 * Rollup plugin: gives every local binding of a bundle a short name (`a`, `b`, ... `aa`) when the
 * bundle is written, scope by scope; the names of function declarations and of classes stay
 * (their `.name`, frame names, stack traces, the bundle checks in test/unit/moddable).
 *
 * Why: XS pays for a name in flash. Every variable, parameter and captured binding is declared by
 * its key in the function's bytecode, and every distinct key is a preloaded slot, a key-table entry
 * and its string (tools/moddable/host-build.ts LinkedImage); the arrow functions' `.name` is a key
 * too. Short names are shared by every scope, so the bundle needs a few dozen keys for its locals
 * instead of one per distinct name. Properties are never renamed (they are the data's and the
 * ports' names). Measured with the real SDK 8.2.3 (`npm run footprint -- hawkbit`), it takes
 * about 300 keys and 8 KB of key strings out of the hawkBit build; RAM does not change.
 *
 * What could change meaning is refused, so the build fails instead of shipping a changed program:
 * a direct `eval` or a `with` statement (names reached at run time). By construction a new name is
 * never one that its scope uses from an enclosing scope or the globals, nor a kept name; after the
 * fact, the output must parse and its free (global) names must be exactly the input's.
 */
import { parse } from '@babel/parser';
import traverseModule, { type Binding, type NodePath, type Scope, type TraverseOptions } from '@babel/traverse';
import type { Identifier, Node } from '@babel/types';
import type { Plugin } from 'rollup';

// @babel/traverse is CommonJS: its default export is the function under Node's ESM interop.
type Traverse = (node: Node, options: TraverseOptions) => void;
const traverse: Traverse = (traverseModule as unknown as { default?: Traverse }).default ?? (traverseModule as unknown as Traverse);

export class ShortenNamesError extends Error {}

/** Never generated: keywords, and the names the language gives meaning to without a binding. */
const RESERVED = new Set(
  ('break case catch class const continue debugger default delete do else enum export extends false finally for function if implements import in instanceof interface let new null package private protected public return static super switch this throw true try typeof var void while with yield await async of get set arguments eval undefined NaN Infinity globalThis').split(' '),
);
const FIRST = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const REST = `${FIRST}0123456789`;

/** The i-th short name: a..Z, then aa, ba, ... (bijective base 52, then 62). */
export function shortName(i: number): string {
  let s = FIRST[i % FIRST.length]!;
  let n = Math.floor(i / FIRST.length);
  while (n > 0) {
    n -= 1;
    s += REST[n % REST.length];
    n = Math.floor(n / REST.length);
  }
  return s;
}

/** Identifier occurrences that are not variables: labels, meta properties. */
function notAVariable(path: NodePath<Identifier>): boolean {
  const p = path.parent;
  return p.type === 'LabeledStatement' || p.type === 'BreakStatement' || p.type === 'ContinueStatement' || p.type === 'MetaProperty' || (p.type === 'ExportSpecifier' && p.exported === path.node);
}

interface Analysis {
  readonly scopes: Scope[];
  /** Every variable occurrence and the binding it resolves to (undefined: a global). */
  readonly occurrences: { path: NodePath<Identifier>; binding: Binding | undefined }[];
  /** Per scope: the bindings of enclosing scopes and the globals used inside it. */
  readonly usedFromOutside: Map<Scope, Set<Binding | string>>;
  readonly globals: Set<string>;
}

function analyse(code: string, sourceType: 'module' | 'script', where: string): Analysis {
  const ast = parse(code, { sourceType });
  const scopes: Scope[] = [];
  const seen = new Set<Scope>();
  const occurrences: Analysis['occurrences'] = [];
  const usedFromOutside = new Map<Scope, Set<Binding | string>>();
  const globals = new Set<string>();
  const use = (scope: Scope, item: Binding | string) => {
    let set = usedFromOutside.get(scope);
    if (!set) usedFromOutside.set(scope, (set = new Set()));
    set.add(item);
  };
  traverse(ast, {
    Scopable(path) {
      if (!seen.has(path.scope)) (seen.add(path.scope), scopes.push(path.scope));
    },
    Program(path) {
      if (!seen.has(path.scope)) (seen.add(path.scope), scopes.push(path.scope));
    },
    WithStatement() {
      throw new ShortenNamesError(`${where}: a with statement (names reached at run time)`);
    },
    Identifier(path) {
      if (notAVariable(path)) return;
      const p = path.parent;
      const target = (p.type === 'AssignmentExpression' && p.left === path.node) || p.type === 'UpdateExpression';
      const declared = path.isBindingIdentifier();
      const referenced = path.isReferencedIdentifier();
      if (!(referenced || declared || target)) return;
      const name = path.node.name;
      const binding = path.scope.getBinding(name);
      if (!binding && name === 'eval' && p.type === 'CallExpression' && p.callee === path.node) throw new ShortenNamesError(`${where}: a direct eval (names reached at run time)`);
      occurrences.push({ path, binding });
      if (!binding) globals.add(name);
      for (let s: Scope | undefined = path.scope; s && s !== binding?.scope; s = s.parent) use(s, binding ?? name);
    },
  });
  return { scopes, occurrences, usedFromOutside, globals };
}

/**
 * Kept: the names of classes and of function declarations (in any scope: an IIFE bundle's
 * top-level functions are inner ones), which are read at run time: `.name`, the frame names the
 * XS device profile counts the stack by (`hostCall`, `handleCommand` in tools/xs/guest/bridge.ts),
 * stack traces, the bundle checks.
 */
function keepsName(binding: Binding): boolean {
  if (binding.path.isClassDeclaration() || binding.path.isClassExpression()) return true;
  // `const X = class {}`: the class is named after the binding.
  if (binding.path.isVariableDeclarator() && binding.path.node.init?.type === 'ClassExpression') return true;
  return binding.kind === 'hoisted';
}

export function shortenLocalNames(code: string, sourceType: 'module' | 'script', where: string, verify = true): string {
  const { scopes, occurrences, usedFromOutside, globals } = analyse(code, sourceType, where);
  const renamed = new Map<Binding, string>();
  const finalName = (b: Binding) => renamed.get(b) ?? b.identifier.name;
  // A kept name is never given to another binding, in any scope (it could shadow it or be shadowed).
  const kept = new Set<string>();
  for (const scope of scopes) for (const b of Object.values(scope.bindings)) if (keepsName(b)) kept.add(b.identifier.name);
  // Outer scopes first: an inner scope then avoids the final names of what it uses from outside.
  for (const scope of scopes) {
    const taken = new Set<string>();
    for (const item of usedFromOutside.get(scope) ?? []) taken.add(typeof item === 'string' ? item : finalName(item));
    const own = Object.values(scope.bindings);
    for (const b of own) if (keepsName(b)) (renamed.set(b, b.identifier.name), taken.add(b.identifier.name));
    let next = 0;
    for (const b of own) {
      if (renamed.has(b)) continue;
      let name: string;
      do name = shortName(next++);
      while (taken.has(name) || RESERVED.has(name) || kept.has(name));
      taken.add(name);
      renamed.set(b, name);
    }
  }
  const edits: { start: number; end: number; text: string }[] = [];
  const at = new Set<number>();
  for (const { path, binding } of occurrences) {
    if (!binding) continue;
    const node = path.node;
    const to = finalName(binding);
    if (to === node.name || node.start == null || node.end == null || at.has(node.start)) continue;
    at.add(node.start);
    const p = path.parent;
    const gp = path.parentPath?.parent;
    // `{ x }` and `{ x = 1 }` (object literal or pattern): the key stays, the value is renamed.
    const prop = p.type === 'ObjectProperty' ? p : p.type === 'AssignmentPattern' && gp?.type === 'ObjectProperty' && gp.value === p ? gp : undefined;
    let text = to;
    if (prop && prop.shorthand && prop.key.start === node.start) text = `${node.name}: ${to}`;
    else if (p.type === 'ExportSpecifier' && p.exported.start === node.start) text = `${to} as ${node.name}`;
    edits.push({ start: node.start, end: node.end, text });
  }
  edits.sort((a, b) => a.start - b.start);
  let out = '';
  let from = 0;
  for (const e of edits) {
    out += code.slice(from, e.start) + e.text;
    from = e.end;
  }
  out += code.slice(from);
  // The check after the fact: the output parses, with the same globals.
  if (!verify) {
    parse(out, { sourceType });
    return out;
  }
  const after = analyse(out, sourceType, where).globals;
  const differ = [...new Set([...globals, ...after])].filter((g) => globals.has(g) !== after.has(g));
  if (differ.length > 0) throw new ShortenNamesError(`${where}: renaming changed the free names: ${differ.join(', ')}`);
  return out;
}

/**
 * The plugin: every chunk it writes has short local names. `verify` re-analyses the output (its
 * globals, about as long again as the renaming): rollup.config.mjs asks it for the bundles that
 * hold every module (dist/xs-ota.mjs, -all.js) and the test guests, and the device bundles,
 * which are subsets of the same code renamed by the same rule, only parse their output.
 */
export function shortenLocalNamesPlugin(options: { verify?: boolean } = {}): Plugin {
  return {
    name: 'xs-ota-shorten-local-names',
    renderChunk(code, chunk, outputOptions) {
      const out = shortenLocalNames(code, outputOptions.format === 'es' ? 'module' : 'script', chunk.fileName, options.verify ?? true);
      return out === code ? null : { code: out, map: null };
    },
  };
}
