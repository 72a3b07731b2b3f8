/**
 * IoTConnect backend timing, deterministic: a scripted broker (MqttPeer) on an in-memory stream
 * and a scripted HTTP client, in virtual time. Covers what the real-broker suite cannot pin down:
 * the exact bound of a poll's wait, a link lost mid-wait, a refused CONNACK.
 */
import assert from 'node:assert/strict';
import { IotConnectBackend } from '../../../src/backend/iotconnect.js';
import type { ByteStreamConnector, StreamTarget } from '../../../src/net/byte-stream.js';
import { utf8Decode, utf8Encode } from '../../../src/util/bytes.js';
import { OtaError } from '../../../src/util/errors.js';
import { memoryStreamPair, type MemoryStreamPair } from '../../../tools/devkit/parts/memory-stream.js';
import { VirtualTime } from '../../../tools/devkit/parts/virtual-time.js';
import { MqttPeer } from '../../support/mqtt-peer.js';
import { ScriptedHttp } from '../../support/scripted-http.js';

const TOPICS = { rpt: 'r/dev', ack: '$aws/rules/msg_d2c_ack/C-dev/2.1/6', di: '$aws/rules/msg_d2c_di/C-dev/2.1/1', c2d: 'iot/C-dev/cmd' };

const DISCOVERY_URL = 'https://discovery.example/api/v2.1/dsdk/cpId/C/env/qa?pf=aws';
const IDENTITY_URL = 'https://identity.example/api/2.1/agent/device-identity/cg/x/uid/dev';

function scriptedHttp(): ScriptedHttp {
  return new ScriptedHttp()
    .on('GET', DISCOVERY_URL, { status: 200, body: { d: { ec: 0, bu: 'https://identity.example/api/2.1/agent/device-identity/cg/x' }, status: 200 } })
    .on('GET', IDENTITY_URL, { status: 200, body: { d: { ec: 0, ct: 200, p: { n: 'mqtt', h: 'broker.example', p: 8883, id: 'C-dev', topics: TOPICS } }, status: 200 } });
}

function setup(session: 'kept' | 'per-call' = 'per-call') {
  const time = new VirtualTime();
  const http = scriptedHttp();
  const links: { pair: MemoryStreamPair; peer: MqttPeer; target: StreamTarget }[] = [];
  const connector: ByteStreamConnector = {
    connect(target) {
      const pair = memoryStreamPair(time, 20);
      links.push({ pair, peer: new MqttPeer(pair.server), target });
      return Promise.resolve(pair.client);
    },
  };
  const backend = new IotConnectBackend({ http, connector, clock: time.clockPort(), discoveryUrl: 'https://discovery.example', cpid: 'C', env: 'qa', duid: 'dev', commandWaitMs: 10_000, session });
  return { time, http, links, backend };
}

/** Play the broker up to the mt 205 request: CONNACK, SUBACK. */
async function brokerAnswersUntil205(time: VirtualTime, peer: MqttPeer): Promise<void> {
  await time.runFor(peer.next(1));
  peer.connack();
  const sub = await time.runFor(peer.next(8));
  assert.deepEqual(sub.filters, [{ filter: TOPICS.c2d, qos: 1 }]);
  peer.suback(sub.packetId!, [1]);
  const ask = await time.runFor(peer.next(3));
  assert.equal(ask.topic, TOPICS.di);
  assert.equal(utf8Decode(ask.payload!), '{"mt":205}');
  peer.puback(ask.packetId!);
}

describe('IoTConnect backend timing (scripted broker, virtual time)', () => {
  it('connects with TLS to identity\'s host and port, waits exactly commandWaitMs, then disconnects', async () => {
    const { time, links, backend, http } = setup();
    const polling = backend.poll({ version: '1.0.0' });
    await time.runUntil(() => links.length === 1);
    assert.deepEqual(links[0].target, { host: 'broker.example', port: 8883, tls: true });
    assert.deepEqual(http.sent.map((r) => r.url), [DISCOVERY_URL, IDENTITY_URL]);
    await brokerAnswersUntil205(time, links[0].peer);
    const askedAt = time.now() - 20; // the PUBLISH left 20 ms before the peer saw it
    assert.deepEqual(await time.runFor(polling), {});
    assert.equal(time.now(), askedAt + 40 + 10_000, 'the PUBACK round trip (2 × 20 ms), then the 10 s wait');
    await time.advance(100);
    assert.equal(links[0].peer.count(14), 1, 'DISCONNECT sent');
    assert.equal(time.pending, 0, 'no timer left');
  });

  it("session 'kept': the session stays open after a poll with nothing pending, pings at keep-alive, and the next poll reuses it", async () => {
    const { time, links, backend } = setup('kept');
    const polling = backend.poll({ version: '1.0.0' });
    await time.runUntil(() => links.length === 1);
    await brokerAnswersUntil205(time, links[0].peer);
    assert.deepEqual(await time.runFor(polling), {});
    await time.runFor(links[0].peer.next(12)); // PINGREQ at the keep-alive (60 s)
    links[0].peer.pingresp();
    assert.equal(links[0].peer.count(14), 0, 'no DISCONNECT');
    assert.ok(links[0].peer.count(12) >= 1, 'PINGREQ at the keep-alive');
    const again = backend.poll({ version: '1.0.0' });
    const sub = await time.runFor(links[0].peer.next(8));
    links[0].peer.suback(sub.packetId!, [1]);
    const ask = await time.runFor(links[0].peer.next(3));
    links[0].peer.puback(ask.packetId!);
    assert.deepEqual(await time.runFor(again), {});
    assert.equal(links.length, 1, 'one connection for both polls');
    assert.equal(backend.stats.sessions, 1);
    const closing = backend.close();
    await time.runFor(closing);
    await time.advance(100);
    assert.equal(links[0].peer.count(14), 1, 'DISCONNECT on close');
  });

  it("session 'kept': a kept session whose link was lost is opened again at the next poll (reconnect)", async () => {
    const { time, links, backend } = setup('kept');
    const first = backend.poll({ version: '1.0.0' });
    await time.runUntil(() => links.length === 1);
    await brokerAnswersUntil205(time, links[0].peer);
    assert.deepEqual(await time.runFor(first), {});
    links[0].pair.drop(); // the cell or the broker dropped it while idle
    await time.advance(1000);
    const second = backend.poll({ version: '1.0.0' });
    await time.runUntil(() => links.length === 2);
    await brokerAnswersUntil205(time, links[1].peer);
    assert.deepEqual(await time.runFor(second), {});
    assert.equal(backend.stats.sessions, 2);
    assert.equal(backend.stats.discoveries, 1, 'identity kept: the broker answered before');
    await time.runFor(backend.close());
  });

  it('a link lost while waiting fails the poll at once with link-lost, and identity is kept', async () => {
    const { time, links, backend } = setup();
    const polling = backend.poll({ version: '1.0.0' });
    polling.catch(() => undefined);
    await time.runUntil(() => links.length === 1);
    await brokerAnswersUntil205(time, links[0].peer);
    await time.advance(1000);
    const lostAt = time.now();
    links[0].pair.drop();
    await assert.rejects(time.runFor(polling), (e: unknown) => e instanceof OtaError && e.reason === 'link-lost');
    assert.ok(time.now() - lostAt < 100, 'not at the end of the 10 s wait');
    assert.equal(backend.stats.discoveries, 1);
  });

  it('a refused CONNACK fails with mqtt-refused and makes the next poll ask discovery again', async () => {
    const { time, links, backend } = setup();
    const polling = backend.poll({ version: '1.0.0' });
    polling.catch(() => undefined);
    await time.runUntil(() => links.length === 1);
    await time.runFor(links[0].peer.next(1));
    links[0].peer.connack(5);
    await assert.rejects(time.runFor(polling), (e: unknown) => e instanceof OtaError && e.reason === 'mqtt-refused' && /not authorized/.test(e.message));
    const again = backend.poll({ version: '1.0.0' });
    again.catch(() => undefined);
    await time.runUntil(() => links.length === 2);
    assert.equal(backend.stats.discoveries, 2);
    links[1].pair.drop();
    await assert.rejects(time.runFor(again));
  });

  it('takes the command as soon as it arrives and acks its QoS 1 delivery', async () => {
    const { time, links, backend } = setup();
    const polling = backend.poll({ version: '1.0.0' });
    await time.runUntil(() => links.length === 1);
    const peer = links[0].peer;
    await brokerAnswersUntil205(time, peer);
    const command = { v: '2.1', ct: 1, cmd: 'ota', ack: 'ack-1', sw: '1.1.0', urls: [{ url: 'https://s3.example/fw.bin?Expires=1', fileName: 'fw.bin' }] };
    peer.publish(TOPICS.c2d, utf8Encode(JSON.stringify(command)), 1, 42);
    const sent = time.now();
    const result = await time.runFor(polling);
    assert.equal(result.offer?.actionId, 'ack-1');
    assert.ok(time.now() - sent < 200, 'no wait for the deadline');
    await time.advance(100);
    const ack = peer.received.find((p) => p.type === 4);
    assert.equal(ack?.packetId, 42);
  });
});

describe('IoTConnect backend progress reports', () => {
  it('sends `downloading` only every progressStepPercent points (each report is a modem session)', async () => {
    const { time, links, backend } = setup();
    const sent: string[] = [];
    const report = async (done: number): Promise<void> => {
      const before = links.length;
      const p = backend.report({ actionId: 'ack-1', phase: 'downloading', version: '1.1.0', runningVersion: '1.0.0', progress: { done, total: 100 } });
      await time.settle();
      if (links.length > before) {
        const peer = links[links.length - 1].peer;
        await time.runFor(peer.next(1));
        peer.connack();
        const pub = await time.runFor(peer.next(3));
        sent.push(JSON.parse(utf8Decode(pub.payload!)).d.msg);
        peer.puback(pub.packetId!);
      }
      await time.runFor(p);
    };
    for (const done of [0, 10, 24, 25, 49, 60, 99, 100]) await report(done);
    assert.deepEqual(sent, ['downloading 0%', 'downloading 25%', 'downloading 60%', 'downloading 99%']);
  });
});
