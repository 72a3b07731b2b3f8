/**
 * End to end on XS in virtual time: the backends as they are deployed (issue 13). The agent runs
 * in XS on the simulated dev kit, its modem resolving host names (every name to the reference
 * server, whose certificate names *.example.com), against a reference server that behaves as the
 * real ones do: a download link that redirects to a pre-signed object-store URL on another host
 * name, a multi-module deployment with hawkBit's OpenAPI fields, user consent, a download host
 * apart from the DDI host, a CDN that ignores Range, a server that moved.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { DEVKIT_DEVICE_ID, DEVKIT_GATEWAY_TOKEN, DEVKIT_TOKEN } from '../../tools/devkit/devkit.js';
import type { VirtualTime } from '../../tools/devkit/parts/virtual-time.js';
import { startReferenceServer, type ReferenceServer } from '../../tools/server/index.js';
import { readDeviceConfig, type SecretKey } from '../../modules/ota-config.js';
import type { AgentConfig } from '../../src/agent/config.js';
import { makeImage } from '../support/devkit-update.js';
import { assertNothingPending, finals, run, seen, story, TARGET } from './e2e-support.js';
import { SMALL_SLOT_LAYOUT } from '../../tools/devkit/parts/sim-flash.js';

type Kit = { time: VirtualTime; server: ReferenceServer };

function requestsOf(requests: ReturnType<ReferenceServer['requests']>, prefix: string): ReturnType<ReferenceServer['requests']> {
  return requests.filter((r) => r.path.includes(prefix));
}

describe('e2e: backends as deployed (issue 13)', function () {
  this.timeout(600_000); // whole updates in XS on the 32-bit engine; a loaded CI host is slow, never wrong

  describe('finding 1: redirects', () => {
    it('an artifact redirected (302) to a 1.3 KiB pre-signed URL on another host name: followed, no token there, the resume goes to the kept URL', async () => {
      let kit: Kit | undefined;
      const s = await run({ hawkbit: { redirectArtifact: { host: 'objects.example.com', status: 302 } }, faults: [{ kind: 'link-drop', at: 0.5 }], onReady: (k) => (kit = k) });
      assert.equal(s.outcome, 'running', story(s));
      assert.equal(s.versionAfter, '1.1.0+0');
      const requests = kit!.server.requests();
      const redirects = requests.filter((r) => r.status === 302);
      const objects = requests.filter((r) => r.path.startsWith('/objects/'));
      assert.equal(redirects.length, 1, 'one redirect: the resume used the kept Location');
      assert.ok(objects.length >= 2, `the download and its resume at the object store: ${objects.length}`);
      assert.ok(objects.every((r) => r.path.length >= 1200), 'the Location is a long pre-signed URL');
      assert.ok(objects.every((r) => r.headers.authorization === undefined), 'the token never goes to the object store');
      assert.ok(objects.some((r) => r.headers.range !== undefined && r.status === 206), 'resumed with Range at the object store');
      assert.ok(s.logs.some((l) => l.event === 'http.redirect'), story(s));
    });

    it('SIM7600 without RTS/CTS (its built-in HTTP client): the 302 is read with AT+HTTPHEAD and followed, the update completes', async () => {
      let kit: Kit | undefined;
      // A 700-byte pre-signed URL: AT+HTTPPARA="URL" carries it on one command line (the dev kit's
      // modem keeps lines of COMMAND_LINE_MAX bytes; SIMCom states no limit).
      const s = await run({ modem: 'sim7600', flowControl: 'none', hawkbit: { redirectArtifact: { host: 'objects.example.com', status: 302, locationBytes: 700 } }, onReady: (k) => (kit = k) });
      assert.equal(s.outcome, 'running', story(s));
      assert.equal(s.versionAfter, '1.1.0+0');
      const requests = kit!.server.requests();
      assert.equal(requests.filter((r) => r.status === 302).length, 1, 'one redirect, then the kept Location for every window');
      const objects = requests.filter((r) => r.path.startsWith('/objects/'));
      assert.ok(objects.length >= 1 && objects.every((r) => r.path.length >= 600 && r.headers.authorization === undefined), 'the pre-signed URL, without the token');
      // The built-in client (USERDATA carries the Range), not a socket: every artifact request is a Range window.
      assert.ok(objects.every((r) => r.status === 206 && r.headers.range !== undefined), JSON.stringify(objects.map((r) => [r.status, r.headers.range])));
      assert.ok(s.logs.some((l) => l.event === 'http.redirect'), story(s));
    });

    it('SIM7600 without RTS/CTS, a 1.3 KiB pre-signed Location: too long for AT+HTTPPARA="URL", fetched over AT+CCHOPEN on the same modem', async () => {
      let kit: Kit | undefined;
      const s = await run({ modem: 'sim7600', flowControl: 'none', hawkbit: { redirectArtifact: { host: 'objects.example.com', status: 302 } }, onReady: (k) => (kit = k) });
      assert.equal(s.outcome, 'running', story(s));
      assert.equal(s.versionAfter, '1.1.0+0');
      const requests = kit!.server.requests();
      assert.equal(requests.filter((r) => r.status === 302).length, 1, 'one redirect (read with AT+HTTPHEAD), then the kept Location');
      const objects = requests.filter((r) => r.path.startsWith('/objects/'));
      assert.ok(objects.length >= 1 && objects.every((r) => r.path.length >= 1200 && r.headers.authorization === undefined), 'the pre-signed URL, without the token');
      // The agent's own request over the socket (its `Connection: close`), not the built-in
      // client's (which writes `Accept: */*` from AT+HTTPPARA and no Connection field).
      assert.ok(objects.every((r) => r.headers.connection === 'close'), JSON.stringify(objects.map((r) => r.headers)));
      // The DDI host's URLs still fit: polls and feedback stay on the built-in client.
      const control = requestsOf(requests, '/DEFAULT/controller/');
      assert.ok(control.length > 0 && control.every((r) => r.headers.connection === undefined), JSON.stringify(control.map((r) => r.headers)));
    });

    it('SIM7600 whose firmware takes shorter URLs than the agent assumes: AT+HTTPPARA="URL" answers ERROR, the same request goes over AT+CCHOPEN, reported once, no attempt lost', async () => {
      let kit: Kit | undefined;
      // A 700-byte pre-signed URL fits the agent's HTTP_URL_MAX (1000); this modem refuses more than 512.
      const s = await run({ modem: 'sim7600', flowControl: 'none', modemUrlMax: 512, hawkbit: { redirectArtifact: { host: 'objects.example.com', status: 302, locationBytes: 700 } }, onReady: (k) => (kit = k) });
      assert.equal(s.outcome, 'running', story(s));
      assert.equal(s.versionAfter, '1.1.0+0');
      const refused = s.logs.filter((l) => l.event === 'modem.http-url-refused');
      assert.equal(refused.length, 1, `refused once, then remembered: ${story(s)}`);
      assert.ok(Number(refused[0].fields?.length) > 512 && refused[0].fields?.fallback === 'AT+CCHOPEN', JSON.stringify(refused[0]));
      const requests = kit!.server.requests();
      assert.equal(requests.filter((r) => r.status === 302).length, 1, 'one redirect, then the kept Location');
      const objects = requests.filter((r) => r.path.startsWith('/objects/'));
      // Every object-store request is the agent's own over the socket (its `Connection: close`):
      // the refused command never reached the server.
      assert.ok(objects.length >= 1 && objects.every((r) => r.path.length >= 600 && r.headers.connection === 'close' && r.status < 300), JSON.stringify(objects.map((r) => [r.status, r.headers])));
      // The DDI host's short URLs stay on the built-in client.
      const control = requestsOf(requests, '/DEFAULT/controller/');
      assert.ok(control.length > 0 && control.every((r) => r.headers.connection === undefined), JSON.stringify(control.map((r) => r.headers)));
      // No attempt lost: one download, never failed or retried; one success closes the action.
      assert.ok(!s.logs.some((l) => l.event === 'download.failed' || l.event === 'download.retry'), story(s));
      assert.equal(s.logs.filter((l) => l.event === 'download.start').length, 1, story(s));
      assert.deepEqual(finals(s).map((f) => f.what), ['closed/success']);
    });

    it('a kept pre-signed URL that expired (403) is re-resolved from the original link, not a failed attempt', async () => {
      let kit: Kit | undefined;
      const s = await run({
        hawkbit: { redirectArtifact: { host: 'objects.example.com', status: 307, expiresInS: 600 } },
        faults: [{ kind: 'link-drop', at: 0.5 }],
        onReady: (k) => (kit = k),
        // The device is away for longer than the signature lives.
        onLog: (e) => void (e.event === 'download.failed' && kit!.server.clock.advance(3600)),
      });
      assert.equal(s.outcome, 'running', story(s));
      const requests = kit!.server.requests();
      const objects = requests.filter((r) => r.path.startsWith('/objects/'));
      assert.ok(objects.some((r) => r.status === 403), 'the kept URL answered 403');
      assert.equal(requests.filter((r) => r.status === 307).length, 2, 'the original link resolved it again');
      assert.ok(s.logs.some((l) => l.event === 'http.redirect-stale'), story(s));
      assert.ok(!s.logs.some((l) => l.event === 'download.failed' && l.fields?.reason === 'url-expired'), story(s));
    });

    it('a CDN chain of five redirects (the bound) on another host name: every hop followed, the object fetched without the token', async () => {
      let kit: Kit | undefined;
      const s = await run({ hawkbit: { redirectArtifact: { host: 'cdn.example.com', status: 302, hops: 5 } }, onReady: (k) => (kit = k) });
      assert.equal(s.outcome, 'running', story(s));
      assert.equal(s.versionAfter, '1.1.0+0');
      const requests = kit!.server.requests();
      // The first request of the image walks the chain (the link and four hops); the rest go to the kept Location.
      const hops = requests.filter((r) => r.path.startsWith('/redirects/'));
      assert.deepEqual([...new Set(hops.map((r) => r.path.split('/')[2]))], ['4', '3', '2', '1'], JSON.stringify(hops.map((r) => r.path.slice(0, 16))));
      assert.ok(s.logs.some((l) => l.event === 'http.redirect' && l.fields?.hop === 5), story(s));
      assert.ok(!s.logs.some((l) => l.event === 'http.redirect' && Number(l.fields?.hop) > 5), story(s));
      const objects = requests.filter((r) => r.path.startsWith('/objects/'));
      assert.ok(objects.length >= 1 && objects.every((r) => r.status < 300 && r.headers.authorization === undefined), JSON.stringify(objects.map((r) => [r.status, r.headers.authorization])));
      assert.deepEqual(finals(s).map((f) => f.what), ['closed/success']);
    });

    for (const [name, redirectArtifact] of [
      ['a sixth redirect', { host: 'cdn.example.com', status: 302, hops: 6 }],
      ['a redirect loop (two CDN hops sending each other on)', { host: 'cdn.example.com', status: 307, loop: true }],
    ] as const) {
      it(`${name}: too-many-redirects after the fifth hop, answered closed/failure once naming it; nothing downloaded`, async () => {
        let kit: Kit | undefined;
        const s = await run({ hawkbit: { redirectArtifact }, onReady: (k) => (kit = k) });
        const f = finals(s);
        assert.equal(f.length, 1, story(s));
        assert.equal(f[0].what, 'closed/failure');
        assert.match(f[0].details, /too-many-redirects|more than 5 redirects/, story(s));
        assert.equal(kit!.server.hawkbit.action('1')!.state, 'failed');
        const requests = kit!.server.requests();
        // One walk: five redirects followed (the link's and four hops'), the fifth hop's
        // answer is the sixth and its Location is never requested; the object store never reached.
        const hops = requests.filter((r) => r.path.startsWith('/redirects/'));
        assert.equal(hops.length, 5, JSON.stringify(hops.map((r) => r.path.slice(0, 20))));
        assert.equal(requests.filter((r) => r.path.startsWith('/objects/')).length, 0);
        assert.ok(s.logs.filter((l) => l.event === 'http.redirect').every((l) => Number(l.fields?.hop) <= 5), story(s));
        assert.equal(s.flash.agentImageBytesWritten, 0);
        assertNothingPending(s);
      });
    }

    it('feedback POSTs answered 303 See Other (a Post/Redirect/Get gateway): the receipt fetched with GET, never POSTed; every feedback delivered once', async () => {
      let kit: Kit | undefined;
      const s = await run({ hawkbit: { feedbackSeeOther: true }, onReady: (k) => (kit = k) });
      assert.equal(s.outcome, 'running', story(s));
      assert.equal(s.versionAfter, '1.1.0+0');
      const requests = kit!.server.requests();
      const seeOther = requests.filter((r) => r.status === 303);
      const receipts = requests.filter((r) => r.path.includes('/feedbackReceipts/'));
      assert.ok(seeOther.length >= 2 && seeOther.every((r) => r.method === 'POST'), JSON.stringify(seeOther.map((r) => r.method)));
      assert.deepEqual(receipts.map((r) => `${r.method} ${r.status}`), seeOther.map(() => 'GET 200'), 'each 303 followed by one GET of its receipt');
      // Each feedback reached the server once: none was sent again because its 303 looked like a failure.
      const feedback = kit!.server.reports('hawkbit-feedback');
      assert.equal(feedback.length, seeOther.length);
      assert.deepEqual(finals(s).map((f) => f.what), ['closed/success']);
      assert.equal(kit!.server.hawkbit.action('1')!.state, 'finished');
    });

    it('a server that moved (308, relative Location): poll, deployment and feedback POSTs follow it; and xs-ota sim --server talks to a server it did not start', async () => {
      // Finding 9: the server is started apart from the dev kit, as `xs-ota server` runs it, and
      // the device reaches it by name (localhost), resolved by the dev kit's modem.
      const server = await startReferenceServer({ port: 0, scheme: 'https', advertiseHost: 'localhost', controllerId: DEVKIT_DEVICE_ID, token: DEVKIT_TOKEN, pollingSleep: '00:01:00', movedPrefixes: ['/old'] });
      try {
        const { actionId } = server.hawkbit.createDeployment({ version: '1.1.0', image: TARGET, filename: 'app.signed.bin' });
        const s = await run({ server: `${server.url}/old` });
        assert.equal(s.outcome, 'running', story(s));
        assert.equal(s.versionAfter, '1.1.0+0');
        assert.equal(server.hawkbit.action(actionId)!.state, 'finished');
        const moved = server.requests().filter((r) => r.status === 308);
        assert.ok(moved.some((r) => r.method === 'GET') && moved.some((r) => r.method === 'POST'), 'GETs and feedback POSTs were redirected');
        const feedback = server.reports('hawkbit-feedback').map((r) => (r.body as any).status.execution);
        assert.equal(feedback.at(-1), 'closed');
      } finally {
        await server.close();
      }
    });
  });

  it('static manifest behind a moved path (308): manifest, artifact and reports follow it', async () => {
    const server = await startReferenceServer({ port: 0, scheme: 'https', advertiseHost: 'localhost', movedPrefixes: ['/old'] });
    try {
      const { url } = server.manifest.publish({ version: '1.1.0', image: TARGET });
      const s = await run({ backend: 'manifest', server: url.replace('/manifest/', '/old/manifest/') });
      assert.equal(s.outcome, 'running', story(s));
      assert.ok(server.requests().some((r) => r.status === 308 && r.path.startsWith('/old/manifest/')), 'the manifest GET was redirected');
      assert.equal((server.reports('manifest-report').at(-1)!.body as any).phase, 'running');
    } finally {
      await server.close();
    }
  });

  describe('finding 2: no silent stall', () => {
    it('a deployment body over the configured cap is answered closed/failure once, naming the limit; nothing is downloaded', async () => {
      let kit: Kit | undefined;
      const s = await run({ policy: { bodyMax: 1024 }, onReady: (k) => (kit = k), until: (e) => e.event === 'deployment.refused' });
      const f = finals(s);
      assert.equal(f.length, 1, story(s));
      assert.equal(f[0].what, 'closed/failure');
      assert.match(f[0].details, /body-too-large.*1024/);
      assert.equal(kit!.server.hawkbit.action('1')!.state, 'failed');
      assert.equal(s.artifactRequests.length, 0);
      assertNothingPending(s);
    });
  });

  describe('finding 2: no silent stall, every unusable deployment', () => {
    it('no artifact matches *.bin (an .img file): closed/failure once naming the pattern; nothing downloaded; the device polls on', async () => {
      let kit: Kit | undefined;
      // Five more polls after the answer (one a minute): still one answer, nothing taken again.
      const s = await run({ hawkbit: { filename: 'app.signed.img' }, onReady: (k) => (kit = k), until: (e) => e.event === 'edge' && e.at > 330_000 });
      const f = finals(s);
      assert.equal(f.length, 1, story(s));
      assert.equal(f[0].what, 'closed/failure');
      assert.match(f[0].details, /\*\.bin/);
      assert.equal(kit!.server.hawkbit.action('1')!.state, 'failed');
      assert.equal(s.artifactRequests.length, 0);
      assert.equal(s.logs.filter((l) => l.event === 'deployment.unusable').length, 1, story(s));
      assert.ok(s.logs.filter((l) => l.event === 'edge').length >= 6, 'the device went on polling');
    });

    it('a download link longer than the configured urlMax: closed/failure once naming the field and the limit', async () => {
      let kit: Kit | undefined;
      // A 124-character file name (the field takes 128) on a download host with a long name: a link of about 275.
      const hawkbit = { filename: `${'firmware-'.repeat(13)}app.bin`, downloadHost: `${'d'.repeat(63)}.example.com` };
      const s = await run({ policy: { urlMax: 256 }, hawkbit, onReady: (k) => (kit = k), until: (e) => e.event === 'deployment.refused' });
      const f = finals(s);
      assert.equal(f.length, 1, story(s));
      assert.equal(f[0].what, 'closed/failure');
      assert.match(f[0].details, /_links\.download.*256|256.*_links\.download/);
      assert.equal(kit!.server.hawkbit.action('1')!.state, 'failed');
      assert.equal(s.artifactRequests.length, 0);
    });
  });

  describe('finding 3: no boot loop', () => {
    it('a factory image flashed with a test trailer (unconfirmed, nothing to revert to, no journal): health-checked and confirmed once, never reset; the device polls and updates', async () => {
      const s = await run({ baseTrailer: 'test' });
      assert.equal(s.outcome, 'running', story(s));
      assert.equal(s.versionAfter, '1.1.0+0');
      const adopted = s.logs.filter((l) => l.event === 'idle.unconfirmed-confirmed');
      assert.equal(adopted.length, 1, story(s));
      assert.equal(adopted[0].boot, 1, 'on the first boot, before any poll took the deployment');
      assert.ok(!s.logs.some((l) => l.event === 'idle.unconfirmed-revert'), story(s));
      // Two boots: power-on and the update's own reboot into the new image; no health-deadline reset.
      assert.equal(s.boots, 2, story(s));
      assert.deepEqual(finals(s).map((f) => f.what), ['closed/success']);
    });

    it('... and when that health check fails: logged, left running unconfirmed, no reset, checked again after the deadline', async () => {
      const checks = new Set<object>();
      // The application reports unhealthy: the health check cannot pass. Stop at the third check.
      const s = await run({ baseTrailer: 'test', faults: [{ kind: 'health-fail' }], until: (e) => e.event === 'idle.unconfirmed-unhealthy' && checks.add(e).size >= 3 });
      const unhealthy = s.logs.filter((l) => l.event === 'idle.unconfirmed-unhealthy');
      assert.equal(unhealthy.length, 3, story(s));
      // Checked again one health deadline apart (the dev kit's healthDeadlineS 120), never reset in between.
      const gap = unhealthy[1].at - unhealthy[0].at;
      assert.ok(gap >= 120_000, `${gap} ms between checks`);
      assert.equal(s.boots, 1, `never reset: ${story(s)}`);
      assert.ok(!s.logs.some((l) => l.event === 'idle.unconfirmed-revert' || l.event === 'idle.unconfirmed-confirmed'), story(s));
      assert.equal(s.versionAfter, '1.0.0+0');
    });
  });

  describe('finding 4: the right module', () => {
    const osImage = new Uint8Array(randomBytes(6000));
    const multi = {
      part: 'bApp',
      extraArtifacts: [{ filename: 'app.signature', bytes: new Uint8Array(72) }],
      extraChunks: [
        { part: 'jvm', version: '1.0.75', name: 'oneapp runtime', artifacts: [{ filename: 'runtime.tgz', bytes: new Uint8Array(500) }] },
        { part: 'os', version: '1.0.79', name: 'one Firmware', artifacts: [{ filename: 'os.bin', bytes: osImage }, { filename: 'os.signature', bytes: new Uint8Array(72) }] },
      ],
    };

    it('several *.bin in a multi-module deployment (OpenAPI fields): the image header chooses, read from 32 bytes before the download', async () => {
      let kit: Kit | undefined;
      const s = await run({ hawkbit: multi, onReady: (k) => (kit = k) });
      assert.equal(s.outcome, 'running', story(s));
      assert.equal(s.versionAfter, '1.1.0+0');
      const osRequests = kit!.server.requests().filter((r) => r.path.includes('/os.bin'));
      // Only its header, once per boot (the health check after the reboot fetches the deployment again).
      assert.ok(osRequests.length >= 1 && osRequests.length <= s.boots, `${osRequests.length} probes in ${s.boots} boots`);
      assert.ok(osRequests.every((r) => r.headers.range === 'bytes=0-31'), 'the other module: only its header was read');
    });

    it('modulePart bApp: the bApp chunk, no probe of the other module', async () => {
      let kit: Kit | undefined;
      const s = await run({ hawkbit: multi, policy: { modulePart: 'bApp' }, onReady: (k) => (kit = k) });
      assert.equal(s.outcome, 'running', story(s));
      assert.equal(kit!.server.requests().filter((r) => r.path.includes('/os.bin')).length, 0);
    });
  });

  describe('finding 5: versions are labels', () => {
    for (const label of ['v1.1.0', '2.0.0-rc1']) {
      it(`chunk version '${label}': installed (the header decides) and reported back as given`, async () => {
        const s = await run({ hawkbit: { version: label } });
        assert.equal(s.outcome, 'running', story(s));
        assert.equal(s.versionAfter, '1.1.0+0');
        const closed = finals(s)[0];
        assert.equal(closed.what, 'closed/success');
        // Sent after the reboot into the new image: the label came back from the journal.
        assert.ok(closed.details.includes(`target ${label} (image 1.1.0+0)`), story(s));
      });
    }

    it("static manifest version 'v1.1.0': installed, and the reports after the reboot carry the label beside the header's version", async () => {
      let kit: Kit | undefined;
      const s = await run({ backend: 'manifest', manifestVersion: 'v1.1.0', onReady: (k) => (kit = k) });
      assert.equal(s.outcome, 'running', story(s));
      assert.equal(s.versionAfter, '1.1.0+0');
      const running = kit!.server.reports('manifest-report').map((r) => r.body as any).find((b) => b.phase === 'running');
      assert.ok(running, story(s));
      assert.equal(running.actionId, 'v1.1.0');
      assert.equal(running.version, '1.1.0+0');
      assert.equal(running.label, 'v1.1.0', 'the label came back from the journal');
    });

    it("static manifest 'v1.1.0' still offered after it ran: not taken again, no failed report over the running one", async () => {
      let kit: Kit | undefined;
      // Without HistoryRecorder.endedBefore the next poll downloads the header again and reports
      // `failed same-version` for the action the backend already has as running, every poll.
      const s = await run({ backend: 'manifest', manifestVersion: 'v1.1.0', deployments: 2, onReady: (k) => (kit = k), until: (e) => e.event === 'deployment.already-ended' });
      const ended = s.logs.filter((l) => l.event === 'deployment.already-ended');
      assert.equal(ended.length, 1, story(s));
      assert.deepEqual([ended[0].fields?.action, ended[0].fields?.verdict], ['v1.1.0', 'running']);
      assert.equal(s.versionAfter, '1.1.0+0');
      const phases = kit!.server.reports('manifest-report').map((r) => (r.body as any).phase);
      assert.deepEqual(phases, ['accepted', 'downloaded', 'staged', 'running'], story(s));
      assert.equal(s.logs.filter((l) => l.event === 'deployment.accepted').length, 1, 'accepted once');
    });

    it("a single file labelled 'v2.0-release' whose header is 0.9.0: refused as a downgrade at its first 32 bytes, reported once, the rest never fetched", async () => {
      const older = makeImage('0.9.0', 200_000);
      const s = await run({ image: older, hawkbit: { version: 'v2.0-release' } });
      assert.equal(s.outcome, 'failed', story(s));
      assert.equal(s.reason, 'downgrade', story(s));
      const closed = finals(s);
      assert.equal(closed.length, 1, story(s));
      assert.equal(closed[0].what, 'closed/failure');
      assert.match(closed[0].details, /0\.9\.0\+0 is older than running 1\.0\.0\+0/);
      const failed = s.logs.filter((l) => l.event === 'download.failed');
      assert.deepEqual(failed.map((l) => [l.fields?.reason, l.fields?.action]), [['downgrade', 'fail']], story(s));
      assert.ok(!s.logs.some((l) => l.event === 'verify.start'), 'stopped in the download, not at verify');
      assert.equal(s.flash.agentImageBytesWritten, 0, 'no byte of the older image reached the slot');
      assertNothingPending(s);
    });
  });

  describe('findings 6 and 7: authentication and DDI coverage', () => {
    it('GatewayToken as a device setting', async () => {
      let kit: Kit | undefined;
      const s = await run({ policy: { tokenScheme: 'GatewayToken' }, authToken: DEVKIT_GATEWAY_TOKEN, onReady: (k) => (kit = k) });
      assert.equal(s.outcome, 'running', story(s));
      const auth = kit!.server.requests().map((r) => r.headers.authorization);
      assert.ok(auth.length > 0 && auth.every((a) => a === `GatewayToken ${DEVKIT_GATEWAY_TOKEN}`), JSON.stringify([...new Set(auth)]));
    });

    it('a tenant that takes only the GatewayToken: otaTokenScheme and the secrets as modules/ota-config.ts reads them, through createAgent', async () => {
      // The server knows no TargetToken: only `Authorization: GatewayToken <tenant token>` passes.
      const gatewayToken = 'gw-tenant-7f3a9c';
      const server = await startReferenceServer({ port: 0, scheme: 'https', advertiseHost: 'localhost', controllerId: DEVKIT_DEVICE_ID, gatewayToken, pollingSleep: '00:01:00' });
      try {
        const secrets: Partial<Record<SecretKey, string>> = { authToken: 'target-token-not-for-this-tenant', gatewayToken, deviceId: DEVKIT_DEVICE_ID };
        const settingsOf = (config: Record<string, unknown>) => readDeviceConfig({ otaBackend: 'hawkbit', otaUrl: server.url, otaTenant: 'DEFAULT', otaDeviceId: '', ...config }, (key) => secrets[key]).agent as Partial<AgentConfig>;
        // The same device with the default scheme sends its TargetToken: refused.
        const refused = await run({ server: server.url, policy: settingsOf({}), until: (e) => e.event === 'poll.failed' });
        assert.ok(refused.logs.some((l) => l.event === 'poll.failed' && /401/.test(JSON.stringify(l.fields))), story(refused));
        assert.ok(server.requests().every((r) => r.status === 401 && r.headers.authorization === 'TargetToken target-token-not-for-this-tenant'));
        const { actionId } = server.hawkbit.createDeployment({ version: '1.1.0', image: TARGET, filename: 'app.signed.bin' });
        const before = server.requests().length;
        const s = await run({ server: server.url, policy: settingsOf({ otaTokenScheme: 'GatewayToken' }) });
        assert.equal(s.outcome, 'running', story(s));
        assert.equal(server.hawkbit.action(actionId)!.state, 'finished');
        const ddi = server.requests().slice(before);
        assert.ok(ddi.length > 0 && ddi.every((r) => r.status !== 401 && r.headers.authorization === `GatewayToken ${gatewayToken}`), JSON.stringify([...new Set(ddi.map((r) => `${r.status} ${r.headers.authorization}`))]));
      } finally {
        await server.close();
      }
    });

    it('download links on another host (a DDI download server) get the TargetToken', async () => {
      let kit: Kit | undefined;
      const s = await run({ hawkbit: { downloadHost: 'download.example.com' }, onReady: (k) => (kit = k) });
      assert.equal(s.outcome, 'running', story(s));
      const art = kit!.server.requests().filter((r) => r.path.includes('/artifacts/'));
      assert.ok(art.length > 0 && art.every((r) => r.status !== 401 && r.headers.authorization === `TargetToken ${DEVKIT_TOKEN}`));
    });

    it('a deployment without size or sha256 (DdiArtifact makes them optional): installed, the size taken from the server, the image verified by its signature', async () => {
      let kit: Kit | undefined;
      const s = await run({ hawkbit: { omitSize: true, omitSha256: true }, onReady: (k) => (kit = k) });
      assert.equal(s.outcome, 'running', story(s));
      assert.equal(s.versionAfter, '1.1.0+0');
      assert.ok(kit!.server.requests().some((r) => r.path.includes('/deploymentBase/')), 'the deployment was fetched');
      // The offer had no size: the agent took the deployment all the same.
      const accepted = s.logs.find((l) => l.event === 'deployment.accepted');
      assert.ok(accepted && accepted.fields?.size === undefined, JSON.stringify(accepted));
      assert.deepEqual(finals(s).map((f) => f.what), ['closed/success']);
    });

    it('confirmationBase: the action waiting for consent is confirmed (autoConfirm), then installed', async () => {
      let kit: Kit | undefined;
      const s = await run({ hawkbit: { confirmationRequired: true }, onReady: (k) => (kit = k) });
      assert.equal(s.outcome, 'running', story(s));
      const confirmations = kit!.server.reports('hawkbit-confirmation-feedback').map((r) => (r.body as any).confirmation);
      assert.deepEqual(confirmations, ['confirmed']);
    });

    it('confirmationBase, autoConfirm off and no application hook: denied with the reason, nothing installed, the action still waits', async () => {
      let kit: Kit | undefined;
      const s = await run({ hawkbit: { confirmationRequired: true }, policy: { autoConfirm: false }, onReady: (k) => (kit = k), until: (e) => e.at > 200_000 });
      const answers = kit!.server.reports('hawkbit-confirmation-feedback').map((r) => r.body as any);
      // Answered once; the polls after it (the root unchanged: 304) do not ask again.
      const polls = kit!.server.requests().filter((r) => r.method === 'GET' && /\/controller\/v1\/[^/]+$/.test(r.path.split('?')[0]));
      assert.ok(polls.length >= 3, JSON.stringify(polls.map((r) => r.status)));
      assert.equal(answers.length, 1, story(s));
      assert.deepEqual([answers[0].confirmation, answers[0].code], ['denied', 403]);
      assert.match(answers[0].details.join(' '), /autoConfirm is off and no application hook confirms/);
      // hawkBit keeps a denied action waiting for consent; the device took nothing.
      assert.equal(kit!.server.hawkbit.action('1')!.state, 'waiting-confirmation');
      assert.equal(kit!.server.requests().filter((r) => r.path.includes('/deploymentBase/') || r.path.includes('/artifacts/')).length, 0);
      assert.equal(s.versionAfter, '1.0.0+0');
    });

    it("confirmationBase, the application's hook in XS decides on the offer: it denies what autoConfirm would confirm, and confirms what autoConfirm off would deny", async () => {
      let kit: Kit | undefined;
      // autoConfirm (default true) would confirm; the hook confirms only 1.0.5+0.
      const denied = await run({ hawkbit: { confirmationRequired: true }, confirmVersions: ['1.0.5+0'], onReady: (k) => (kit = k), until: (e) => e.at > 200_000 });
      const no = kit!.server.reports('hawkbit-confirmation-feedback').map((r) => r.body as any);
      assert.equal(no.length, 1, story(denied));
      assert.equal(no[0].confirmation, 'denied');
      assert.match(no[0].details.join(' '), /the application declined 1\.1\.0\+0/, JSON.stringify(no[0]));
      assert.equal(kit!.server.hawkbit.action('1')!.state, 'waiting-confirmation');
      // autoConfirm off would deny; the hook confirms the offer's version: installed.
      const s = await run({ hawkbit: { confirmationRequired: true }, policy: { autoConfirm: false }, confirmVersions: ['1.1.0+0'], onReady: (k) => (kit = k) });
      assert.equal(s.outcome, 'running', story(s));
      assert.equal(s.versionAfter, '1.1.0+0');
      const yes = kit!.server.reports('hawkbit-confirmation-feedback').map((r) => r.body as any);
      assert.deepEqual(yes.map((b) => b.confirmation), ['confirmed'], story(s));
      assert.match(yes[0].details.join(' '), /confirmed 1\.1\.0\+0/);
      assert.deepEqual(finals(s).map((f) => f.what), ['closed/success']);
    });

    it('download, resumed and bounded progress feedback; a 200 to the resume is used from byte 0, not a lost attempt', async () => {
      let kit: Kit | undefined;
      // 4 KiB sectors (SMALL_SLOT_LAYOUT, a 4 KiB-sector board): resumes are at sector boundaries, and
      // this image is smaller than one of the named board's 64 KiB sectors (docs/flash-layout.md).
      const s = await run({
        layout: SMALL_SLOT_LAYOUT,
        policy: { downloadSegmentBytes: 4096 },
        faults: [{ kind: 'link-drop', at: 0.6 }],
        onReady: (k) => (kit = k),
        // A CDN that ignores Range: the resume gets the whole artifact with 200.
        onLog: (e) => void (e.event === 'download.failed' && kit!.server.misbehave({ ignoreRange: true, count: 1, path: '/artifacts/' })),
      });
      assert.equal(s.outcome, 'running', story(s));
      const executions = seen(s).map((r) => r.what.split('/')[0]);
      assert.equal(executions[0], 'download', story(s));
      assert.ok(executions.includes('resumed'), story(s));
      const progress = kit!.server.reports('hawkbit-feedback').filter((r) => (r.body as any).status.result.progress !== undefined && (r.body as any).status.execution === 'proceeding');
      assert.ok(progress.length >= 1 && progress.length <= 4, `progress feedback ${progress.length}: at most one per quarter`);
      assert.ok(s.logs.some((l) => l.event === 'download.restart'), story(s));
      assert.ok(!s.logs.some((l) => l.event === 'download.failed' && l.fields?.reason === 'range-ignored'), story(s));
      assert.ok(kit!.server.requests().some((r) => r.headers.range !== undefined && r.status === 200), 'the server did answer a ranged request with 200');
    });
  });
});
