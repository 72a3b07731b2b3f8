/**
 * MQTT 3.1.1 codec against the standard's own examples (MQTT Version 3.1.1, OASIS Standard,
 * 29 October 2014; section numbers below), each hand-checked byte by byte. Every incoming vector
 * is also fed split at every offset, and a seeded fuzzer checks the decoder on random valid
 * streams (random chunking) and on random garbage (typed errors only, bounded memory).
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  MQTT_LIMITS,
  MqttDecoder,
  encodeConnect,
  encodeDisconnect,
  encodePingreq,
  encodePuback,
  encodePublish,
  encodeRemainingLength,
  encodeSubscribe,
  encodeUnsubscribe,
  type ServerPacket,
} from '../../../src/net/mqtt/codec.js';
import { asciiEncode, concatBytes, hex, unhex, utf8Encode } from '../../../src/util/bytes.js';
import { OtaError } from '../../../src/util/errors.js';

const SEED = 0x5eed_0311;

/** Decode a whole stream, copying payloads (they are views valid only during the callback). */
function decodeAll(chunks: Uint8Array[], maxPacketSize?: number): ServerPacket[] {
  const out: ServerPacket[] = [];
  const decoder = new MqttDecoder((p) => out.push(p.type === 'publish' ? { ...p, payload: p.payload.slice() } : p), maxPacketSize);
  for (const chunk of chunks) assert.equal(decoder.push(chunk), chunk.length);
  return out;
}

function rejects(bytes: Uint8Array, reason: string, clause: string | RegExp, maxPacketSize?: number): void {
  const decoder = new MqttDecoder(() => undefined, maxPacketSize);
  assert.throws(
    () => decoder.push(bytes),
    (e: unknown) => {
      assert.ok(e instanceof OtaError, String(e));
      assert.equal(e.reason, reason, e.message);
      if (typeof clause === 'string') assert.ok(e.message.includes(clause), `${e.message} should cite ${clause}`);
      else assert.match(e.message, clause);
      return true;
    },
  );
  // A failed decoder stays failed: the connection must be closed [MQTT-4.8.0-1].
  assert.throws(() => decoder.push(new Uint8Array([0xd0, 0x00])), (e: unknown) => e instanceof OtaError && e.reason === reason);
}

describe('MQTT 3.1.1 codec', () => {
  describe('Remaining Length (§2.2.3, Table 2.4)', () => {
    const table: [number, string][] = [
      [0, '00'],
      [127, '7f'],
      [128, '8001'],
      [16_383, 'ff7f'],
      [16_384, '808001'],
      [2_097_151, 'ffff7f'],
      [2_097_152, '80808001'],
      [268_435_455, 'ffffff7f'],
    ];
    for (const [length, bytes] of table) {
      it(`encodes ${length} as ${bytes}`, () => assert.equal(hex(encodeRemainingLength(length)), bytes));
    }
    it('decodes every table entry (a PINGRESP-sized limit refuses the big ones by their decoded size)', () => {
      for (const [length, bytes] of table) {
        if (length === 0) continue;
        // A PUBLISH header with this Remaining Length: the decoder must compute 1 + n + length.
        const header = concatBytes(new Uint8Array([0x30]), unhex(bytes));
        rejects(header, 'mqtt-too-large', `PUBLISH of ${1 + bytes.length / 2 + length} bytes`, 64);
      }
    });
    it('decodes a 16,384-byte body when the limit allows it', () => {
      const payload = new Uint8Array(16_384 - 5).fill(7);
      const packet = encodePublish({ topic: 'a/b', payload, qos: 0 }, 32_768);
      assert.equal(hex(packet.subarray(0, 4)), '30808001');
      const [p] = decodeAll([packet], 32_768);
      assert.equal(p.type === 'publish' && p.payload.length, payload.length);
    });
    it('refuses a fifth length byte', () => rejects(unhex('30ffffffff7f'), 'mqtt-malformed', '[MQTT-2.2.3] Remaining Length longer than 4 bytes'));
    it('refuses a length above 268,435,455 when encoding', () => assert.throws(() => encodeRemainingLength(268_435_456), /MQTT-2\.2\.3/));
  });

  describe('encoders (client to server)', () => {
    it('CONNECT: §3.1.2 example header (protocol name, level 4, flags, keep alive 10) and payload', () => {
      // §3.1.2.11 example: 00 04 'MQTT', 04, flags, 00 0A. Its flags CE also carry a will, which this
      // client never sends: user name (80) + password (40) + clean session (02) = C2.
      const packet = encodeConnect({ clientId: '', keepAliveS: 10, username: 'u', password: asciiEncode('p') });
      assert.equal(hex(packet), '10' + '12' + '00044d515454' + '04' + 'c2' + '000a' + '0000' + '000175' + '000170');
    });
    it('CONNECT: clean session only, client id and keep alive 60', () => {
      assert.equal(hex(encodeConnect({ clientId: 'dev', keepAliveS: 60 })), '100f00044d51545404' + '02' + '003c' + '0003646576');
    });
    it('CONNECT: the rules of §3.1', () => {
      assert.throws(() => encodeConnect({ clientId: 'a', keepAliveS: 1, password: new Uint8Array(1) }), /MQTT-3\.1\.2-22/);
      assert.throws(() => encodeConnect({ clientId: '', cleanSession: false, keepAliveS: 1 }), /MQTT-3\.1\.3-7/);
      assert.throws(() => encodeConnect({ clientId: 'a', keepAliveS: 65_536 }), /keep alive/);
      assert.throws(() => encodeConnect({ clientId: 'a\u0000b', keepAliveS: 1 }), /MQTT-1\.5\.3-2/);
    });
    it('PUBLISH: §3.3.2.3 example (topic "a/b", packet identifier 10)', () => {
      const packet = encodePublish({ topic: 'a/b', payload: asciiEncode('hi'), qos: 1, packetId: 10 });
      assert.equal(hex(packet), '32' + '09' + '0003612f62' + '000a' + '6869');
      assert.equal(hex(encodePublish({ topic: 'a/b', payload: new Uint8Array(0), qos: 0, retain: true })), '31050003612f62');
      assert.equal(hex(encodePublish({ topic: 'a/b', payload: new Uint8Array(0), qos: 1, dup: true, packetId: 1 })), '3a070003612f620001');
    });
    it('PUBLISH: the rules of §3.3', () => {
      const payload = new Uint8Array(0);
      assert.throws(() => encodePublish({ topic: 'a/+', payload, qos: 0 }), /MQTT-3\.3\.2-2/);
      assert.throws(() => encodePublish({ topic: '', payload, qos: 0 }), /MQTT-4\.7\.3-1/);
      assert.throws(() => encodePublish({ topic: 'a', payload, qos: 0, dup: true }), /MQTT-3\.3\.1-2/);
      assert.throws(() => encodePublish({ topic: 'a', payload, qos: 1 }), /MQTT-2\.3\.1-1/);
      assert.throws(() => encodePublish({ topic: 'a', payload, qos: 1, packetId: 0 }), /MQTT-2\.3\.1-1/);
      assert.throws(() => encodePublish({ topic: 'a', payload, qos: 2 as 1, packetId: 1 }), /QoS 2/);
    });
    it('PUBLISH: refuses a packet above maxPacketSize before writing anything', () => {
      const payload = new Uint8Array(MQTT_LIMITS.maxPacketSize);
      assert.throws(() => encodePublish({ topic: 'a', payload, qos: 0 }), (e: unknown) => e instanceof OtaError && e.reason === 'mqtt-too-large');
    });
    it('SUBSCRIBE: §3.8.2 and §3.8.3 examples (packet identifier 10, "a/b" QoS 1, "c/d")', () => {
      // The standard's second filter asks QoS 2; this client asks at most QoS 1, so "c/d" asks 0.
      const packet = encodeSubscribe(10, [
        { filter: 'a/b', qos: 1 },
        { filter: 'c/d', qos: 0 },
      ]);
      assert.equal(hex(packet), '82' + '0e' + '000a' + '0003612f62' + '01' + '0003632f64' + '00');
    });
    it('SUBSCRIBE: topic filter rules of §4.7.1', () => {
      for (const ok of ['#', '+', 'a/#', '+/b/+', '$aws/rules/+/x', 'a//b']) assert.doesNotThrow(() => encodeSubscribe(1, [{ filter: ok, qos: 0 }]), ok);
      assert.throws(() => encodeSubscribe(1, [{ filter: 'a/#/b', qos: 0 }]), /MQTT-4\.7\.1-2/);
      assert.throws(() => encodeSubscribe(1, [{ filter: 'a#', qos: 0 }]), /MQTT-4\.7\.1-2/);
      assert.throws(() => encodeSubscribe(1, [{ filter: 'a+/b', qos: 0 }]), /MQTT-4\.7\.1-3/);
      assert.throws(() => encodeSubscribe(1, []), /MQTT-3\.8\.3-3/);
      assert.throws(() => encodeSubscribe(0, [{ filter: 'a', qos: 0 }]), /MQTT-2\.3\.1-1/);
    });
    it('UNSUBSCRIBE: §3.10.3 example ("a/b", "c/d")', () => {
      assert.equal(hex(encodeUnsubscribe(10, ['a/b', 'c/d'])), 'a2' + '0c' + '000a' + '0003612f62' + '0003632f64');
      assert.throws(() => encodeUnsubscribe(10, []), /MQTT-3\.10\.3-2/);
    });
    it('PUBACK, PINGREQ, DISCONNECT (§3.4, §3.12, §3.14)', () => {
      assert.equal(hex(encodePuback(10)), '4002000a');
      assert.equal(hex(encodePingreq()), 'c000');
      assert.equal(hex(encodeDisconnect()), 'e000');
      assert.throws(() => encodePuback(0), /MQTT-2\.3\.1-1/);
    });
    it('strings are UTF-8 with a length prefix: §1.5.3 example "A\u{2A6D4}" is 00 05 41 F0 AA 9B 94', () => {
      const packet = encodePublish({ topic: 'A\u{2A6D4}', payload: new Uint8Array(0), qos: 0 });
      assert.equal(hex(packet), '3007' + '000541f0aa9b94');
    });
  });

  /** Server-to-client vectors: bytes, and what they decode to. */
  const VECTORS: { name: string; bytes: string; packet: ServerPacket }[] = [
    { name: 'CONNACK accepted (§3.2)', bytes: '20020000', packet: { type: 'connack', sessionPresent: false, returnCode: 0 } },
    { name: 'CONNACK session present', bytes: '20020100', packet: { type: 'connack', sessionPresent: true, returnCode: 0 } },
    { name: 'CONNACK not authorized (Table 3.1: 5)', bytes: '20020005', packet: { type: 'connack', sessionPresent: false, returnCode: 5 } },
    { name: 'PUBACK 10 (§3.4)', bytes: '4002000a', packet: { type: 'puback', packetId: 10 } },
    {
      name: 'SUBACK §3.9.2/§3.9.3 example (id 10; QoS 0, QoS 2, failure)',
      bytes: '9005000a000280',
      packet: { type: 'suback', packetId: 10, returnCodes: [0, 2, 0x80] },
    },
    { name: 'UNSUBACK 10 (§3.11)', bytes: 'b002000a', packet: { type: 'unsuback', packetId: 10 } },
    { name: 'PINGRESP (§3.13)', bytes: 'd000', packet: { type: 'pingresp' } },
    {
      name: 'PUBLISH QoS 1 §3.3.2.3 example header ("a/b", id 10) + "hi"',
      bytes: '32090003612f62000a6869',
      packet: { type: 'publish', topic: 'a/b', payload: asciiEncode('hi'), qos: 1, dup: false, retain: false, packetId: 10 },
    },
    {
      name: 'PUBLISH QoS 0 retained, §1.5.3 UTF-8 example topic "A\u{2A6D4}"',
      bytes: '3108000541f0aa9b9478',
      packet: { type: 'publish', topic: 'A\u{2A6D4}', payload: asciiEncode('x'), qos: 0, dup: false, retain: true, packetId: 0 },
    },
    {
      name: 'PUBLISH QoS 1 DUP, empty payload',
      bytes: '3a070003612f62ffff',
      packet: { type: 'publish', topic: 'a/b', payload: new Uint8Array(0), qos: 1, dup: true, retain: false, packetId: 0xffff },
    },
  ];

  describe('decoder (server to client)', () => {
    for (const v of VECTORS) {
      it(`decodes ${v.name}`, () => assert.deepEqual(decodeAll([unhex(v.bytes)]), [v.packet]));
    }

    it('decodes every vector split at every offset, and byte by byte', () => {
      const stream = unhex(VECTORS.map((v) => v.bytes).join(''));
      const expected = VECTORS.map((v) => v.packet);
      for (let cut = 0; cut <= stream.length; cut++) {
        assert.deepEqual(decodeAll([stream.subarray(0, cut), stream.subarray(cut)]), expected, `split at ${cut}`);
      }
      assert.deepEqual(decodeAll([...stream].map((b) => new Uint8Array([b]))), expected);
    });

    it('decodes an IoTConnect OTA command of 4 KiB split at every offset', () => {
      const json = JSON.stringify({ v: '2.1', ct: 1, cmd: 'ota', ack: 'c6c90df6-d27f-44e5-8eb0-e278dc73ad4f', sw: '1.5', hw: '1', urls: [{ url: 'https://x/' + 'a'.repeat(3900) }] });
      const packet = encodePublish({ topic: 'iot/abcde/cmd', payload: utf8Encode(json), qos: 1, packetId: 7 });
      for (let cut = 0; cut <= packet.length; cut += 1) {
        const [p] = decodeAll([packet.subarray(0, cut), packet.subarray(cut)]);
        assert.ok(p.type === 'publish' && p.payload.length === json.length && p.packetId === 7, `split at ${cut}`);
      }
    });

    it('refuses malformed packets, citing the clause', () => {
      rejects(unhex('21020000'), 'mqtt-malformed', '[MQTT-2.2.2-2] reserved flags 0x1 in CONNACK');
      rejects(unhex('42020001'), 'mqtt-malformed', '[MQTT-2.2.2-2]');
      rejects(unhex('d100'), 'mqtt-malformed', '[MQTT-2.2.2-2]');
      rejects(unhex('20030000'), 'mqtt-malformed', '[MQTT-2.2.3] CONNACK Remaining Length 3, must be 2');
      rejects(unhex('20020200'), 'mqtt-malformed', '[MQTT-3.2.2.1]');
      rejects(unhex('d001'), 'mqtt-malformed', 'PINGRESP Remaining Length 1');
      rejects(unhex('9002000a'), 'mqtt-malformed', '[MQTT-3.9.3]');
      rejects(unhex('9003000a03'), 'mqtt-malformed', '[MQTT-3.9.3-2] reserved SUBACK return code 0x3');
      rejects(unhex('40020000'), 'mqtt-malformed', '[MQTT-2.3.1-1]');
      rejects(unhex('36050003612f62'), 'mqtt-malformed', '[MQTT-3.3.1-4]');
      rejects(unhex('38050003612f62'), 'mqtt-malformed', '[MQTT-3.3.1-2]');
      rejects(unhex('30050003612f2b'), 'mqtt-malformed', '[MQTT-3.3.2-2] wildcard');
      rejects(unhex('3002' + '0000'), 'mqtt-malformed', '[MQTT-4.7.3-1]');
      rejects(unhex('3004' + '0005' + '6162'), 'mqtt-malformed', '[MQTT-3.3.2-1] topic name of 5 bytes overruns');
      rejects(unhex('3004' + '0002' + 'c080'), 'mqtt-malformed', '[MQTT-1.5.3-1] ill-formed');
      rejects(unhex('3005' + '0003' + 'eda080'), 'mqtt-malformed', '[MQTT-1.5.3-1] surrogate');
      rejects(unhex('3004' + '0002' + '6100'), 'mqtt-malformed', '[MQTT-1.5.3-2] U+0000');
      rejects(unhex('3004' + '0002' + '61e2'), 'mqtt-malformed', '[MQTT-1.5.3-1] truncated');
      rejects(unhex('32070003612f620000'), 'mqtt-malformed', '[MQTT-2.3.1-1] QoS 1 PUBLISH with packet identifier 0');
      rejects(unhex('3206' + '0003612f62' + '00'), 'mqtt-malformed', '[MQTT-2.3.1-1] PUBLISH too short');
      rejects(unhex('0000'), 'mqtt-malformed', '[MQTT-2.2.1] reserved packet type 0');
      rejects(unhex('f000'), 'mqtt-malformed', '[MQTT-2.2.1] reserved packet type 15');
    });

    it('refuses packets a server must not send, or that only QoS 2 uses', () => {
      rejects(unhex('100c00044d5154540402003c0000'), 'mqtt-protocol', '[MQTT-4.8.0-1] CONNECT');
      rejects(unhex('c000'), 'mqtt-protocol', 'PINGREQ');
      rejects(unhex('50020001'), 'mqtt-protocol', 'PUBREC');
      rejects(unhex('62020001'), 'mqtt-protocol', 'PUBREL');
      rejects(unhex('34070003612f620001'), 'mqtt-protocol', '[MQTT-3.8.4-6]');
    });

    it('refuses a packet above maxPacketSize at its header, before the body arrives', () => {
      const decoder = new MqttDecoder(() => assert.fail('no packet'), 1024);
      assert.throws(() => decoder.push(unhex('30fe07')), (e: unknown) => e instanceof OtaError && e.reason === 'mqtt-too-large' && /PUBLISH of 1025 bytes is above the limit of 1024/.test(e.message));
      const ok = new MqttDecoder(() => undefined, 1024);
      assert.equal(ok.push(encodePublish({ topic: 'a', payload: new Uint8Array(1024 - 6), qos: 0 }, 1024)), 1024);
    });

    it('stop() ends decoding mid-chunk (a handler that closes the connection)', () => {
      const seen: string[] = [];
      const decoder: MqttDecoder = new MqttDecoder((p) => {
        seen.push(p.type);
        decoder.stop();
      });
      assert.equal(decoder.push(unhex('d000d000')), 2);
      assert.deepEqual(seen, ['pingresp']);
    });
  });

  describe('seeded fuzz', () => {
    const topicChar = fc.constantFrom(...'abcxyz/-_$é✓'.split(''), '\u{1F600}');
    const serverPacket: fc.Arbitrary<{ bytes: Uint8Array; packet: ServerPacket }> = fc.oneof(
      fc.record({ sp: fc.boolean(), rc: fc.integer({ min: 0, max: 5 }) }).map(({ sp, rc }) => ({
        bytes: new Uint8Array([0x20, 2, sp ? 1 : 0, rc]),
        packet: { type: 'connack', sessionPresent: sp, returnCode: rc } as ServerPacket,
      })),
      fc.integer({ min: 1, max: 0xffff }).map((id) => ({ bytes: new Uint8Array([0x40, 2, id >> 8, id & 255]), packet: { type: 'puback', packetId: id } as ServerPacket })),
      fc.integer({ min: 1, max: 0xffff }).map((id) => ({ bytes: new Uint8Array([0xb0, 2, id >> 8, id & 255]), packet: { type: 'unsuback', packetId: id } as ServerPacket })),
      fc
        .record({ id: fc.integer({ min: 1, max: 0xffff }), codes: fc.array(fc.constantFrom(0, 1, 2, 0x80), { minLength: 1, maxLength: 20 }) })
        .map(({ id, codes }) => ({
          bytes: new Uint8Array([0x90, 2 + codes.length, id >> 8, id & 255, ...codes]),
          packet: { type: 'suback', packetId: id, returnCodes: codes } as ServerPacket,
        })),
      fc.constant({ bytes: new Uint8Array([0xd0, 0]), packet: { type: 'pingresp' } as ServerPacket }),
      fc
        .record({
          topic: fc.array(topicChar, { minLength: 1, maxLength: 40 }).map((a) => a.join('')),
          payload: fc.uint8Array({ maxLength: 600 }),
          qos: fc.constantFrom(0 as const, 1 as const),
          retain: fc.boolean(),
          dup: fc.boolean(),
          id: fc.integer({ min: 1, max: 0xffff }),
        })
        .map(({ topic, payload, qos, retain, dup, id }) => ({
          bytes: encodePublish({ topic, payload, qos, retain, dup: qos === 1 && dup, packetId: qos === 1 ? id : undefined }),
          packet: { type: 'publish', topic, payload, qos, dup: qos === 1 && dup, retain, packetId: qos === 1 ? id : 0 } as ServerPacket,
        })),
    );

    it('decodes random valid streams, chunked at random', () => {
      fc.assert(
        fc.property(fc.array(serverPacket, { minLength: 1, maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 50 }), (items, sizes) => {
          const stream = concatBytes(...items.map((i) => i.bytes));
          const chunks: Uint8Array[] = [];
          for (let o = 0, k = 0; o < stream.length; k++) {
            const n = sizes[k % sizes.length];
            chunks.push(stream.subarray(o, o + n));
            o += n;
          }
          assert.deepEqual(decodeAll(chunks), items.map((i) => i.packet));
        }),
        { seed: SEED, numRuns: 400 },
      );
    });

    it('meets random bytes with packets or a typed MQTT error, never anything else', () => {
      fc.assert(
        fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), (bytes) => {
          const decoder = new MqttDecoder(() => undefined, 256);
          try {
            decoder.push(bytes);
          } catch (error) {
            assert.ok(error instanceof OtaError, String(error));
            assert.ok(['mqtt-malformed', 'mqtt-protocol', 'mqtt-too-large'].includes(error.reason), error.message);
            assert.match(error.message, /\[MQTT-|QoS 2|above the limit/);
          }
        }),
        { seed: SEED, numRuns: 3000 },
      );
    });

    it('meets single-byte mutations of valid packets with packets or a typed MQTT error', () => {
      const base = unhex(VECTORS.map((v) => v.bytes).join(''));
      fc.assert(
        fc.property(fc.integer({ min: 0, max: base.length - 1 }), fc.integer({ min: 0, max: 255 }), (at, value) => {
          const bytes = base.slice();
          bytes[at] = value;
          try {
            decodeAll([bytes], 512);
          } catch (error) {
            assert.ok(error instanceof OtaError && error.reason.startsWith('mqtt-'), String(error));
          }
        }),
        { seed: SEED, numRuns: 2000 },
      );
    });
  });
});
