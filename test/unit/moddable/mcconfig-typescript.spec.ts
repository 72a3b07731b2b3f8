/**
 * mcconfig compiles modules/*.ts with a tsconfig.json of its own. This spec writes that file the way
 * the SDK's tools/mcmanifest.js (TSConfigFile.generate) does: es2020 module and target, the
 * manifest's `typescript.tsconfig.compilerOptions` spread in, then one `paths` entry per .d.ts and
 * .ts module named in the manifest, every .ts module in `files`. It runs the TypeScript compiler
 * on it and checks that the device side compiles and lands flat in the output directory, as the
 * make rules expect ($(MODULES_DIR)/main.js, not .../modules/main.js).
 *
 * Stand-ins: the SDK's declarations come from @moddable/typings (what manifest_typings.json maps),
 * and for the modules that package lacks but the SDK has (crypt, embedded:storage/*), from
 * modules/types. TypeScript 7 has dropped `baseUrl` and classic resolution, so those two
 * settings of mcconfig's file are left out and rootDir is set to what TypeScript 5 infers. It runs
 * with `strict` off (TypeScript 5's default, which mcconfig's file relies on) and on (the default
 * from TypeScript 6); code that narrows differently without strictNullChecks fails the first.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from '../../support/paths.js';

const typings = path.join(repoRoot, 'node_modules', '@moddable', 'typings');
const SDK_DECLARATIONS: Record<string, string> = {
  timer: path.join(typings, 'timer'),
  Resource: path.join(typings, 'Resource'),
  time: path.join(typings, 'time'),
  'mc/config': path.join(typings, 'mc', 'config'),
  'embedded:io/_common': path.join(typings, 'embedded_io', '_common'),
  'embedded:io/serial': path.join(typings, 'embedded_io', 'serial'),
  'embedded:io/i2c': path.join(typings, 'embedded_io', 'i2c'),
  'embedded:io/digital': path.join(typings, 'embedded_io', 'digital'),
  crypt: path.join(repoRoot, 'modules', 'types', 'crypt'),
  'embedded:storage/flash': path.join(repoRoot, 'modules', 'types', 'embedded-storage'),
  'embedded:storage/key-value': path.join(repoRoot, 'modules', 'types', 'embedded-storage'),
};

describe("mcconfig's TypeScript pass over modules/ (simulated)", function () {
  this.timeout(60_000);
  let dir: string;

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'xs-ota-mcconfig-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const strict of [false, true]) it(`compiles with the manifest's options (strict: ${strict}) and emits every module flat`, () => {
    assert.ok(
      existsSync(path.join(repoRoot, 'dist', 'types', 'src', 'index.d.ts')),
      'dist/types/src/index.d.ts missing: run npm run typecheck:modules (npm test does)',
    );
    const manifest = JSON.parse(readFileSync(path.join(repoRoot, 'manifest.json'), 'utf8'));
    const fromManifest = manifest.typescript.tsconfig.compilerOptions as { paths: Record<string, string[]>; [option: string]: unknown };
    const resolve = (p: string) => p.replace('$(XS_OTA)', repoRoot);
    const paths: Record<string, string[]> = {};
    for (const [name, targets] of Object.entries(fromManifest.paths)) paths[name] = targets.map(resolve);
    for (const [name, target] of Object.entries(SDK_DECLARATIONS)) paths[name] = [target];
    const files: string[] = [];
    for (const entry of manifest.modules['*'] as string[]) {
      const base = path.join(repoRoot, entry);
      const name = path.basename(entry);
      if (existsSync(`${base}.d.ts`)) paths[name] = [base];
      else if (existsSync(`${base}.ts`)) {
        paths[name] = [base];
        files.push(`${base}.ts`);
      }
    }
    const outDir = path.join(dir, `modules-${strict}`);
    const tsconfig = {
      compilerOptions: {
        ...fromManifest,
        forceConsistentCasingInFileNames: true,
        module: 'es2020',
        outDir,
        rootDir: path.join(repoRoot, 'modules'),
        lib: ['es2020'],
        sourceMap: true,
        target: 'ES2020',
        types: [path.join(typings, 'xs')],
        // mcconfig's file leaves `strict` unset: off in TypeScript 5, on from TypeScript 6.
        strict,
        paths,
      },
      files,
    };
    const file = path.join(dir, `tsconfig-${strict}.json`);
    writeFileSync(file, JSON.stringify(tsconfig, null, 2));
    const tsc = path.join(repoRoot, 'node_modules', '.bin', 'tsc');
    try {
      execFileSync(tsc, ['-p', file], { stdio: 'pipe' });
    } catch (error) {
      const { stdout, stderr } = error as { stdout?: Buffer; stderr?: Buffer };
      const out = `${stdout?.toString() ?? ''}${stderr?.toString() ?? ''}` || String(error);
      assert.fail(`mcconfig-style tsc failed:\n${out}`);
    }
    const emitted = readdirSync(outDir).filter((f) => f.endsWith('.js')).sort();
    const expected = files.map((f) => path.basename(f).replace(/\.ts$/, '.js')).sort();
    assert.deepEqual(emitted, expected);
    const main = readFileSync(path.join(outDir, 'main.js'), 'utf8');
    assert.match(main, /from 'xs-ota'/);
    assert.doesNotMatch(main, /from 'ota-zephyr-io'/, 'type-only imports must not reach XS');
  });
});
