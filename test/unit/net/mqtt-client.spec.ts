/**
 * MQTT client against a scripted server on an in-memory stream in virtual time: exact timing of
 * keep-alive and timeouts, and the cases a real broker will not produce on demand (a re-delivery
 * with DUP set, a refused subscription, a bad packet, a silent server). The same client against a
 * real mosquitto is in mqtt-broker.spec.ts.
 */
import assert from 'node:assert/strict';
import { MqttClient, type MqttClientOptions } from '../../../src/net/mqtt/client.js';
import { encodePublish } from '../../../src/net/mqtt/codec.js';
import { utf8Decode, utf8Encode } from '../../../src/util/bytes.js';
import { OtaError } from '../../../src/util/errors.js';
import { memoryStreamPair } from '../../../tools/devkit/parts/memory-stream.js';
import { VirtualTime } from '../../../tools/devkit/parts/virtual-time.js';
import { MqttPeer } from '../../support/mqtt-peer.js';

const CONNECT = 1;
const PUBLISH = 3;
const PUBACK = 4;
const SUBSCRIBE = 8;
const PINGREQ = 12;
const DISCONNECT = 14;

function isOta(reason: string, detail?: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof OtaError, String(error));
    assert.equal(error.reason, reason, error.message);
    if (detail) assert.match(error.message, detail);
    return true;
  };
}

async function setup(options: Partial<MqttClientOptions> = {}, answer = true) {
  const time = new VirtualTime();
  const pair = memoryStreamPair(time, 5);
  const peer = new MqttPeer(pair.server);
  const messages: { topic: string; text: string; qos: number; packetId: number }[] = [];
  const closes: (OtaError | undefined)[] = [];
  const connecting = MqttClient.connect({
    stream: pair.client,
    clock: time.clockPort(),
    clientId: 'dev42',
    keepAliveS: 10,
    onMessage: (m) => messages.push({ topic: m.topic, text: utf8Decode(m.payload), qos: m.qos, packetId: m.packetId }),
    onClose: (e) => closes.push(e),
    ...options,
  });
  connecting.catch(() => undefined);
  const connect = await time.runFor(peer.next(CONNECT));
  if (answer) peer.connack();
  return { time, pair, peer, connecting, connect, messages, closes };
}

async function connected(options: Partial<MqttClientOptions> = {}) {
  const s = await setup(options);
  const client = await s.time.runFor(s.connecting);
  return { ...s, client };
}

describe('MQTT client (scripted server, virtual time)', () => {
  it('connects with a clean session, its client id and keep alive', async () => {
    const { client, connect, time } = await connected();
    assert.equal(connect.clientId, 'dev42');
    assert.equal(connect.keepAliveS, 10);
    assert.equal(connect.connectFlags, 0x02);
    assert.equal(client.state, 'connected');
    assert.equal(time.now(), 10, 'CONNECT and CONNACK each took the 5 ms link latency');
  });

  it('rejects a refused connection with the CONNACK code named, and closes', async () => {
    const s = await setup({}, false);
    s.peer.connack(5);
    await assert.rejects(s.time.runFor(s.connecting), isOta('mqtt-refused', /CONNACK 5 \(not authorized\)/));
    assert.equal(s.closes.length, 1);
    assert.equal(s.closes[0]?.reason, 'mqtt-refused');
  });

  it('times out without a CONNACK, at connectTimeoutMs', async () => {
    const s = await setup({ connectTimeoutMs: 20_000 }, false);
    await assert.rejects(s.time.runFor(s.connecting), isOta('timeout', /no CONNACK within 20000 ms/));
    assert.equal(s.time.now(), 20_000);
  });

  it('refuses Session Present on a clean session [MQTT-3.2.2-1] and anything before CONNACK [MQTT-3.2.0-1]', async () => {
    const a = await setup({}, false);
    a.peer.connack(0, true);
    await assert.rejects(a.time.runFor(a.connecting), isOta('mqtt-protocol', /MQTT-3\.2\.2-1/));
    const b = await setup({}, false);
    b.peer.pingresp();
    await assert.rejects(b.time.runFor(b.connecting), isOta('mqtt-protocol', /MQTT-3\.2\.0-1/));
  });

  it('publishes QoS 1 with fresh packet ids and resolves only on the matching PUBACK', async () => {
    const { client, peer, time } = await connected();
    let first = false;
    const p1 = client.publish('d/1', utf8Encode('a'), { qos: 1 }).then(() => (first = true));
    const p2 = client.publish('d/1', utf8Encode('b'), { qos: 1 });
    const [a, b] = [await time.runFor(peer.next(PUBLISH)), await time.runFor(peer.next(PUBLISH))];
    assert.notEqual(a.packetId, b.packetId);
    assert.equal(a.qos, 1);
    peer.puback(b.packetId!);
    await time.runFor(p2);
    assert.equal(first, false, 'the other PUBACK has not come');
    peer.puback(a.packetId!);
    await time.runFor(p1);
    await client.publish('d/0', utf8Encode('c'), { qos: 0 });
    const c = await time.runFor(peer.next(PUBLISH));
    assert.equal(c.qos, 0);
    assert.equal(c.packetId, undefined);
  });

  it('closes on a PUBACK nobody waits for', async () => {
    const { peer, time, closes } = await connected();
    peer.puback(77);
    await time.advance(100);
    assert.equal(closes[0]?.reason, 'mqtt-protocol');
    assert.match(closes[0]!.message, /PUBACK for packet 77/);
  });

  it('times out a QoS 1 publish without PUBACK and closes (a clean session never resends)', async () => {
    const { client, time, pair } = await connected({ ackTimeoutMs: 5000 });
    const started = time.now();
    await assert.rejects(time.runFor(client.publish('d/1', utf8Encode('a'), { qos: 1 })), isOta('timeout', /no PUBACK/));
    assert.equal(time.now() - started, 5000);
    assert.equal(client.state, 'closed');
    await assert.rejects(pair.client.write(new Uint8Array(1)), isOta('closed'));
  });

  it('keeps alive: PINGREQ after keepAliveS of silence, not before; any packet sent restarts the interval', async () => {
    const { client, peer, time } = await connected();
    const pings: number[] = [];
    const answer = async (): Promise<void> => {
      for (;;) {
        await peer.next(PINGREQ);
        pings.push(time.now());
        peer.pingresp();
      }
    };
    void answer();
    await time.advance(25_000);
    // CONNECT left at 0, so PINGREQs leave at 10 s and 20 s and arrive 5 ms later.
    assert.deepEqual(pings, [10_005, 20_005]);
    await client.publish('d', utf8Encode('x'), { qos: 0 }); // at 25,010: the next ping moves to 35,010
    await time.advance(20_000);
    assert.deepEqual(pings, [10_005, 20_005, 35_015]);
    assert.equal(client.stats.pongs, 3);
    assert.equal(client.state, 'connected');
  });

  it('closes with timeout when PINGRESP does not come within pingTimeoutMs', async () => {
    const { client, time, closes } = await connected({ pingTimeoutMs: 3000 });
    await time.advance(20_000);
    assert.equal(client.state, 'closed');
    assert.equal(closes[0]?.reason, 'timeout');
    assert.match(closes[0]!.message, /no PINGRESP within 3000 ms/);
  });

  it('delivers QoS 1 before acking it, acks a DUP re-delivery of a taken id without delivering it again', async () => {
    const { client, peer, time, messages } = await connected();
    peer.publish('c2d', utf8Encode('one'), 1, 300);
    const ack1 = await time.runFor(peer.next(PUBACK));
    assert.equal(ack1.packetId, 300);
    assert.deepEqual(messages, [{ topic: 'c2d', text: 'one', qos: 1, packetId: 300 }]);
    // Our PUBACK "was lost": the server re-sends with DUP=1 (§3.3.1.1).
    peer.publish('c2d', utf8Encode('one'), 1, 300, true);
    const ack2 = await time.runFor(peer.next(PUBACK));
    assert.equal(ack2.packetId, 300);
    assert.equal(messages.length, 1, 'not delivered twice');
    assert.equal(client.stats.duplicatesDropped, 1);
    // A new message may reuse the id once acked, with DUP=0 [MQTT-4.3.2-2]: delivered.
    peer.publish('c2d', utf8Encode('two'), 1, 300);
    await time.runFor(peer.next(PUBACK));
    // DUP=1 with an id never taken is a first delivery for us.
    peer.publish('c2d', utf8Encode('three'), 1, 301, true);
    await time.runFor(peer.next(PUBACK));
    peer.publish('c2d', utf8Encode('four'), 0);
    await time.advance(100);
    assert.deepEqual(
      messages.map((m) => m.text),
      ['one', 'two', 'three', 'four'],
    );
  });

  it('subscribes: granted QoS returned; a refused filter rejects but the connection stays', async () => {
    const { client, peer, time } = await connected();
    const ok = client.subscribe([{ filter: 'iot/dev42/cmd', qos: 1 }]);
    const sub = await time.runFor(peer.next(SUBSCRIBE));
    assert.deepEqual(sub.filters, [{ filter: 'iot/dev42/cmd', qos: 1 }]);
    assert.equal(sub.flags, 2, '[MQTT-3.8.1-1]');
    peer.suback(sub.packetId!, [1]);
    assert.deepEqual(await time.runFor(ok), [1]);
    const refused = client.subscribe([
      { filter: 'a', qos: 1 },
      { filter: 'secret/#', qos: 0 },
    ]);
    const sub2 = await time.runFor(peer.next(SUBSCRIBE));
    peer.suback(sub2.packetId!, [1, 0x80]);
    await assert.rejects(time.runFor(refused), isOta('mqtt-subscribe-refused', /secret\/#/));
    assert.equal(client.state, 'connected');
  });

  it('closes on a SUBACK whose return codes do not match the filters [MQTT-3.8.4-5]', async () => {
    const { client, peer, time } = await connected();
    const p = client.subscribe([{ filter: 'a', qos: 1 }]);
    const sub = await time.runFor(peer.next(SUBSCRIBE));
    peer.suback(sub.packetId!, [1, 1]);
    await assert.rejects(time.runFor(p), isOta('mqtt-protocol', /MQTT-3\.8\.4-5/));
  });

  it('closes with mqtt-malformed on bad bytes from the server', async () => {
    const { client, peer, time, closes } = await connected();
    const p = client.publish('a', utf8Encode('x'), { qos: 1 });
    peer.send([0x36, 0x00]);
    await assert.rejects(time.runFor(p), isOta('mqtt-malformed', /MQTT-3\.3\.1-4/));
    assert.equal(closes.length, 1);
  });

  it('fails pending work with link-lost when the link drops, and leaves no timer behind', async () => {
    const { client, pair, time, closes } = await connected();
    const p = client.publish('a', utf8Encode('x'), { qos: 1 });
    const s = client.subscribe([{ filter: 'b', qos: 1 }]);
    await time.advance(1);
    pair.drop();
    await assert.rejects(p, isOta('link-lost'));
    await assert.rejects(s, isOta('link-lost'));
    assert.equal(closes.length, 1);
    assert.equal(closes[0]?.reason, 'link-lost');
    await time.advance(100);
    assert.equal(time.pending, 0, 'keep-alive and ack timers cleared');
    await assert.rejects(client.publish('a', utf8Encode('x'), { qos: 0 }), isOta('closed'));
  });

  it('disconnects in order: DISCONNECT, stream closed, pending rejected with closed; close() is idempotent', async () => {
    const { client, peer, time, closes } = await connected();
    const p = client.publish('a', utf8Encode('x'), { qos: 1 });
    p.catch(() => undefined);
    await time.runFor(client.disconnect());
    await assert.rejects(p, isOta('closed'));
    await time.advance(100);
    assert.equal(peer.count(DISCONNECT), 1);
    assert.ok(peer.closed);
    assert.deepEqual(closes, [undefined]);
    client.close();
    client.close(new OtaError('aborted'));
    assert.deepEqual(closes, [undefined], 'onClose once');
    assert.equal(time.pending, 0);
  });

  it('the server closing the connection in answer to DISCONNECT is the goodbye, not a lost link', async () => {
    const time = new VirtualTime();
    const pair = memoryStreamPair(time, 5);
    const peer = new MqttPeer(pair.server);
    let streamClosed: ((error?: OtaError) => void) | undefined;
    const logged: { level: string; fields?: Record<string, unknown> }[] = [];
    // A modem in push mode reports the peer's close while the DISCONNECT write is still finishing.
    const stream = Object.assign(Object.create(pair.client) as typeof pair.client, {
      onClose: (handler: (error?: OtaError) => void) => {
        streamClosed = handler;
        pair.client.onClose(handler);
      },
      write: async (bytes: Uint8Array) => {
        await pair.client.write(bytes);
        if (bytes[0] === 0xe0) streamClosed?.();
      },
    });
    const closes: (OtaError | undefined)[] = [];
    const connecting = MqttClient.connect({ stream, clock: time.clockPort(), clientId: 'dev42', keepAliveS: 10, onClose: (e) => closes.push(e), log: { log: (level, event, fields) => void (event === 'mqtt.closed' && logged.push({ level, fields })) } });
    await time.runFor(peer.next(CONNECT));
    peer.connack();
    const client = await time.runFor(connecting);
    await time.runFor(client.disconnect());
    assert.deepEqual(closes, [undefined]);
    assert.deepEqual(logged.map((l) => [l.level, l.fields?.from, l.fields?.reason]), [['debug', 'disconnecting', undefined]]);
  });

  it('disconnect resolves only once the stream says its transport is released (a modem socket close is an AT exchange)', async () => {
    const time = new VirtualTime();
    const pair = memoryStreamPair(time, 5);
    const peer = new MqttPeer(pair.server);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const stream = Object.assign(pair.client, { released: () => released });
    const connecting = MqttClient.connect({ stream, clock: time.clockPort(), clientId: 'dev42', keepAliveS: 10 });
    await time.runFor(peer.next(CONNECT));
    peer.connack();
    const client = await time.runFor(connecting);
    let done = false;
    const disconnecting = client.disconnect().then(() => (done = true));
    await time.advance(1000);
    assert.equal(peer.count(DISCONNECT), 1);
    assert.equal(client.state, 'closed');
    assert.equal(done, false, 'still waiting for the transport');
    release();
    await time.runFor(disconnecting);
    assert.equal(done, true);
  });

  it('closes without acking when onMessage throws', async () => {
    const { peer, time, closes } = await connected({
      onMessage: () => {
        throw new Error('handler bug');
      },
    });
    peer.publish('c2d', utf8Encode('x'), 1, 5);
    await time.advance(100);
    assert.equal(closes[0]?.reason, 'aborted');
    assert.equal(peer.count(PUBACK), 0);
  });

  it('takes server packets split anywhere: SUBACK, PUBLISH and PINGRESP arriving one byte per segment', async () => {
    const { client, peer, time, messages } = await connected();
    const sub = client.subscribe([{ filter: 'c2d', qos: 1 }]);
    const s = await time.runFor(peer.next(SUBSCRIBE));
    const stream = [0x90, 3, s.packetId! >> 8, s.packetId! & 255, 1, ...encodePublish({ topic: 'c2d', payload: utf8Encode('{"ct":1}'), qos: 1, packetId: 9 }), 0xd0, 0];
    for (const b of stream) peer.send([b]);
    assert.deepEqual(await time.runFor(sub), [1]);
    const ack = await time.runFor(peer.next(PUBACK));
    assert.equal(ack.packetId, 9);
    assert.deepEqual(messages, [{ topic: 'c2d', text: '{"ct":1}', qos: 1, packetId: 9 }]);
    assert.equal(client.stats.pongs, 1);
  });

  it('bounds the operations in flight', async () => {
    const { client, time } = await connected({ maxInflight: 2 });
    client.publish('a', utf8Encode('1'), { qos: 1 }).catch(() => undefined);
    client.publish('a', utf8Encode('2'), { qos: 1 }).catch(() => undefined);
    await assert.rejects(client.publish('a', utf8Encode('3'), { qos: 1 }), isOta('limit-exceeded'));
    client.close();
    await time.advance(10);
  });
});
