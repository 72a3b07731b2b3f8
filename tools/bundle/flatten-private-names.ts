/**
 * Rollup plugin: turns every class private name (`#field`, `#method()`) of a bundle into an
 * ordinary property (`$_field`, `$_method()`) when the bundle is written.
 *
 * Why: XS pays for a private name in flash. Each `#name` is a private key of its class, and each
 * function that uses one captures it as a closure slot (XS_CLOSURE_KIND) in the preloaded heap;
 * measured with the real SDK 8.2.3 (`npm run footprint -- hawkbit-sim7080`), the hawkBit build's
 * 2,814 closure slots fell to 1,147 and the agent's flash cost by 36.6 KB (about 10 %), with the
 * same bytecode. RAM does not change: an instance's field is one slot either way, and the methods
 * live in the preloaded heap in flash. TypeScript keeps the source's privacy at compile time, and
 * the unit tests (Node, build/src) still run the source's real `#` names.
 *
 * What could change meaning is refused, so the build fails instead of shipping a changed program:
 * - a brand check (`#x in obj`), which has no property equivalent;
 * - a flattened name that already occurs anywhere in the chunk as a property or member name or
 *   as a string (a computed access could reach it);
 * - a class whose private name is also one of an ancestor class's in the same chunk (both would
 *   become the same property of one instance).
 * Static private members are refused too: a preloaded class object is read-only on the device.
 */
import type { Plugin } from 'rollup';

interface AstNode {
  readonly type: string;
  readonly start: number;
  readonly end: number;
  readonly [key: string]: unknown;
}

function isNode(value: unknown): value is AstNode {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}

function walk(node: AstNode, visit: (node: AstNode, parent: AstNode | null) => void, parent: AstNode | null = null): void {
  visit(node, parent);
  for (const key of Object.keys(node)) {
    if (key === 'type' || key === 'start' || key === 'end') continue;
    const value = node[key];
    if (Array.isArray(value)) {
      for (const item of value) if (isNode(item)) walk(item, visit, node);
    } else if (isNode(value)) walk(value, visit, node);
  }
}

export class PrivateNameError extends Error {}

/**
 * The prefix that replaces `#`. Not '_' alone (hawkBit's JSON has `_links`) nor '$' alone (the
 * XS test bridge's service names are `$settle`, `$b`...): the chunk-wide check below would refuse
 * those, and a name that never occurs in data keeps it so.
 */
export const FLATTENED_PREFIX = '$_';

/** Built-in classes a flattened class may extend: none has an own or inherited property starting with '_'. */
const BUILT_IN_BASES = new Set(['Error', 'TypeError', 'RangeError', 'SyntaxError', 'Object', 'Array', 'Map', 'Set', 'Uint8Array', 'Promise']);

interface ClassInfo {
  readonly name: string | null;
  readonly superName: string | null;
  readonly privates: Set<string>;
}

/**
 * Rewrites `code` (a whole chunk, already parsed by the caller's `parse`) and returns it with
 * every private name flattened, or throws PrivateNameError saying which rule the chunk breaks.
 */
export function flattenPrivateNames(code: string, ast: AstNode, where: string): string {
  const classes: ClassInfo[] = [];
  const byName = new Map<string, ClassInfo>();
  const publicNames = new Set<string>();
  const sites: number[] = [];
  /** Classes whose superclass is an expression: their ancestors' names cannot be checked. */
  const opaque: ClassInfo[] = [];
  walk(ast, (node, parent) => {
    switch (node.type) {
      case 'ClassDeclaration':
      case 'ClassExpression': {
        const id = node.id as AstNode | null;
        const superClass = node.superClass as AstNode | null;
        const bound = parent && parent.type === 'VariableDeclarator' && isNode(parent.id) && parent.id.type === 'Identifier' ? (parent.id.name as string) : null;
        const info: ClassInfo = {
          name: id ? (id.name as string) : bound,
          superName: superClass && superClass.type === 'Identifier' ? (superClass.name as string) : null,
          privates: new Set(),
        };
        if (superClass && superClass.type !== 'Identifier') opaque.push(info);
        for (const member of (node.body as AstNode).body as AstNode[]) {
          const key = member.key as AstNode | undefined;
          if (!key || key.type !== 'PrivateIdentifier') continue;
          if (member.static) throw new PrivateNameError(`${where}: static private member #${key.name as string} of class ${info.name ?? '(anonymous)'}: a preloaded class is read-only, keep it an ordinary static`);
          info.privates.add(key.name as string);
        }
        classes.push(info);
        if (info.name) byName.set(info.name, info);
        break;
      }
      case 'PrivateIdentifier':
        if (parent && parent.type === 'BinaryExpression' && parent.operator === 'in' && parent.left === node) {
          throw new PrivateNameError(`${where}: brand check #${node.name as string} in ...: it has no property equivalent`);
        }
        sites.push(node.start);
        break;
      case 'MemberExpression':
        if (!node.computed && isNode(node.property) && node.property.type === 'Identifier') publicNames.add(node.property.name as string);
        break;
      case 'Property':
      case 'PropertyDefinition':
      case 'MethodDefinition':
        // A variable's name reaches no property; a key, a member name and a string can.
        if (!node.computed && isNode(node.key) && node.key.type === 'Identifier') publicNames.add(node.key.name as string);
        break;
      case 'Literal':
        if (typeof node.value === 'string') publicNames.add(node.value);
        break;
      case 'TemplateElement':
        publicNames.add(((node.value as { cooked?: string }).cooked ?? '') as string);
        break;
    }
  });
  for (const info of opaque) {
    if (info.privates.size > 0) throw new PrivateNameError(`${where}: class ${info.name ?? '(anonymous)'} has private names and extends an expression, whose own names cannot be checked`);
  }
  for (const info of classes) {
    if (info.privates.size > 0 && info.superName && !byName.has(info.superName) && !BUILT_IN_BASES.has(info.superName)) {
      throw new PrivateNameError(`${where}: class ${info.name ?? '(anonymous)'} has private names and extends ${info.superName}, which is not in the chunk`);
    }
    for (const name of info.privates) {
      const flat = FLATTENED_PREFIX + name;
      if (publicNames.has(flat)) throw new PrivateNameError(`${where}: #${name} of class ${info.name ?? '(anonymous)'} would become '${flat}', which the chunk already uses`);
    }
    const seen = new Set<ClassInfo>([info]);
    for (let up = info.superName ? byName.get(info.superName) : undefined; up && !seen.has(up); up = up.superName ? byName.get(up.superName) : undefined) {
      seen.add(up);
      for (const name of info.privates) {
        if (up.privates.has(name)) throw new PrivateNameError(`${where}: #${name} is private to both ${info.name ?? '(anonymous)'} and its ancestor ${up.name ?? '(anonymous)'}: rename one`);
      }
    }
  }
  if (sites.length === 0) return code;
  sites.sort((a, b) => a - b);
  const pieces: string[] = [];
  let from = 0;
  for (const at of sites) {
    if (code[at] !== '#') throw new PrivateNameError(`${where}: a private name at offset ${at} does not start with '#'`);
    pieces.push(code.slice(from, at), FLATTENED_PREFIX);
    from = at + 1;
  }
  pieces.push(code.slice(from));
  return pieces.join('');
}

/** The plugin: every chunk it writes carries no private name. */
export function flattenPrivateNamesPlugin(): Plugin {
  return {
    name: 'xs-ota-flatten-private-names',
    renderChunk(code, chunk) {
      const ast = this.parse(code) as unknown as AstNode;
      const flattened = flattenPrivateNames(code, ast, chunk.fileName);
      return flattened === code ? null : { code: flattened, map: null };
    },
  };
}
