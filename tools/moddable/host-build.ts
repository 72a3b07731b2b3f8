/**
 * The host-side half of a Moddable SDK build for a Zephyr board, without Zephyr: runs the real
 * `mcconfig -p zephyr/<target>` on manifest.json (it writes a CMakeLists.txt and the tsconfig
 * files, and stops there without -m), then runs every host command that CMakeLists.txt
 * declares, in the order CMake's dependencies put them: mcdevicetree, tsc per TypeScript module,
 * xsc per module, xsid per native file, mclocal, the resource copies, mcrez, and the xsl link
 * of the preloads with the manifest's `creation`. Only the C compilation and the Zephyr link are
 * left out: they need Zephyr 4.4.0 and the Zephyr SDK 1.0.1 (docs/device-build.md).
 *
 * The commands are read from the generated file, not written here: a small interpreter of the
 * CMake subset mcconfig emits (set, list, cmake_path CONVERT, foreach, if, add_custom_command),
 * so what runs is what a Zephyr build would run, argument for argument.
 *
 * One input of the link is Zephyr's: mc.devicetree.js, which mcdevicetree derives from the
 * board's final devicetree (build/zephyr/zephyr.dts of a Zephyr build). Given `zephyrDts` (and
 * ZEPHYR_BASE for the bindings) that file is used; otherwise mcdevicetree runs on an empty tree,
 * so the devicetree module lists no IO (a few hundred bytes less than the board's).
 *
 * Node-only (tools/): nothing here runs on the device.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface HostBuildOptions {
  /** $MODDABLE: the SDK checkout with its Linux tools built (build/bin/lin/release). */
  readonly moddable: string;
  /** The SDK's Zephyr target (a directory of build/devices/zephyr/targets), e.g. 'pico_plus2'. */
  readonly target: string;
  /** The application manifest (the repository's manifest.json). */
  readonly manifest: string;
  /** Build kind: debug (-d, the default) or release. */
  readonly debug?: boolean;
  /** key=value config overrides passed to mcconfig. */
  readonly config?: readonly string[];
  /** Where mcconfig writes (its -o); default a new temporary directory. */
  readonly outputDir?: string;
  /** A Zephyr build's zephyr.dts for the board; without it mcdevicetree reads an empty tree. */
  readonly zephyrDts?: string;
  /** Extra environment (e.g. OTA_BACKEND) for mcconfig and every step. */
  readonly env?: Readonly<Record<string, string>>;
  /** PATH entries put first (the project's node_modules/.bin, for TypeScript >= 6). */
  readonly pathFirst?: readonly string[];
}

export interface StepResult {
  /** The tool run: mcconfig, mcdevicetree, tsc, xsc, xsid, mclocal, cmake, mcrez, xsl. */
  readonly tool: string;
  readonly argv: readonly string[];
  readonly status: number;
  readonly output: string;
}

export interface HostBuildResult {
  readonly steps: readonly StepResult[];
  /** The first step that failed, if any (the later steps did not run). */
  readonly failed: StepResult | undefined;
  /** mcconfig's temporary directory for this app (TMP_DIR of the CMakeLists.txt). */
  readonly tmpDir: string;
  /** The compiled modules (MODULES_DIR): name (relative, e.g. 'xs-ota.xsb') -> bytes. */
  readonly xsb: ReadonlyMap<string, number>;
  /** The preload names passed to xsl (-p), in order. */
  readonly preloads: readonly string[];
  /** xsl's output mc.xs.c (the linked preloaded heap and bytecode as C arrays), if linked. */
  readonly linkedSource: string | undefined;
}

/** Where the SDK's Linux host tools are. */
export function sdkToolDir(moddable: string): string {
  return path.join(moddable, 'build', 'bin', 'lin', 'release');
}

// ---------------------------------------------------------------------------------------------
// The CMake subset mcconfig's Zephyr CMakeLists.txt uses.

interface CMakeCommand {
  readonly name: string;
  /** Arguments as written: quoted ones keep their quotes (expansion differs). */
  readonly args: readonly string[];
}

/** Splits a CMake file into commands `name(args)`, arguments tokenized, comments dropped. */
export function parseCMake(text: string): CMakeCommand[] {
  const out: CMakeCommand[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (c === '#') {
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const nameMatch = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i, i + 64));
    if (!nameMatch) throw new Error(`CMakeLists.txt: unexpected '${c}' at offset ${i}`);
    const name = nameMatch[0].toLowerCase();
    i += nameMatch[0].length;
    while (i < n && /[ \t]/.test(text[i]!)) i++;
    if (text[i] !== '(') throw new Error(`CMakeLists.txt: '${name}' without '(' at offset ${i}`);
    i++;
    const args: string[] = [];
    let depth = 0;
    let token = '';
    const flush = () => {
      if (token !== '') args.push(token);
      token = '';
    };
    for (;;) {
      if (i >= n) throw new Error(`CMakeLists.txt: unterminated '${name}('`);
      const d = text[i]!;
      if (d === '"') {
        let j = i + 1;
        while (j < n && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
        token += text.slice(i, j + 1);
        i = j + 1;
        continue;
      }
      if (d === '#' && token === '') {
        while (i < n && text[i] !== '\n') i++;
        continue;
      }
      if (d === '(') depth++;
      if (d === ')') {
        if (depth === 0) {
          flush();
          i++;
          break;
        }
        depth--;
      }
      if (/\s/.test(d)) flush();
      else token += d;
      i++;
    }
    out.push({ name, args });
  }
  return out;
}

/** A recorded add_custom_command: its COMMAND lines, expanded as CMake expands them. */
interface CustomCommand {
  readonly commands: string[][];
  readonly workingDirectory: string | undefined;
  readonly outputs: string[];
  readonly depends: string[];
}

class CMakeInterpreter {
  readonly vars = new Map<string, string>();
  readonly customCommands: CustomCommand[] = [];
  /** DEPENDS of every add_custom_target: what the build asks for. */
  readonly targetDepends: string[] = [];

  constructor(private readonly env: Readonly<Record<string, string | undefined>>) {
    this.vars.set('CMAKE_COMMAND', 'cmake');
  }

  private expandString(s: string): string {
    let prev: string;
    let out = s;
    do {
      prev = out;
      out = out.replace(/\$ENV\{([^}]+)\}/g, (_m, name: string) => this.env[name] ?? '');
      out = out.replace(/\$\{([^}$]+)\}/g, (_m, name: string) => this.vars.get(name) ?? '');
    } while (out !== prev);
    return out;
  }

  /** Expands one argument: quoted stays one value; unquoted splits on ';' (a list). */
  private expandArg(arg: string): string[] {
    if (arg.startsWith('"') && arg.endsWith('"')) return [this.expandString(arg.slice(1, -1)).replace(/\\"/g, '"')];
    const value = this.expandString(arg.replace(/\\#/g, '#'));
    return value === '' ? [] : value.split(';').filter((v) => v !== '');
  }

  private expandArgs(args: readonly string[]): string[] {
    return args.flatMap((a) => this.expandArg(a));
  }

  private truthy(args: readonly string[]): boolean {
    const a = this.expandArgs(args.map((x) => (x === '(' || x === ')' ? '' : x)).filter((x) => x !== ''));
    if (a.length === 2 && a[0] === 'DEFINED') return this.vars.has(a[1]!);
    if (a.length === 3 && a[1] === 'GREATER') return Number(this.vars.get(a[0]!) ?? a[0]) > Number(a[2]);
    if (a.length === 1) {
      // `if (VAR)`: the variable's value (unexpanded name in CMake); our args are names.
      const raw = args[0]!;
      const value = this.vars.get(raw) ?? '';
      return value !== '' && !/^(0|OFF|NO|FALSE|N|IGNORE|NOTFOUND)$/i.test(value) && !value.endsWith('-NOTFOUND');
    }
    return false;
  }

  run(commands: readonly CMakeCommand[]): void {
    for (let i = 0; i < commands.length; i++) {
      const cmd = commands[i]!;
      if (cmd.name === 'if') {
        const { body, elseBody, end } = this.block(commands, i, 'if', 'endif');
        this.run(this.truthy(cmd.args) ? body : elseBody);
        i = end;
        continue;
      }
      if (cmd.name === 'foreach') {
        const { body, end } = this.block(commands, i, 'foreach', 'endforeach');
        const [loopVar, ...items] = cmd.args;
        for (const item of this.expandArgs(items)) {
          this.vars.set(loopVar!, item);
          this.run(body);
        }
        i = end;
        continue;
      }
      this.exec(cmd);
    }
  }

  private block(commands: readonly CMakeCommand[], start: number, open: string, close: string) {
    let depth = 0;
    let elseAt = -1;
    for (let j = start; j < commands.length; j++) {
      const name = commands[j]!.name;
      if (name === open) depth++;
      else if (name === close) {
        depth--;
        if (depth === 0) {
          const bodyEnd = elseAt >= 0 ? elseAt : j;
          return { body: commands.slice(start + 1, bodyEnd), elseBody: elseAt >= 0 ? commands.slice(elseAt + 1, j) : [], end: j };
        }
      } else if (name === 'else' && depth === 1) elseAt = j;
    }
    throw new Error(`CMakeLists.txt: '${open}' without '${close}'`);
  }

  private exec(cmd: CMakeCommand): void {
    switch (cmd.name) {
      case 'set': {
        const [name, ...values] = cmd.args;
        this.vars.set(name!, this.expandArgs(values).join(';'));
        return;
      }
      case 'list': {
        const [op, name, ...values] = cmd.args;
        const current = (this.vars.get(name!) ?? '').split(';').filter((v) => v !== '');
        if (op!.toUpperCase() === 'APPEND') this.vars.set(name!, [...current, ...this.expandArgs(values)].join(';'));
        else if (op!.toUpperCase() === 'LENGTH') this.vars.set(values[0]!, String(current.length));
        return;
      }
      case 'cmake_path': {
        // cmake_path(CONVERT <path> TO_NATIVE_PATH_LIST <var>): on Linux the path itself.
        if (cmd.args[0] === 'CONVERT') this.vars.set(cmd.args[3]!, this.expandArgs([cmd.args[1]!]).join(';'));
        return;
      }
      case 'add_custom_command': {
        const commands: string[][] = [];
        const outputs: string[] = [];
        const depends: string[] = [];
        let workingDirectory: string | undefined;
        let mode = '';
        for (const value of this.expandArgs(cmd.args)) {
          if (['OUTPUT', 'COMMAND', 'DEPENDS', 'WORKING_DIRECTORY', 'COMMENT', 'VERBATIM', 'BYPRODUCTS'].includes(value)) {
            mode = value;
            if (value === 'COMMAND') commands.push([]);
            continue;
          }
          if (mode === 'COMMAND') commands[commands.length - 1]!.push(value);
          else if (mode === 'OUTPUT') outputs.push(value);
          else if (mode === 'DEPENDS') depends.push(value);
          else if (mode === 'WORKING_DIRECTORY') workingDirectory = value;
        }
        this.customCommands.push({ commands, workingDirectory, outputs, depends });
        return;
      }
      case 'add_custom_target': {
        let mode = '';
        for (const value of this.expandArgs(cmd.args.slice(1))) {
          if (value === 'DEPENDS' || value === 'COMMAND' || value === 'VERBATIM') mode = value;
          else if (mode === 'DEPENDS') this.targetDepends.push(value);
        }
        return;
      }
      default:
        // find_package, project, zephyr_*, execute_process (xsbug launch), add_custom_target:
        // the Zephyr and C side, not run here.
        return;
    }
  }
}

// ---------------------------------------------------------------------------------------------

/** CMake's dependency order among the host tools (each later one consumes an earlier one's output). */
const STEP_ORDER = ['mcdevicetree', 'tsc', 'xsc', 'xsid', 'mclocal', 'cmake', 'mcrez', 'xsl'];

function run(tool: string, argv: readonly string[], cwd: string | undefined, env: NodeJS.ProcessEnv): StepResult {
  const result = spawnSync(argv[0]!, argv.slice(1), { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error) : ''}`;
  return { tool, argv, status: result.status ?? 1, output };
}

function walkSizes(dir: string, base = dir, out = new Map<string, number>()): Map<string, number> {
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir)) {
    const full = path.join(dir, entry);
    const st = statSync(full);
    if (st.isDirectory()) walkSizes(full, base, out);
    else if (entry.endsWith('.xsb')) out.set(path.relative(base, full), st.size);
  }
  return out;
}

/** Runs mcconfig and the host steps of its Zephyr build; stops at the first failing step. */
export function hostBuild(options: HostBuildOptions): HostBuildResult {
  const toolDir = sdkToolDir(options.moddable);
  const outputDir = options.outputDir ?? mkdtempSync(path.join(tmpdir(), 'xs-ota-mcconfig-'));
  mkdirSync(outputDir, { recursive: true });
  // mcconfig only checks that ZEPHYR_BASE is set unless it builds (-m); mcdevicetree reads the
  // names in $ZEPHYR_BASE/dts/bindings. Without Zephyr: an empty bindings directory.
  let zephyrBase = process.env.ZEPHYR_BASE;
  if (!zephyrBase || options.zephyrDts === undefined) {
    zephyrBase = path.join(outputDir, 'no-zephyr');
    mkdirSync(path.join(zephyrBase, 'dts', 'bindings'), { recursive: true });
  }
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...options.env,
    MODDABLE: options.moddable,
    ZEPHYR_BASE: zephyrBase,
    PATH: [...(options.pathFirst ?? []), toolDir, process.env.PATH ?? ''].join(path.delimiter),
  };
  const steps: StepResult[] = [];
  const debug = options.debug ?? true;
  const mcconfigArgv = [path.join(toolDir, 'mcconfig'), ...(debug ? ['-d'] : []), '-o', outputDir, '-p', `zephyr/${options.target}`, options.manifest, ...(options.config ?? [])];
  const first = run('mcconfig', mcconfigArgv, path.dirname(options.manifest), env);
  steps.push(first);
  const tmpDir = path.join(outputDir, 'tmp', 'zephyr', options.target, debug ? 'debug' : 'release', readName(options.manifest));
  const none = { steps, tmpDir, xsb: new Map<string, number>(), preloads: [], linkedSource: undefined };
  if (first.status !== 0) return { ...none, failed: first };
  const cmakeLists = path.join(tmpDir, 'CMakeLists.txt');
  if (!existsSync(cmakeLists)) return { ...none, failed: { ...first, status: 1, output: `${first.output}\nno ${cmakeLists}` } };

  const interpreter = new CMakeInterpreter(env);
  interpreter.run(parseCMake(readFileSync(cmakeLists, 'utf8')));
  const modulesDir = interpreter.vars.get('MODULES_DIR') ?? path.join(tmpDir, 'modules');
  const preloads = (interpreter.vars.get('preloadsNATIVE') ?? '').split(';').filter((v) => v !== '' && v !== '-p');

  const dts = options.zephyrDts ?? path.join(outputDir, 'empty.dts');
  if (options.zephyrDts === undefined) writeFileSync(dts, '/dts-v1/;\n/ {\n};\n');

  // Only what the build's targets need, as CMake would run it (e.g. mclocal only with strings).
  const producer = new Map<string, CustomCommand>();
  for (const custom of interpreter.customCommands) for (const out of custom.outputs) producer.set(out, custom);
  const needed = new Set<CustomCommand>();
  const want = [...interpreter.targetDepends];
  while (want.length > 0) {
    const custom = producer.get(want.pop()!);
    if (custom === undefined || needed.has(custom)) continue;
    needed.add(custom);
    want.push(...custom.depends);
  }
  const planned: { tool: string; argv: string[]; cwd: string | undefined }[] = [];
  for (const custom of interpreter.customCommands) {
    if (!needed.has(custom)) continue;
    for (const argv of custom.commands) {
      if (argv.length === 0) continue;
      const tool = path.basename(argv[0]!);
      if (!STEP_ORDER.includes(tool)) continue;
      const resolved = [...argv];
      if (tool === 'mcdevicetree') resolved[1] = dts; // ${CMAKE_BINARY_DIR}/zephyr/zephyr.dts of a Zephyr build
      planned.push({ tool, argv: resolved, cwd: custom.workingDirectory && existsSync(custom.workingDirectory) ? custom.workingDirectory : tmpDir });
    }
  }
  planned.sort((a, b) => STEP_ORDER.indexOf(a.tool) - STEP_ORDER.indexOf(b.tool));
  for (const step of planned) {
    for (const out of [modulesDir, path.join(modulesDir, 'mc'), interpreter.vars.get('RESOURCES_DIR') ?? '']) if (out) mkdirSync(out, { recursive: true });
    const result = run(step.tool, step.argv, step.cwd, env);
    steps.push(result);
    if (result.status !== 0) return { steps, failed: result, tmpDir, xsb: walkSizes(modulesDir), preloads, linkedSource: undefined };
  }
  const linked = path.join(tmpDir, 'mc.xs.c');
  return { steps, failed: undefined, tmpDir, xsb: walkSizes(modulesDir), preloads, linkedSource: existsSync(linked) ? linked : undefined };
}

function readName(manifest: string): string {
  const build = (JSON.parse(readFileSync(manifest, 'utf8')) as { build?: Record<string, string> }).build;
  return build?.NAME ?? path.basename(path.dirname(manifest));
}

/** What xsl's mc.xs.c puts in flash, counted at the sizes of a 32-bit target (Cortex-M). */
export interface LinkedImage {
  /** Preloaded heap: slots x 16 bytes (built-ins, SDK modules and the agent's objects). */
  readonly heapSlots: number;
  readonly stackSlots: number;
  /** Keys (property names and symbols), one 4-byte pointer each (their names are strings). */
  readonly keys: number;
  /** Bytecode of every preloaded function (gxCode arrays and the inline code literals). */
  readonly codeBytes: number;
  /** String literals of the preloaded heap (key names, string values), NUL included. */
  readonly stringBytes: number;
  /** Host function tables (xsHostBuilder: callback, length, id = 12 bytes). */
  readonly builders: number;
  /** The sum: the const data of the linked preloads, what the C compiler places in flash. */
  readonly totalBytes: number;
  /** Preloaded slots by kind (XS_CLOSURE_KIND, XS_KEY_X_KIND, ...): what the heap is made of. */
  readonly slotKinds: Readonly<Record<string, number>>;
}

/** Counts LinkedImage from xsl's mc.xs.c (its #define counts and array initializers). */
export function linkedImage(mcXsC: string): LinkedImage {
  const text = readFileSync(mcXsC, 'utf8');
  const count = (name: string) => Number(new RegExp(`#define ${name} (\\d+)`).exec(text)?.[1] ?? 0);
  const heapSlots = count('mxHeapCount');
  const stackSlots = count('mxStackCount');
  const keys = count('mxKeysCount') + count('mxNamesCount') + count('mxSymbolsCount');
  let codeBytes = 0;
  for (const m of text.matchAll(/static const txU1 gxCode\d+\[(\d+)\] = \{/g)) codeBytes += Number(m[1]);
  // The bytecode of preloaded functions is inline: `.code = { (txByte*)"\x..", ... }`.
  for (const m of text.matchAll(/\(txByte\*\)"((?:[^"\\]|\\.)*)"/g)) codeBytes += cStringLength(m[1]!) + 1;
  let builders = 0;
  for (const m of text.matchAll(/static const xsHostBuilder gxBuilders\d*\[(\d+)\] = \{/g)) builders += Number(m[1]);
  let stringBytes = 0;
  for (const m of text.matchAll(/\.(?:string|key) = \{? ?"((?:[^"\\]|\\.)*)"/g)) stringBytes += cStringLength(m[1]!) + 1;
  const totalBytes = (heapSlots + stackSlots) * 16 + keys * 4 + codeBytes + stringBytes + builders * 12 + count('mxRegExpCount') * 4;
  const slotKinds: Record<string, number> = {};
  for (const m of text.matchAll(/\.kind = (XS_[A-Z_]+_KIND)\}/g)) slotKinds[m[1]!] = (slotKinds[m[1]!] ?? 0) + 1;
  return { heapSlots, stackSlots, keys, codeBytes, stringBytes, builders, totalBytes, slotKinds };
}

/** Bytes of a C string literal's body: one per character or escape (\\xNN, \\NNN octal, \\n ...). */
function cStringLength(body: string): number {
  let n = 0;
  for (let i = 0; i < body.length; i++, n++) {
    if (body[i] !== '\\') continue;
    const next = body[i + 1] ?? '';
    if (next === 'x') {
      i += 1;
      while (/[0-9a-fA-F]/.test(body[i + 1] ?? '')) i++;
    } else if (/[0-7]/.test(next)) {
      let k = 0;
      while (k < 3 && /[0-7]/.test(body[i + 1] ?? '')) {
        i++;
        k++;
      }
    } else i++;
  }
  return n;
}
