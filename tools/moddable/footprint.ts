/**
 * The agent's flash cost on a Zephyr board, measured with the real Moddable SDK's host tools
 * (tools/moddable/host-build.ts): the release build of manifest.json for each bundle asked
 * (a bundle name: OTA_BACKEND, OTA_OPTIONS and OTA_MODEM, e.g. `hawkbit`, `hawkbit-tls-delta`,
 * `hawkbit-sim7080`, `all`), and the same build without the agent (the manifest's SDK includes, creation and
 * defines, and a one-line main): the agent's cost is the difference of the linked preloads
 * (xsl's mc.xs.c counted at 32-bit sizes, LinkedImage), plus the .xsb bytecode of its modules.
 *
 *   node build/tools/moddable/footprint.js [--target pico_plus2] [hawkbit hawkbit-delta all ...]
 *   node build/tools/moddable/footprint.js --modules hawkbit   (each module's own .xsb, largest first)
 *   (npm run footprint -- ...; needs $MODDABLE with its Linux tools built)
 *
 * Prints one JSON object. Deterministic: the same tree and SDK give the same bytes.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { hostBuild, linkedImage, sdkToolDir, type HostBuildResult, type LinkedImage } from './host-build.js';

export interface BundleFootprint {
  /** The bundle measured: dist/xs-ota-<bundle>.js. */
  readonly bundle: string;
  readonly backend: string;
  /** OTA_OPTIONS of the build: '', '-delta', '-tls' or '-tls-delta'. */
  readonly options: string;
  /** OTA_MODEM of the build: '' (both drivers), '-sim7080' or '-sim7600'. */
  readonly modem: string;
  /** .xsb bytes of the agent's modules: xs-ota (the bundle), ota-*, main. */
  readonly agentXsb: number;
  readonly bundleXsb: number;
  readonly linked: LinkedImage;
  /** linked.totalBytes minus the SDK-only build's: what the agent adds to flash. */
  readonly agentFlashBytes: number;
  /** Preloaded slots the agent adds, by kind (linked.slotKinds minus the SDK-only build's). */
  readonly agentSlotKinds: Readonly<Record<string, number>>;
}

export interface Footprint {
  readonly target: string;
  readonly baseline: LinkedImage;
  readonly bundles: readonly BundleFootprint[];
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function agentModule(name: string): boolean {
  return name === 'xs-ota.xsb' || name === 'main.xsb' || /^ota-[\w-]+\.xsb$/.test(name);
}

function mustLink(result: HostBuildResult, what: string): string {
  if (result.failed) throw new Error(`${what}: ${result.failed.tool} failed: ${result.failed.argv.join(' ')}\n${result.failed.output}`);
  if (!result.linkedSource) throw new Error(`${what}: xsl wrote no mc.xs.c`);
  return result.linkedSource;
}

/** A manifest with manifest.json's SDK side only: the build the agent is compared against. */
export function writeBaselineManifest(dir: string, manifestPath = path.join(repoRoot, 'manifest.json')): string {
  const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, unknown> & { platforms: Record<string, { include?: string[] }> };
  const sdkOnly = (list: string[] | undefined) => (list ?? []).filter((p) => p.startsWith('$(MODDABLE)'));
  const baseline = {
    build: { NAME: 'xs-ota-baseline' },
    include: sdkOnly(m.include as string[]),
    modules: { '*': ['./main'] },
    creation: m.creation,
    defines: m.defines,
    platforms: { 'zephyr/*': { include: sdkOnly(m.platforms['zephyr/*']?.include) } },
  };
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(baseline, null, '\t'));
  writeFileSync(path.join(dir, 'main.js'), 'trace("xs-ota baseline\\n");\n');
  return path.join(dir, 'manifest.json');
}

/** A bundle name -> the build options that select it (manifest.json: dist/xs-ota-$(OTA_BACKEND)$(OTA_OPTIONS)$(OTA_MODEM)). */
export function bundleOptions(bundle: string): { backend: string; options: string; modem: string } {
  const m = /^(hawkbit|iotconnect|manifest|all)(|-delta|-tls|-tls-delta)(|-sim7080|-sim7600)$/.exec(bundle);
  if (!m || (m[1] === 'all' && (m[2] !== '' || m[3] !== ''))) throw new Error(`bundle '${bundle}': <hawkbit|iotconnect|manifest>[-delta|-tls|-tls-delta][-sim7080|-sim7600] or all`);
  return { backend: m[1]!, options: m[2]!, modem: m[3]! };
}

export function measureFootprint(options: { moddable: string; target: string; bundles: readonly string[]; workDir?: string }): Footprint {
  const work = options.workDir ?? mkdtempSync(path.join(tmpdir(), 'xs-ota-footprint-'));
  const pathFirst = [path.join(repoRoot, 'node_modules', '.bin')];
  const base = hostBuild({ moddable: options.moddable, target: options.target, manifest: writeBaselineManifest(path.join(work, 'baseline-app')), debug: false, outputDir: path.join(work, 'baseline'), pathFirst });
  const baseline = linkedImage(mustLink(base, 'baseline build'));
  const bundles = options.bundles.map((bundle) => {
    const { backend, options: buildOptions, modem } = bundleOptions(bundle);
    const result = hostBuild({ moddable: options.moddable, target: options.target, manifest: path.join(repoRoot, 'manifest.json'), debug: false, outputDir: path.join(work, bundle), pathFirst, env: { OTA_BACKEND: backend, OTA_OPTIONS: buildOptions, OTA_MODEM: modem } });
    const linked = linkedImage(mustLink(result, `OTA_BACKEND=${backend} OTA_OPTIONS=${buildOptions} OTA_MODEM=${modem}`));
    let agentXsb = 0;
    for (const [name, bytes] of result.xsb) if (agentModule(name)) agentXsb += bytes;
    const agentSlotKinds: Record<string, number> = {};
    for (const [kind, n] of Object.entries(linked.slotKinds)) {
      const added = n - (baseline.slotKinds[kind] ?? 0);
      if (added !== 0) agentSlotKinds[kind] = added;
    }
    return { bundle, backend, options: buildOptions, modem, agentXsb, bundleXsb: result.xsb.get('xs-ota.xsb') ?? 0, linked, agentFlashBytes: linked.totalBytes - baseline.totalBytes, agentSlotKinds };
  });
  return { target: options.target, baseline, bundles };
}

export interface ModuleXsb {
  /** The module as rollup put it in the bundle (build/src/...). */
  readonly module: string;
  /** Its .xsb compiled on its own by the SDK's xsc (release, as mcconfig runs it: -e -r name). */
  readonly xsb: number;
}

/**
 * Where a bundle's bytecode comes from: every build/src module rollup puts in
 * dist/xs-ota-<bundle>.js, compiled on its own with xsc, largest first. The sum is above the
 * bundle's .xsb (each module has its own import and export frame); the order is what to cut.
 */
export async function moduleXsb(options: { moddable: string; bundle: string; workDir?: string }): Promise<ModuleXsb[]> {
  bundleOptions(options.bundle);
  const { rollup } = await import('rollup');
  const file = `dist/xs-ota-${options.bundle}.js`;
  // rollup.config.mjs resolves build/ from the working directory.
  const cwd = process.cwd();
  process.chdir(repoRoot);
  try {
    const configs = (await import(pathToFileURL(path.join(repoRoot, 'rollup.config.mjs')).href)).default as { output: { file: string } | { file: string }[] }[];
    const config = configs.find((c) => (Array.isArray(c.output) ? c.output : [c.output]).some((o) => o.file === file));
    if (!config) throw new Error(`rollup.config.mjs writes no ${file}`);
    const build = await rollup({ ...(config as object), onwarn: () => undefined });
    const { output } = await build.generate({ format: 'es' });
    const modules = Object.keys(output[0].modules).filter((id) => id.startsWith(path.join(repoRoot, 'build', 'src') + path.sep));
    const work = options.workDir ?? mkdtempSync(path.join(tmpdir(), 'xs-ota-module-xsb-'));
    const out: ModuleXsb[] = [];
    for (const [i, id] of modules.entries()) {
      const name = `m${i}`;
      const xsc = spawnSync(path.join(sdkToolDir(options.moddable), 'xsc'), [id, '-e', '-o', work, '-r', name], { encoding: 'utf8' });
      if (xsc.status !== 0) throw new Error(`xsc ${id}: ${xsc.stdout}${xsc.stderr}`);
      out.push({ module: path.relative(repoRoot, id), xsb: statSync(path.join(work, `${name}.xsb`)).size });
    }
    if (options.workDir === undefined) rmSync(work, { recursive: true, force: true });
    return out.sort((a, b) => b.xsb - a.xsb);
  } finally {
    process.chdir(cwd);
  }
}

async function main(argv: string[]): Promise<void> {
  const moddable = process.env.MODDABLE;
  if (!moddable) throw new Error('set MODDABLE to a Moddable SDK checkout with its Linux tools built (docs/device-build.md)');
  if (argv[0] === '--modules') {
    for (const bundle of argv.slice(1)) process.stdout.write(`${JSON.stringify({ bundle, modules: await moduleXsb({ moddable, bundle }) }, null, 2)}\n`);
    return;
  }
  let target = 'pico_plus2';
  const bundles: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--target') target = argv[++i]!;
    else bundles.push(argv[i]!);
  }
  const result = measureFootprint({ moddable, target, bundles: bundles.length > 0 ? bundles : ['hawkbit', 'iotconnect', 'manifest', 'all'] });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main(process.argv.slice(2));
