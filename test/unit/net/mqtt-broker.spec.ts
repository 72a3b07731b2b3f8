/**
 * The MQTT client against a real broker: Eclipse Mosquitto (Debian package), TLS with a test CA
 * and a client certificate required, as IoTConnect's X.509 devices connect. Skipped, with the
 * reason, only when the mosquitto binary is not installed.
 */
import assert from 'node:assert/strict';
import { MqttClient, type MqttMessage } from '../../../src/net/mqtt/client.js';
import type { ByteStream } from '../../../src/net/byte-stream.js';
import { utf8Decode, utf8Encode } from '../../../src/util/bytes.js';
import { OtaError } from '../../../src/util/errors.js';
import { startBroker, type Broker } from '../../../tools/node/mosquitto.js';
import { connectNode } from '../../../tools/node/node-byte-stream.js';
import { realClock } from '../../../tools/node/real-clock.js';
import { requireMosquitto, waitFor } from '../../support/broker.js';

describe('MQTT client against mosquitto (TLS, client certificate)', function () {
  this.timeout(30_000);
  let broker: Broker;

  before(async function () {
    requireMosquitto(this);
    broker = await startBroker();
  });
  after(async () => broker?.stop());

  function tlsStream(name: string): Promise<ByteStream> {
    const c = broker.pki.client(name);
    return connectNode({ host: '127.0.0.1', port: broker.tlsPort, tls: true }, { ca: broker.pki.caPem, cert: c.certPem, key: c.keyPem, servername: 'localhost' });
  }

  async function device(name: string, extra: { keepAliveS?: number; onMessage?: (m: MqttMessage) => void; onClose?: (e?: OtaError) => void } = {}) {
    const clock = realClock();
    const client = await MqttClient.connect({ stream: await tlsStream(name), clock, clientId: name, keepAliveS: extra.keepAliveS ?? 60, onMessage: extra.onMessage, onClose: extra.onClose });
    return { client, clock };
  }

  it('connects over TLS with the client certificate; the broker names it by its CN', async () => {
    const { client, clock } = await device('dev-a');
    assert.equal(client.state, 'connected');
    await client.disconnect();
    assert.equal(clock.active, 0, 'no timer left after disconnect');
    await waitFor(() => broker.log().includes('Client dev-a disconnected.'));
    assert.match(broker.log(), /New client connected from 127\.0\.0\.1:\d+ as dev-a \(p2, c1, k60, u'dev-a'\)/);
  });

  it('is refused a TLS session with a certificate from another CA', async () => {
    const rogue = broker.pki.rogueClient('intruder');
    const attempt = connectNode({ host: '127.0.0.1', port: broker.tlsPort, tls: true }, { ca: broker.pki.caPem, cert: rogue.certPem, key: rogue.keyPem, servername: 'localhost' }).then((stream) =>
      MqttClient.connect({ stream, clock: realClock(), clientId: 'intruder', keepAliveS: 60 }),
    );
    await assert.rejects(attempt, (e: unknown) => e instanceof OtaError && ['tls-failed', 'link-lost'].includes(e.reason));
  });

  it('subscribes and exchanges QoS 1 both ways with another client (device and cloud)', async () => {
    const deviceGot: MqttMessage[] = [];
    const cloudGot: MqttMessage[] = [];
    const { client: dev } = await device('dev-b', { onMessage: (m) => deviceGot.push({ ...m, payload: m.payload.slice() }) });
    const cloud = await MqttClient.connect({
      stream: await connectNode({ host: '127.0.0.1', port: broker.plainPort, tls: false }),
      clock: realClock(),
      clientId: 'cloud-b',
      keepAliveS: 60,
      onMessage: (m) => cloudGot.push({ ...m, payload: m.payload.slice() }),
    });
    assert.deepEqual(await dev.subscribe([{ filter: 'iot/dev-b/cmd', qos: 1 }]), [1]);
    assert.deepEqual(await cloud.subscribe([{ filter: '$aws/rules/+/dev-b/#', qos: 1 }]), [1]);
    await cloud.publish('iot/dev-b/cmd', utf8Encode('{"ct":1}'), { qos: 1 });
    await dev.publish('$aws/rules/msg_d2c_ack/dev-b/2.1/6', utf8Encode('{"st":2}'), { qos: 1 });
    await waitFor(() => deviceGot.length === 1 && cloudGot.length === 1);
    assert.equal(deviceGot[0].topic, 'iot/dev-b/cmd');
    assert.equal(deviceGot[0].qos, 1);
    assert.ok(deviceGot[0].packetId > 0);
    assert.equal(utf8Decode(deviceGot[0].payload), '{"ct":1}');
    assert.equal(cloudGot[0].topic, '$aws/rules/msg_d2c_ack/dev-b/2.1/6');
    assert.equal(utf8Decode(cloudGot[0].payload), '{"st":2}');
    // A QoS 0 publish is delivered at min(publish QoS, granted QoS) = 0 (§3.8.4).
    await cloud.publish('iot/dev-b/cmd', utf8Encode('q0'), { qos: 0 });
    await waitFor(() => deviceGot.length === 2);
    assert.equal(deviceGot[1].qos, 0);
    assert.equal(deviceGot[1].packetId, 0);
    await dev.disconnect();
    await cloud.disconnect();
  });

  it('keeps the connection alive with PINGREQ/PINGRESP past 1.5 × keep alive (3.2 s with keep alive 1 s)', async () => {
    const { client } = await device('dev-c', { keepAliveS: 1 });
    await new Promise((r) => setTimeout(r, 3200));
    assert.equal(client.state, 'connected', 'the broker drops a client silent for 1.5 × keep alive [MQTT-3.1.2-24]');
    assert.ok(client.stats.pingsSent >= 2, `pings sent: ${client.stats.pingsSent}`);
    assert.ok(client.stats.pongs >= 2, `pongs: ${client.stats.pongs}`);
    await client.disconnect();
  });

  it('reports link-lost and fails pending work when the broker drops the connection (session takeover)', async () => {
    const closes: (OtaError | undefined)[] = [];
    const { client, clock } = await device('dev-d', { onClose: (e) => closes.push(e) });
    // [MQTT-3.1.4-2]: a second connection with the same client id makes the server disconnect the first.
    const { client: second } = await device('dev-d');
    await waitFor(() => closes.length === 1);
    assert.equal(closes[0]?.reason, 'link-lost');
    assert.equal(client.state, 'closed');
    assert.equal(clock.active, 0);
    await assert.rejects(client.publish('x', utf8Encode('y'), { qos: 1 }), (e: unknown) => e instanceof OtaError && e.reason === 'closed');
    await second.disconnect();
  });

  it('reports link-lost when the broker process dies under a QoS 1 publish in flight', async () => {
    const own = await startBroker({ pki: broker.pki });
    try {
      const closes: (OtaError | undefined)[] = [];
      const c = broker.pki.client('dev-e');
      const stream = await connectNode({ host: '127.0.0.1', port: own.tlsPort, tls: true }, { ca: broker.pki.caPem, cert: c.certPem, key: c.keyPem, servername: 'localhost' });
      const clock = realClock();
      const client = await MqttClient.connect({ stream, clock, clientId: 'dev-e', keepAliveS: 60, onClose: (e) => closes.push(e) });
      await own.stop();
      const publishing = client.publish('x/y', utf8Encode('z'), { qos: 1 });
      await assert.rejects(publishing, (e: unknown) => e instanceof OtaError && ['link-lost', 'closed'].includes(e.reason));
      await waitFor(() => closes.length === 1);
      assert.equal(closes[0]?.reason, 'link-lost');
      assert.equal(clock.active, 0);
    } finally {
      await own.stop();
    }
  });
});
