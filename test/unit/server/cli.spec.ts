/** `xs-ota server`: starts, prints its URLs, serves a device, prints the reports on exit. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HawkbitBackend } from '../../../src/backend/hawkbit.js';
import { NodeHttpClient } from '../../../tools/node/node-http-client.js';
import { repoRoot } from '../../support/paths.js';

describe('xs-ota server (CLI)', () => {
  it('serves hawkBit with the given token, applies --misbehave, and prints reports on SIGINT', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'xs-ota-cli-'));
    const image = path.join(dir, 'app.bin');
    writeFileSync(image, new Uint8Array(2048).fill(7));
    const child = spawn(process.execPath, [path.join(repoRoot, 'tools/xs-ota.mjs'), 'server', '--port', '0', '--image', image, '--version', '3.1.4', '--token', 'tok', '--misbehave', 'status=503,count=1,retry-after=9'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      while (!/manifest:/.test(out)) await new Promise((r) => setTimeout(r, 20));
      const base = /listening on (http:\/\/\S+)/.exec(out)![1];
      const backend = new HawkbitBackend({ http: new NodeHttpClient({ timeoutMs: 5000 }), server: base, controllerId: 'dev42', token: 'tok', attributes: { a: 'b' } });
      await assert.rejects(backend.poll({ version: '1.0.0' }), (e: any) => e.reason === 'backend-unavailable' && e.retryAfterS === 9);
      const { offer } = await backend.poll({ version: '1.0.0' });
      assert.equal(offer!.version, '3.1.4');
      assert.equal(offer!.size, 2048);
      await backend.report({ actionId: offer!.actionId, phase: 'running', version: '3.1.4', runningVersion: '3.1.4' });
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await exited, 0);
    assert.match(out, /2 report\(s\) received/);
    assert.match(out, /"kind":"hawkbit-config-data"/);
    assert.match(out, /"execution":"closed","result":\{"finished":"success"\}/);
  });

  it('announces the image header\'s version by default, a label with --version (v1.3.0-rc.1); a --version no device keeps or a bogus --sleep is a usage error', async () => {
    const image = path.join(repoRoot, 'test', 'fixtures', 'mcuboot', 'images', 'small-v1.2.3+4.signed.bin');
    const child = spawn(process.execPath, [path.join(repoRoot, 'tools/xs-ota.mjs'), 'server', '--port', '0', '--image', image], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      while (!/manifest:/.test(out)) await new Promise((r) => setTimeout(r, 20));
      assert.match(out, /version 1\.2\.3\+4\)/);
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await exited, 0);
    // A label, as hawkBit and IoTConnect carry them (issue 13.5): served as given.
    const labelled = spawn(process.execPath, [path.join(repoRoot, 'tools/xs-ota.mjs'), 'server', '--port', '0', '--image', image, '--version', 'v1.3.0-rc.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let labelOut = '';
    labelled.stdout.on('data', (c: Buffer) => (labelOut += c.toString()));
    const labelExit = new Promise<number | null>((resolve) => labelled.on('exit', (code) => resolve(code)));
    try {
      while (!/manifest:/.test(labelOut)) await new Promise((r) => setTimeout(r, 20));
      assert.match(labelOut, /version v1\.3\.0-rc\.1\)/);
    } finally {
      labelled.kill('SIGINT');
    }
    assert.equal(await labelExit, 0);
    for (const bad of [['--version', ''], ['--version', 'v'.repeat(65)], ['--version', 'v1.0\u0007'], ['--version', 'v"1"'], ['--sleep', 'bogus'], ['--redirect-artifact', 'a/b'], ['--location-bytes', '900'], ['--redirect-artifact', 'objects.example.com', '--location-bytes', '99']]) {
      const c = spawn(process.execPath, [path.join(repoRoot, 'tools/xs-ota.mjs'), 'server', '--port', '0', '--image', image, ...bad], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      c.stderr.on('data', (d: Buffer) => (err += d.toString()));
      assert.equal(await new Promise<number | null>((resolve) => c.on('exit', (code) => resolve(code))), 2, bad.join(' '));
      assert.equal(err.trim().split('\n').length, 1, err);
    }
  });
});
