/**
 * The MQTT client and the IoTConnect backend running inside XS (guest bundle `mqtt`), over a
 * byte stream the host carries to a real mosquitto over TLS with the device's client certificate
 * (tools/xs/serve-socket.ts), as a Moddable binding carries the modem's TLS socket.
 */
import assert from 'node:assert/strict';
import type { ByteStreamConnector } from '../../src/net/byte-stream.js';
import type { Broker, TestPki } from '../../tools/node/mosquitto.js';
import { connectNode } from '../../tools/node/node-byte-stream.js';
import type { IotConnectDouble } from '../../tools/server/iotconnect.js';
import { serveHttp, serveRealClock, serveSockets, type SocketBridge } from '../../tools/xs/serve-socket.js';
import { XsSession } from '../../tools/xs/session.js';
import { requireMosquitto, startIotConnectCloud, waitFor, type IotConnectCloud } from '../support/broker.js';
import { NodeHttpClient } from '../../tools/node/node-http-client.js';

describe('MQTT and IoTConnect inside XS (xsnap) against mosquitto', function () {
  this.timeout(60_000);
  let cloud: IotConnectCloud | undefined;
  let broker: Broker;
  let pki: TestPki;
  let double: IotConnectDouble;
  let session: XsSession;
  let sockets: SocketBridge;
  let clock: { readonly active: number; clear(): void };
  const errors: unknown[] = [];
  const DUID = 'xs-guest-1';

  before(async function () {
    requireMosquitto(this);
    cloud = await startIotConnectCloud();
    ({ broker, pki, double } = cloud);
    double.addDevice(DUID);
    double.addFile('fw.bin', new Uint8Array(100));
    session = await XsSession.start({ bundle: 'mqtt' });
    const creds = pki.client(DUID);
    const connector: ByteStreamConnector = {
      connect: (t) => connectNode({ ...t, host: '127.0.0.1' }, { ca: pki.caPem, cert: creds.certPem, key: creds.keyPem, servername: t.host }),
    };
    sockets = serveSockets(session, connector, (e) => errors.push(e));
    clock = serveRealClock(session, (e) => errors.push(e));
    serveHttp(session, new NodeHttpClient(), (e) => errors.push(e));
  });
  after(async () => {
    sockets?.closeAll();
    clock?.clear();
    await session?.close();
    await cloud?.close();
  });
  afterEach(() => assert.deepEqual(errors, [], 'no failed event delivery'));

  it('connects, subscribes and exchanges QoS 1 both ways from XS over TLS', async () => {
    const dev = double.addDevice(DUID);
    assert.equal(await session.call('connect', { host: 'localhost', port: broker.tlsPort, clientId: dev.clientId, keepAliveS: 1 }), 'connected');
    assert.deepEqual(await session.call('subscribe', { filter: dev.topics.c2d }), [1]);
    await double.publishRaw(DUID, '{"ct":0,"cmd":"hello from the cloud"}');
    assert.equal(await session.call('publish', { topic: dev.topics.rpt, text: '{"d":[{"d":{"temp":21}}]}', qos: 1 }), true);
    await double.until(() => double.d2c.some((m) => m.topic === dev.topics.rpt));
    let inbox: { topic: string; text: string; qos: number; packetId: number }[] = [];
    await waitFor(() => {
      void session.call<typeof inbox>('inbox').then((got) => (inbox = inbox.concat(got)));
      return inbox.length > 0;
    });
    assert.equal(inbox[0].topic, dev.topics.c2d);
    assert.equal(inbox[0].text, '{"ct":0,"cmd":"hello from the cloud"}');
    assert.equal(inbox[0].qos, 1);
    assert.ok(inbox[0].packetId > 0);
  });

  it('keeps alive from XS on the served clock (keep alive 1 s, 3.2 s of silence)', async () => {
    await new Promise((r) => setTimeout(r, 3200));
    const status = await session.call<{ state: string; pingsSent: number; pongs: number }>('status');
    assert.equal(status.state, 'connected');
    assert.ok(status.pingsSent >= 2 && status.pongs >= 2, JSON.stringify(status));
    assert.equal(await session.call('disconnect'), 'clean');
    await waitFor(() => sockets.open === 0 && clock.active === 0);
  });

  it('runs the IoTConnect backend in XS: poll takes the OTA command, report acks with st 3', async () => {
    const ack = 'a0a0a0a0-0000-4000-8000-000000000001';
    await double.startOta(DUID, { ack, sw: '2.0.0', hw: 'xs-ota-devkit', files: [{ fileName: 'fw.bin' }] });
    await session.call('iotcCreate', { discoveryUrl: double.discoveryUrl, cpid: 'XSOTA', env: 'qa', duid: DUID, commandWaitMs: 3000 });
    const result = await session.call<{ offer?: { actionId: string; version: string; url: string; hardware?: string[] } }>('iotcPoll', { version: '1.0.0' });
    assert.equal(result.offer?.actionId, ack);
    assert.equal(result.offer?.version, '2.0.0');
    // `hw` is IoTConnect's template hardware version, checked by the backend only when
    // otaIotcHardwareVersion is set (issue 13.8); it is never the agent's board name comparison.
    assert.equal(result.offer?.hardware, undefined);
    assert.match(result.offer!.url, /\/ota\/fw\.bin\?Expires=/);
    const fresh = await session.call<{ url: string } | null>('iotcRefresh', { ack, version: '1.0.0' });
    assert.ok(fresh && fresh.url.includes('/ota/fw.bin'));
    await session.call('iotcReport', { actionId: ack, phase: 'downloading', version: '2.0.0', runningVersion: '1.0.0', progress: { done: 50, total: 100 } });
    await session.call('iotcReport', { actionId: ack, phase: 'running', version: '2.0.0', runningVersion: '2.0.0' });
    await double.until(() => double.acks(DUID).length >= 2);
    assert.deepEqual(
      double.acks(DUID).map((a) => [a.ack, a.st, a.msg]),
      [
        [ack, 2, 'downloading 50%'],
        [ack, 3, 'running 2.0.0'],
      ],
    );
    assert.equal(double.pending(DUID), undefined);
    await waitFor(() => sockets.open === 0);
  });
});
