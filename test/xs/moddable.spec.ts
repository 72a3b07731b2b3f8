/**
 * Device-side module logic (modules/ota-config.ts, ota-clock.ts, ota-log.ts) runs in XS as it does
 * in Node (test/unit/moddable): shown in the engine the device runs.
 */
import assert from 'node:assert/strict';
import { XsSession } from '../../tools/xs/session.js';

describe('Moddable modules in XS (xsnap)', function () {
  let session: XsSession;

  before(async function () {
    session = await XsSession.start({ bundle: 'moddable' });
  });
  after(async () => session?.close());

  it('reads the device configuration with its defaults and names a bad key', async () => {
    const ok = await session.call<{ ok: { agent: { keyId: number; tenant: string; token: string } } }>('readConfig', {
      config: { otaUrl: 'https://hawkbit.example', otaKeyId: '0x7B000202' },
      secrets: { authToken: 't', deviceId: 'dev-1' },
    });
    assert.equal(ok.ok.agent.keyId, 0x7b000202);
    assert.equal(ok.ok.agent.tenant, 'DEFAULT');
    assert.equal(ok.ok.agent.token, 't');
    assert.deepEqual(await session.call('readConfig', { config: {}, secrets: {} }), { key: 'otaUrl', detail: 'required, no default' });
    assert.deepEqual(await session.call('readConfig', { config: { otaUrl: 'https://h', otaPollIntervalS: 59 }, secrets: { deviceId: 'dev-1' } }), {
      key: 'otaPollIntervalS',
      detail: '59 outside 60..604800',
    });
  });

  it('reads the backend policy and IoTConnect settings, the token the scheme names, and names a bad key', async () => {
    type Read = { ok: { agent: Record<string, unknown> } };
    const ok = await session.call<Read>('readConfig', {
      config: {
        otaUrl: 'https://iotc.example',
        otaBackend: 'iotconnect',
        otaIotcEnv: 'poc',
        otaTokenScheme: 'GatewayToken',
        otaAutoConfirm: 'false',
        otaBodyMax: '65536',
        otaRedirectCredentialOrigins: 'https://cdn.example,https://blob.example:8443',
        otaIotcSession: 'per-call',
        otaIotcSuccessSt: '0',
      },
      secrets: { authToken: 'target', gatewayToken: 'gateway', deviceId: 'dev-1' },
    });
    const a = ok.ok.agent;
    assert.equal(a.token, 'gateway');
    assert.equal(a.autoConfirm, false);
    assert.equal(a.bodyMax, 65536);
    assert.deepEqual(a.redirectCredentialOrigins, ['https://cdn.example', 'https://blob.example:8443']);
    assert.deepEqual([a.tenant, a.iotcEnv, a.iotcPlatform, a.iotcSession, a.iotcSuccessSt], ['DEFAULT', 'poc', 'aws', 'per-call', 0]);
    assert.deepEqual(await session.call('readConfig', { config: { otaUrl: 'https://h', otaRedirectCredentialOrigins: 'https://a.example/x' }, secrets: { deviceId: 'dev-1' } }), {
      key: 'otaRedirectCredentialOrigins',
      detail: 'item 1 is not an origin (scheme://host[:port])',
    });
  });

  it('formats a log line as in Node', async () => {
    assert.equal(await session.call('logLine', { event: 'slot.erase', fields: { block: 3, label: 'image 1' } }), 'ota info slot.erase block=3 label="image 1"\n');
  });

  it('keeps the clock monotonic across a Time.ticks wrap', async () => {
    assert.deepEqual(await session.call('clockAcrossWrap', { ticks: [2 ** 32 - 10, 2 ** 32 - 1, 5] }), [0, 9, 15]);
  });
});
