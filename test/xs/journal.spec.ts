/**
 * The journal on the device's engine (xsnap): records with a 2 KB URL split over 255-byte values,
 * a power cut at every write of a save, the legacy single-value record, and CRC-32 computed in XS
 * against zlib's.
 */
import assert from 'node:assert/strict';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { LEGACY_JOURNAL_KEY, type Deployment } from '../../src/agent/journal.js';
import { SimKeyValue } from '../../tools/devkit/parts/sim-key-value.js';
import { VirtualTime } from '../../tools/devkit/parts/virtual-time.js';
import { XsSession } from '../../tools/xs/session.js';
import { servePlatform } from '../../tools/xs/serve-platform.js';

const URL_2K = `https://bucket.s3.example.com/fw.bin?${'X-Amz-Security-Token=AbCdEf0123456789%2F&'.repeat(60)}`.slice(0, 2048);
const deployment: Deployment = {
  actionId: 'act-é-42', version: '1.1.0', url: URL_2K, size: 1_048_576, sha256: 'a'.repeat(64), validator: '"etag"',
  offset: 4096, attempts: 1, bytesFetched: 4096, install: true, fromVersion: '1.0.0+0',
};

interface SaveResult { saved?: { state: string; deployment?: Deployment }; text?: string; writes?: number; error?: string }
interface Loaded { record: { state: string; deployment?: Deployment }; discarded?: string; ignored?: string[] }

describe('journal on XS (xsnap), 255-byte values', function () {
  let session: XsSession;
  let keyValue: SimKeyValue;

  beforeEach(async () => {
    session = await XsSession.start({ bundle: 'journal' });
    keyValue = new SimKeyValue();
    servePlatform(session, { keyValue }, new VirtualTime());
  });
  afterEach(async () => session?.close());

  it('computes CRC-32 as zlib does', async () => {
    const bytes = new Uint8Array(3000).map((_, i) => (i * 31 + 7) & 0xff);
    assert.equal(await session.call('crc32', { bytes }), zlibCrc32(bytes));
    assert.equal(await session.call('crc32Ascii', { text: '123456789' }), 0xcbf43926);
  });

  it('saves a record with a 2 KB URL in parts of at most 255 bytes, and loads it back after a reboot', async () => {
    const result = await session.call<SaveResult>('save', { record: { state: 'download', deployment } });
    assert.equal(result.error, undefined);
    assert.equal(result.writes, Math.ceil(result.text!.length / 255) + 1);
    for (const value of Object.values(keyValue.entries())) assert.ok(value.length <= 255 && /^[\x20-\x7e]*$/.test(value));
    const loaded = await session.call<Loaded>('reboot');
    assert.deepEqual(loaded.record.deployment, deployment);
    assert.equal(loaded.discarded, undefined);
  });

  it('a power cut at every write of a save leaves the previous record or the new one', async () => {
    await session.call('save', { record: { state: 'download', deployment } });
    const next = { state: 'download', deployment: { ...deployment, offset: 8192, bytesFetched: 8192 } };
    for (let k = 1; ; k++) {
      keyValue.cutAtWrite = keyValue.writes + k;
      const result = await session.call<SaveResult>('save', { record: next });
      keyValue.cutAtWrite = undefined;
      const loaded = await session.call<Loaded>('reboot');
      assert.equal(loaded.discarded, undefined, `cut at write ${k}`);
      if (result.error === undefined) {
        assert.equal(loaded.record.deployment!.offset, 8192);
        break;
      }
      assert.equal(result.error, 'journal-write-failed');
      assert.equal(loaded.record.deployment!.offset, 4096, `cut at write ${k}`);
    }
  });

  it('loads the legacy single-value record of an earlier agent, then moves it into the banks', async () => {
    // What an earlier agent could store: one value of at most 255 bytes (no deployment of its fitted more).
    const legacy = { v: 1, state: 'health-check', writes: 5, deployment: { actionId: '42', version: '1.1.0', url: 'https://h/a.bin', size: 1024, offset: 1024, attempts: 1, bytesFetched: 1024, install: true, fromVersion: '1.0.0+0' } };
    keyValue.write(LEGACY_JOURNAL_KEY, JSON.stringify(legacy));
    assert.deepEqual((await session.call<Loaded>('reboot')).record, legacy);
    await session.call('save', { record: { state: 'confirm', deployment: legacy.deployment } });
    assert.equal(keyValue.read(LEGACY_JOURNAL_KEY), undefined);
    assert.equal((await session.call<Loaded>('reboot')).record.state, 'confirm');
  });

  it('refuses a URL over the limit with a typed error and writes nothing', async () => {
    const result = await session.call<SaveResult>('save', { record: { state: 'download', deployment: { ...deployment, url: `https://h/${'a'.repeat(4000)}` } } });
    assert.equal(result.error, 'journal-invalid');
    assert.equal(keyValue.writes, 0);
  });
});
