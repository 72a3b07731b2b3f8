/**
 * Issue 13, "Done when": `xs-ota sim --server` works against a reference server started
 * separately. Both commands run as QA runs them, each its own process: `xs-ota server` (a
 * deployment whose download link redirects to a 700-byte pre-signed URL on another host name),
 * then `xs-ota sim --server URL` against it, with a SIM7600 whose firmware takes URLs of at most
 * 512 characters (`--modem-url-max`). The sim starts no server of its own: the server's reports,
 * printed when it stops, are the proof that the device talked to it.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fixturePath, repoRoot } from '../support/paths.js';

const cli = path.join(repoRoot, 'tools', 'xs-ota.mjs');

/** A child's stdout and stderr as they come, and its exit code. */
function start(args: string[]): { child: ChildProcess; out: () => string; err: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out: () => out, err: () => err, exited };
}

describe('e2e: xs-ota sim --server against xs-ota server, two processes (issue 13)', function () {
  this.timeout(600_000); // a whole update in XS on the 32-bit engine, on a loaded CI host

  it('the update completes on the server it did not start: redirect followed to the other host name, the refused long URL taken over the socket, configData PUT over the socket, closed/success recorded there', async () => {
    const image = fixturePath('mcuboot', 'images', 'medium-v1.3.0+5.signed.bin');
    const server = start(['server', '--port', '0', '--image', image, '--scheme', 'https', '--advertise-host', 'localhost', '--controller', 'devkit-1', '--token', 'devkit-target-token', '--sleep', '00:01:00', '--redirect-artifact', 'objects.example.com', '--location-bytes', '700']);
    let stopped = false;
    try {
      const deadline = Date.now() + 30_000;
      while (!/artifact:/.test(server.out()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const base = /listening on (https:\/\/\S+)/.exec(server.out())?.[1];
      assert.ok(base, server.out() + server.err());
      const sim = start(['sim', '--server', base, '--modem', 'sim7600', '--flow-control', 'none', '--modem-url-max', '512', '--resolve', 'objects.example.com=127.0.0.1']);
      const code = await sim.exited;
      assert.equal(code, 0, `sim exit ${code}\n${sim.out()}\n${sim.err()}`);
      assert.match(sim.out(), /outcome\s+running/);
      assert.match(sim.out(), /version\s+1\.2\.3\+4 -> 1\.3\.0\+5/);
      assert.match(sim.out(), /the dev kit did not start it/);
      // The SIM7600's AT+HTTPPARA="URL" refused the 700-character Location once (a warn line).
      assert.equal(sim.err().split('\n').filter((l) => l.includes('modem.http-url-refused')).length, 1, sim.err());
      server.child.kill('SIGINT');
      stopped = true;
      assert.equal(await server.exited, 0, server.err());
      const reports = server.out().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { kind: string; body: any });
      // The server asked for configData (xs-ota server does): SIM7600's AT+HTTPACTION has no PUT,
      // so the PUT went over the modem's socket and arrived, never failing every poll.
      assert.ok(!sim.err().includes('backend.configData.failed'), sim.err());
      assert.equal(reports.filter((r) => r.kind === 'hawkbit-config-data').length, 1, server.out());
      const feedback = reports.filter((r) => r.kind === 'hawkbit-feedback').map((r) => `${r.body.status.execution}/${r.body.status.result?.finished}`);
      assert.ok(feedback.length >= 2, server.out());
      assert.equal(feedback.at(-1), 'closed/success', server.out());
    } finally {
      if (!stopped) server.child.kill('SIGINT');
    }
  });
});
