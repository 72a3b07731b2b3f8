/**
 * Rollup plugin: moves every class's instance fields (`x = init;`, after the private names are
 * flattened) into its constructor as assignments (`this.x = init;`), at the point the language
 * initializes them: the start of a base class's constructor, right after `super(...)` in a derived
 * one (a derived class without a constructor gets the default one, `constructor(...args) {
 * super(...args); }`).
 *
 * Why: XS compiles a class's fields into a hidden initializer function, one more preloaded
 * function per class (its instance, code, home and closure slots and its prologue). Measured with
 * the real SDK 8.2.3 (`npm run footprint -- hawkbit`): 43 classes, about 6.5 KB of the hawkBit
 * build's flash. RAM does not change: an instance has the same properties.
 *
 * An assignment is not a definition: it runs an inherited setter and throws on an inherited
 * read-only property (the device freezes the built-ins after preload). So a class is left as it
 * is, and keeps its fields, when:
 * - a field's name is a method or accessor of the class or of an ancestor class in the chunk (a
 *   preloaded prototype is read-only), or a property of the built-in prototypes it may inherit
 *   (Object.prototype's, `__proto__` included, and Error's for an Error subclass);
 * - the class is inside another class's field initializer;
 * - its superclass is neither in the chunk (as a class declaration) nor a known built-in;
 * - its constructor calls `super` anywhere but as one top-level statement;
 * - an initializer uses `new.target` or `arguments`, or a name the constructor declares itself
 *   (a parameter or a top-level binding of its body would capture it), or a constructor
 *   parameter uses `this` (a base class's fields are initialized before the parameters);
 * - a field is computed or static (a static field belongs to the class object, which is preloaded).
 * test/unit/moddable/fields-in-constructor.spec.ts runs each case before and after.
 */
import { parse } from '@babel/parser';
import traverseModule, { type NodePath, type TraverseOptions } from '@babel/traverse';
import type { Class, ClassMethod, ClassProperty, Node } from '@babel/types';
import type { Plugin } from 'rollup';

type Traverse = (node: Node, options: TraverseOptions) => void;
const traverse: Traverse = (traverseModule as unknown as { default?: Traverse }).default ?? (traverseModule as unknown as Traverse);

/** Built-in superclasses, with the prototype properties an assignment could hit besides Object.prototype's. */
const BUILT_IN_BASES: Record<string, readonly string[]> = {
  Error: ['name', 'message', 'stack', 'cause'],
  TypeError: ['name', 'message', 'stack', 'cause'],
  RangeError: ['name', 'message', 'stack', 'cause'],
};
const OBJECT_PROTOTYPE = new Set(Object.getOwnPropertyNames(Object.prototype));

interface ClassInfo {
  readonly superName: string | null;
  /** Names of its prototype members (methods, accessors): an assignment would hit them. */
  readonly members: Set<string>;
}

/** The prototype members of a class: a preloaded prototype is read-only on the device. */
function membersOf(node: Class): Set<string> {
  const members = new Set<string>();
  for (const m of node.body.body) if (m.type === 'ClassMethod' && !m.static && m.kind !== 'constructor' && !m.computed && m.key.type === 'Identifier') members.add(m.key.name);
  return members;
}

function fieldName(f: ClassProperty): string | undefined {
  if (f.computed) return undefined;
  if (f.key.type === 'Identifier') return f.key.name;
  if (f.key.type === 'StringLiteral') return f.key.value;
  return undefined;
}

/** Why the class keeps its fields, or undefined: they can move. */
function refusal(path: NodePath<Class>, fields: ClassProperty[], classes: Map<string, ClassInfo>): string | undefined {
  const node = path.node;
  const blocked = new Set<string>(OBJECT_PROTOTYPE);
  // The class's own accessors and its ancestors' (in the chunk), then a built-in base's names.
  let superName: string | null = node.superClass ? (node.superClass.type === 'Identifier' ? node.superClass.name : '?') : null;
  membersOf(node).forEach((m) => blocked.add(m));
  if (path.findParent((p) => p.isClassProperty())) return 'a class inside a field initializer';
  for (let depth = 0; superName !== null; depth++) {
    if (depth > 32) return 'class chain too deep';
    const info = classes.get(superName);
    if (info) {
      info.members.forEach((a) => blocked.add(a));
      superName = info.superName;
      continue;
    }
    const builtIn = BUILT_IN_BASES[superName];
    if (!builtIn) return `superclass ${superName} is not a class of the chunk`;
    builtIn.forEach((n) => blocked.add(n));
    superName = null;
  }
  for (const f of fields) {
    const name = fieldName(f);
    if (name === undefined) return 'a computed field';
    if (blocked.has(name)) return `field ${name} is an inherited or accessor property`;
  }
  const ctor = node.body.body.find((m): m is ClassMethod => m.type === 'ClassMethod' && m.kind === 'constructor');
  const ctorNames = new Set<string>();
  if (ctor) {
    const ctorPath = path.get('body').get('body').find((p) => p.node === ctor) as NodePath<ClassMethod>;
    for (const name of Object.keys(ctorPath.scope.bindings)) ctorNames.add(name);
    // A base class initializes its fields before the parameters' defaults are evaluated.
    let thisInParams = false;
    for (const param of ctorPath.get('params')) param.traverse({ ThisExpression() { thisInParams = true; } });
    if (thisInParams) return 'a constructor parameter uses this';
    if (node.superClass) {
      const supers = ctor.body.body.filter((s) => s.type === 'ExpressionStatement' && s.expression.type === 'CallExpression' && s.expression.callee.type === 'Super');
      let calls = 0;
      ctorPath.traverse({ Super(p) { if (p.parentPath.isCallExpression()) calls++; } });
      if (supers.length !== 1 || calls !== 1) return 'super() is not one top-level statement of the constructor';
    }
  }
  // What the initializers use: new.target, arguments, or a name the constructor would capture.
  let why: string | undefined;
  for (const fieldPath of path.get('body').get('body')) {
    if (!fields.includes(fieldPath.node as ClassProperty)) continue;
    fieldPath.traverse({
      MetaProperty() {
        why = 'an initializer uses new.target';
      },
      Identifier(p) {
        if (p.node.name === 'arguments') why = 'an initializer uses arguments';
        const declared = p.isBindingIdentifier();
        const referenced = p.isReferencedIdentifier();
        if ((referenced || declared) && ctorNames.has(p.node.name) && !p.scope.getBinding(p.node.name)?.scope.path.isDescendant(fieldPath)) why = `an initializer uses ${p.node.name}, which the constructor declares`;
      },
    });
  }
  return why;
}

export class FieldsError extends Error {}

export function fieldsInConstructor(code: string, sourceType: 'module' | 'script', where: string): string {
  const ast = parse(code, { sourceType });
  const classes = new Map<string, ClassInfo>();
  const found: NodePath<Class>[] = [];
  traverse(ast, {
    Class(path) {
      const node = path.node;
      if (node.id && path.isClassDeclaration()) classes.set(node.id.name, { superName: node.superClass?.type === 'Identifier' ? node.superClass.name : node.superClass ? '?' : null, members: membersOf(node) });
      found.push(path);
    },
  });
  const edits: { start: number; end: number; text: string }[] = [];
  for (const path of found) {
    const node = path.node;
    const fields = node.body.body.filter((m): m is ClassProperty => m.type === 'ClassProperty' && !m.static);
    if (fields.length === 0) continue;
    if (refusal(path, fields, classes) !== undefined) continue;
    const target = (name: string) => (/^[A-Za-z_$][\w$]*$/.test(name) ? `this.${name}` : `this[${JSON.stringify(name)}]`);
    // In parentheses: the parser's range of a parenthesized initializer (`x = (a, b)`) leaves them out.
    const assigns = fields.map((f) => `${target(fieldName(f)!)} = ${f.value ? `(${code.slice(f.value.start!, f.value.end!)})` : 'undefined'};`).join(' ');
    for (const f of fields) edits.push({ start: f.start!, end: f.end!, text: '' });
    const ctor = node.body.body.find((m): m is ClassMethod => m.type === 'ClassMethod' && m.kind === 'constructor');
    if (!ctor) {
      const text = node.superClass ? `constructor(...args) { super(...args); ${assigns} }` : `constructor() { ${assigns} }`;
      edits.push({ start: node.body.start! + 1, end: node.body.start! + 1, text: ` ${text}` });
    } else if (node.superClass) {
      const call = ctor.body.body.find((s) => s.type === 'ExpressionStatement' && s.expression.type === 'CallExpression' && s.expression.callee.type === 'Super')!;
      edits.push({ start: call.end!, end: call.end!, text: ` ${assigns}` });
    } else edits.push({ start: ctor.body.start! + 1, end: ctor.body.start! + 1, text: ` ${assigns}` });
  }
  if (edits.length === 0) return code;
  edits.sort((a, b) => a.start - b.start || a.end - b.end);
  let out = '';
  let from = 0;
  for (const e of edits) {
    if (e.start < from) throw new FieldsError(`${where}: overlapping edits at ${e.start}`);
    out += code.slice(from, e.start) + e.text;
    from = e.end;
  }
  out += code.slice(from);
  parse(out, { sourceType });
  return out;
}

/** The plugin: every chunk it writes has its classes' fields set by their constructors. */
export function fieldsInConstructorPlugin(): Plugin {
  return {
    name: 'xs-ota-fields-in-constructor',
    renderChunk(code, chunk, outputOptions) {
      const out = fieldsInConstructor(code, outputOptions.format === 'es' ? 'module' : 'script', chunk.fileName);
      return out === code ? null : { code: out, map: null };
    },
  };
}
