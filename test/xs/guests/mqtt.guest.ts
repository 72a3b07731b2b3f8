/**
 * XS guest: the MQTT client (src/net/mqtt) and the IoTConnect backend running inside the XS
 * engine, over byte streams, HTTP and a clock served by the host (tools/xs/serve-socket.ts).
 * The spec is test/xs/mqtt.spec.ts.
 */
import type { Report } from '../../../src/backend/backend.js';
import { IotConnectBackend } from '../../../src/backend/iotconnect.js';
import { MqttClient } from '../../../src/net/mqtt/client.js';
import { utf8Decode, utf8Encode } from '../../../src/util/bytes.js';
import { expose } from '../../../tools/xs/guest/bridge.js';
import { remoteClock } from '../../../tools/xs/guest/ports.js';
import { remoteConnector, remoteHttp } from '../../../tools/xs/guest/socket.js';

const clock = remoteClock();
const connector = remoteConnector();
let client: MqttClient | undefined;
let closedWith: string | undefined;
const inbox: { topic: string; text: string; qos: number; packetId: number }[] = [];
let backend: IotConnectBackend | undefined;

function mqtt(): MqttClient {
  if (!client) throw new Error('not connected');
  return client;
}

expose({
  connect: async (a: { host: string; port: number; clientId: string; keepAliveS: number }) => {
    const stream = await connector.connect({ host: a.host, port: a.port, tls: true });
    closedWith = undefined;
    client = await MqttClient.connect({
      stream,
      clock,
      clientId: a.clientId,
      keepAliveS: a.keepAliveS,
      onMessage: (m) => inbox.push({ topic: m.topic, text: utf8Decode(m.payload), qos: m.qos, packetId: m.packetId }),
      onClose: (e) => (closedWith = e ? e.reason : 'clean'),
    });
    return client.state;
  },
  subscribe: (a: { filter: string }) => mqtt().subscribe([{ filter: a.filter, qos: 1 }]),
  publish: (a: { topic: string; text: string; qos: 0 | 1 }) => mqtt().publish(a.topic, utf8Encode(a.text), { qos: a.qos }).then(() => true),
  inbox: () => inbox.splice(0),
  status: () => ({ ...mqtt().stats, state: mqtt().state, closedWith: closedWith ?? null }),
  disconnect: () => mqtt().disconnect().then(() => closedWith ?? null),

  iotcCreate: (a: { discoveryUrl: string; cpid: string; env: string; duid: string; commandWaitMs: number }) => {
    backend = new IotConnectBackend({ http: remoteHttp(), connector, clock, ...a });
    return true;
  },
  iotcPoll: (a: { version: string }) => backend!.poll(a),
  iotcRefresh: (a: { ack: string; version: string }) => backend!.refreshOffer(a.ack, { version: a.version }).then((o) => o ?? null),
  iotcReport: (a: Report) => backend!.report(a).then(() => true),
  iotcStats: () => ({ ...backend!.stats }),
});
