/**
 * The real Moddable SDK builds manifest.json for the named board (zephyr/pico_plus2, the
 * Pimoroni Pico Plus 2; boards/pico_plus2): mcconfig, then every host-side step of its Zephyr
 * build, run from the CMakeLists.txt mcconfig wrote (tools/moddable/host-build.ts): tsc per
 * TypeScript module, xsc per module, xsid per native file, mcrez, and the xsl link of every
 * preload with the manifest's creation. The C compile and the Zephyr link need Zephyr and its
 * SDK and are not run here.
 *
 * Runs when $MODDABLE points at an SDK whose Linux tools are built and mcconfig is on PATH (a
 * firmware engineer's machine); otherwise it is skipped with one line saying why.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hostBuild, linkedImage, sdkToolDir, type HostBuildResult } from '../../../tools/moddable/host-build.js';
import { moduleXsb } from '../../../tools/moddable/footprint.js';
import { repoRoot } from '../../support/paths.js';

const TARGET = 'pico_plus2';

function onPath(tool: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => dir !== '' && existsSync(path.join(dir, tool)));
}

function whySkipped(): string | undefined {
  const moddable = process.env.MODDABLE;
  if (!moddable) return '$MODDABLE is not set';
  if (!existsSync(path.join(sdkToolDir(moddable), 'mcconfig'))) return `$MODDABLE=${moddable} has no built Linux tools (build/bin/lin/release/mcconfig)`;
  if (!onPath('mcconfig')) return 'mcconfig is not on PATH';
  return undefined;
}

describe(`Moddable SDK build of manifest.json for zephyr/${TARGET} (host-side steps)`, function () {
  this.timeout(600_000);
  const why = whySkipped();
  if (why !== undefined) {
    it(`skipped: ${why} (docs/device-build.md, section 2)`, function () {
      this.skip();
    });
    return;
  }
  const moddable = process.env.MODDABLE!;
  const manifest = JSON.parse(readFileSync(path.join(repoRoot, 'manifest.json'), 'utf8')) as { modules: Record<string, string | string[]>; preload: string[]; creation: { stack: number; static: number } };
  const fragment = JSON.parse(readFileSync(path.join(repoRoot, 'dist', 'xs-ota-hawkbit.manifest.json'), 'utf8')) as { modules: Record<string, string | string[]>; preload: string[] };
  let build: HostBuildResult;
  let outputDir: string;
  const steps = (tool: string) => build.steps.filter((s) => s.tool === tool);

  before(() => {
    outputDir = mkdtempSync(path.join(tmpdir(), 'xs-ota-mcconfig-'));
    build = hostBuild({ moddable, target: TARGET, manifest: path.join(repoRoot, 'manifest.json'), debug: false, outputDir, pathFirst: [path.join(repoRoot, 'node_modules', '.bin')] });
    if (build.failed) console.log(`      ${build.failed.tool} failed: ${build.failed.argv.join(' ')}\n${build.failed.output}`);
  });
  after(() => rmSync(outputDir, { recursive: true, force: true }));

  it('mcconfig accepts the manifest and writes the Zephyr CMakeLists.txt with the board overlay', () => {
    assert.equal(steps('mcconfig')[0]?.status, 0, steps('mcconfig')[0]?.output);
    const flat = readFileSync(path.join(build.tmpDir, 'manifest_flat.json'), 'utf8');
    assert.ok(flat.includes(path.join(repoRoot, 'boards', TARGET, 'xs-ota.overlay')), 'board overlay not in the build');
    const config = readFileSync(path.join(build.tmpDir, 'mc.config.js'), 'utf8');
    assert.match(config, /"otaModemUart": "uart1"/);
  });

  it('TypeScript pass: the project tsc (>= 6) compiles every modules/*.ts with the paths mcconfig generates', () => {
    const tsc = steps('tsc');
    // The manifest's own, and those of the default bundle's fragment (dist/xs-ota-hawkbit.manifest.json: no agent TLS).
    const fragmentModules = Object.values(fragment.modules).flat().filter((p) => p.startsWith('$(XS_OTA)/')).map((p) => p.replace('$(XS_OTA)/', './'));
    const tsModules = [...(manifest.modules['*'] as string[]), ...fragmentModules].filter((p) => existsSync(path.join(repoRoot, `${p}.ts`)) && !p.includes('/types/'));
    assert.deepEqual(fragmentModules, ['./modules/absent/ota-tls-port']);
    assert.equal(tsc.length, tsModules.length, `tsc ran ${tsc.length} times for ${tsModules.length} modules`);
    for (const step of tsc) assert.equal(step.status, 0, `${step.argv.join(' ')}\n${step.output}`);
  });

  it('xsc compiles every module and xsid every native file', () => {
    assert.ok(steps('xsc').length > 0);
    for (const step of [...steps('xsc'), ...steps('xsid')]) assert.equal(step.status, 0, `${step.argv.join(' ')}\n${step.output}`);
    for (const name of ['xs-ota.xsb', 'main.xsb', 'ota-serial.xsb', 'ota-sys-reboot.xsb']) assert.ok(build.xsb.has(name), `${name} not compiled`);
  });

  it('mcrez ships the CA certificate the config names', () => {
    const mcrez = steps('mcrez')[0];
    assert.ok(mcrez, 'mcrez did not run');
    assert.equal(mcrez.status, 0, mcrez.output);
    assert.ok(mcrez.argv.some((a) => a.endsWith(`${path.sep}ca.pem`)), `mcrez ${mcrez.argv.join(' ')}`);
    assert.match(readFileSync(path.join(build.tmpDir, 'mc.resources.c'), 'utf8'), /ca\.pem/);
  });

  it('xsl links every preload with the manifest creation, and reports the preloaded size', () => {
    assert.equal(build.failed, undefined, build.failed?.output);
    const xsl = steps('xsl')[0];
    assert.ok(xsl, 'xsl did not run');
    assert.equal(xsl.status, 0, xsl.output);
    const creation = xsl.argv[xsl.argv.indexOf('-c') + 1]!.split(',');
    assert.equal(Number(creation[4]), manifest.creation.stack, 'creation.stack');
    assert.equal(Number(creation[11]), manifest.creation.static, 'creation.static');
    for (const name of [...manifest.preload, ...fragment.preload]) assert.ok(build.preloads.includes(`${name}.xsb`), `${name} not preloaded`);
    assert.ok(build.linkedSource && existsSync(build.linkedSource));
    const linked = linkedImage(build.linkedSource);
    console.log(`      ${build.preloads.length} preloads; xs-ota.xsb ${build.xsb.get('xs-ota.xsb')} bytes; linked preloads ${linked.totalBytes} bytes (heap ${linked.heapSlots} slots, code ${linked.codeBytes}, strings ${linked.stringBytes})`);
    assert.ok(linked.totalBytes > 0);
  });

  it('per-module .xsb of the default hawkBit bundle (npm run footprint -- --modules): xsc compiles each, no src/tls or delta decoder among them', async () => {
    const modules = await moduleXsb({ moddable, bundle: 'hawkbit' });
    assert.ok(modules.length > 40, `${modules.length} modules`);
    assert.ok(modules.every((m) => m.xsb > 0 && m.module.startsWith('build/src/')));
    assert.ok(modules.some((m) => m.module === 'build/src/agent/machine.js'));
    assert.deepEqual(modules.filter((m) => m.module.startsWith('build/src/tls/') || m.module === 'build/src/delta/decoder.js'), []);
    for (let i = 1; i < modules.length; i++) assert.ok(modules[i - 1]!.xsb >= modules[i]!.xsb, 'largest first');
    console.log(`      largest: ${modules.slice(0, 5).map((m) => `${m.module.slice('build/src/'.length)} ${m.xsb}`).join(', ')}`);
  });
});
