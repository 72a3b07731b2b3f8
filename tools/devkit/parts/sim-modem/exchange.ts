/**
 * Which answers a simulated modem socket still owes the device, read from the protocol itself.
 *
 * The simulated modem talks to real servers on loopback, in real time, while the device lives in
 * virtual time. Virtual time must stand still exactly while the server is still working on an
 * answer it will give, and never longer. A wait for "N ms of real silence" gets that wrong on a
 * busy host (a slow answer arrives after virtual time moved on, so the same run gives other
 * figures); counting requests out and answers in gets it right on any host:
 *
 * - HTTP/1.1: every complete request (head plus Content-Length body) owes one final response
 *   (Content-Length, chunked, or delimited by close; none for HEAD, 204, 304, 1xx); a response
 *   that says `Connection: close` also owes the close.
 * - MQTT 3.1.1 (§2.2.1, §3): CONNECT owes CONNACK, PUBLISH QoS 1 owes PUBACK, QoS 2 PUBREC, PUBREC
 *   owes PUBREL, PUBREL PUBCOMP, SUBSCRIBE SUBACK, UNSUBSCRIBE UNSUBACK, PINGREQ PINGRESP;
 *   DISCONNECT owes the close.
 *
 * The protocol is told by the first bytes sent (an HTTP method and a space, or an MQTT CONNECT);
 * anything else is `unknown` and the caller falls back to its own rule.
 */
import { ResponseReader } from './net.js';

export type ExchangeProtocol = 'http' | 'mqtt' | 'unknown' | 'undecided';

const HTTP_METHOD = /^(GET|HEAD|POST|PUT|DELETE|PATCH|OPTIONS) /;

/** Largest HTTP request head tracked before the tracker gives up (a device bug, not a server wait). */
const REQUEST_HEAD_MAX = 16_384;

export class ExchangeTracker {
  protocol: ExchangeProtocol = 'undecided';
  /** Answers owed so far (requests and MQTT packets that expect one), answers received. */
  owed = 0;
  answered = 0;
  /** The server said it will close (HTTP `Connection: close`) and has not yet. */
  closeOwed = false;
  /** MQTT packets the server sent: PUBACKs (a device message the broker took) and PUBLISHes. */
  pubacksIn = 0;
  publishesIn = 0;

  // HTTP, outbound: the request being read and the methods of requests not yet answered.
  #reqHead: number[] = [];
  #reqBodyLeft = 0;
  #methods: string[] = [];
  // HTTP, inbound.
  #reader: ResponseReader | undefined;
  // MQTT, each direction: a packet reader.
  #mqttOut = new MqttFramer();
  #mqttIn = new MqttFramer();

  /** Bytes the device sent; the MQTT control packet types that began in them (§2.2.1; none for other protocols). */
  sent(bytes: Uint8Array): number[] {
    const types: number[] = [];
    if (this.protocol === 'undecided') this.#decide(bytes);
    if (this.protocol === 'http') this.#httpOut(bytes);
    else if (this.protocol === 'mqtt') {
      for (const p of this.#mqttOut.push(bytes)) {
        types.push(p.type);
        this.owed += mqttOwes(p.type, p.flags);
        // DISCONNECT (§3.14): the server closes the connection; that close is the answer.
        if (p.type === 14) this.closeOwed = true;
      }
    }
    return types;
  }

  /** Bytes the server sent. */
  received(bytes: Uint8Array): void {
    if (this.protocol === 'http') this.#httpIn(bytes);
    else if (this.protocol === 'mqtt') {
      for (const p of this.#mqttIn.push(bytes)) {
        if (MQTT_ANSWERS.has(p.type)) this.answered = Math.min(this.owed, this.answered + 1);
        if (p.type === 4) this.pubacksIn++;
        else if (p.type === 3) this.publishesIn++;
      }
    }
  }

  /** The server closed: nothing more is owed. */
  peerClosed(): void {
    this.closeOwed = false;
    this.answered = this.owed;
  }

  #decide(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (bytes[0] === 0x10) this.protocol = 'mqtt';
    else {
      const text = String.fromCharCode(...bytes.subarray(0, 8));
      this.protocol = HTTP_METHOD.test(text) ? 'http' : 'unknown';
    }
  }

  #httpOut(bytes: Uint8Array): void {
    let i = 0;
    while (i < bytes.length) {
      if (this.#reqBodyLeft > 0) {
        const take = Math.min(this.#reqBodyLeft, bytes.length - i);
        this.#reqBodyLeft -= take;
        i += take;
        if (this.#reqBodyLeft === 0) this.owed++;
        continue;
      }
      const h = this.#reqHead;
      h.push(bytes[i++]);
      const n = h.length;
      if (n > REQUEST_HEAD_MAX) {
        this.protocol = 'unknown';
        return;
      }
      if (n >= 4 && h[n - 4] === 13 && h[n - 3] === 10 && h[n - 2] === 13 && h[n - 1] === 10) {
        const text = String.fromCharCode(...h);
        this.#reqHead = [];
        this.#methods.push(text.slice(0, text.indexOf(' ')));
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(text);
        this.#reqBodyLeft = length ? Number(length[1]) : 0;
        if (this.#reqBodyLeft === 0) this.owed++;
      }
    }
  }

  #httpIn(bytes: Uint8Array): void {
    let data = bytes;
    while (data.length > 0 && this.#methods.length > 0) {
      this.#reader ??= new ResponseReader(this.#methods[0] === 'HEAD', Number.MAX_SAFE_INTEGER);
      const r = this.#reader;
      const before = r.received;
      if (r.push(data) !== 'done') return;
      const used = Math.min(data.length, Math.max(0, (r.head?.length ?? 0) + (r.contentLength ?? 0) - before));
      this.#reader = undefined;
      data = data.subarray(used);
      // An interim 1xx response is not the answer.
      if (r.status >= 100 && r.status < 200) continue;
      this.#methods.shift();
      this.answered = Math.min(this.owed, this.answered + 1);
      if (r.connectionClose) this.closeOwed = true;
    }
  }
}

/** MQTT control packet types that answer one the device sent (§3.2, 3.4-3.7, 3.9, 3.11, 3.13). */
const MQTT_ANSWERS = new Set([2, 4, 5, 6, 7, 9, 11, 13]);

function mqttOwes(type: number, flags: number): number {
  switch (type) {
    case 1: // CONNECT
    case 5: // PUBREC
    case 6: // PUBREL
    case 8: // SUBSCRIBE
    case 10: // UNSUBSCRIBE
    case 12: // PINGREQ
      return 1;
    case 3: // PUBLISH: QoS in bits 1-2 of the fixed header's flags
      return (flags >> 1) & 3 ? 1 : 0;
    default:
      return 0;
  }
}

/** Splits an MQTT byte stream into packets (fixed header: type, flags, remaining length varint). */
class MqttFramer {
  #header: number[] = [];
  #left = -1;

  push(bytes: Uint8Array): { type: number; flags: number }[] {
    const out: { type: number; flags: number }[] = [];
    let i = 0;
    while (i < bytes.length) {
      if (this.#left > 0) {
        const take = Math.min(this.#left, bytes.length - i);
        this.#left -= take;
        i += take;
        if (this.#left === 0) this.#left = -1;
        continue;
      }
      this.#header.push(bytes[i++]);
      const h = this.#header;
      if (h.length < 2 || (h[h.length - 1] & 0x80) !== 0) {
        if (h.length > 5) this.#header = []; // malformed length: resynchronise on the next byte
        continue;
      }
      let length = 0;
      for (let k = h.length - 1; k >= 1; k--) length = length * 128 + (h[k] & 0x7f);
      out.push({ type: h[0] >> 4, flags: h[0] & 0x0f });
      this.#header = [];
      this.#left = length > 0 ? length : -1;
    }
    return out;
  }
}
