/**
 * `xs-ota sim` as a QA engineer meets it: help without side effects, bad options as one-line
 * usage errors (exit 2), bad input files as one-line failures (exit 1) that never leave the
 * reference server running, a fault that never fires fails the run, `--state DIR` keeps the flash
 * and the key-value store (the journal) between runs.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { run } from '../../../tools/cli/main.js';
import { outcomeAsAsked } from '../../../tools/cli/sim.js';
import { command as se } from '../../../tools/cli/se.js';
import { fixturePath } from '../../support/paths.js';

async function sim(...args: string[]): Promise<{ code: number; out: string; stdout: string }> {
  const lines: string[] = [];
  const stdout: string[] = [];
  const [log, err, write] = [console.log, console.error, process.stderr.write.bind(process.stderr)];
  console.log = (...a: unknown[]) => void stdout.push(a.join(' '));
  console.error = (...a: unknown[]) => void lines.push(a.join(' '));
  process.stderr.write = ((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    // Through main: that is where usage and input errors become one line and an exit code.
    const code = await run(['sim', ...args]);
    return { code, out: lines.join('\n'), stdout: stdout.join('\n') };
  } finally {
    console.log = log;
    console.error = err;
    process.stderr.write = write;
  }
}

describe('CLI: xs-ota sim', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(tmpdir(), 'xs-ota-sim-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('--help and -h print the usage and run nothing', async () => {
    for (const flag of ['--help', '-h']) {
      const r = await sim(flag, '--state', path.join(dir, 'never'));
      assert.equal(r.code, 0);
      assert.match(r.stdout, /^usage: xs-ota sim/);
      assert.match(r.stdout, /exit codes: 0/);
    }
    assert.ok(!existsSync(path.join(dir, 'never')));
  });

  it('bad option values are one-line usage errors, exit 2', async () => {
    for (const args of [['--seed', 'abc'], ['--segment-bytes', '0'], ['--segment-bytes', '5000'], ['--frobnicate'], ['--modem', 'nokia'], ['--fault', 'power-cut@event:'], ['--window-open-after', 'soon'], ['--uart-burst', '8'], ['--uart-burst', '2048'], ['--modem-url-max', '10'], ['--modem-url-max', 'short']]) {
      const r = await sim(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.out}`);
      assert.equal(r.out.trim().split('\n').length, 1, r.out);
    }
  });

  it('an input file that is not an image or not a key: one line, exit 1, and the command returns', async () => {
    const garbage = path.join(dir, 'garbage.bin');
    writeFileSync(garbage, 'this is not an MCUboot image, just text');
    for (const args of [['--image', garbage], ['--base-image', garbage], ['--key', garbage], ['--image', path.join(dir, 'missing.bin')]]) {
      const r = await sim(...args);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.out}`);
      assert.equal(r.out.trim().split('\n').length, 1, r.out);
      assert.doesNotMatch(r.out, /TypeError|DECODER routines|error:[0-9A-F]{8}|\n\s+at /);
    }
  });

  it('exit 0 only for the outcome asked for', () => {
    assert.ok(outcomeAsAsked('running', { downloadOnly: false, cancel: false }));
    assert.ok(outcomeAsAsked('download-only', { downloadOnly: true, cancel: false }));
    assert.ok(outcomeAsAsked('cancelled', { downloadOnly: false, cancel: true }));
    assert.ok(!outcomeAsAsked('running', { downloadOnly: true, cancel: false }));
    assert.ok(!outcomeAsAsked('failed', { downloadOnly: false, cancel: false }));
    assert.ok(!outcomeAsAsked('reverted', { downloadOnly: false, cancel: false }));
  });

  it('se provision reaches sim: a store holding another key makes the update fail with key-mismatch', async () => {
    const store = path.join(dir, 'a5000.json');
    const log = console.log;
    console.log = () => undefined;
    try {
      assert.equal(await se.run(['provision', '--key', fixturePath('mcuboot', 'keys', 'other-key-p256.pub.pem'), '--store', store]), 0);
    } finally {
      console.log = log;
    }
    const r = await sim('--se-store', store, '--json');
    assert.equal(r.code, 1, r.out);
    const summary = JSON.parse(r.stdout);
    assert.equal(summary.outcome, 'failed');
    assert.equal(summary.reason, 'key-mismatch');
    assert.equal((await sim('--se-store', path.join(dir, 'no-such-store.json'))).code, 1);
  });

  it('a fault that never fires fails the run; --state DIR keeps flash and journal for the next run', async () => {
    const state = path.join(dir, 'state');
    const r = await sim('--state', state, '--json', '--fault', 'power-cut@event:no.such.event');
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /fault\(s\) never fired: power-cut@event:no\.such\.event/);
    assert.equal(JSON.parse(r.stdout).outcome, 'running');
    assert.ok(existsSync(path.join(state, 'flash.bin')));
    const kv = JSON.parse(readFileSync(path.join(state, 'key-value.json'), 'utf8')) as Record<string, string>;
    assert.ok(Object.keys(kv).some((k) => k.startsWith('xs-ota.jr.')), `journal keys: ${Object.keys(kv).join(', ')}`);
    // The next run starts from the kept flash: the new image is already running.
    const again = await sim('--state', state, '--json');
    assert.equal(JSON.parse(again.stdout).versionBefore, '1.3.0+5');
  });
});
