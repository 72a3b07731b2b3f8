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
    const ok = await session.call<{ ok: { agent: { seKeyId: number; tenant: string; authToken?: string } } }>('readConfig', {
      config: { otaUrl: 'https://hawkbit.example', otaKeyId: '0x7B000202' },
      secrets: { authToken: 't' },
    });
    assert.equal(ok.ok.agent.seKeyId, 0x7b000202);
    assert.equal(ok.ok.agent.tenant, 'DEFAULT');
    assert.equal(ok.ok.agent.authToken, 't');
    assert.deepEqual(await session.call('readConfig', { config: {}, secrets: {} }), { key: 'otaUrl', detail: 'required, no default' });
    assert.deepEqual(await session.call('readConfig', { config: { otaUrl: 'https://h', otaPollIntervalS: 59 }, secrets: {} }), {
      key: 'otaPollIntervalS',
      detail: '59 outside 60..604800',
    });
  });

  it('reads the backend policy and IoTConnect settings, the token the scheme names, and names a bad key', async () => {
    type Read = { ok: { agent: { authToken?: string; policy: Record<string, unknown>; iotconnect?: Record<string, unknown> } } };
    const ok = await session.call<Read>('readConfig', {
      config: {
        otaUrl: 'https://iotc.example',
        otaBackend: 'iotconnect',
        otaTokenScheme: 'GatewayToken',
        otaAutoConfirm: 'false',
        otaBodyMax: '65536',
        otaRedirectCredentialOrigins: 'https://cdn.example,https://blob.example:8443',
        otaIotcSession: 'per-call',
        otaIotcSuccessSt: '0',
      },
      secrets: { authToken: 'target', gatewayToken: 'gateway' },
    });
    assert.equal(ok.ok.agent.authToken, 'gateway');
    assert.equal(ok.ok.agent.policy.autoConfirm, false);
    assert.equal(ok.ok.agent.policy.backendBodyMax, 65536);
    assert.deepEqual(ok.ok.agent.policy.redirectCredentialOrigins, ['https://cdn.example', 'https://blob.example:8443']);
    assert.deepEqual(ok.ok.agent.iotconnect, { cpid: 'DEFAULT', env: '', platform: 'aws', session: 'per-call', successSt: 0 });
    assert.deepEqual(await session.call('readConfig', { config: { otaUrl: 'https://h', otaRedirectCredentialOrigins: 'https://a.example/x' }, secrets: {} }), {
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
