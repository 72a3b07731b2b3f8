/**
 * The backends on the device's engine: the hawkBit DDI and static manifest backends run inside XS
 * (xsnap), their HTTP crossing to the host, against the reference server. Bodies stay small here;
 * the modem's HTTP path is tested in its own suite.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { NodeHttpClient } from '../../tools/node/node-http-client.js';
import { startReferenceServer, type ReferenceServer } from '../../tools/server/index.js';
import { GuestError, XsSession } from '../../tools/xs/session.js';
import { serveHttp } from '../../tools/xs/serve-http.js';

const IMAGE = new Uint8Array(3000).map((_, i) => (i * 11 + 1) & 0xff);
const SHA = createHash('sha256').update(IMAGE).digest('hex');
const SUM = IMAGE.reduce((a, b) => a + b, 0);

describe('backends on XS (xsnap)', function () {
  let session: XsSession;
  let server: ReferenceServer;

  beforeEach(async () => {
    server = await startReferenceServer({ port: 0, token: 'tok', pollingSleep: '00:10:00' });
    session = await XsSession.start({ bundle: 'backend' });
    serveHttp(session, new NodeHttpClient({ timeoutMs: 5000 }), { chunkMax: 512 });
  });
  afterEach(async () => {
    await session?.close();
    await server?.close();
  });

  it('hawkBit: poll, offer, feedback, cancel, all from inside XS', async () => {
    await session.call('hawkbitInit', { server: server.url, controllerId: 'dev42', token: 'tok', attributes: { board: 'devkit-a' } });
    assert.deepEqual(await session.call('hawkbitPoll', { version: '1.0.0' }), { pollIntervalS: 600 });

    server.hawkbit.requestConfigData();
    const { actionId } = server.hawkbit.createDeployment({ version: '1.1.0', image: IMAGE, update: 'attempt' });
    const result = await session.call<any>('hawkbitPoll', { version: '1.0.0' });
    assert.equal(result.offer.actionId, actionId);
    assert.equal(result.offer.version, '1.1.0');
    assert.equal(result.offer.sha256, SHA);
    assert.equal(result.offer.size, IMAGE.length);
    assert.equal(result.offer.update, 'attempt');
    assert.deepEqual(server.reports('hawkbit-config-data')[0].body, { mode: 'merge', data: { board: 'devkit-a' } });

    const got = await session.call<any>('fetch', { url: result.offer.url, headers: result.offer.headers, start: 1000 });
    assert.equal(got.status, 206);
    assert.deepEqual(got.range, { start: 1000, end: 2999, total: 3000 });
    assert.equal(got.sum, IMAGE.subarray(1000).reduce((a, b) => a + b, 0));

    await session.call('hawkbitReport', { actionId, phase: 'downloading', version: '1.1.0', runningVersion: '1.0.0', progress: { done: 3000, total: 3000 } });
    await session.call('hawkbitReport', { actionId, phase: 'running', version: '1.1.0', runningVersion: '1.1.0' });
    const feedback = server.reports('hawkbit-feedback').map((r) => r.body);
    assert.deepEqual(feedback[0], {
      id: actionId,
      status: { execution: 'proceeding', result: { finished: 'none', progress: { cnt: 3000, of: 3000 } }, details: ['downloading: target 1.1.0, running 1.0.0', '3000 of 3000 bytes'] },
    });
    assert.deepEqual((feedback[1] as any).status.result, { finished: 'success' });
    assert.equal(server.hawkbit.action(actionId)!.state, 'finished');

    // 410 crosses from XS with its reason
    await assert.rejects(session.call('hawkbitReport', { actionId, phase: 'running', version: '1.1.0', runningVersion: '1.1.0' }), (e: unknown) => e instanceof GuestError && e.reason === 'backend-gone');

    const second = server.hawkbit.createDeployment({ version: '1.2.0', image: IMAGE });
    await session.call('hawkbitPoll', { version: '1.1.0' });
    server.hawkbit.cancel(second.actionId);
    assert.deepEqual(await session.call('hawkbitPoll', { version: '1.1.0' }), { pollIntervalS: 600, cancelActionId: second.actionId });
    await session.call('hawkbitCancel', { actionId: second.actionId, stopped: true });
    assert.equal(server.hawkbit.action(second.actionId)!.state, 'canceled');
  });

  it('hawkBit: hostile and failing servers give typed errors in XS', async () => {
    await session.call('hawkbitInit', { server: server.url, controllerId: 'dev42', token: 'tok' });
    server.misbehave({ status: 503, retryAfterS: 60 });
    await assert.rejects(session.call('hawkbitPoll', { version: '1' }), (e: unknown) => e instanceof GuestError && e.reason === 'backend-unavailable' && /retry after 60 s/.test(e.message));
    await session.call('hawkbitInit', { server: server.url, controllerId: 'dev42', token: 'wrong' });
    await assert.rejects(session.call('hawkbitPoll', { version: '1' }), (e: unknown) => e instanceof GuestError && e.reason === 'backend-rejected');
  });

  it('hawkBit: a truncated artifact body arrives in XS as body-truncated', async () => {
    await session.call('hawkbitInit', { server: server.url, controllerId: 'dev42', token: 'tok' });
    server.hawkbit.createDeployment({ version: '1.1.0', image: IMAGE });
    const { offer } = await session.call<any>('hawkbitPoll', { version: '1.0.0' });
    server.misbehave({ truncate: 700 });
    await assert.rejects(session.call('fetch', { url: offer.url, headers: offer.headers }), (e: unknown) => e instanceof GuestError && e.reason === 'body-truncated');
  });

  it('manifest: offer and reports from inside XS; a bad manifest names its field', async () => {
    const { url } = server.manifest.publish({ version: '2.0.0', image: IMAGE, hardware: ['devkit-a'], securityCounter: 4 });
    await session.call('manifestInit', { url, deviceId: 'dev42' });
    const result = await session.call<any>('manifestPoll', { version: '1.0.0' });
    assert.equal(result.offer.version, '2.0.0');
    assert.equal(result.offer.sha256, SHA);
    assert.deepEqual(result.offer.hardware, ['devkit-a']);
    assert.equal(result.offer.securityCounter, 4);
    const got = await session.call<any>('fetch', { url: result.offer.url });
    assert.equal(got.status, 200);
    assert.equal(got.length, IMAGE.length);
    assert.equal(got.sum, SUM);
    await session.call('manifestReport', { actionId: '2.0.0', phase: 'failed', version: '2.0.0', runningVersion: '1.0.0', reason: 'bad-signature' });
    assert.deepEqual(server.reports('manifest-report')[0].body, { schema: 1, actionId: '2.0.0', phase: 'failed', version: '2.0.0', runningVersion: '1.0.0', deviceId: 'dev42', reason: 'bad-signature' });

    // Issue 13 finding 2: a manifest that cannot be used gives no offer and is reported, naming the field, once.
    server.manifest.setRaw('device', JSON.stringify({ schema: 1, version: '2.0.0', size: 3000, sha256: 'zz', url: 'https://x/y', reportUrl: `${server.url}/manifest/device/report` }));
    assert.deepEqual(await session.call('manifestPoll', { version: '1.0.0' }), {});
    assert.deepEqual(await session.call('manifestPoll', { version: '1.0.0' }), {});
    const refusals = server.reports('manifest-report').slice(1).map((r) => r.body as any);
    assert.equal(refusals.length, 1, 'once');
    assert.deepEqual([refusals[0].phase, refusals[0].reason], ['failed', 'backend-protocol']);
    assert.match(refusals[0].detail, /sha256/);
    server.manifest.setRaw('device', '{"pad":"' + 'x'.repeat(40_000) + '"}');
    assert.deepEqual(await session.call('manifestPoll', { version: '1.0.0' }), {});
  });
});
