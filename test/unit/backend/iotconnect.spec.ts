/**
 * IoTConnect 2.1 backend: the message rules on their own (ack codes, hostile JSON), then end to end
 * against the double (tools/server/iotconnect.ts): HTTP discovery and identity on loopback, MQTT
 * through a real mosquitto over TLS with the device's client certificate, a broker ACL that lets
 * the device reach only the topics identity named.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Report } from '../../../src/backend/backend.js';
import { IotConnectBackend, ackOf, chooseUrl, parseC2d, parseDiscovery, parseIdentity, type IotConnectOptions } from '../../../src/backend/iotconnect.js';
import type { ByteStreamConnector } from '../../../src/net/byte-stream.js';
import { OtaError } from '../../../src/util/errors.js';
import { encodeHeader, IMAGE_MAGIC } from '../../../src/image/header.js';
import type { Broker, TestPki } from '../../../tools/node/mosquitto.js';
import { connectNode } from '../../../tools/node/node-byte-stream.js';
import { realClock } from '../../../tools/node/real-clock.js';
import type { IotConnectDouble } from '../../../tools/server/iotconnect.js';
import { requireMosquitto, startIotConnectCloud, waitFor, type IotConnectCloud } from '../../support/broker.js';
import { NodeHttpClient } from '../../../tools/node/node-http-client.js';

function isOta(reason: string, detail?: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof OtaError, String(error));
    assert.equal(error.reason, reason, error.message);
    if (detail) assert.match(error.message, detail);
    return true;
  };
}

const ACK = 'c6c90df6-d27f-44e5-8eb0-e278dc73ad4f';
const base: Report = { actionId: ACK, phase: 'accepted', version: '1.5.0', runningVersion: '1.4.0' };

describe('IoTConnect backend: message rules', () => {
  it('maps report phases onto the documented st codes [IOTC-h]', () => {
    assert.deepEqual(ackOf(base), { st: 2, msg: 'accepted 1.5.0' });
    assert.deepEqual(ackOf({ ...base, phase: 'downloading', progress: { done: 40, total: 100 } }), { st: 2, msg: 'downloading 40%' });
    assert.equal(ackOf({ ...base, phase: 'downloaded' }).st, 2);
    assert.equal(ackOf({ ...base, phase: 'staged' }).st, 2);
    assert.deepEqual(ackOf({ ...base, phase: 'running', runningVersion: '1.5.0' }), { st: 3, msg: 'running 1.5.0' });
    assert.deepEqual(ackOf({ ...base, phase: 'failed', reason: 'downgrade', detail: '1.3.0 < 1.4.0' }), { st: 1, msg: 'downgrade: 1.3.0 < 1.4.0' });
    // The detail of an OtaError's message (describeError) starts with the reason: named once.
    assert.deepEqual(ackOf({ ...base, phase: 'failed', reason: 'downgrade', detail: 'downgrade: 1.3.0 < 1.4.0' }), { st: 1, msg: 'downgrade: 1.3.0 < 1.4.0' });
    assert.deepEqual(ackOf({ ...base, phase: 'failed', reason: 'bad-signature', detail: 'ECDSA P-256 verify failed' }), {
      st: 4,
      msg: 'bad-signature: ECDSA P-256 verify failed',
    });
    assert.deepEqual(ackOf({ ...base, phase: 'reverted', reason: 'health-check-failed' }), { st: 4, msg: 'reverted to 1.4.0: health-check-failed' });
    assert.equal(ackOf({ ...base, phase: 'cancelled' }).st, 1);
    assert.equal(ackOf({ ...base, phase: 'failed', reason: 'timeout', detail: 'x'.repeat(500) }).msg.length, 200);
    // Only the agent's `running` report (booted, healthy, confirmed) says "new firmware running".
    for (const phase of ['accepted', 'downloading', 'downloaded', 'staged', 'failed', 'reverted', 'cancelled'] as const) {
      assert.notEqual(ackOf({ ...base, phase }).st, 3, phase);
    }
  });

  it('reads the documented OTA command, with "v" as string or number [IOTC-C2D][IOTC-t]', () => {
    const doc = {
      v: '2.1',
      ct: 1,
      cmd: 'ota',
      ack: ACK,
      sw: '1.5',
      hw: '1',
      urls: [{ url: 'https://iotc-x.s3.amazonaws.com/a/64b18fa3.bin?AWSAccessKeyId=K&Expires=1706815818&Signature=S', fileName: 'my_firmware.bin', tg: 'gw' }],
    };
    const parsed = parseC2d(doc);
    assert.equal(parsed.ota?.ack, ACK);
    assert.equal(parsed.ota?.sw, '1.5');
    assert.equal(parseC2d({ ...doc, v: 2.1 }).ota?.hw, '1');
    assert.deepEqual(parseC2d({ ct: 0, cmd: 'reboot' }), { ct: 0 });
    assert.deepEqual(parseC2d({ ct: 108 }), { ct: 108 });
  });

  it('refuses hostile commands with typed errors that keep the ack id when it could be read', () => {
    const good = { v: '2.1', ct: 1, cmd: 'ota', ack: ACK, sw: '1.5', urls: [{ url: 'https://h/f.bin' }] };
    assert.throws(() => parseC2d('x'), isOta('backend-protocol', /not an object/));
    assert.throws(() => parseC2d({ ...good, ct: '1' }), isOta('backend-protocol', /c2d\.ct is string/));
    assert.throws(() => parseC2d({ ...good, ack: 42 }), isOta('backend-protocol', /c2d\.ack is number/));
    assert.throws(() => parseC2d({ ...good, ack: 'a'.repeat(65) }), isOta('backend-protocol', /above 64/));
    const withAck = (bad: Record<string, unknown>, detail: RegExp) =>
      assert.throws(
        () => parseC2d({ ...good, ...bad }),
        (e: unknown) => isOta('backend-protocol', detail)(e) && (e as OtaError).cause !== undefined && ((e as OtaError).cause as { ack: string }).ack === ACK,
      );
    withAck({ urls: [] }, /urls is not a non-empty array/);
    withAck({ urls: 'https://h/f.bin' }, /urls is not a non-empty array/);
    withAck({ urls: new Array(9).fill({ url: 'https://h/f' }) }, /9 entries, above 8/);
    withAck({ urls: [{ url: 'ftp://h/f.bin' }] }, /not an absolute http\(s\) URL/);
    withAck({ urls: [{ url: 'https://h/f".bin' }] }, /not an absolute http\(s\) URL/);
    withAck({ urls: [{ url: 'https://h/f\u00fcr.bin' }] }, /not an absolute http\(s\) URL/);
    withAck({ urls: [{ url: 'https://h/' + 'a'.repeat(3100) }] }, /above 3072/);
    withAck({ sw: 15 }, /c2d\.sw is number/);
    withAck({ sw: undefined }, /c2d\.sw missing/);
    withAck({ v: '1.0' }, /not protocol 2\.x/);
  });

  it('meets any JSON value in a c2d message, discovery or identity with a result or a typed error (seeded fuzz)', () => {
    const shaped = fc.record(
      { v: fc.oneof(fc.constant('2.1'), fc.anything()), ct: fc.oneof(fc.constant(1), fc.anything()), ack: fc.oneof(fc.uuid(), fc.anything()), sw: fc.oneof(fc.string(), fc.anything()), urls: fc.oneof(fc.array(fc.record({ url: fc.oneof(fc.webUrl(), fc.anything()) })), fc.anything()) },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), shaped), (value) => {
        for (const parse of [() => parseC2d(value), () => parseDiscovery(value, 'https'), () => parseIdentity(value)]) {
          try {
            parse();
          } catch (error) {
            assert.ok(error instanceof OtaError && ['backend-protocol', 'backend-rejected'].includes(error.reason), String(error));
          }
        }
      }),
      { seed: 0x107c, numRuns: 2000 },
    );
  });

  it('chooses the .bin for this device tag among several files [IOTC-ex]', () => {
    const cmd = {
      ack: ACK,
      sw: '1',
      urls: [
        { url: 'https://h/config.json', fileName: 'config.json' },
        { url: 'https://h/child.bin', fileName: 'child.bin', tg: 'child' },
        { url: 'https://h/gw.bin?x=1', fileName: 'gw.bin', tg: 'gw' },
      ],
    };
    assert.equal(chooseUrl(cmd, 'gw'), 'https://h/gw.bin?x=1');
    assert.equal(chooseUrl(cmd), 'https://h/child.bin');
    assert.equal(chooseUrl({ ack: ACK, sw: '1', urls: [{ url: 'https://h/a?b' }] }), 'https://h/a?b');
  });

  it('checks discovery\'s top-level status as iotcl_dra_discovery.c does', () => {
    assert.throws(() => parseDiscovery({ status: 401, message: 'Incorrect environment', d: { ec: 0, bu: 'https://x.example/a' } }, 'https'), isOta('backend-rejected', /discovery status 401 \(Incorrect environment\)/));
    assert.equal(parseDiscovery({ status: 200, message: 'Success', d: { ec: 0, bu: 'https://x.example/a/' } }, 'https'), 'https://x.example/a');
  });

  it('validates discovery and identity answers', () => {
    assert.equal(parseDiscovery({ d: { ec: 0, bu: 'https://di.example/api/2.1/agent/device-identity/cg/x/' } }, 'https'), 'https://di.example/api/2.1/agent/device-identity/cg/x');
    assert.throws(() => parseDiscovery({ d: { ec: 3, bu: '' } }, 'https'), isOta('backend-rejected', /ec 3 \(subscription expired\)/));
    assert.throws(() => parseDiscovery({ d: { ec: 0, bu: 'http://di.example/x' } }, 'https'), isOta('backend-protocol', /no downgrade/));
    assert.throws(() => parseDiscovery({ d: { ec: 0 } }, 'https'), isOta('backend-protocol', /bu missing/));
    const identity = {
      d: {
        ec: 0,
        ct: 200,
        p: { n: 'mqtt', h: 'a3etk4e19usyja-ats.iot.us-east-1.amazonaws.com', p: 8883, id: 'abcde', topics: { rpt: 'r', ack: '$aws/rules/msg_d2c_ack/abcde/2.1/6', di: '$aws/rules/msg_d2c_di/abcde/2.1/1', c2d: 'iot/abcde/cmd' } },
      },
      status: 200,
    };
    const parsed = parseIdentity(identity);
    assert.equal(parsed.host, 'a3etk4e19usyja-ats.iot.us-east-1.amazonaws.com');
    assert.equal(parsed.port, 8883);
    assert.equal(parsed.topics.c2d, 'iot/abcde/cmd');
    assert.throws(() => parseIdentity({ d: { ec: 1 }, status: 200 }), isOta('backend-rejected', /ec 1 \(device not found\)/));
    const p = identity.d.p;
    const bad = (patch: Record<string, unknown>, detail: RegExp) => assert.throws(() => parseIdentity({ ...identity, d: { ...identity.d, p: { ...p, ...patch } } }), isOta('backend-protocol', detail));
    bad({ n: 'http' }, /only MQTT/);
    bad({ h: 'evil host/x' }, /not a host name/);
    bad({ p: 70000 }, /not a port/);
    bad({ p: '8883' }, /not a number/);
    bad({ topics: { ...p.topics, c2d: 'iot/#' } }, /wildcards/);
    bad({ topics: { ...p.topics, di: undefined } }, /di missing/);
  });
});

describe('IoTConnect backend end to end (double + mosquitto over TLS)', function () {
  this.timeout(60_000);
  let cloud: IotConnectCloud | undefined;
  let broker: Broker;
  let pki: TestPki;
  let double: IotConnectDouble;
  const DUID = 'xs-ota-dev-1';

  before(async function () {
    requireMosquitto(this);
    cloud = await startIotConnectCloud();
    ({ broker, pki, double } = cloud);
    double.addDevice(DUID);
    double.addFile('fw-1.5.0.bin', new Uint8Array(4096).fill(0xa5));
  });
  beforeEach(() => double.cancelOta(DUID));
  after(async () => cloud?.close());

  /** The device's TLS connector: its own certificate (CN = duid), the test CA, SNI = identity's host. */
  function connector(name = DUID): ByteStreamConnector & { opened: number } {
    const creds = pki.client(name);
    const c = {
      opened: 0,
      connect: (target: { host: string; port: number; tls: boolean }) => {
        c.opened++;
        return connectNode({ ...target, host: '127.0.0.1' }, { ca: pki.caPem, cert: creds.certPem, key: creds.keyPem, servername: target.host });
      },
    };
    return c;
  }

  const made: IotConnectBackend[] = [];
  afterEach(async () => {
    for (const b of made.splice(0)) await b.close();
  });

  function backend(extra: Partial<IotConnectOptions> = {}) {
    const requests: string[] = [];
    const http = new NodeHttpClient({ onRequest: (r) => requests.push(`${r.method} ${r.url}`) });
    const conn = connector();
    const b = new IotConnectBackend({ http, connector: conn, clock: realClock(), discoveryUrl: double.discoveryUrl, cpid: 'XSOTA', env: 'qa', duid: DUID, commandWaitMs: 3000, ...extra });
    made.push(b);
    return { b, requests, conn };
  }

  let n = 0;
  const newAck = () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;

  it("poll (session 'per-call'): discovery with pf, identity, mt 205 on di, takes the pending OTA command, disconnects", async () => {
    const ack = newAck();
    await double.startOta(DUID, { ack, sw: '1.5.0', hw: 'xs-ota-devkit', files: [{ fileName: 'fw-1.5.0.bin' }] });
    const { b, requests } = backend({ session: 'per-call' });
    const before = double.di(DUID).length;
    const result = await b.poll({ version: '1.4.0' });
    const offer = result.offer!;
    assert.equal(offer.actionId, ack);
    assert.equal(offer.version, '1.5.0');
    assert.equal(offer.hardware, undefined, 'hw is checked by the backend against hardwareVersion, when set');
    assert.match(offer.url, /\/ota\/fw-1\.5\.0\.bin\?Expires=\d+&Signature=[0-9a-f]{32}$/);
    assert.equal(offer.size, undefined, 'IoTConnect states no size');
    assert.equal(offer.sha256, undefined, 'nor a hash: the signed image is the integrity');
    assert.deepEqual(double.di(DUID).slice(before), ['{"mt":205}']);
    assert.deepEqual(
      requests.map((r) => r.replace(/127\.0\.0\.1:\d+/, 'H')),
      ['GET http://H/api/v2.1/dsdk/cpId/XSOTA/env/qa?pf=aws', 'GET http://H/api/2.1/agent/device-identity/cg/b892c353-0ad2-4fb1-9b4f-a1e9e0f0c0de/uid/xs-ota-dev-1'],
    );
    await waitFor(() => broker.log().includes(`Client XSOTA-${DUID} disconnected.`));
    // The URL really serves the image.
    const res = await fetch(offer.url);
    assert.equal(res.status, 200);
    assert.equal((await res.arrayBuffer()).byteLength, 4096);
  });

  it('poll with nothing pending returns no offer after the bounded wait; identity is cached', async () => {
    double.faults.ignore205 = true;
    try {
      const { b, requests } = backend({ commandWaitMs: 300 });
      assert.deepEqual(await b.poll({ version: '1.4.0' }), {});
      assert.deepEqual(await b.poll({ version: '1.4.0' }), {});
      assert.equal(requests.length, 2, 'discovery and identity once for two polls');
      assert.equal(b.stats.sessions, 1, "session 'kept' (default): one MQTT session for both polls");
      const perCall = backend({ commandWaitMs: 300, session: 'per-call' }).b;
      await perCall.poll({ version: '1.4.0' });
      await perCall.poll({ version: '1.4.0' });
      assert.equal(perCall.stats.sessions, 2, "session 'per-call': one per poll (a duty-cycled modem)");
    } finally {
      double.faults.ignore205 = false;
    }
  });

  it('ignores duplicate commands (same ack id) in a session and after the OTA finished', async () => {
    const ack = newAck();
    await double.startOta(DUID, { ack, sw: '1.6.0', files: [{ fileName: 'fw-1.5.0.bin' }] });
    const { b } = backend({ commandWaitMs: 1500 });
    // The 205 answer and two QoS 1 pushes of the same command all arrive in the poll's session.
    const asked = double.di(DUID).length;
    const polling = b.poll({ version: '1.5.0' });
    await double.until(() => double.di(DUID).length > asked); // subscribed to c2d, then asked
    await double.publishOta(DUID, 2);
    const result = await polling;
    assert.equal(result.offer?.actionId, ack);
    await double.until(() => b.stats.duplicates >= 1 || b.stats.commands >= 1);
    await b.report({ actionId: ack, phase: 'running', version: '1.6.0', runningVersion: '1.6.0' });
    // The cloud re-sends the finished command (QoS 1 redelivery): no new offer.
    await double.startOta(DUID, { ack, sw: '1.6.0', files: [{ fileName: 'fw-1.5.0.bin' }] });
    assert.deepEqual(await b.poll({ version: '1.6.0' }), {});
    assert.equal(await b.refreshOffer(ack, { version: '1.6.0' }), undefined);
  });

  it('expired URL: refreshOffer asks again with mt 205 and gets the same ack with a fresh URL', async () => {
    const ack = newAck();
    let now = Math.floor(Date.now() / 1000);
    double.now = () => now;
    try {
      await double.startOta(DUID, { ack, sw: '1.7.0', files: [{ fileName: 'fw-1.5.0.bin' }] });
      const { b } = backend();
      const first = (await b.poll({ version: '1.6.0' })).offer!;
      now += double.urlLifetimeS + 60; // the pre-signed URL has expired
      assert.equal((await fetch(first.url)).status, 403);
      const diBefore = double.di(DUID).length;
      const fresh = await b.refreshOffer(ack, { version: '1.6.0' });
      assert.equal(fresh?.actionId, ack);
      assert.notEqual(fresh?.url, first.url);
      assert.deepEqual(double.di(DUID).slice(diBefore), ['{"mt":205}']);
      assert.equal((await fetch(fresh!.url, { headers: { range: 'bytes=100-199' } })).status, 206);
    } finally {
      double.now = () => Math.floor(Date.now() / 1000);
    }
  });

  it('acknowledges on the ack topic with the documented st codes at each step', async () => {
    const ack = newAck();
    await double.startOta(DUID, { ack, sw: '1.8.0', files: [{ fileName: 'fw-1.5.0.bin' }] });
    const { b } = backend();
    const offer = (await b.poll({ version: '1.7.0' })).offer!;
    const r = { actionId: offer.actionId, version: '1.8.0', runningVersion: '1.7.0' };
    await b.report({ ...r, phase: 'accepted' });
    await b.report({ ...r, phase: 'downloading', progress: { done: 1638, total: 4096 } });
    await b.report({ ...r, phase: 'downloaded' });
    await b.report({ ...r, phase: 'staged' });
    assert.ok(double.pending(DUID), 'st 2 keeps the OTA open');
    await b.report({ ...r, phase: 'running', runningVersion: '1.8.0' });
    await double.until(() => double.acks(DUID).filter((a) => a.ack === ack).length === 5);
    const acks = double.acks(DUID).filter((a) => a.ack === ack);
    assert.deepEqual(
      acks.map((a) => [a.type, a.st, a.msg]),
      [
        [1, 2, 'accepted 1.8.0'],
        [1, 2, 'downloading 39%'],
        [1, 2, 'downloaded, signature verified'],
        [1, 2, 'staged, rebooting to install'],
        [1, 3, 'running 1.8.0'],
      ],
    );
    for (const a of acks) assert.match(a.dt ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(double.pending(DUID), undefined, 'st 3 closes the OTA at the cloud');
  });

  it('a final report with update history: each entry a telemetry record on rpt, the ack msg names them (docs/history.md)', async () => {
    const ack = newAck();
    await double.startOta(DUID, { ack, sw: '1.9.0', files: [{ fileName: 'fw-1.5.0.bin' }] });
    const { b } = backend();
    const offer = (await b.poll({ version: '1.8.0' })).offer!;
    const lines = ['H1|3|-|iotconnect|a|1.7.0+0|1.8.0+0|-|-|h|10|failed|timeout|se:0x7b000201|-|0', 'H1|4|-|iotconnect|b|1.8.0+0|1.9.0+0|-|-|h|20|running|-|se:0x7b000201|-|0'];
    const before = double.d2c.length;
    await b.report({ actionId: offer.actionId, version: '1.9.0', runningVersion: '1.9.0', phase: 'running', history: lines });
    await double.until(() => double.acks(DUID).some((a) => a.ack === ack && a.st === 3));
    assert.equal(double.acks(DUID).find((a) => a.ack === ack && a.st === 3)!.msg, 'running 1.9.0 [history 3-4]');
    const rpt = double.d2c.slice(before).filter((m) => m.topic.includes('msg_d2c_rpt')).map((m) => JSON.parse(m.text) as { d: { d: { otaHistory: string } }[] });
    assert.deepEqual(rpt.map((r) => r.d[0].d.otaHistory), lines);
  });

  it('says why in the acknowledgement of a rejected image (st 4) and of a refused offer (st 1)', async () => {
    const { b } = backend();
    const a1 = newAck();
    const a2 = newAck();
    await b.report({ actionId: a1, phase: 'failed', version: '2.0.0', runningVersion: '1.8.0', reason: 'bad-signature', detail: 'image not signed by the A5000 key' });
    await b.report({ actionId: a2, phase: 'failed', version: '1.0.0', runningVersion: '1.8.0', reason: 'downgrade', detail: '1.0.0 < 1.8.0' });
    await double.until(() => double.acks(DUID).some((a) => a.ack === a2));
    const byAck = new Map(double.acks(DUID).map((a) => [a.ack, a]));
    assert.deepEqual([byAck.get(a1)?.st, byAck.get(a1)?.msg], [4, 'bad-signature: image not signed by the A5000 key']);
    assert.deepEqual([byAck.get(a2)?.st, byAck.get(a2)?.msg], [1, 'downgrade: 1.0.0 < 1.8.0']);
  });

  describe('as the SDKs speak it (issue 13, finding 8)', () => {
    /** A file whose first 32 bytes are an MCUboot header (version 1.5.0+0). */
    const image = (): Uint8Array => {
      const bytes = new Uint8Array(4096).fill(0x11);
      encodeHeader({ magic: IMAGE_MAGIC, loadAddr: 0, hdrSize: 0x200, protectTlvSize: 0, imgSize: 3000, flags: 0, version: { major: 1, minor: 5, revision: 0, build: 0 } }, bytes);
      return bytes;
    };
    before(() => {
      double.addFile('settings.bin', new Uint8Array(4096).fill(0x7e));
      double.addFile('app-1.5.bin', image());
      double.addFile('notes.txt', new Uint8Array(100));
      double.addFile('config.bin', new Uint8Array(4096).fill(0x3c));
    });

    it('every file of urls[] is considered: the image header chooses among several .bin', async () => {
      const ack = newAck();
      await double.startOta(DUID, { ack, sw: 'v1.5-release', hw: '1', files: [{ fileName: 'notes.txt' }, { fileName: 'settings.bin' }, { fileName: 'app-1.5.bin' }] });
      const offer = (await backend().b.poll({ version: '1.4.0' })).offer!;
      assert.match(offer.url, /\/ota\/app-1\.5\.bin\?/);
      assert.equal(offer.version, 'v1.5-release', 'the sw label as given');
      assert.equal(offer.imageVersion, '1.5.0+0');
    });

    it("hw: not checked by default (the SDK fixture's hw '1' is accepted); checked trimmed and without case when hardwareVersion is set; a mismatch is acked st 1 naming both", async () => {
      const ack = newAck();
      await double.startOta(DUID, { ack, sw: '1.5', hw: '1', files: [{ fileName: 'app-1.5.bin' }] });
      assert.ok((await backend().b.poll({ version: '1.4.0' })).offer, 'default: no hw check');
      assert.ok((await backend({ hardwareVersion: ' 1 ' }).b.poll({ version: '1.4.0' })).offer, 'hw 1 matches');
      const { b } = backend({ hardwareVersion: '2' });
      assert.deepEqual(await b.poll({ version: '1.4.0' }), {});
      await double.until(() => double.acks(DUID).some((a) => a.ack === ack));
      const refusal = double.acks(DUID).find((a) => a.ack === ack)!;
      assert.deepEqual([refusal.st, refusal.msg], [1, "incompatible: the command is for hw '1', this device is hw '2'"]);
    });

    it('no image among the files: acked st 1 (not attempted) with why, never left pending', async () => {
      const ack = newAck();
      await double.startOta(DUID, { ack, sw: '1.5', files: [{ fileName: 'settings.bin' }, { fileName: 'notes.txt' }, { fileName: 'config.bin' }] });
      const { b } = backend();
      assert.deepEqual(await b.poll({ version: '1.4.0' }), {});
      await double.until(() => double.acks(DUID).some((a) => a.ack === ack));
      const refusal = double.acks(DUID).find((a) => a.ack === ack)!;
      assert.equal(refusal.st, 1);
      assert.match(refusal.msg ?? '', /^backend-protocol: no MCUboot image for this device among 2 files: c2d\.urls\[0\] \(settings\.bin\): not-an-image/);
      assert.equal(double.pending(DUID), undefined, 'a final st closes the OTA at the cloud');
    });

    it('the final success is st 3 (OTA_DOWNLOAD_DONE, as both SDK samples send it), or st 0 (IOTCL_C2D_EVT_OTA_SUCCESS) when configured', () => {
      assert.equal(ackOf({ ...base, phase: 'running' }).st, 3);
      assert.equal(ackOf({ ...base, phase: 'running' }, 0).st, 0);
      assert.equal(ackOf({ ...base, phase: 'failed', reason: 'backend-protocol', detail: 'c2d.urls' }).st, 1, 'a command that cannot be used was not attempted');
    });
  });

  it('refuses a malformed OTA command by its ack id (st 1, with why) and ignores other command types', async () => {
    const ack = newAck();
    const { b } = backend({ commandWaitMs: 1500 });
    const asked = double.di(DUID).length;
    const polling = b.poll({ version: '1.8.0' });
    await double.until(() => double.di(DUID).length > asked); // subscribed to c2d, then asked
    await double.publishRaw(DUID, '{"ct":0,"cmd":"reboot","ack":"x"}');
    await double.publishRaw(DUID, 'not json at all');
    await double.publishRaw(DUID, JSON.stringify({ v: '2.1', ct: 1, cmd: 'ota', ack, sw: '9.9', urls: [] }));
    assert.deepEqual(await polling, {});
    await double.until(() => double.acks(DUID).some((a) => a.ack === ack));
    const refusal = double.acks(DUID).find((a) => a.ack === ack)!;
    assert.equal(refusal.st, 1);
    assert.match(refusal.msg ?? '', /^backend-protocol: c2d\.urls is not a non-empty array/);
    assert.equal(b.stats.ignored, 1);
    assert.equal(b.stats.refused, 2);
  });

  it('fails with typed errors on a hostile or failing discovery/identity service', async () => {
    try {
      double.faults.discoveryStatus = 503;
      await assert.rejects(backend().b.poll({ version: '1' }), isOta('backend-unavailable', /discovery: HTTP 503/));
      double.faults.discoveryStatus = undefined;
      double.faults.discoveryEc = 3;
      await assert.rejects(backend().b.poll({ version: '1' }), isOta('backend-rejected', /subscription expired/));
      double.faults.discoveryEc = undefined;
      double.faults.identityEc = 5;
      await assert.rejects(backend().b.poll({ version: '1' }), isOta('backend-rejected', /device disabled/));
      double.faults.identityEc = undefined;
      double.faults.identityBody = '{"d":{"ec":0,"p":{"n":"mqtt","h":"localhost","p":8883,"id":"x","topics":{"c2d":"a","ack":"b"}}},"status":200}';
      await assert.rejects(backend().b.poll({ version: '1' }), isOta('backend-protocol', /di missing/));
      double.faults.identityBody = '<html>';
      await assert.rejects(backend().b.poll({ version: '1' }), isOta('backend-protocol', /identity: not JSON/));
      double.faults.identityBody = JSON.stringify({ pad: 'x'.repeat(9000) });
      await assert.rejects(backend().b.poll({ version: '1' }), isOta('body-too-large'));
    } finally {
      Object.assign(double.faults, { discoveryStatus: undefined, discoveryEc: undefined, identityEc: undefined, identityBody: undefined });
    }
  });

  it('a device certificate the broker does not trust fails the session and forgets the identity', async () => {
    const http = new NodeHttpClient();
    const rogue = pki.rogueClient(DUID);
    const conn: ByteStreamConnector = {
      connect: (t) => connectNode({ ...t, host: '127.0.0.1' }, { ca: pki.caPem, cert: rogue.certPem, key: rogue.keyPem, servername: t.host }),
    };
    const b = new IotConnectBackend({ http, connector: conn, clock: realClock(), discoveryUrl: double.discoveryUrl, cpid: 'XSOTA', env: 'qa', duid: DUID, commandWaitMs: 300 });
    await assert.rejects(b.poll({ version: '1' }), (e: unknown) => e instanceof OtaError && ['tls-failed', 'link-lost'].includes(e.reason));
    await assert.rejects(b.poll({ version: '1' }));
    assert.equal(b.stats.discoveries, 2, 'identity asked again after the failed session');
  });
});
