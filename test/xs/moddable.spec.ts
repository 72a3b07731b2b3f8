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

  it('formats a log line as in Node', async () => {
    assert.equal(await session.call('logLine', { event: 'slot.erase', fields: { block: 3, label: 'image 1' } }), 'ota info slot.erase block=3 label="image 1"\n');
  });

  it('keeps the clock monotonic across a Time.ticks wrap', async () => {
    assert.deepEqual(await session.call('clockAcrossWrap', { ticks: [2 ** 32 - 10, 2 ** 32 - 1, 5] }), [0, 9, 15]);
  });
});
