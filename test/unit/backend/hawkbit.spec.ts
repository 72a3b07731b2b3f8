/**
 * hawkBit DDI backend against scripted responses shaped like hawkBit's own examples
 * (DdiControllerBase / DdiDeploymentBase / DdiCancel, see /work/shared/reference/backend-apis.md
 * §3a and https://eclipse.dev/hawkbit/rest-api/ddi/), and against hostile variants of them.
 */
import assert from 'node:assert/strict';
import { HAWKBIT_FEEDBACK, HawkbitBackend, parsePollingSleep } from '../../../src/backend/hawkbit.js';
import { matchFilename } from '../../../src/backend/artifact-select.js';
import { BackendError, JSON_BODY_MAX } from '../../../src/backend/json-http.js';
import type { ReportPhase } from '../../../src/backend/backend.js';
import { hex } from '../../../src/util/bytes.js';
import { OtaError } from '../../../src/util/errors.js';
import { ScriptedHttp } from '../../support/scripted-http.js';

const SERVER = 'https://hawkbit.example';
const ROOT = `${SERVER}/DEFAULT/controller/v1/dev42`;
const DEPLOY = `${ROOT}/deploymentBase/8?c=-2127183556`;
const SHA = '8040e6a5b1bd4e8bbd25ad4a7d47e0d1df2a5a06b1ba6bda2b43e0d5bb0cf6dd';
const AUTH = 'TargetToken s3cret';

function rootWith(links: Record<string, unknown> = {}, sleep: unknown = '00:05:00'): object {
  return { config: { polling: { sleep } }, _links: links };
}

function deployment(): any {
  return {
    id: '8',
    deployment: {
      download: 'forced',
      update: 'attempt',
      maintenanceWindow: 'available',
      chunks: [
        {
          part: 'bApp',
          version: '1.0.91',
          name: 'oneapplication',
          artifacts: [
            { filename: 'notes.txt', hashes: { sha256: SHA }, size: 10, _links: { download: { href: 'https://cdn.example/notes.txt' } } },
            {
              filename: 'zephyr.signed.bin',
              hashes: { sha1: 'e3ba', md5: '0200', sha256: SHA },
              size: 262144,
              _links: {
                download: { href: 'https://cdn.example/DEFAULT/controller/v1/dev42/softwaremodules/22/artifacts/zephyr.signed.bin' },
                'download-http': { href: 'http://cdn.example/DEFAULT/controller/v1/dev42/softwaremodules/22/artifacts/zephyr.signed.bin' },
              },
            },
          ],
        },
      ],
    },
  };
}

function backend(http: ScriptedHttp, extra: Partial<ConstructorParameters<typeof HawkbitBackend>[0]> = {}): HawkbitBackend {
  return new HawkbitBackend({ http, server: SERVER, controllerId: 'dev42', token: 's3cret', ...extra });
}

async function rejectsWith(promise: Promise<unknown>, reason: string, detail?: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof OtaError, `not an OtaError: ${String(error)}`);
    assert.equal(error.reason, reason, error.message);
    if (detail) assert.match(error.detail ?? '', detail);
    return true;
  });
}

describe('hawkBit DDI backend', () => {
  describe('polling sleep (HH:MM:SS)', () => {
    for (const [text, seconds] of [
      ['12:00:00', 43200],
      ['00:05:00', 300],
      ['00:00:30', 30],
      ['23:59:59', 86399],
      ['00:00:00', 0],
    ] as const) {
      it(`'${text}' is ${seconds} s`, () => assert.equal(parsePollingSleep(text), seconds));
    }
    for (const bad of ['1:00:00', '00:60:00', '00:00:60', '12:00', '12:00:00.5', 'aa:bb:cc', ' 12:00:00', '', 3600, null]) {
      it(`rejects ${JSON.stringify(bad)} naming the field`, () =>
        assert.throws(() => parsePollingSleep(bad), (e: unknown) => e instanceof OtaError && e.reason === 'backend-protocol' && /config\.polling\.sleep/.test(e.message)));
    }
  });

  it('matches artifact filename patterns', () => {
    assert.ok(matchFilename('*.bin', 'zephyr.signed.bin'));
    assert.ok(matchFilename('*.signed.bin', 'zephyr.signed.bin'));
    assert.ok(matchFilename('zephyr*bin', 'zephyr.signed.bin'));
    assert.ok(matchFilename('app.bin', 'app.bin'));
    assert.ok(!matchFilename('app.bin', 'xapp.bin'));
    assert.ok(!matchFilename('*.bin', 'zephyr.bin.txt'));
    assert.ok(!matchFilename('a*a', 'a'));
  });

  it('polls the root with the target token and no deployment', async () => {
    const http = new ScriptedHttp().on('GET', ROOT, { status: 200, body: rootWith({}, '12:00:00') });
    const result = await backend(http).poll({ version: '1.0.0' });
    assert.deepEqual(result, { pollIntervalS: 43200 });
    assert.equal(http.sent.length, 1);
    assert.equal(http.sent[0].headers?.authorization, AUTH);
  });

  it('accepts a root without _links', async () => {
    const http = new ScriptedHttp().on('GET', ROOT, { status: 200, body: { config: { polling: { sleep: '00:01:00' } } } });
    assert.deepEqual(await backend(http).poll({ version: '1.0.0' }), { pollIntervalS: 60 });
  });

  it('follows deploymentBase as given and picks the MCUboot artifact', async () => {
    const http = new ScriptedHttp()
      .on('GET', ROOT, { status: 200, body: rootWith({ deploymentBase: { href: DEPLOY } }) })
      .on('GET', DEPLOY, { status: 200, body: deployment() });
    const result = await backend(http).poll({ version: '1.0.0' });
    assert.equal(http.sent[1].url, DEPLOY, 'the href with its ?c= marker, unchanged');
    assert.equal(http.sent[1].headers?.authorization, AUTH);
    const offer = result.offer!;
    assert.equal(offer.actionId, '8');
    assert.equal(offer.version, '1.0.91');
    assert.equal(offer.size, 262144);
    assert.equal(hex(offer.sha256!), SHA);
    assert.equal(offer.url, 'https://cdn.example/DEFAULT/controller/v1/dev42/softwaremodules/22/artifacts/zephyr.signed.bin');
    assert.equal(offer.download, 'forced');
    assert.equal(offer.update, 'attempt');
    assert.equal(offer.maintenanceWindow, 'available');
    // DDI: download links may be on another host ("link-to-cdn.com/.../controller/CONTROLLER_ID/softwaremodules/...")
    // and need the target's credentials; a link that is not a DDI resource (pre-signed) gets none.
    assert.equal(offer.headers?.authorization, AUTH, 'a DDI download link on another host gets the token');
    assert.equal(result.pollIntervalS, 300);
    const strict = await backend(http, { credentials: 'server-origin' }).poll({ version: '1.0.0' });
    assert.equal(strict.offer!.headers, undefined, "credentials 'server-origin': the token stays on the DDI host");
  });

  it('takes download-http when configured for a TLS-less modem', async () => {
    const http = new ScriptedHttp()
      .on('GET', ROOT, { status: 200, body: rootWith({ deploymentBase: { href: DEPLOY } }) })
      .on('GET', DEPLOY, { status: 200, body: deployment() });
    const { offer } = await backend(http, { preferPlainHttp: true }).poll({ version: '1.0.0' });
    assert.match(offer!.url, /^http:\/\/cdn/);
  });

  it('selects the artifact by a configured pattern, or refuses when none matches', async () => {
    const dep = deployment();
    dep.deployment.chunks[0].artifacts.push({ filename: 'app.signed.bin', size: 4096, _links: { download: { href: 'https://cdn.example/app' } } });
    const http = new ScriptedHttp()
      .on('GET', ROOT, { status: 200, body: rootWith({ deploymentBase: { href: DEPLOY } }) })
      .on('GET', DEPLOY, { status: 200, body: dep });
    const { offer } = await backend(http, { artifactPattern: 'app.*' }).poll({ version: '1.0.0' });
    assert.equal(offer!.url, 'https://cdn.example/app');
    assert.equal(offer!.sha256, undefined, 'no hashes: no sha256');
    http.on('POST', `${ROOT}/deploymentBase/8/feedback`, { status: 200 });
    const none = await backend(http, { artifactPattern: '*.hex' }).poll({ version: '1.0.0' });
    assert.equal(none.offer, undefined);
    const feedback = http.sent.filter((r) => r.method === 'POST').map((r) => r.json as any);
    assert.equal(feedback.length, 1);
    assert.deepEqual([feedback[0].status.execution, feedback[0].status.result.finished], ['closed', 'failure']);
    assert.match(feedback[0].status.details.join(' '), /no artifact matches \*\.hex/);
  });

  it('reads a cancellation: cancelAction → stopId', async () => {
    const cancel = `${ROOT}/cancelAction/11`;
    const http = new ScriptedHttp()
      .on('GET', ROOT, { status: 200, body: rootWith({ cancelAction: { href: cancel } }) })
      .on('GET', cancel, { status: 200, body: { id: '11', cancelAction: { stopId: '11' } } });
    const result = await backend(http).poll({ version: '1.0.0' });
    assert.deepEqual(result, { pollIntervalS: 300, cancelActionId: '11' });
  });

  it("the agent's cancel check (pollCancel) reads the root and the cancelAction, never the deploymentBase", async () => {
    const cancel = `${ROOT}/cancelAction/11`;
    const base = `${ROOT}/deploymentBase/8?c=1`;
    const http = new ScriptedHttp()
      .on('GET', ROOT, { status: 200, body: rootWith({ deploymentBase: { href: base } }) })
      .on('GET', base, { status: 200, body: deployment() });
    const b = backend(http);
    assert.deepEqual(await b.pollCancel({ version: '1.0.0' }), { pollIntervalS: 300 });
    assert.deepEqual(http.sent.map((r) => r.url), [ROOT], 'one request: the root');
    const cancelled = new ScriptedHttp()
      .on('GET', ROOT, { status: 200, body: rootWith({ cancelAction: { href: cancel }, deploymentBase: { href: base } }) })
      .on('GET', cancel, { status: 200, body: { id: '11', cancelAction: { stopId: '11' } } });
    assert.deepEqual(await backend(cancelled).pollCancel({ version: '1.0.0' }), { pollIntervalS: 300, cancelActionId: '11' });
    assert.deepEqual(cancelled.sent.map((r) => r.url), [ROOT, cancel]);
  });

  it('revalidates the root with If-None-Match and reuses the answer on 304', async () => {
    let calls = 0;
    const http = new ScriptedHttp()
      .on('GET', ROOT, (req) => {
        calls++;
        return req.headers?.['if-none-match'] === '"r1"' ? { status: 304 } : { status: 200, headers: { ETag: '"r1"' }, body: rootWith({ deploymentBase: { href: DEPLOY } }) };
      })
      .on('GET', DEPLOY, { status: 200, body: deployment() });
    const b = backend(http);
    const first = await b.poll({ version: '1.0.0' });
    const second = await b.poll({ version: '1.0.0' });
    assert.deepEqual(second, first);
    assert.equal(calls, 2);
    assert.equal(http.sent.length, 3, 'root, deployment, root (304): the deployment is not fetched again');
  });

  describe('feedback bodies (DdiActionFeedback)', () => {
    const cases: [ReportPhase, string, string][] = [
      ['accepted', 'download', 'none'],
      ['downloading', 'proceeding', 'none'],
      ['resumed', 'resumed', 'none'],
      ['downloaded', 'downloaded', 'none'],
      ['staged', 'proceeding', 'none'],
      ['running', 'closed', 'success'],
      ['failed', 'closed', 'failure'],
      ['reverted', 'closed', 'failure'],
      ['waiting', 'scheduled', 'none'],
      ['download-only', 'downloaded', 'success'],
    ];
    for (const [phase, execution, finished] of cases) {
      it(`${phase} → ${execution}/${finished}`, async () => {
        const url = `${ROOT}/deploymentBase/8/feedback`;
        const http = new ScriptedHttp().on('POST', url, { status: 200 });
        const progress = phase === 'downloading' || phase === 'resumed' ? { done: 65536, total: 262144 } : undefined;
        const reason = phase === 'failed' || phase === 'reverted' ? ('bad-signature' as const) : undefined;
        await backend(http).report({ actionId: '8', phase, version: '1.0.91', runningVersion: '1.0.90', progress, reason, detail: reason && 'ECDSA verify failed' });
        const sent = http.sent[0];
        assert.equal(sent.url, url);
        assert.equal(sent.method, 'POST');
        assert.equal(sent.headers?.authorization, AUTH);
        assert.equal(sent.headers?.['content-type'], 'application/json');
        const details = [`${phase}: target 1.0.91, running 1.0.90`];
        if (reason) details.push('reason: bad-signature', 'ECDSA verify failed');
        if (progress) details.push('65536 of 262144 bytes');
        assert.deepEqual(sent.json, {
          id: '8',
          status: { execution, result: progress ? { finished, progress: { cnt: 65536, of: 262144 } } : { finished }, details },
        });
      });
    }

    it('success is reported for running and for a finished download-only action only', () => {
      const successes = Object.entries(HAWKBIT_FEEDBACK).filter(([, v]) => v.finished === 'success').map(([k]) => k);
      assert.deepEqual(successes.sort(), ['download-only', 'running']);
    });

    it('cancelled is the confirmation on cancelAction (closed/success), not deploymentBase feedback', async () => {
      const url = `${ROOT}/cancelAction/8/feedback`;
      const http = new ScriptedHttp().on('POST', url, { status: 200 });
      await backend(http).report({ actionId: '8', phase: 'cancelled', version: '1.0.91', runningVersion: '1.0.90', reason: 'cancelled' });
      assert.equal(http.sent.length, 1);
      assert.equal(http.sent[0].url, url);
      assert.deepEqual(http.sent[0].json, { id: '8', status: { execution: 'closed', result: { finished: 'success' }, details: ['cancelled: update stopped'] } });
    });
  });

  it('confirms or rejects a cancellation on cancelAction feedback', async () => {
    const url = `${ROOT}/cancelAction/11/feedback`;
    const http = new ScriptedHttp().on('POST', url, { status: 200 });
    const b = backend(http);
    await b.acknowledgeCancel('11', true);
    await b.acknowledgeCancel('11', false);
    assert.deepEqual(http.sent[0].json, { id: '11', status: { execution: 'closed', result: { finished: 'success' }, details: ['cancelled: update stopped'] } });
    assert.deepEqual(http.sent[1].json, {
      id: '11',
      status: { execution: 'rejected', result: { finished: 'none' }, details: ['cancel rejected: the update cannot be stopped now'] },
    });
  });

  it('410 Gone on feedback is backend-gone', async () => {
    const http = new ScriptedHttp().on('POST', `${ROOT}/deploymentBase/8/feedback`, { status: 410, body: { message: 'gone' } });
    await rejectsWith(backend(http).report({ actionId: '8', phase: 'running', version: '1', runningVersion: '1' }), 'backend-gone', /410/);
  });

  it('maps statuses: 503 + Retry-After, 429, 401, 500', async () => {
    const http = new ScriptedHttp().on('GET', ROOT, { status: 503, headers: { 'Retry-After': '30' } });
    await assert.rejects(backend(http).poll({ version: '1' }), (e: unknown) => e instanceof BackendError && e.reason === 'backend-unavailable' && e.retryAfterS === 30 && e.status === 503);
    http.on('GET', ROOT, { status: 429, headers: { 'Retry-After': 'Wed, 21 Oct 2026 07:28:00 GMT' } });
    await assert.rejects(backend(http).poll({ version: '1' }), (e: unknown) => e instanceof BackendError && e.reason === 'backend-unavailable' && e.retryAfterS === undefined);
    http.on('GET', ROOT, { status: 503, headers: { 'Retry-After': '99999999' } });
    await assert.rejects(backend(http).poll({ version: '1' }), (e: unknown) => e instanceof BackendError && e.retryAfterS === 86400);
    http.on('GET', ROOT, { status: 401 });
    await rejectsWith(backend(http).poll({ version: '1' }), 'backend-rejected');
    http.on('GET', ROOT, { status: 500 });
    await rejectsWith(backend(http).poll({ version: '1' }), 'backend-unavailable');
  });

  describe('configData', () => {
    it('PUTs the attributes once, mode merge, when the server links configData', async () => {
      const cfg = `${ROOT}/configData`;
      let linked = true;
      const http = new ScriptedHttp().on('GET', ROOT, () => ({ status: 200, body: rootWith(linked ? { configData: { href: cfg } } : {}) })).on('PUT', cfg, { status: 200 });
      const b = backend(http, { attributes: { hwRevision: '2', modem: 'SIM7080G' } });
      await b.poll({ version: '1' });
      await b.poll({ version: '1' });
      const puts = () => http.sent.filter((r) => r.method === 'PUT');
      assert.equal(puts().length, 1, 'once, though the link is still there');
      assert.deepEqual(puts()[0].json, { mode: 'merge', data: { hwRevision: '2', modem: 'SIM7080G' } });
      assert.equal(puts()[0].headers?.authorization, AUTH);
      linked = false;
      await b.poll({ version: '1' });
      linked = true;
      await b.poll({ version: '1' });
      assert.equal(puts().length, 2, 'asked again after the server stopped asking');
    });

    it('a failed configData PUT does not fail the poll, and is retried', async () => {
      const cfg = `${ROOT}/configData`;
      const logs: string[] = [];
      const http = new ScriptedHttp().on('GET', ROOT, { status: 200, body: rootWith({ configData: { href: cfg } }) }).on('PUT', cfg, { status: 500 });
      const b = backend(http, { attributes: { a: 'b' }, log: { log: (_l, event) => logs.push(event) } });
      assert.deepEqual(await b.poll({ version: '1' }), { pollIntervalS: 300 });
      await b.poll({ version: '1' });
      assert.equal(http.sent.filter((r) => r.method === 'PUT').length, 2);
      assert.deepEqual(logs, ['backend.configData.failed', 'backend.configData.failed']);
    });
  });

  it('refreshOffer fetches the deployment again, undefined once it is gone', async () => {
    let url = 'https://cdn.example/a?expires=1';
    const http = new ScriptedHttp()
      .on('GET', ROOT, { status: 200, body: rootWith({ deploymentBase: { href: DEPLOY } }) })
      .on('GET', DEPLOY, () => {
        const d = deployment();
        d.deployment.chunks[0].artifacts[1]._links = { download: { href: url } };
        return { status: 200, body: d };
      });
    const b = backend(http);
    await b.poll({ version: '1' });
    url = 'https://cdn.example/a?expires=2';
    assert.equal((await b.refreshOffer('8', { version: '1' }))?.url, url);
    assert.equal(await b.refreshOffer('9', { version: '1' }), undefined, 'another action id');
    http.on('GET', DEPLOY, { status: 410 });
    assert.equal(await b.refreshOffer('8', { version: '1' }), undefined);
  });

  describe('hostile answers → typed errors naming the field', () => {
    const mutations: [string, (d: any) => void, RegExp][] = [
      ['id missing', (d) => delete d.id, /deploymentBase\.id: expected string/],
      ['id an object', (d) => (d.id = {}), /deploymentBase\.id/],
      ['deployment a string', (d) => (d.deployment = 'x'), /deployment: expected object, got string/],
      ['download unknown', (d) => (d.deployment.download = 'now'), /deployment\.download: 'now' not one of skip\|attempt\|forced/],
      ['update a number', (d) => (d.deployment.update = 1), /deployment\.update/],
      ['maintenanceWindow bad', (d) => (d.deployment.maintenanceWindow = 'later'), /deployment\.maintenanceWindow/],
      ['chunks not an array', (d) => (d.deployment.chunks = {}), /deployment\.chunks: expected array, got object/],
      ['chunks too many', (d) => (d.deployment.chunks = new Array(9).fill(d.deployment.chunks[0])), /deployment\.chunks: 9 items > 8/],
      ['chunk null', (d) => (d.deployment.chunks = [null]), /deployment\.chunks\[0\]: expected object, got null/],
      ['artifacts missing (optional: then no image)', (d) => delete d.deployment.chunks[0].artifacts, /deployment\.chunks\[\]\.artifacts: no artifact matches \*\.bin/],
      ['ftp:// link', (d) => (d.deployment.chunks[0].artifacts[1]._links = { download: { href: 'ftp://cdn.example/app.bin' } }), /_links\.download\.href: not an absolute http\(s\) URL/],
      ['filename a number', (d) => (d.deployment.chunks[0].artifacts[1].filename = 7), /artifacts\[1\]\.filename: expected string, got number/],
      ['version missing', (d) => delete d.deployment.chunks[0].version, /deployment\.chunks\[0\]\.version/],
      ['size a string', (d) => (d.deployment.chunks[0].artifacts[1].size = '262144'), /artifacts\[1\]\.size: expected integer, got string/],
      ['size negative', (d) => (d.deployment.chunks[0].artifacts[1].size = -1), /artifacts\[1\]\.size: -1 not in/],
      ['size fractional', (d) => (d.deployment.chunks[0].artifacts[1].size = 1.5), /artifacts\[1\]\.size: expected integer/],
      ['sha256 short', (d) => (d.deployment.chunks[0].artifacts[1].hashes.sha256 = 'abcd'), /hashes\.sha256: not 64 hex digits/],
      ['sha256 not hex', (d) => (d.deployment.chunks[0].artifacts[1].hashes.sha256 = 'g'.repeat(64)), /hashes\.sha256: not 64 hex digits/],
      ['hashes an array', (d) => (d.deployment.chunks[0].artifacts[1].hashes = []), /artifacts\[1\]\.hashes: expected object, got array/],
      ['links missing', (d) => delete d.deployment.chunks[0].artifacts[1]._links, /artifacts\[1\]\._links: expected object/],
      ['no download link', (d) => (d.deployment.chunks[0].artifacts[1]._links = { md5sum: { href: 'https://x/y' } }), /no download or download-http link/],
      ['href not a URL', (d) => (d.deployment.chunks[0].artifacts[1]._links = { download: { href: 'file:///etc/passwd' } }), /_links\.download\.href: not an absolute http\(s\) URL/],
      ['href with a newline', (d) => (d.deployment.chunks[0].artifacts[1]._links = { download: { href: 'https://x/\r\nHost: y' } }), /_links\.download\.href/],
      ['href too long', (d) => (d.deployment.chunks[0].artifacts[1]._links = { download: { href: 'https://x/' + 'a'.repeat(3000) } }), /_links\.download\.href: length/],
    ];
    // Finding 2 (issue 13): never a silent stall. The deployment is answered closed/failure once,
    // the reason naming the field; the poll itself succeeds without an offer.
    for (const [name, mutate, detail] of mutations) {
      it(`${name}: answered closed/failure once, naming the field`, async () => {
        const d = deployment();
        mutate(d);
        const http = new ScriptedHttp()
          .on('GET', ROOT, { status: 200, body: rootWith({ deploymentBase: { href: DEPLOY } }) })
          .on('GET', DEPLOY, { status: 200, body: d })
          .on('POST', `${ROOT}/deploymentBase/8/feedback`, { status: 200 });
        const b = backend(http);
        assert.equal((await b.poll({ version: '1' })).offer, undefined);
        assert.equal((await b.poll({ version: '1' })).offer, undefined);
        const posts = http.sent.filter((r) => r.method === 'POST');
        assert.equal(posts.length, 1, 'answered once');
        const status = (posts[0].json as any).status;
        assert.equal((posts[0].json as any).id, '8');
        assert.deepEqual([status.execution, status.result.finished], ['closed', 'failure']);
        assert.match(status.details.join(' '), detail);
      });
    }

    const roots: [string, unknown, RegExp][] = [
      ['root an array', [], /poll root: expected object, got array/],
      ['config missing', { _links: {} }, /config: expected object/],
      ['polling missing', { config: {} }, /config\.polling: expected object/],
      ['sleep a number', rootWith({}, 300), /config\.polling\.sleep: expected string/],
      ['_links a string', { config: { polling: { sleep: '00:01:00' } }, _links: 'x' }, /_links: expected object, got string/],
      ['deploymentBase without href', rootWith({ deploymentBase: {} }), /_links\.deploymentBase\.href: expected string, got undefined/],
      ['cancelAction href a number', rootWith({ cancelAction: { href: 5 } }), /_links\.cancelAction\.href/],
    ];
    for (const [name, body, detail] of roots) {
      it(name, async () => {
        const http = new ScriptedHttp().on('GET', ROOT, { status: 200, body: body as object });
        await rejectsWith(backend(http).poll({ version: '1' }), 'backend-protocol', detail);
      });
    }

    it('cancelAction without stopId', async () => {
      const cancel = `${ROOT}/cancelAction/11`;
      const http = new ScriptedHttp().on('GET', ROOT, { status: 200, body: rootWith({ cancelAction: { href: cancel } }) }).on('GET', cancel, { status: 200, body: { id: '11', cancelAction: {} } });
      await rejectsWith(backend(http).poll({ version: '1' }), 'backend-protocol', /cancelAction\.cancelAction\.stopId/);
    });

    it('not JSON', async () => {
      const http = new ScriptedHttp().on('GET', ROOT, { status: 200, body: '<html>maintenance</html>' });
      await rejectsWith(backend(http).poll({ version: '1' }), 'backend-protocol', /not JSON/);
    });

    it('an empty 200', async () => {
      const http = new ScriptedHttp().on('GET', ROOT, { status: 200 });
      await rejectsWith(backend(http).poll({ version: '1' }), 'backend-protocol', /empty body/);
    });

    it('a body announced larger than the cap is refused before any byte', async () => {
      const huge = new Uint8Array(JSON_BODY_MAX + 1).fill(0x20);
      const http = new ScriptedHttp().on('GET', ROOT, { status: 200, body: huge });
      await rejectsWith(backend(http).poll({ version: '1' }), 'body-too-large', new RegExp(`Content-Length ${JSON_BODY_MAX + 1} > ${JSON_BODY_MAX}`));
    });

    it('a chunked body growing past the cap is refused', async () => {
      const huge = '{"config":{"polling":{"sleep":"00:01:00"}},"pad":"' + 'x'.repeat(JSON_BODY_MAX) + '"}';
      const http = new ScriptedHttp().on('GET', ROOT, { status: 200, body: huge, noLength: true, chunkSize: 1000 });
      await rejectsWith(backend(http).poll({ version: '1' }), 'body-too-large', new RegExp(`over ${JSON_BODY_MAX} bytes`));
    });

    it('deep nesting is backend-protocol, not a crash', async () => {
      const deep = '['.repeat(4000) + ']'.repeat(4000);
      const http = new ScriptedHttp().on('GET', ROOT, { status: 200, body: deep });
      await rejectsWith(backend(http).poll({ version: '1' }), 'backend-protocol');
    });
  });

  it('refuses a bad configuration at construction', () => {
    const http = new ScriptedHttp();
    for (const bad of [
      { server: 'hawkbit.example' },
      { controllerId: 'a/b' },
      { tenant: '' },
      { token: 'has space' },
      { tokenScheme: 'Bearer' as never },
      { artifactPattern: '' },
      { bodyMax: 10 },
    ]) {
      assert.throws(() => backend(http, bad), (e: unknown) => e instanceof OtaError && e.reason === 'config-invalid', JSON.stringify(bad));
    }
  });

  it('never sends the token to a link on another origin', async () => {
    const evil = 'https://evil.example/DEFAULT/controller/v1/dev42/deploymentBase/8';
    const http = new ScriptedHttp()
      .on('GET', ROOT, { status: 200, body: rootWith({ deploymentBase: { href: evil } }) })
      .on('GET', evil, { status: 200, body: deployment() });
    await backend(http).poll({ version: '1' });
    assert.equal(http.sent[0].headers?.authorization, AUTH);
    assert.equal(http.sent[1].url, evil);
    assert.equal(http.sent[1].headers?.authorization, undefined);
  });

  it('uses GatewayToken when configured, and no header when anonymous', async () => {
    const http = new ScriptedHttp().on('GET', ROOT, { status: 200, body: rootWith() });
    await backend(http, { tokenScheme: 'GatewayToken' }).poll({ version: '1' });
    await new HawkbitBackend({ http, server: SERVER, controllerId: 'dev42' }).poll({ version: '1' });
    assert.equal(http.sent[0].headers?.authorization, 'GatewayToken s3cret');
    assert.equal(http.sent[1].headers?.authorization, undefined);
  });
});
