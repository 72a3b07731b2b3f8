/**
 * `npm run mcconfig -- <mcconfig arguments>`: the Moddable SDK's mcconfig with this project's
 * TypeScript first on PATH. mcconfig's Zephyr build runs `tsc -p` from PATH on the tsconfig files
 * it generates (target es2025, module preserve), which needs TypeScript 6 or later; the project's
 * is node_modules/.bin/tsc (TypeScript 7). A system tsc 5 fails there, and a second mcconfig run
 * skips the failed step silently, so this checks the version before anything is built.
 *
 * `npm run mcconfig:host -- -p zephyr/<target> [-d] [key=value ...]`: the host-side steps only,
 * without Zephyr (tools/moddable/host-build.ts); prints each step and the linked preload size.
 *
 * Also checks that the bundle the manifest names (dist/xs-ota-$OTA_BACKEND$OTA_OPTIONS$OTA_MODEM.js,
 * OTA_BACKEND default hawkbit, OTA_OPTIONS default none: '', -delta, -tls, -tls-delta; OTA_MODEM
 * default both drivers: '', -sim7080, -sim7600) has been built (npm run build).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostBuild, linkedImage, sdkToolDir } from './host-build.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const BACKENDS = ['hawkbit', 'iotconnect', 'manifest', 'all'];
/** The optional parts a single-backend bundle may carry (rollup.config.mjs OPTIONS); 'all' carries every part. */
const OPTIONS = ['', '-delta', '-tls', '-tls-delta'];
/** The modem drivers a single-backend bundle carries (rollup.config.mjs MODEMS): '' both. */
const MODEMS = ['', '-sim7080', '-sim7600'];

function fail(message: string): never {
  process.stderr.write(`mcconfig: ${message}\n`);
  process.exit(2);
}

function checkSetup(): { moddable: string; binDir: string } {
  const moddable = process.env.MODDABLE;
  if (!moddable) fail('MODDABLE is not set: point it at the Moddable SDK checkout whose Linux tools are built (docs/device-build.md, section 2)');
  const toolDir = sdkToolDir(moddable);
  if (!existsSync(path.join(toolDir, 'mcconfig'))) fail(`no ${path.join(toolDir, 'mcconfig')}: build the SDK's Linux tools first (docs/device-build.md, section 2)`);
  const binDir = path.join(repoRoot, 'node_modules', '.bin');
  const version = spawnSync(path.join(binDir, 'tsc'), ['--version'], { encoding: 'utf8' });
  const major = Number(/Version (\d+)\./.exec(version.stdout ?? '')?.[1] ?? 0);
  if (major < 6) fail(`mcconfig's TypeScript pass needs TypeScript >= 6; ${path.join(binDir, 'tsc')} says '${(version.stdout ?? '').trim() || version.error}' (run npm ci)`);
  const backend = process.env.OTA_BACKEND ?? 'hawkbit';
  if (!BACKENDS.includes(backend)) fail(`OTA_BACKEND='${backend}': one of ${BACKENDS.join(', ')}`);
  const options = process.env.OTA_OPTIONS ?? '';
  if (!OPTIONS.includes(options) || (backend === 'all' && options !== '')) fail(`OTA_OPTIONS='${options}': one of ${OPTIONS.map((o) => `'${o}'`).join(', ')} ('' with OTA_BACKEND=all, which carries every part)`);
  const modem = process.env.OTA_MODEM ?? '';
  if (!MODEMS.includes(modem) || (backend === 'all' && modem !== '')) fail(`OTA_MODEM='${modem}': one of ${MODEMS.map((o) => `'${o}'`).join(', ')} ('' with OTA_BACKEND=all, which carries both drivers)`);
  const bundle = path.join(repoRoot, 'dist', `xs-ota-${backend}${options}${modem}.js`);
  if (!existsSync(bundle) || !existsSync(bundle.replace(/\.js$/, '.d.ts'))) fail(`${path.relative(repoRoot, bundle)} or its .d.ts missing: run npm run build`);
  return { moddable, binDir };
}

function main(argv: string[]): void {
  const { moddable, binDir } = checkSetup();
  const env = { ...process.env, PATH: [binDir, sdkToolDir(moddable), process.env.PATH ?? ''].join(path.delimiter) };
  if (argv[0] !== '--host') {
    const result = spawnSync(path.join(sdkToolDir(moddable), 'mcconfig'), argv, { cwd: repoRoot, env, stdio: 'inherit' });
    process.exit(result.status ?? 1);
  }
  const args = argv.slice(1);
  const platformAt = args.indexOf('-p');
  const platform = platformAt >= 0 ? args[platformAt + 1] ?? '' : '';
  if (!platform.startsWith('zephyr/')) fail('--host needs -p zephyr/<target>, e.g. -p zephyr/pico_plus2');
  const debug = args.includes('-d');
  const config = args.filter((a) => /^\w+=/.test(a));
  const result = hostBuild({ moddable, target: platform.slice('zephyr/'.length), manifest: path.join(repoRoot, 'manifest.json'), debug, config, pathFirst: [binDir] });
  const counts = new Map<string, number>();
  for (const step of result.steps) counts.set(step.tool, (counts.get(step.tool) ?? 0) + 1);
  for (const [tool, n] of counts) process.stdout.write(`${tool}: ${n} run${n === 1 ? '' : 's'}\n`);
  if (result.failed) {
    process.stdout.write(`FAILED: ${result.failed.argv.join(' ')}\n${result.failed.output}\n`);
    process.exit(1);
  }
  const xsl = result.steps.find((s) => s.tool === 'xsl');
  if (xsl) process.stdout.write(xsl.output.split('\n').filter((line) => !line.includes('warning')).join('\n'));
  process.stdout.write(`preloads: ${result.preloads.length}; xs-ota.xsb ${result.xsb.get('xs-ota.xsb') ?? 0} bytes\n`);
  if (result.linkedSource) process.stdout.write(`linked preloads (mc.xs.c at 32-bit sizes): ${JSON.stringify(linkedImage(result.linkedSource))}\n`);
  process.stdout.write(`output: ${result.tmpDir}\n`);
}

main(process.argv.slice(2));
