/** Static manifest backend against the reference server, and against bad manifests. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ManifestBackend, parseManifest } from '../../../src/backend/manifest.js';
import { hex } from '../../../src/util/bytes.js';
import { OtaError } from '../../../src/util/errors.js';
import { NodeHttpClient } from '../../../tools/node/node-http-client.js';
import { startReferenceServer, type ReferenceServer } from '../../../tools/server/index.js';

const IMAGE = new Uint8Array(3000).map((_, i) => (i * 7) & 0xff);
const SHA = createHash('sha256').update(IMAGE).digest('hex');

describe('static manifest backend', () => {
  let server: ReferenceServer;
  const http = new NodeHttpClient({ timeoutMs: 5000 });
  beforeEach(async () => {
    server = await startReferenceServer({ port: 0 });
  });
  afterEach(async () => server.close());

  it('offers the published image and posts reports to the manifest report URL', async () => {
    const { url } = server.manifest.publish({ name: 'fleet', version: '1.3.0', image: IMAGE, hardware: ['devkit-a'], securityCounter: 2, update: 'attempt', pollIntervalS: 600 });
    const backend = new ManifestBackend({ http, url, deviceId: 'dev42' });
    const result = await backend.poll({ version: '1.2.0' });
    const offer = result.offer!;
    assert.equal(result.pollIntervalS, 600);
    assert.equal(offer.actionId, '1.3.0');
    assert.equal(offer.version, '1.3.0');
    assert.equal(offer.size, IMAGE.length);
    assert.equal(hex(offer.sha256!), SHA);
    assert.deepEqual(offer.hardware, ['devkit-a']);
    assert.equal(offer.securityCounter, 2);
    assert.equal(offer.download, 'forced');
    assert.equal(offer.update, 'attempt');
    // the artifact is really there, byte for byte
    const parts: Uint8Array[] = [];
    await http.request({ method: 'GET', url: offer.url }, { onData: (c) => void parts.push(c.slice()) });
    assert.equal(createHash('sha256').update(Buffer.concat(parts)).digest('hex'), SHA);

    await backend.report({ actionId: '1.3.0', phase: 'downloading', version: '1.3.0', runningVersion: '1.2.0', progress: { done: 1024, total: 3000 } });
    await backend.report({ actionId: '1.3.0', phase: 'failed', version: '1.3.0', runningVersion: '1.2.0', reason: 'hash-mismatch', detail: 'sha256 differs' });
    const reports = server.reports('manifest-report');
    assert.equal(reports.length, 2);
    assert.equal(reports[0].id, 'fleet');
    assert.deepEqual(reports[0].body, { schema: 1, actionId: '1.3.0', phase: 'downloading', version: '1.3.0', runningVersion: '1.2.0', deviceId: 'dev42', progress: { done: 1024, total: 3000 } });
    assert.deepEqual(reports[1].body, { schema: 1, actionId: '1.3.0', phase: 'failed', version: '1.3.0', runningVersion: '1.2.0', deviceId: 'dev42', reason: 'hash-mismatch', detail: 'sha256 differs' });
  });

  it('offers nothing to a device already running the version, or when no manifest is published', async () => {
    const { url } = server.manifest.publish({ version: '1.3.0', image: IMAGE });
    const backend = new ManifestBackend({ http, url });
    assert.equal((await backend.poll({ version: '1.3.0' })).offer, undefined);
    server.manifest.withdraw();
    assert.deepEqual(await backend.poll({ version: '1.2.0' }), {});
  });

  it('revalidates with If-None-Match (304 keeps the last manifest)', async () => {
    const { url } = server.manifest.publish({ version: '1.3.0', image: IMAGE });
    const backend = new ManifestBackend({ http, url });
    const first = await backend.poll({ version: '1.0.0' });
    const second = await backend.poll({ version: '1.0.0' });
    assert.deepEqual(second, first);
    const gets = server.requests().filter((r) => r.path.endsWith('.json'));
    assert.deepEqual(gets.map((r) => r.status), [200, 304]);
  });

  it('resolves an origin-relative artifact URL against the manifest URL', async () => {
    const { url } = server.manifest.publish({ version: '1.3.0', image: IMAGE, relativeUrl: true });
    const { offer } = await new ManifestBackend({ http, url }).poll({ version: '1.0.0' });
    assert.equal(offer!.url, `${server.url}/artifacts/device/1.3.0.bin`);
  });

  it("reports carry the manifest's version string as label when the image header named another version", async () => {
    const { url } = server.manifest.publish({ version: 'v1.3.0-rc1', image: IMAGE });
    const backend = new ManifestBackend({ http, url });
    await backend.poll({ version: '1.2.0' });
    await backend.report({ actionId: 'v1.3.0-rc1', phase: 'running', version: '1.3.0+0', label: 'v1.3.0-rc1', runningVersion: '1.3.0+0' });
    await backend.report({ actionId: '1.3.0', phase: 'running', version: '1.3.0', label: '1.3.0', runningVersion: '1.3.0' });
    const bodies = server.reports('manifest-report').slice(-2).map((r) => r.body as any);
    assert.equal(bodies[0].label, 'v1.3.0-rc1');
    assert.equal(bodies[0].version, '1.3.0+0');
    assert.equal('label' in bodies[1], false, 'a label equal to the version is not repeated');
  });

  it('logs reports when neither config nor manifest names a report URL; config wins over the manifest', async () => {
    const { url } = server.manifest.publish({ version: '1.3.0', image: IMAGE, reportUrl: false });
    const logged: unknown[] = [];
    const backend = new ManifestBackend({ http, url, log: { log: (level, event, fields) => logged.push({ level, event, fields }) } });
    await backend.poll({ version: '1.0.0' });
    await backend.report({ actionId: '1.3.0', phase: 'running', version: '1.3.0', runningVersion: '1.3.0' });
    assert.equal(server.reports().length, 0);
    assert.deepEqual(logged, [{ level: 'info', event: 'backend.report', fields: { actionId: '1.3.0', phase: 'running', version: '1.3.0', label: undefined, runningVersion: '1.3.0', reason: undefined, detail: undefined } }]);

    server.manifest.publish({ version: '1.3.0', image: IMAGE, reportUrl: 'http://127.0.0.1:1/never' });
    const configured = new ManifestBackend({ http, url, reportUrl: `${server.url}/manifest/other/report` });
    await configured.poll({ version: '1.0.0' });
    await configured.report({ actionId: '1.3.0', phase: 'running', version: '1.3.0', runningVersion: '1.3.0' });
    assert.equal(server.reports()[0].id, 'other');
  });

  it('refreshOffer fetches a new pre-signed URL', async () => {
    const { url } = server.manifest.publish({ version: '1.3.0', image: IMAGE, expiresInS: 60 });
    const backend = new ManifestBackend({ http, url });
    const { offer } = await backend.poll({ version: '1.0.0' });
    server.clock.advance(120);
    const head = await http.request({ method: 'GET', url: offer!.url }, { onData: () => undefined });
    assert.equal(head.status, 403);
    server.manifest.publish({ version: '1.3.0', image: IMAGE, expiresInS: 60 });
    const fresh = await backend.refreshOffer('1.3.0', { version: '1.0.0' });
    assert.notEqual(fresh!.url, offer!.url);
    assert.equal((await http.request({ method: 'GET', url: fresh!.url }, { onData: () => undefined })).status, 200);
    assert.equal(await backend.refreshOffer('9.9.9', { version: '1.0.0' }), undefined);
  });

  it('maps server trouble to typed errors', async () => {
    const { url } = server.manifest.publish({ version: '1.3.0', image: IMAGE });
    const backend = new ManifestBackend({ http, url });
    server.misbehave({ status: 503, retryAfterS: 10 });
    await assert.rejects(backend.poll({ version: '1' }), (e: unknown) => e instanceof OtaError && e.reason === 'backend-unavailable' && /retry after 10 s/.test(e.message));
    // Finding 2 (issue 13): a manifest that cannot be used is no poll failure for ever; it is
    // reported (phase failed, the reason naming what) once per problem, and no offer is made.
    const reporting = new ManifestBackend({ http, url, reportUrl: `${server.url}/manifest/device/report`, bodyMax: 8192 });
    server.manifest.setRaw('device', 'x'.repeat(20_000));
    assert.deepEqual(await reporting.poll({ version: '1' }), {});
    assert.deepEqual(await reporting.poll({ version: '1' }), {});
    server.manifest.setRaw('device', '{"schema":1,', 200);
    assert.deepEqual(await reporting.poll({ version: '1' }), {});
    const reports = server.reports('manifest-report').map((r) => r.body as any);
    assert.deepEqual(reports.map((r) => [r.phase, r.reason]), [['failed', 'body-too-large'], ['failed', 'backend-protocol']], 'once per problem');
    assert.match(reports[0].detail, /body over 8192 bytes|Content-Length 20000 > 8192/);
    assert.match(reports[1].detail, /not JSON/);
  });

  describe('bad manifests → backend-protocol naming the field', () => {
    const good = () => ({ schema: 1, version: '1.3.0', size: 10, sha256: SHA, url: 'https://cdn.example/fw.bin' });
    const cases: [string, (m: any) => void, RegExp][] = [
      ['schema 2', (m) => (m.schema = 2), /schema: expected 1, got 2/],
      ['schema missing', (m) => delete m.schema, /schema: expected 1/],
      ['schema a string', (m) => (m.schema = '1'), /schema: expected 1, got "1"/],
      ['version a number', (m) => (m.version = 13), /version: expected string, got number/],
      ['version empty', (m) => (m.version = ''), /version: length 0/],
      ['size zero', (m) => (m.size = 0), /size: 0 not in/],
      ['size a string', (m) => (m.size = '10'), /size: expected integer/],
      ['sha256 uppercase short', (m) => (m.sha256 = 'ABC'), /sha256: not 64 hex digits/],
      ['sha256 missing', (m) => delete m.sha256, /sha256: expected string/],
      ['url relative path', (m) => (m.url = 'fw.bin'), /url: not an absolute http\(s\) URL/],
      ['url protocol-relative', (m) => (m.url = '//evil.example/fw.bin'), /url: not an absolute/],
      ['url ftp', (m) => (m.url = 'ftp://x/fw.bin'), /url: not an absolute/],
      ['url with a quote (AT strings and the journal carry no escapes)', (m) => (m.url = 'https://x/fw".bin'), /url: not an absolute/],
      ['url with a backslash', (m) => (m.url = 'https://x/fw\\.bin'), /url: not an absolute/],
      ['url not ASCII', (m) => (m.url = 'https://x/f\u00fcr.bin'), /url: not an absolute/],
      ['hardware a string', (m) => (m.hardware = 'devkit'), /hardware: expected array/],
      ['hardware item a number', (m) => (m.hardware = ['a', 2]), /hardware\[1\]: expected string/],
      ['hardware too many', (m) => (m.hardware = new Array(9).fill('a')), /hardware: 9 items > 8/],
      ['securityCounter negative', (m) => (m.securityCounter = -1), /securityCounter: -1 not in/],
      ['download unknown', (m) => (m.download = 'yes'), /download: 'yes' not one of/],
      ['update a bool', (m) => (m.update = true), /update: expected skip\|attempt\|forced, got boolean/],
      ['pollIntervalS too small', (m) => (m.pollIntervalS = 5), /pollIntervalS: 5 not in 60\.\./],
      ['reportUrl a number', (m) => (m.reportUrl = 1), /reportUrl: expected string/],
    ];
    for (const [name, mutate, detail] of cases) {
      it(name, () => {
        const m = good();
        mutate(m);
        assert.throws(() => parseManifest(m, 'https://u.example/m.json'), (e: unknown) => e instanceof OtaError && e.reason === 'backend-protocol' && detail.test(e.message), name);
      });
    }
    it('a manifest that is an array', () => assert.throws(() => parseManifest([], 'https://u.example/m.json'), /manifest: expected object, got array/));
    it('the good one parses, with defaults', () => {
      const m = parseManifest(good(), 'https://u.example/m.json');
      assert.equal(m.download, 'forced');
      assert.equal(m.update, 'forced');
    });
    it('served by the server, a bad manifest is reported to its own reportUrl naming the field, with no offer', async () => {
      server.manifest.setRaw('device', JSON.stringify({ ...good(), size: -5, reportUrl: `${server.url}/manifest/device/report` }));
      const before = server.reports('manifest-report').length;
      assert.deepEqual(await new ManifestBackend({ http, url: server.manifest.urlOf() }).poll({ version: '1' }), {});
      const report = server.reports('manifest-report').slice(before)[0].body as any;
      assert.deepEqual([report.phase, report.reason, report.actionId], ['failed', 'backend-protocol', '1.3.0']);
      assert.match(report.detail, /size: -5 not in/);
    });
  });

  it('refuses a bad configuration', () => {
    for (const bad of [{ url: 'manifest.json' }, { url: 'https://x/m.json', reportUrl: 'nope' }, { url: 'https://x/m.json', deviceId: '' }]) {
      assert.throws(() => new ManifestBackend({ http, ...bad }), (e: unknown) => e instanceof OtaError && e.reason === 'config-invalid');
    }
  });
});
