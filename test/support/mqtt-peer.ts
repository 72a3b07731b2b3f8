/**
 * A scripted MQTT server side for client tests: reads what the client sends (CONNECT, PUBLISH,
 * PUBACK, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, DISCONNECT) and lets the test answer byte by byte, so
 * that a test can send what a real broker would not (a duplicate with DUP set, a bad SUBACK).
 */
import type { ByteStream } from '../../src/net/byte-stream.js';
import { encodePublish } from '../../src/net/mqtt/codec.js';
import { concatBytes, utf8Decode } from '../../src/util/bytes.js';

export interface ClientPacket {
  type: number;
  flags: number;
  body: Uint8Array;
  /** CONNECT */
  clientId?: string;
  keepAliveS?: number;
  connectFlags?: number;
  /** PUBLISH / SUBSCRIBE / UNSUBSCRIBE / PUBACK */
  packetId?: number;
  topic?: string;
  payload?: Uint8Array;
  qos?: number;
  filters?: { filter: string; qos: number }[];
}

function str(body: Uint8Array, o: number): [string, number] {
  const n = (body[o] << 8) | body[o + 1];
  return [utf8Decode(body, o + 2, o + 2 + n), o + 2 + n];
}

export class MqttPeer {
  readonly received: ClientPacket[] = [];
  #buffer: Uint8Array = new Uint8Array(0);
  #waiters: { match: (p: ClientPacket) => boolean; resolve: (p: ClientPacket) => void }[] = [];
  closed = false;
  #taken = new Set<ClientPacket>();

  constructor(readonly stream: ByteStream) {
    stream.onData((chunk) => this.#push(chunk));
    stream.onClose(() => (this.closed = true));
  }

  #push(chunk: Uint8Array): void {
    this.#buffer = concatBytes(this.#buffer, chunk);
    for (;;) {
      const b = this.#buffer;
      if (b.length < 2) return;
      let length = 0;
      let i = 1;
      let mul = 1;
      for (;;) {
        if (i >= b.length) return;
        length += (b[i] & 0x7f) * mul;
        mul *= 128;
        if ((b[i++] & 0x80) === 0) break;
      }
      if (b.length < i + length) return;
      const packet = this.#parse(b[0] >> 4, b[0] & 15, b.slice(i, i + length));
      this.#buffer = b.slice(i + length);
      this.received.push(packet);
      const w = this.#waiters.findIndex((x) => x.match(packet));
      if (w >= 0) this.#waiters.splice(w, 1)[0].resolve(packet);
    }
  }

  #parse(type: number, flags: number, body: Uint8Array): ClientPacket {
    const p: ClientPacket = { type, flags, body };
    if (type === 1) {
      const [, o] = str(body, 0);
      p.connectFlags = body[o + 1];
      p.keepAliveS = (body[o + 2] << 8) | body[o + 3];
      [p.clientId] = str(body, o + 4);
    } else if (type === 3) {
      let o: number;
      [p.topic, o] = str(body, 0);
      p.qos = (flags >> 1) & 3;
      if (p.qos > 0) {
        p.packetId = (body[o] << 8) | body[o + 1];
        o += 2;
      }
      p.payload = body.slice(o);
    } else if (type === 4) p.packetId = (body[0] << 8) | body[1];
    else if (type === 8 || type === 10) {
      p.packetId = (body[0] << 8) | body[1];
      p.filters = [];
      let o = 2;
      while (o < body.length) {
        let filter: string;
        [filter, o] = str(body, o);
        p.filters.push({ filter, qos: type === 8 ? body[o++] : 0 });
      }
    }
    return p;
  }

  /** The next packet of `type` (or one already received and not yet taken). */
  next(type: number): Promise<ClientPacket> {
    const taken = this.#taken;
    const have = this.received.find((p) => p.type === type && !taken.has(p));
    if (have) {
      taken.add(have);
      return Promise.resolve(have);
    }
    return new Promise((resolve) =>
      this.#waiters.push({
        match: (p) => p.type === type && !taken.has(p),
        resolve: (p) => {
          taken.add(p);
          resolve(p);
        },
      }),
    );
  }

  count(type: number): number {
    return this.received.filter((p) => p.type === type).length;
  }

  send(bytes: Uint8Array | number[]): void {
    void this.stream.write(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
  }

  connack(returnCode = 0, sessionPresent = false): void {
    this.send([0x20, 2, sessionPresent ? 1 : 0, returnCode]);
  }
  suback(packetId: number, codes: number[]): void {
    this.send([0x90, 2 + codes.length, packetId >> 8, packetId & 255, ...codes]);
  }
  puback(packetId: number): void {
    this.send([0x40, 2, packetId >> 8, packetId & 255]);
  }
  pingresp(): void {
    this.send([0xd0, 0]);
  }
  publish(topic: string, payload: Uint8Array, qos: 0 | 1, packetId?: number, dup = false): void {
    this.send(encodePublish({ topic, payload, qos, packetId, dup }));
  }
}
