/**
 * The reference update server: RFC 9110 range semantics on artifacts (as hawkBit's
 * FileStreamingUtil serves them), the DDI subset, recording, and every misbehaviour knob. Raw
 * node:http requests check the server; the NodeHttpClient checks itself against it.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { OtaError } from '../../../src/util/errors.js';
import { NodeHttpClient, parseContentRange } from '../../../tools/node/node-http-client.js';
import { parseMisbehaviour, startReferenceServer, type ReferenceServer } from '../../../tools/server/index.js';

const IMAGE = new Uint8Array(10_000).map((_, i) => (i * 13 + 5) & 0xff);
const ETAG = `"${createHash('sha1').update(IMAGE).digest('hex')}"`;

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  error?: string;
}

function raw(url: string, headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<Raw> {
  return new Promise((resolve) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts) }));
      res.on('error', (e) => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts), error: e.message }));
      res.on('close', () => {
        if (!res.complete) resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts), error: 'incomplete' });
      });
    });
    req.on('error', (e) => resolve({ status: 0, headers: {}, body: Buffer.alloc(0), error: e.message }));
    req.end(body);
  });
}

async function collect(client: NodeHttpClient, url: string, range?: { start: number; end?: number; ifRange?: string }) {
  const parts: Uint8Array[] = [];
  const head = await client.request({ method: 'GET', url, range }, { onData: (c) => void parts.push(c.slice()) });
  return { head, body: Buffer.concat(parts) };
}

describe('reference update server', () => {
  let server: ReferenceServer;
  let url: string;
  const client = new NodeHttpClient({ timeoutMs: 5000 });
  beforeEach(async () => {
    server = await startReferenceServer({ port: 0, token: 'tok' });
    url = server.artifacts.put('/files/app.bin', IMAGE);
  });
  afterEach(async () => server.close());

  describe('artifacts: Range, If-Range, 416 (RFC 9110 §14)', () => {
    it('whole body: 200 with ETag, Accept-Ranges, Content-Length', async () => {
      const r = await raw(url);
      assert.equal(r.status, 200);
      assert.equal(r.headers.etag, ETAG);
      assert.equal(r.headers['accept-ranges'], 'bytes');
      assert.equal(r.headers['content-length'], '10000');
      assert.deepEqual(new Uint8Array(r.body), IMAGE);
    });

    it('bytes=a-b: 206 with Content-Range and exactly those bytes', async () => {
      const r = await raw(url, { range: 'bytes=100-199' });
      assert.equal(r.status, 206);
      assert.equal(r.headers['content-range'], 'bytes 100-199/10000');
      assert.equal(r.headers['content-length'], '100');
      assert.deepEqual(new Uint8Array(r.body), IMAGE.subarray(100, 200));
    });

    it('bytes=a-: to the end; an end past the size is cut to the size', async () => {
      let r = await raw(url, { range: 'bytes=9000-' });
      assert.equal(r.headers['content-range'], 'bytes 9000-9999/10000');
      assert.deepEqual(new Uint8Array(r.body), IMAGE.subarray(9000));
      r = await raw(url, { range: 'bytes=9990-20000' });
      assert.equal(r.headers['content-range'], 'bytes 9990-9999/10000');
      assert.equal(r.body.length, 10);
    });

    it('bytes=-n: the last n bytes', async () => {
      const r = await raw(url, { range: 'bytes=-10' });
      assert.equal(r.status, 206);
      assert.equal(r.headers['content-range'], 'bytes 9990-9999/10000');
    });

    it('a start at or past the size: 416 with Content-Range bytes */size', async () => {
      for (const range of ['bytes=10000-', 'bytes=20000-20010', 'bytes=-0']) {
        const r = await raw(url, { range });
        assert.equal(r.status, 416, range);
        assert.equal(r.headers['content-range'], 'bytes */10000', range);
        assert.equal(r.body.length, 0);
      }
    });

    it('If-Range with the current ETag: 206; with another: 200 and the whole body', async () => {
      let r = await raw(url, { range: 'bytes=5000-', 'if-range': ETAG });
      assert.equal(r.status, 206);
      r = await raw(url, { range: 'bytes=5000-', 'if-range': '"stale"' });
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-range'], undefined);
      assert.deepEqual(new Uint8Array(r.body), IMAGE);
    });

    it('a changed artifact changes its ETag, so an old If-Range gets the new whole body', async () => {
      const next = IMAGE.map((b) => b ^ 0xff);
      server.artifacts.put('/files/app.bin', next);
      const r = await raw(url, { range: 'bytes=5000-', 'if-range': ETAG });
      assert.equal(r.status, 200);
      assert.notEqual(r.headers.etag, ETAG);
      assert.deepEqual(new Uint8Array(r.body), next);
    });

    it('several ranges, other units or bad syntax: the whole body (200)', async () => {
      for (const range of ['bytes=0-1,5-6', 'items=0-1', 'bytes=x-y', 'bytes=500-100']) {
        const r = await raw(url, { range });
        assert.equal(r.status, 200, range);
        assert.equal(r.body.length, 10000, range);
      }
    });

    it('HEAD: headers, no body', async () => {
      const r = await raw(url, { range: 'bytes=0-9' }, 'HEAD');
      assert.equal(r.status, 206);
      assert.equal(r.headers['content-length'], '10');
      assert.equal(r.body.length, 0);
    });
  });

  describe('NodeHttpClient against it', () => {
    it('resumes a download: 206 range matches the request', async () => {
      const { head, body } = await collect(client, url, { start: 4000, ifRange: ETAG });
      assert.equal(head.status, 206);
      assert.deepEqual(head.range, { start: 4000, end: 9999, total: 10000 });
      assert.deepEqual(new Uint8Array(body), IMAGE.subarray(4000));
    });

    it('If-Range mismatch: 200, range from 0, whole body', async () => {
      const { head, body } = await collect(client, url, { start: 4000, ifRange: '"old"' });
      assert.equal(head.status, 200);
      assert.deepEqual(head.range, { start: 0, end: 9999, total: 10000 });
      assert.equal(body.length, 10000);
    });

    it('416 is a status for the caller, with its Content-Range header', async () => {
      const { head } = await collect(client, url, { start: 10000 });
      assert.equal(head.status, 416);
      assert.equal(head.headers['content-range'], 'bytes */10000');
    });

    it('backpressure: the socket waits for a slow sink, bytes stay in order', async () => {
      const parts: Uint8Array[] = [];
      await client.request({ method: 'GET', url }, { onData: async (c) => { parts.push(c.slice()); await new Promise((r) => setTimeout(r, 1)); } });
      assert.deepEqual(new Uint8Array(Buffer.concat(parts)), IMAGE);
    });

    it('a sink that throws in onHead abandons the request with its own error', async () => {
      const mine = new OtaError('http-status', 'unexpected');
      await assert.rejects(client.request({ method: 'GET', url }, { onHead: () => { throw mine; }, onData: () => undefined }), (e) => e === mine);
    });

    it('a refused connection is link-lost', async () => {
      await assert.rejects(client.request({ method: 'GET', url: 'http://127.0.0.1:1/x' }, { onData: () => undefined }), (e: unknown) => e instanceof OtaError && e.reason === 'link-lost');
    });

    it('parses Content-Range strictly', () => {
      assert.deepEqual(parseContentRange('bytes 0-9/10'), { start: 0, end: 9, total: 10 });
      assert.deepEqual(parseContentRange('bytes 5-9/*'), { start: 5, end: 9 });
      for (const bad of ['bytes 9-5/10', 'bytes 0-10/10', 'bytes */10', 'bits 0-1/2', 'bytes 0-1', undefined]) assert.equal(parseContentRange(bad), undefined, String(bad));
    });
  });

  describe('NodeHttpClient against lying servers', () => {
    let liar: http.Server;
    let liarUrl: string;
    let answer: (req: http.IncomingMessage, res: http.ServerResponse) => void;
    beforeEach(async () => {
      liar = http.createServer((req, res) => answer(req, res));
      await new Promise<void>((r) => liar.listen(0, '127.0.0.1', () => r()));
      liarUrl = `http://127.0.0.1:${(liar.address() as { port: number }).port}/f`;
    });
    afterEach(() => new Promise<void>((r) => { liar.closeAllConnections(); liar.close(() => r()); }));

    it('206 starting elsewhere than asked: range-mismatch', async () => {
      answer = (_q, s) => { s.writeHead(206, { 'content-range': 'bytes 0-9/100', 'content-length': '10' }); s.end(Buffer.alloc(10)); };
      await assert.rejects(collect(client, liarUrl, { start: 50 }), (e: unknown) => e instanceof OtaError && e.reason === 'range-mismatch');
    });

    it('206 without Content-Range: range-mismatch', async () => {
      answer = (_q, s) => { s.writeHead(206, { 'content-length': '10' }); s.end(Buffer.alloc(10)); };
      await assert.rejects(collect(client, liarUrl, { start: 50 }), (e: unknown) => e instanceof OtaError && e.reason === 'range-mismatch');
    });

    it('206 past the asked end, or Content-Length disagreeing with Content-Range: range-mismatch', async () => {
      answer = (_q, s) => { s.writeHead(206, { 'content-range': 'bytes 50-99/100', 'content-length': '50' }); s.end(Buffer.alloc(50)); };
      await assert.rejects(collect(client, liarUrl, { start: 50, end: 59 }), (e: unknown) => e instanceof OtaError && e.reason === 'range-mismatch');
      answer = (_q, s) => { s.writeHead(206, { 'content-range': 'bytes 50-99/100', 'content-length': '10' }); s.end(Buffer.alloc(10)); };
      await assert.rejects(collect(client, liarUrl, { start: 50 }), (e: unknown) => e instanceof OtaError && e.reason === 'range-mismatch');
    });

    it('200 to a ranged request without If-Range: range-ignored', async () => {
      answer = (_q, s) => { s.writeHead(200, { 'content-length': '100' }); s.end(Buffer.alloc(100)); };
      await assert.rejects(collect(client, liarUrl, { start: 50 }), (e: unknown) => e instanceof OtaError && e.reason === 'range-ignored');
      const { head } = await collect(client, liarUrl, { start: 0 });
      assert.equal(head.status, 200, 'from 0 a 200 is the answer');
    });

    it('a server that never answers: timeout', async () => {
      answer = () => undefined;
      const quick = new NodeHttpClient({ timeoutMs: 50 });
      await assert.rejects(quick.request({ method: 'GET', url: liarUrl }, { onData: () => undefined }), (e: unknown) => e instanceof OtaError && e.reason === 'timeout');
    });

    it('a header value over the cap is dropped, not cut', async () => {
      answer = (_q, s) => { s.writeHead(200, { etag: '"' + 'a'.repeat(2000) + '"', 'x-ok': 'yes', 'content-length': '0' }); s.end(); };
      const { head } = await collect(client, liarUrl);
      assert.equal(head.headers.etag, undefined);
      assert.equal(head.headers['x-ok'], 'yes');
    });
  });

  describe('misbehaviour knobs', () => {
    it('status: the next N requests get it, with Retry-After; then normal service', async () => {
      server.misbehave({ status: 503, count: 2, retryAfterS: 30 });
      const a = await raw(url);
      const b = await raw(url);
      const c = await raw(url);
      assert.deepEqual([a.status, b.status, c.status], [503, 503, 200]);
      assert.equal(a.headers['retry-after'], '30');
      assert.equal(server.pendingFaults(), 0);
    });

    it('status limited to a path', async () => {
      server.misbehave({ status: 429, path: '/manifest/' });
      assert.equal((await raw(url)).status, 200);
      assert.equal((await raw(server.manifest.urlOf())).status, 429);
    });

    it('drop: the body stops at byte N with an abrupt close; the client sees body-truncated', async () => {
      server.misbehave({ drop: 1234 });
      const parts: Uint8Array[] = [];
      await assert.rejects(client.request({ method: 'GET', url }, { onData: (c) => void parts.push(c.slice()) }), (e: unknown) => e instanceof OtaError && e.reason === 'body-truncated');
      const got = Buffer.concat(parts);
      assert.ok(got.length <= 1234);
      assert.deepEqual(new Uint8Array(got), IMAGE.subarray(0, got.length));
      assert.equal(server.requests().at(-1)!.bytesSent, 1234);
      assert.equal((await collect(client, url)).body.length, 10000, 'then whole again');
    });

    it('truncate: exactly N bytes then a clean close, short of Content-Length', async () => {
      server.misbehave({ truncate: 777 });
      const r = await raw(url);
      assert.equal(r.headers['content-length'], '10000');
      assert.equal(r.body.length, 777);
      assert.ok(r.error, 'the response is incomplete');
      server.misbehave({ truncate: 500 });
      await assert.rejects(collect(client, url, { start: 100 }), (e: unknown) => e instanceof OtaError && e.reason === 'body-truncated' && /500 of 9900/.test(e.message));
    });

    it('pre-signed URLs expire by the server clock (403), and a forged signature is 403', async () => {
      const signed = server.artifacts.put('/files/signed.bin', IMAGE, { expiresInS: 60 });
      assert.match(signed, /\?expires=\d+&sig=[0-9a-f]{32}$/);
      server.clock.advance(60);
      assert.equal((await raw(signed)).status, 200, 'valid through its expiry second');
      server.clock.advance(1);
      const expired = await raw(signed);
      assert.equal(expired.status, 403);
      assert.equal(expired.body.toString(), 'Request has expired');
      assert.equal((await raw(signed.replace(/sig=./, 'sig=0'))).status, 403);
      assert.equal((await raw(signed.replace(/\?.*/, ''))).status, 403);
    });

    it('a manifest naming a pre-signed URL signs it again at every GET (new ETag), so a refetch refreshes an expired URL', async () => {
      const { url: manifestUrl, artifactUrl: first } = server.manifest.publish({ name: 'presigned', version: '1.2.3', image: IMAGE, expiresInS: 60 });
      const doc = async () => {
        const r = await raw(manifestUrl);
        assert.equal(r.status, 200);
        return { url: (JSON.parse(r.body.toString()) as { url: string }).url, etag: String(r.headers.etag) };
      };
      const a = await doc();
      assert.equal(a.url, first);
      server.clock.advance(61);
      assert.equal((await raw(first)).status, 403, 'the first URL has expired');
      const b = await doc();
      assert.notEqual(b.url, a.url);
      assert.notEqual(b.etag, a.etag, 'a changed document has a changed ETag');
      assert.equal((await raw(b.url)).status, 200, 'the refetched URL is valid');
      const again = await raw(manifestUrl, { 'if-none-match': b.etag });
      assert.equal(again.status, 304, 'same second, same document');
    });

    it('the server clock can follow another clock (virtual time)', async () => {
      let virtualS = 1000;
      const other = await startReferenceServer({ port: 0, clockS: 0, clockSource: () => virtualS });
      try {
        const signed = other.artifacts.put('/f.bin', IMAGE, { expiresInS: 10 });
        assert.equal(other.clock.now(), 1000);
        virtualS = 1011;
        assert.equal((await raw(signed)).status, 403);
        other.clock.set(1005);
        assert.equal(other.clock.now(), 1005);
        assert.equal((await raw(signed)).status, 200);
      } finally {
        await other.close();
      }
    });

    it('parses CLI specs', () => {
      assert.deepEqual(parseMisbehaviour('status=503,count=2,retry-after=30,path=/x'), { status: 503, retryAfterS: 30, count: 2, path: '/x' });
      assert.deepEqual(parseMisbehaviour('drop=1000'), { drop: 1000, count: undefined, path: undefined });
      assert.deepEqual(parseMisbehaviour('truncate=5,count=3'), { truncate: 5, count: 3, path: undefined });
      assert.throws(() => parseMisbehaviour('explode=1'));
      assert.throws(() => parseMisbehaviour('drop=-1'));
    });
  });

  describe('hawkBit DDI subset', () => {
    const auth = { authorization: 'TargetToken tok' };

    it('needs the token', async () => {
      assert.equal((await raw(server.hawkbit.rootUrl)).status, 401);
      assert.equal((await raw(server.hawkbit.rootUrl, { authorization: 'TargetToken nope' })).status, 401);
      assert.equal((await raw(server.hawkbit.rootUrl, auth)).status, 200);
    });

    it('root with ETag, 304 on If-None-Match, new ETag when a deployment appears', async () => {
      const first = await raw(server.hawkbit.rootUrl, auth);
      assert.deepEqual(JSON.parse(first.body.toString()), { config: { polling: { sleep: '00:05:00' } } });
      const etag = first.headers.etag as string;
      assert.equal((await raw(server.hawkbit.rootUrl, { ...auth, 'if-none-match': etag })).status, 304);
      server.hawkbit.createDeployment({ version: '2.0.0', image: IMAGE });
      const next = await raw(server.hawkbit.rootUrl, { ...auth, 'if-none-match': etag });
      assert.equal(next.status, 200);
      assert.match(JSON.parse(next.body.toString())._links.deploymentBase.href, /\/deploymentBase\/1\?c=-?\d+$/);
    });

    it('deploymentBase as hawkBit shapes it; artifact served under softwaremodules', async () => {
      const { actionId, artifactUrl } = server.hawkbit.createDeployment({ version: '2.0.0', image: IMAGE, filename: 'app.signed.bin', update: 'attempt', maintenanceWindow: 'unavailable' });
      const root = JSON.parse((await raw(server.hawkbit.rootUrl, auth)).body.toString());
      const dep = JSON.parse((await raw(root._links.deploymentBase.href, auth)).body.toString());
      assert.equal(dep.id, actionId);
      assert.equal(dep.deployment.download, 'forced');
      // hawkBit (DdiRootController.calculateUpdateType): update is skip while the window is unavailable.
      assert.equal(dep.deployment.update, 'skip');
      assert.equal(dep.deployment.maintenanceWindow, 'unavailable');
      const art = dep.deployment.chunks[0].artifacts[0];
      assert.equal(art.filename, 'app.signed.bin');
      assert.equal(art.size, 10000);
      assert.equal(art.hashes.sha256, createHash('sha256').update(IMAGE).digest('hex'));
      assert.equal(art._links.download.href, artifactUrl);
      assert.match(artifactUrl, /\/softwaremodules\/\d+\/artifacts\/app\.signed\.bin$/);
      assert.deepEqual(new Uint8Array((await raw(artifactUrl, auth)).body), IMAGE);
    });

    it('opening the maintenance window changes the root (new ETag, new change marker) and update follows download', async () => {
      const { actionId } = server.hawkbit.createDeployment({ version: '2.0.0', image: IMAGE, update: 'attempt', maintenanceWindow: 'unavailable' });
      const first = await raw(server.hawkbit.rootUrl, auth);
      const etag = first.headers.etag as string;
      assert.equal((await raw(server.hawkbit.rootUrl, { ...auth, 'if-none-match': etag })).status, 304);
      server.hawkbit.setMaintenanceWindow(actionId, 'available');
      const next = await raw(server.hawkbit.rootUrl, { ...auth, 'if-none-match': etag });
      assert.equal(next.status, 200);
      const href = JSON.parse(next.body.toString())._links.deploymentBase.href;
      assert.notEqual(href, JSON.parse(first.body.toString())._links.deploymentBase.href);
      const dep = JSON.parse((await raw(href, auth)).body.toString());
      assert.equal(dep.deployment.update, 'attempt');
      assert.equal(dep.deployment.maintenanceWindow, 'available');
    });

    it('cancelAfterBytes: the action turns canceling once that many artifact bytes went out', async () => {
      const { actionId, artifactUrl } = server.hawkbit.createDeployment({ version: '2.0.0', image: IMAGE, cancelAfterBytes: 6000 });
      assert.equal((await raw(artifactUrl, { ...auth, range: 'bytes=0-4095' })).status, 206);
      assert.equal(server.hawkbit.action(actionId)!.state, 'open');
      assert.equal((await raw(artifactUrl, { ...auth, range: 'bytes=4096-8191' })).status, 206);
      assert.equal(server.hawkbit.action(actionId)!.state, 'canceling');
      const root = JSON.parse((await raw(server.hawkbit.rootUrl, auth)).body.toString());
      assert.match(root._links.cancelAction.href, new RegExp(`/cancelAction/${actionId}$`));
      assert.equal(root._links.deploymentBase, undefined);
    });

    it('DOWNLOADED closes a download-only action, not one that will install', async () => {
      const json = { ...auth, 'content-type': 'application/json' };
      const downloaded = JSON.stringify({ status: { execution: 'downloaded', result: { finished: 'success' } } });
      const only = server.hawkbit.createDeployment({ version: '2.0.0', image: IMAGE, update: 'skip' }).actionId;
      assert.equal((await raw(`${server.hawkbit.rootUrl}/deploymentBase/${only}/feedback`, json, 'POST', downloaded)).status, 200);
      assert.equal(server.hawkbit.action(only)!.state, 'finished');
      const full = server.hawkbit.createDeployment({ version: '2.0.0', image: IMAGE, update: 'forced' }).actionId;
      assert.equal((await raw(`${server.hawkbit.rootUrl}/deploymentBase/${full}/feedback`, json, 'POST', downloaded)).status, 200);
      assert.equal(server.hawkbit.action(full)!.state, 'open');
    });

    it('feedback is recorded; closed ends the action; later feedback gets 410', async () => {
      const { actionId } = server.hawkbit.createDeployment({ version: '2.0.0', image: IMAGE });
      const fb = `${server.hawkbit.rootUrl}/deploymentBase/${actionId}/feedback`;
      const json = { ...auth, 'content-type': 'application/json' };
      assert.equal((await raw(fb, json, 'POST', JSON.stringify({ id: actionId, status: { execution: 'closed', result: { finished: 'success' } } }))).status, 200);
      assert.equal(server.hawkbit.action(actionId)!.state, 'finished');
      assert.equal((await raw(fb, json, 'POST', '{}')).status, 410);
      assert.deepEqual(server.reports().map((r) => [r.kind, r.id, r.status]), [['hawkbit-feedback', actionId, 200], ['hawkbit-feedback', actionId, 410]]);
      const root = JSON.parse((await raw(server.hawkbit.rootUrl, auth)).body.toString());
      assert.equal(root._links, undefined, 'no deployment any more');
    });

    it('cancel: root links cancelAction; GET gives stopId; closed feedback cancels', async () => {
      const { actionId } = server.hawkbit.createDeployment({ version: '2.0.0', image: IMAGE });
      server.hawkbit.cancel(actionId);
      const root = JSON.parse((await raw(server.hawkbit.rootUrl, auth)).body.toString());
      assert.equal(root._links.deploymentBase, undefined);
      const cancel = JSON.parse((await raw(root._links.cancelAction.href, auth)).body.toString());
      assert.deepEqual(cancel, { id: actionId, cancelAction: { stopId: actionId } });
      const fb = `${root._links.cancelAction.href}/feedback`;
      await raw(fb, { ...auth, 'content-type': 'application/json' }, 'POST', JSON.stringify({ id: actionId, status: { execution: 'closed', result: { finished: 'success' } } }));
      assert.equal(server.hawkbit.action(actionId)!.state, 'canceled');
      assert.equal(server.reports('hawkbit-cancel-feedback').length, 1);
    });

    it('configData: linked on request, recorded, then unlinked', async () => {
      server.hawkbit.requestConfigData();
      const root = JSON.parse((await raw(server.hawkbit.rootUrl, auth)).body.toString());
      assert.ok(root._links.configData.href.endsWith('/configData'));
      await raw(root._links.configData.href, { ...auth, 'content-type': 'application/json' }, 'PUT', '{"mode":"merge","data":{"a":"b"}}');
      assert.deepEqual(server.reports('hawkbit-config-data')[0].body, { mode: 'merge', data: { a: 'b' } });
      assert.equal(JSON.parse((await raw(server.hawkbit.rootUrl, auth)).body.toString())._links, undefined);
    });

    it('writes reports as JSON lines when asked', async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'xs-ota-server-'));
      const file = path.join(dir, 'reports.jsonl');
      const other = await startReferenceServer({ port: 0, reportFile: file });
      try {
        other.manifest.publish({ version: '1', image: IMAGE });
        await raw(`${other.url}/manifest/device/report`, { 'content-type': 'application/json' }, 'POST', '{"phase":"running"}');
        const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
        assert.equal(lines.length, 1);
        assert.deepEqual(lines[0].body, { phase: 'running' });
        assert.equal(lines[0].kind, 'manifest-report');
      } finally {
        await other.close();
      }
    });

    it('refuses an oversized report body with 413', async () => {
      const r = await raw(`${server.url}/manifest/device/report`, { 'content-type': 'application/json' }, 'POST', 'x'.repeat(70_000));
      assert.equal(r.status, 413);
    });
  });
});
