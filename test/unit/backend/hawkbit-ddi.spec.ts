/**
 * hawkBit DDI as hawkBit's own model classes define it (eclipse-hawkbit/hawkbit hawkbit-ddi-api,
 * DdiDeploymentBase / DdiChunk / DdiArtifact / DdiConfirmationBaseAction / DdiConfirmationFeedback
 * examples): the OpenAPI example deployment with its unknown fields, module choice by part,
 * pattern and image header, body sizes with pre-signed links against the default cap, user
 * consent, credentials for download links on another host, version labels.
 */
import assert from 'node:assert/strict';
import { HawkbitBackend } from '../../../src/backend/hawkbit.js';
import { JSON_BODY_MAX } from '../../../src/backend/json-http.js';
import { labelOrder, labelVersion } from '../../../src/backend/version-label.js';
import { encodeHeader, IMAGE_MAGIC } from '../../../src/image/header.js';
import { ScriptedHttp } from '../../support/scripted-http.js';

const SERVER = 'https://management-api.host.com';
const ROOT = `${SERVER}/TENANT_ID/controller/v1/CONTROLLER_ID`;
const DEPLOY = `${ROOT}/deploymentBase/8?c=-2127183556`;
const FEEDBACK = `${ROOT}/deploymentBase/8/feedback`;

/** An S3-style pre-signed URL of 1.4 KiB (credential scope, session token, signature). */
function presigned(path: string): string {
  return `https://objects.example.com${path}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${'A'.repeat(60)}&X-Amz-Date=20261203T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Security-Token=${'T'.repeat(1000)}&X-Amz-Signature=${'f'.repeat(64)}`;
}

/** DdiDeploymentBase's OpenAPI example (3 modules, 2 files each, 4 links each, metadata, actionHistory). */
function openApiExample(options: { modules?: number; signed?: boolean; size?: number } = {}): any {
  const modules = [
    { part: 'jvm', version: '1.0.75', name: 'oneapp runtime', sm: 23 },
    { part: 'os', version: '1.0.79', name: 'one Firmware', sm: 24 },
    { part: 'bApp', version: '1.0.91', name: 'oneapplication', sm: 22 },
  ].slice(3 - (options.modules ?? 3));
  const link = (scheme: string, path: string) => (options.signed ? presigned(path) : `${scheme}://link-to-cdn.com${path}`);
  return {
    id: '8',
    deployment: {
      download: 'forced',
      update: 'forced',
      maintenanceWindow: 'available',
      chunks: modules.map((m) => ({
        part: m.part,
        version: m.version,
        name: m.name,
        artifacts: ['binary.tgz', 'file.signature'].map((filename) => {
          const path = `/api/v1/TENANT_ID/download/controller/CONTROLLER_ID/softwaremodules/${m.sm}/filename/${filename}`;
          return {
            filename,
            hashes: { sha1: '986a1ade8b8a2f758ce951340cc5e21335cc2a00', md5: 'd04440e6533863247655ac5fd4345bcc', sha256: 'b3a04740a19e36057ccf258701922f3cd2f1a880536be53a3ca8d50f6b615975' },
            size: options.size ?? 13,
            _links: { download: { href: link('https', path) }, 'download-http': { href: link('http', path) }, 'md5sum-http': { href: link('http', `${path}.MD5SUM`) }, md5sum: { href: link('https', `${path}.MD5SUM`) } },
          };
        }),
        ...(m.part === 'bApp' ? { metadata: [{ key: 'aMetadataKey', value: 'Metadata value as defined in software module' }] } : {}),
      })),
    },
    actionHistory: { status: 'RUNNING', messages: ['Reboot', 'Write firmware', 'Download done', 'Download failed. ErrorCode #5876745. Retry', 'Started download', "Assignment initiated by user 'TestPrincipal'"] },
  };
}

function serve(body: unknown): ScriptedHttp {
  return new ScriptedHttp()
    .on('GET', ROOT, { status: 200, body: { config: { polling: { sleep: '00:05:00' } }, _links: { deploymentBase: { href: DEPLOY } } } })
    .on('GET', DEPLOY, { status: 200, body: body as object })
    .on('POST', FEEDBACK, { status: 200 });
}

function backend(http: ScriptedHttp, extra: Partial<ConstructorParameters<typeof HawkbitBackend>[0]> = {}): HawkbitBackend {
  return new HawkbitBackend({ http, server: SERVER, tenant: 'TENANT_ID', controllerId: 'CONTROLLER_ID', token: 'tok', ...extra });
}

function refusal(http: ScriptedHttp): string {
  const posts = http.sent.filter((r) => r.method === 'POST');
  assert.equal(posts.length, 1, 'answered once');
  const status = (posts[0].json as any).status;
  assert.deepEqual([status.execution, status.result.finished], ['closed', 'failure']);
  return status.details.join(' ');
}

function mcubootHeader(version: { major: number; minor: number; revision: number; build: number }, loadAddr = 0): Uint8Array {
  const bytes = new Uint8Array(64 * 1024).fill(0x5a);
  encodeHeader({ magic: IMAGE_MAGIC, loadAddr, hdrSize: 0x200, protectTlvSize: 0, imgSize: 60_000, flags: 0, version }, bytes);
  return bytes;
}

describe('hawkBit DDI as its model classes define it (issue 13)', () => {
  it("the OpenAPI example: no *.bin in it, so it is answered closed/failure naming the pattern, not a silent stall", async () => {
    const http = serve(openApiExample());
    assert.equal((await backend(http).poll({ version: '1.0.0' })).offer, undefined);
    assert.match(refusal(http), /no artifact matches \*\.bin/);
  });

  it("the OpenAPI example by part 'bApp' and pattern 'binary.tgz': the bApp module, unknown fields ignored, the token to the DDI download host", async () => {
    const http = serve(openApiExample({ size: 262144 }));
    const { offer } = await backend(http, { part: 'bApp', artifactPattern: 'binary.tgz' }).poll({ version: '1.0.0' });
    assert.equal(offer!.url, 'https://link-to-cdn.com/api/v1/TENANT_ID/download/controller/CONTROLLER_ID/softwaremodules/22/filename/binary.tgz');
    assert.equal(offer!.version, '1.0.91');
    assert.equal(offer!.size, 262144);
    assert.deepEqual(offer!.headers, { authorization: 'TargetToken tok' }, 'a DDI download resource on another host needs the token');
    assert.equal(http.sent.filter((r) => r.method === 'POST').length, 0);
  });

  it('optional fields may be absent (DdiArtifact size and hashes, DdiChunk artifacts): the offer has no size, the server says it', async () => {
    const body = openApiExample({ modules: 2, size: 262144 });
    delete body.deployment.chunks[0].artifacts; // the os module without files
    delete body.deployment.chunks[1].artifacts[0].size;
    delete body.deployment.chunks[1].artifacts[0].hashes;
    delete body.deployment.maintenanceWindow;
    const http = serve(body);
    const { offer } = await backend(http, { artifactPattern: 'binary.tgz' }).poll({ version: '1.0.0' });
    assert.match(offer!.url, /softwaremodules\/22\//);
    assert.equal(offer!.size, undefined);
    assert.equal(offer!.sha256, undefined);
    assert.equal(offer!.maintenanceWindow, undefined);
  });

  it('no token over plain http to another host, nor to a URL with a query', async () => {
    const http = serve(openApiExample({ modules: 1, size: 262144 }));
    const { offer } = await backend(http, { artifactPattern: 'binary.tgz', preferPlainHttp: true }).poll({ version: '1.0.0' });
    assert.match(offer!.url, /^http:\/\/link-to-cdn\.com\//);
    assert.equal(offer!.headers, undefined);
  });

  it("a part the deployment does not have is refused naming the parts it has", async () => {
    const http = serve(openApiExample({ size: 262144 }));
    await backend(http, { part: 'firmware', artifactPattern: 'binary.tgz' }).poll({ version: '1.0.0' });
    assert.match(refusal(http), /in part 'firmware' \(parts: jvm, os, bApp\)/);
  });

  it('several matching files: the image header chooses (magic, load address, size), before the download', async () => {
    const body = openApiExample({ size: 64 * 1024 });
    const files = new Map<string, Uint8Array>([
      ['23', new Uint8Array(64 * 1024).fill(7)], // jvm: not an MCUboot image
      ['24', mcubootHeader({ major: 2, minor: 0, revision: 0, build: 0 }, 0x10000000)], // os: an image for another load address
      ['22', mcubootHeader({ major: 1, minor: 1, revision: 0, build: 3 })], // bApp: ours
    ]);
    const http = serve(body);
    for (const [sm, bytes] of files) {
      const url = `https://link-to-cdn.com/api/v1/TENANT_ID/download/controller/CONTROLLER_ID/softwaremodules/${sm}/filename/binary.tgz`;
      http.on('GET', url, (r) => {
        assert.deepEqual(r.range, { start: 0, end: 31 }, 'only the header is asked for');
        return { status: 206, headers: { 'content-range': `bytes 0-31/${bytes.length}` }, body: bytes.subarray(0, 32) };
      });
    }
    const b = backend(http, { artifactPattern: 'binary.tgz', image: { maxImageBytes: 0x60000, loadAddress: 0 } });
    const { offer } = await b.poll({ version: '1.0.0' });
    assert.match(offer!.url, /softwaremodules\/22\//);
    assert.equal(offer!.imageVersion, '1.1.0+3');
    const probes = http.sent.filter((r) => r.range !== undefined).length;
    await b.poll({ version: '1.0.0' });
    assert.equal(http.sent.filter((r) => r.range !== undefined).length, probes, 'chosen once per action');

    const none = serve(body);
    for (const sm of ['23', '22', '24']) none.on('GET', `https://link-to-cdn.com/api/v1/TENANT_ID/download/controller/CONTROLLER_ID/softwaremodules/${sm}/filename/binary.tgz`, { status: 206, headers: { 'content-range': 'bytes 0-31/65536' }, body: files.get('24')!.subarray(0, 32) });
    await backend(none, { artifactPattern: 'binary.tgz', image: { loadAddress: 0 } }).poll({ version: '1.0.0' });
    assert.match(refusal(none), /load address 0x10000000 != 0x0/);
  });

  it('with a download client of its own (agent TLS on the DDI channel), the header probes go through it, the DDI requests not', async () => {
    const body = openApiExample({ modules: 1, size: 64 * 1024 });
    const ddi = serve(body);
    const download = new ScriptedHttp();
    for (const filename of ['binary.tgz', 'file.signature']) {
      const url = `https://link-to-cdn.com/api/v1/TENANT_ID/download/controller/CONTROLLER_ID/softwaremodules/22/filename/${filename}`;
      const bytes = filename === 'binary.tgz' ? mcubootHeader({ major: 1, minor: 2, revision: 0, build: 0 }) : new Uint8Array(64).fill(1);
      download.on('GET', url, { status: 206, headers: { 'content-range': `bytes 0-31/${64 * 1024}` }, body: bytes.subarray(0, 32) });
    }
    const { offer } = await backend(ddi, { artifactPattern: '*', downloadHttp: download, image: { maxImageBytes: 0x60000 } }).poll({ version: '1.0.0' });
    assert.match(offer!.url, /filename\/binary\.tgz$/);
    assert.deepEqual(download.sent.map((r) => r.range), [{ start: 0, end: 31 }], 'the first file (an image) probed on the download client');
    assert.ok(ddi.sent.every((r) => r.range === undefined), 'no probe on the DDI client');
  });

  it('among several files, one larger than the slot is passed over before any byte is fetched', async () => {
    const http = serve(openApiExample({ modules: 1, size: 0x70000 }));
    await backend(http, { artifactPattern: '*', image: { maxImageBytes: 0x60000 } }).poll({ version: '1.0.0' });
    assert.match(refusal(http), /binary\.tgz\): size 458752 > slot capacity 393216; .*file\.signature\): size 458752/);
    assert.equal(http.sent.filter((r) => r.range !== undefined).length, 0);
  });

  describe('body sizes with pre-signed links (finding 2): the default cap is sized from the example', () => {
    const size = (body: unknown) => JSON.stringify(body).length;
    it(`measured: 1 module ${size(openApiExample({ modules: 1, signed: true }))} B, 2 modules ${size(openApiExample({ modules: 2, signed: true }))} B, 3 modules ${size(openApiExample({ signed: true }))} B; cap ${JSON_BODY_MAX} B`, async () => {
      assert.ok(size(openApiExample({ modules: 2, signed: true })) > 16 * 1024, 'two modules with pre-signed links need more than 16 KiB');
      const two = serve(openApiExample({ modules: 2, signed: true, size: 262144 }));
      const { offer } = await backend(two, { part: 'bApp', artifactPattern: 'binary.tgz' }).poll({ version: '1.0.0' });
      assert.match(offer!.url, /^https:\/\/objects\.example\.com\/.*softwaremodules\/22\//);
      assert.equal(offer!.headers, undefined, 'a pre-signed URL on an object store gets no token');

      const three = serve(openApiExample({ signed: true, size: 262144 }));
      assert.equal((await backend(three, { part: 'bApp', artifactPattern: 'binary.tgz' }).poll({ version: '1.0.0' })).offer, undefined);
      assert.match(refusal(three), new RegExp(`body-too-large.*${JSON_BODY_MAX}`));
      const larger = serve(openApiExample({ signed: true, size: 262144 }));
      assert.ok((await backend(larger, { part: 'bApp', artifactPattern: 'binary.tgz', bodyMax: 48 * 1024 }).poll({ version: '1.0.0' })).offer, 'the bodyMax setting holds it');
    });

    it('a URL over the configured urlMax is refused naming the field', async () => {
      const http = serve(openApiExample({ modules: 1, signed: true, size: 262144 }));
      await backend(http, { artifactPattern: 'binary.tgz', urlMax: 1024 }).poll({ version: '1.0.0' });
      assert.match(refusal(http), /artifacts\[0\]\._links\.download\.href: length 1\d{3} not in 1\.\.1024/);
    });
  });

  describe('confirmationBase (DdiConfirmationBaseAction, DdiConfirmationFeedback)', () => {
    const CONFIRM = `${ROOT}/confirmationBase/6?c=-2122565939`;
    const consent = (): ScriptedHttp => {
      const action = openApiExample({ size: 262144 });
      return new ScriptedHttp()
        .on('GET', ROOT, { status: 200, body: { config: { polling: { sleep: '00:05:00' } }, _links: { confirmationBase: { href: CONFIRM } } } })
        .on('GET', CONFIRM, { status: 200, body: { id: '6', confirmation: action.deployment, actionHistory: { status: 'WAIT_FOR_CONFIRMATION', messages: [] } } })
        .on('POST', `${ROOT}/confirmationBase/6/feedback`, { status: 200 });
    };
    const answer = (http: ScriptedHttp) => http.sent.filter((r) => r.method === 'POST').map((r) => r.json as any);

    it('autoConfirm (default): confirmed', async () => {
      const http = consent();
      assert.equal((await backend(http, { artifactPattern: 'binary.tgz', part: 'bApp' }).poll({ version: '1.0.0' })).offer, undefined);
      assert.deepEqual(answer(http).map((a) => [a.confirmation, a.code]), [['confirmed', 200]]);
    });

    it('the application hook sees the offer and decides', async () => {
      const http = consent();
      const seen: string[] = [];
      await backend(http, { artifactPattern: 'binary.tgz', part: 'bApp', confirm: (offer) => (seen.push(offer.version), false) }).poll({ version: '1.0.0' });
      assert.deepEqual(seen, ['1.0.91']);
      assert.equal(answer(http)[0].confirmation, 'denied');
      assert.match(answer(http)[0].details[0], /the application declined 1\.0\.91/);
    });

    // The root as hawkBit answers a device whose action waits: the same ETag every poll, 304 to If-None-Match.
    const withEtag = (http: ScriptedHttp): ScriptedHttp =>
      http.on('GET', ROOT, (request) =>
        request.headers?.['if-none-match'] === '"r1"'
          ? { status: 304, headers: { etag: '"r1"' } }
          : { status: 200, headers: { etag: '"r1"' }, body: { config: { polling: { sleep: '00:05:00' } }, _links: { confirmationBase: { href: CONFIRM } } } },
      );

    it('a hook that declines is asked again at the next poll (the root not cached), and its consent is sent; the same denial is sent once', async () => {
      const http = withEtag(consent());
      const answers = [false, false, true];
      const hawkbit = backend(http, { artifactPattern: 'binary.tgz', part: 'bApp', confirm: () => answers.shift()! });
      for (let i = 0; i < 3; i++) await hawkbit.poll({ version: '1.0.0' });
      assert.deepEqual(answers, [], 'asked at each of the three polls');
      assert.deepEqual(answer(http).map((a) => a.confirmation), ['denied', 'confirmed']);
      const roots = http.sent.filter((r) => r.method === 'GET' && r.url === ROOT);
      assert.deepEqual(roots.map((r) => r.headers?.['if-none-match']), [undefined, undefined, undefined], 'no poll answered from the cache while the hook declines');
    });

    it('autoConfirm false without a hook cannot change its answer: denied once, the root cached (304) after it', async () => {
      const http = withEtag(consent());
      const hawkbit = backend(http, { artifactPattern: 'binary.tgz', part: 'bApp', autoConfirm: false });
      for (let i = 0; i < 3; i++) await hawkbit.poll({ version: '1.0.0' });
      assert.deepEqual(answer(http).map((a) => a.confirmation), ['denied']);
      assert.equal(http.sent.filter((r) => r.method === 'GET' && r.url === CONFIRM).length, 1);
    });

    it('autoConfirm false without a hook: denied with the reason', async () => {
      const http = consent();
      await backend(http, { artifactPattern: 'binary.tgz', part: 'bApp', autoConfirm: false }).poll({ version: '1.0.0' });
      assert.equal(answer(http)[0].confirmation, 'denied');
      assert.match(answer(http)[0].details[0], /autoConfirm is off/);
    });
  });

  describe('versions are labels (finding 5)', () => {
    it('reads v1.1.0, 1.1.0-rc.1, v1.5-release, 2.0.0-rc1, 1.3.0+5; refuses nothing for its syntax', () => {
      assert.deepEqual(labelVersion('v1.1.0')?.version, { major: 1, minor: 1, revision: 0, build: 0 });
      assert.deepEqual(labelVersion('1.1.0-rc.1')?.version, { major: 1, minor: 1, revision: 0, build: 0 });
      assert.deepEqual(labelVersion('v1.5-release')?.version, { major: 1, minor: 5, revision: 0, build: 0 });
      assert.deepEqual(labelVersion('2.0.0-rc1')?.version, { major: 2, minor: 0, revision: 0, build: 0 });
      assert.equal(labelVersion('1.3.0+5')?.exact, true);
      assert.equal(labelVersion('release-42'), undefined);
      assert.equal(labelVersion('1.300.0'), undefined, 'beyond the header (u8 minor)');
    });

    it('orders labels against the running version for the pre-download checks', () => {
      assert.deepEqual(labelOrder('v1.1.0', '1.0.0+0'), { cmp: 1, exact: false });
      assert.deepEqual(labelOrder('0.9.0', '1.0.0+0'), { cmp: -1, exact: true });
      assert.deepEqual(labelOrder('1.0.0-rc.2', '1.0.0+0'), { cmp: 0, exact: false }, 'an rc of the same numbers is not refused as same-version');
      assert.deepEqual(labelOrder('release-42', '1.0.0+0'), { cmp: undefined, exact: false }, 'no version in it: the header decides');
    });

    it('the label goes back in the feedback as given, with the header version beside it', async () => {
      const http = serve(openApiExample({ modules: 1, size: 262144 }));
      const body = openApiExample({ modules: 1, size: 262144 });
      body.deployment.chunks[0].version = 'v1.5-release';
      http.on('GET', DEPLOY, { status: 200, body });
      const b = backend(http, { artifactPattern: 'binary.tgz' });
      const { offer } = await b.poll({ version: '1.0.0' });
      assert.equal(offer!.version, 'v1.5-release');
      // The agent gives the label with the report (kept in its journal: a fresh backend after a
      // reboot, which never fetched the deployment, names it too).
      const fresh = backend(http, { artifactPattern: 'binary.tgz' });
      await fresh.report({ actionId: '8', phase: 'running', version: '1.5.0+0', label: offer!.version, runningVersion: '1.5.0+0' });
      const details = (http.sent.at(-1)!.json as any).status.details[0];
      assert.equal(details, 'running: target v1.5-release (image 1.5.0+0), running 1.5.0+0');
    });
  });
});
