/** The hawkBit backend over the Node HttpClient against the reference server: whole DDI cycles. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { HawkbitBackend } from '../../../src/backend/hawkbit.js';
import type { ReportPhase } from '../../../src/backend/backend.js';
import { hex } from '../../../src/util/bytes.js';
import { OtaError } from '../../../src/util/errors.js';
import { NodeHttpClient } from '../../../tools/node/node-http-client.js';
import { startReferenceServer, type ReferenceServer } from '../../../tools/server/index.js';

const IMAGE = new Uint8Array(4096).map((_, i) => (i * 3) & 0xff);

describe('hawkBit backend ↔ reference server', () => {
  let server: ReferenceServer;
  let backend: HawkbitBackend;
  const http = new NodeHttpClient({ timeoutMs: 5000 });
  beforeEach(async () => {
    server = await startReferenceServer({ port: 0, token: 'tok', pollingSleep: '00:00:30' });
    backend = new HawkbitBackend({ http, server: server.url, controllerId: 'dev42', token: 'tok', attributes: { board: 'devkit-a' } });
  });
  afterEach(async () => server.close());

  it('no deployment: only the poll interval', async () => {
    assert.deepEqual(await backend.poll({ version: '1.0.0' }), { pollIntervalS: 30 });
  });

  it('a whole successful cycle: offer, feedback per phase, action finished, 410 afterwards', async () => {
    server.hawkbit.requestConfigData();
    const { actionId } = server.hawkbit.createDeployment({ version: '1.1.0', image: IMAGE, extraArtifacts: [{ filename: 'notes.txt', bytes: new Uint8Array(3) }] });
    const { offer } = await backend.poll({ version: '1.0.0' });
    assert.equal(offer!.actionId, actionId);
    assert.equal(offer!.version, '1.1.0');
    assert.equal(hex(offer!.sha256!), createHash('sha256').update(IMAGE).digest('hex'));
    assert.match(offer!.url, /zephyr\.signed\.bin$/, 'the .bin, not the notes');
    assert.deepEqual(offer!.headers, { authorization: 'TargetToken tok' }, 'same origin: the download needs the token');
    const parts: Uint8Array[] = [];
    await http.request({ method: 'GET', url: offer!.url, headers: offer!.headers }, { onData: (c) => void parts.push(c.slice()) });
    assert.deepEqual(new Uint8Array(Buffer.concat(parts)), IMAGE);
    assert.deepEqual(server.reports('hawkbit-config-data').map((r) => r.body), [{ mode: 'merge', data: { board: 'devkit-a' } }]);

    const phases: ReportPhase[] = ['accepted', 'downloading', 'downloaded', 'staged', 'running'];
    for (const phase of phases) {
      await backend.report({ actionId, phase, version: '1.1.0', runningVersion: phase === 'running' ? '1.1.0' : '1.0.0', progress: phase === 'downloading' ? { done: 2048, total: 4096 } : undefined });
    }
    const feedback = server.reports('hawkbit-feedback');
    assert.deepEqual(feedback.map((r) => (r.body as any).status.execution), ['download', 'proceeding', 'downloaded', 'proceeding', 'closed']);
    assert.deepEqual((feedback[1].body as any).status.result, { finished: 'none', progress: { cnt: 2048, of: 4096 } });
    assert.equal(server.hawkbit.action(actionId)!.state, 'finished');
    assert.deepEqual(await backend.poll({ version: '1.1.0' }), { pollIntervalS: 30 });
    await assert.rejects(backend.report({ actionId, phase: 'running', version: '1.1.0', runningVersion: '1.1.0' }), (e: unknown) => e instanceof OtaError && e.reason === 'backend-gone');
  });

  it('a failed cycle closes the action as failed', async () => {
    const { actionId } = server.hawkbit.createDeployment({ version: '1.1.0', image: IMAGE });
    await backend.poll({ version: '1.0.0' });
    await backend.report({ actionId, phase: 'reverted', version: '1.1.0', runningVersion: '1.0.0', reason: 'health-check-failed' });
    assert.equal(server.hawkbit.action(actionId)!.state, 'failed');
  });

  it('cancel: the poll names the action, the confirmation closes it', async () => {
    const { actionId } = server.hawkbit.createDeployment({ version: '1.1.0', image: IMAGE });
    await backend.poll({ version: '1.0.0' });
    server.hawkbit.cancel(actionId);
    const result = await backend.poll({ version: '1.0.0' });
    assert.deepEqual(result, { pollIntervalS: 30, cancelActionId: actionId });
    await backend.acknowledgeCancel(actionId, true);
    assert.equal(server.hawkbit.action(actionId)!.state, 'canceled');
    assert.deepEqual((server.reports('hawkbit-cancel-feedback')[0].body as any).status, { execution: 'closed', result: { finished: 'success' }, details: ['cancelled: update stopped'] });
  });

  it('a rejected cancel leaves the action canceling (hawkBit: WARNING)', async () => {
    const { actionId } = server.hawkbit.createDeployment({ version: '1.1.0', image: IMAGE });
    server.hawkbit.cancel(actionId);
    await backend.poll({ version: '1.0.0' });
    await backend.acknowledgeCancel(actionId, false);
    assert.equal(server.hawkbit.action(actionId)!.state, 'canceling');
  });

  it('the root is revalidated by ETag: an unchanged root is a 304', async () => {
    server.hawkbit.createDeployment({ version: '1.1.0', image: IMAGE });
    const first = await backend.poll({ version: '1.0.0' });
    const second = await backend.poll({ version: '1.0.0' });
    assert.deepEqual(second, first);
    const roots = server.requests().filter((r) => r.path === '/DEFAULT/controller/v1/dev42');
    assert.deepEqual(roots.map((r) => r.status), [200, 304]);
    assert.ok(roots.every((r) => r.headers.authorization === 'TargetToken tok'));
  });

  it('an expired pre-signed artifact URL: refreshOffer gets a fresh one', async () => {
    const { actionId } = server.hawkbit.createDeployment({ version: '1.1.0', image: IMAGE, expiresInS: 300 });
    const { offer } = await backend.poll({ version: '1.0.0' });
    server.clock.advance(301);
    assert.equal((await http.request({ method: 'GET', url: offer!.url }, { onData: () => undefined })).status, 403);
    const fresh = await backend.refreshOffer(actionId, { version: '1.0.0' });
    assert.notEqual(fresh!.url, offer!.url);
    const parts: Uint8Array[] = [];
    const head = await http.request({ method: 'GET', url: fresh!.url, range: { start: 1000 } }, { onData: (c) => void parts.push(c.slice()) });
    assert.equal(head.status, 206);
    assert.deepEqual(new Uint8Array(Buffer.concat(parts)), IMAGE.subarray(1000));
  });

  it('server trouble: 503 with Retry-After, then recovery', async () => {
    server.misbehave({ status: 503, retryAfterS: 120 });
    await assert.rejects(backend.poll({ version: '1.0.0' }), (e: any) => e.reason === 'backend-unavailable' && e.retryAfterS === 120);
    assert.deepEqual(await backend.poll({ version: '1.0.0' }), { pollIntervalS: 30 });
  });

  it('a bad token is backend-rejected', async () => {
    const wrong = new HawkbitBackend({ http, server: server.url, controllerId: 'dev42', token: 'nope' });
    await assert.rejects(wrong.poll({ version: '1' }), (e: unknown) => e instanceof OtaError && e.reason === 'backend-rejected');
  });
});
