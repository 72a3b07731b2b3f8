/**
 * MQTT 3.1.1 codec, client side: encoders for what a client sends (CONNECT, PUBLISH, PUBACK,
 * SUBSCRIBE, UNSUBSCRIBE, PINGREQ, DISCONNECT) and a resumable decoder for what a server sends
 * (CONNACK, PUBLISH, PUBACK, SUBACK, UNSUBACK, PINGRESP).
 *
 * Clause numbers in brackets are the normative statements of MQTT Version 3.1.1 (OASIS Standard,
 * 29 October 2014, http://docs.oasis-open.org/mqtt/mqtt/v3.1.1/os/mqtt-v3.1.1-os.html); an error
 * quotes the clause it enforces, as mqtt-packet does. The decoder follows mqtt-packet's shape (a
 * state per field, resumable at any byte), but unlike mqtt-packet it never buffers more than
 * `maxPacketSize`: the body buffer is allocated once and a longer packet is refused at its header.
 *
 * QoS 2 is not part of this client: it never publishes or subscribes at QoS 2, so a server never
 * has a reason to send PUBREC/PUBREL/PUBCOMP or a QoS 2 PUBLISH, and the decoder refuses them.
 * Wills are not encoded either (the OTA agent's sessions are short and need none).
 */
import { utf8Decode, utf8Encode } from '../../util/bytes.js';
import { OtaError } from '../../util/errors.js';

export const MQTT_LIMITS = {
  /**
   * Largest packet this client sends or accepts, header included. 8 KiB holds an IoTConnect OTA
   * command with three pre-signed URLs (about 1.5 KB each with an AWS security token) with room to
   * spare. A longer incoming packet fails the connection with `mqtt-too-large` as soon as its
   * header is read (MQTT 3.1.1 cannot tell the server a maximum; that came with MQTT 5), and a
   * longer outgoing one is refused before anything is written. The decoder never grows.
   */
  maxPacketSize: 8192,
  /** The Remaining Length field holds at most 4 bytes, i.e. 268,435,455 (§2.2.3, Table 2.4). */
  maxLengthBytes: 4,
  /** UTF-8 strings carry a 16-bit length prefix (§1.5.3). */
  maxStringBytes: 65535,
} as const;

/** Control packet types (§2.2.1, Table 2.1). */
export const PacketType = {
  CONNECT: 1,
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  PUBREC: 5,
  PUBREL: 6,
  PUBCOMP: 7,
  SUBSCRIBE: 8,
  SUBACK: 9,
  UNSUBSCRIBE: 10,
  UNSUBACK: 11,
  PINGREQ: 12,
  PINGRESP: 13,
  DISCONNECT: 14,
} as const;

const TYPE_NAMES = [
  'Reserved(0)',
  'CONNECT',
  'CONNACK',
  'PUBLISH',
  'PUBACK',
  'PUBREC',
  'PUBREL',
  'PUBCOMP',
  'SUBSCRIBE',
  'SUBACK',
  'UNSUBSCRIBE',
  'UNSUBACK',
  'PINGREQ',
  'PINGRESP',
  'DISCONNECT',
  'Reserved(15)',
];

/** CONNACK return codes (§3.2.2.3, Table 3.1). */
export const CONNACK_RETURN_CODES: readonly string[] = [
  'accepted',
  'unacceptable protocol version',
  'identifier rejected',
  'server unavailable',
  'bad user name or password',
  'not authorized',
];

/** SUBACK's failure return code (§3.9.3). */
export const SUBACK_FAILURE = 0x80;

export type QoS = 0 | 1;

/** A packet a server sends to a client. */
export type ServerPacket =
  | { type: 'connack'; sessionPresent: boolean; returnCode: number }
  | {
      type: 'publish';
      topic: string;
      /** A view into the decoder's buffer: valid only during the `onPacket` call (copy to keep it). */
      payload: Uint8Array;
      qos: QoS;
      dup: boolean;
      retain: boolean;
      /** 0 for QoS 0 (no packet identifier on the wire). */
      packetId: number;
    }
  | { type: 'puback'; packetId: number }
  | { type: 'suback'; packetId: number; returnCodes: number[] }
  | { type: 'unsuback'; packetId: number }
  | { type: 'pingresp' };

export interface ConnectOptions {
  /** May be empty only with a clean session [MQTT-3.1.3-7]. */
  clientId: string;
  /** Default true: the agent keeps no session state between polls. */
  cleanSession?: boolean;
  /** Keep Alive, seconds, 0–65535; 0 turns keep-alive off (§3.1.2.10). */
  keepAliveS: number;
  username?: string;
  password?: Uint8Array;
}

export interface PublishOptions {
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain?: boolean;
  dup?: boolean;
  /** Required (1–65535) for QoS 1 [MQTT-2.3.1-1]; absent for QoS 0. */
  packetId?: number;
}

export interface Subscription {
  filter: string;
  qos: QoS;
}

function malformed(detail: string): OtaError {
  return new OtaError('mqtt-malformed', detail);
}

function invalid(detail: string): OtaError {
  return new OtaError('invalid-argument', detail);
}

// ---------------------------------------------------------------- encoding

/** Bytes the Remaining Length field takes for `length` (§2.2.3). */
export function remainingLengthSize(length: number): number {
  return length < 0x80 ? 1 : length < 0x4000 ? 2 : length < 0x200000 ? 3 : 4;
}

/** The Remaining Length field for `length` (0 – 268,435,455), e.g. 321 → c1 02 (§2.2.3). */
export function encodeRemainingLength(length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > 268_435_455) throw invalid(`[MQTT-2.2.3] Remaining Length ${length}`);
  const out = new Uint8Array(remainingLengthSize(length));
  writeRemainingLength(out, 0, length);
  return out;
}

/** Writes Remaining Length at `offset` (§2.2.3's encoding algorithm); returns the next offset. */
function writeRemainingLength(out: Uint8Array, offset: number, length: number): number {
  let x = length;
  do {
    let byte = x % 128;
    x = Math.floor(x / 128);
    if (x > 0) byte |= 0x80;
    out[offset++] = byte;
  } while (x > 0);
  return offset;
}

function checkPacketId(id: number | undefined, what: string): number {
  if (typeof id === 'number' && Number.isInteger(id) && id >= 1 && id <= 0xffff) return id;
  throw invalid(`[MQTT-2.3.1-1] ${what} needs a non-zero 16-bit packet identifier, got ${String(id)}`);
}

/** UTF-8 bytes of an MQTT string, checked against §1.5.3. */
function stringBytes(text: string, what: string): Uint8Array {
  if (text.indexOf('\u0000') >= 0) throw invalid(`[MQTT-1.5.3-2] ${what} contains U+0000`);
  const bytes = utf8Encode(text);
  if (bytes.length > MQTT_LIMITS.maxStringBytes) throw invalid(`[MQTT-1.5.3] ${what} is ${bytes.length} bytes, above 65535`);
  return bytes;
}

/** A topic name to publish to: at least one character, no wildcards [MQTT-4.7.3-1][MQTT-3.3.2-2]. */
export function checkTopicName(topic: string): void {
  if (topic.length === 0) throw invalid('[MQTT-4.7.3-1] empty topic name');
  if (topic.indexOf('+') >= 0 || topic.indexOf('#') >= 0) throw invalid(`[MQTT-3.3.2-2] wildcard in topic name '${topic}'`);
}

/** A topic filter to subscribe to: `#` only as the last level, `+` only as a whole level (§4.7.1). */
export function checkTopicFilter(filter: string): void {
  if (filter.length === 0) throw invalid('[MQTT-4.7.3-1] empty topic filter');
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i];
    const hash = level.indexOf('#');
    if (hash >= 0 && (level.length !== 1 || i !== levels.length - 1)) {
      throw invalid(`[MQTT-4.7.1-2] '#' must be the whole last level in '${filter}'`);
    }
    if (level.indexOf('+') >= 0 && level.length !== 1) throw invalid(`[MQTT-4.7.1-3] '+' must be a whole level in '${filter}'`);
  }
}

/** One packet: fixed header (type, flags, Remaining Length) then `body` bytes written by `fill`. */
function packet(
  type: number,
  flags: number,
  bodyLength: number,
  maxPacketSize: number,
  fill: (out: Uint8Array, offset: number) => number,
): Uint8Array {
  const total = 1 + remainingLengthSize(bodyLength) + bodyLength;
  if (total > maxPacketSize) {
    throw new OtaError('mqtt-too-large', `${TYPE_NAMES[type]} of ${total} bytes is above the limit of ${maxPacketSize}`);
  }
  const out = new Uint8Array(total);
  out[0] = (type << 4) | flags;
  const start = writeRemainingLength(out, 1, bodyLength);
  const end = fill(out, start);
  if (end !== total) throw new Error(`mqtt codec: ${TYPE_NAMES[type]} filled ${end} of ${total} bytes`);
  return out;
}

function put16(out: Uint8Array, offset: number, value: number): number {
  out[offset] = value >> 8;
  out[offset + 1] = value & 0xff;
  return offset + 2;
}

function putString(out: Uint8Array, offset: number, bytes: Uint8Array): number {
  offset = put16(out, offset, bytes.length);
  out.set(bytes, offset);
  return offset + bytes.length;
}

/** "MQTT" and protocol level 4 = MQTT 3.1.1 (§3.1.2.1, §3.1.2.2). */
const PROTOCOL_NAME = new Uint8Array([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54]);
const PROTOCOL_LEVEL = 4;

/** CONNECT (§3.1). */
export function encodeConnect(options: ConnectOptions, maxPacketSize: number = MQTT_LIMITS.maxPacketSize): Uint8Array {
  const clean = options.cleanSession ?? true;
  const keepAlive = options.keepAliveS;
  if (!Number.isInteger(keepAlive) || keepAlive < 0 || keepAlive > 0xffff) {
    throw invalid(`[MQTT-3.1.2.10] keep alive must be 0–65535 s, got ${String(keepAlive)}`);
  }
  const clientId = stringBytes(options.clientId, 'client identifier');
  if (clientId.length === 0 && !clean) throw invalid('[MQTT-3.1.3-7] an empty client identifier needs a clean session');
  const username = options.username === undefined ? undefined : stringBytes(options.username, 'user name');
  const password = options.password;
  if (password !== undefined && username === undefined) throw invalid('[MQTT-3.1.2-22] a password needs a user name');
  if (password !== undefined && password.length > 0xffff) throw invalid(`[MQTT-3.1.3.5] password of ${password.length} bytes`);
  // Connect Flags (§3.1.2.3): bit 7 user name, bit 6 password, bits 5–2 will (unused), bit 1
  // clean session, bit 0 reserved and 0 [MQTT-3.1.2-3].
  const flags = (username ? 0x80 : 0) | (password ? 0x40 : 0) | (clean ? 0x02 : 0);
  const bodyLength =
    PROTOCOL_NAME.length + 1 + 1 + 2 + 2 + clientId.length + (username ? 2 + username.length : 0) + (password ? 2 + password.length : 0);
  return packet(PacketType.CONNECT, 0, bodyLength, maxPacketSize, (out, o) => {
    out.set(PROTOCOL_NAME, o);
    o += PROTOCOL_NAME.length;
    out[o++] = PROTOCOL_LEVEL;
    out[o++] = flags;
    o = put16(out, o, keepAlive);
    o = putString(out, o, clientId);
    if (username) o = putString(out, o, username);
    if (password) o = putString(out, o, password);
    return o;
  });
}

/** PUBLISH (§3.3). */
export function encodePublish(options: PublishOptions, maxPacketSize: number = MQTT_LIMITS.maxPacketSize): Uint8Array {
  checkTopicName(options.topic);
  const topic = stringBytes(options.topic, 'topic name');
  const qos = options.qos;
  if (qos !== 0 && qos !== 1) throw invalid(`QoS ${String(qos)} is not supported by this client (0 or 1)`);
  const dup = options.dup ?? false;
  if (qos === 0 && dup) throw invalid('[MQTT-3.3.1-2] DUP must be 0 for QoS 0');
  if (qos === 0 && options.packetId !== undefined) throw invalid('[MQTT-2.3.1-5] a QoS 0 PUBLISH has no packet identifier');
  const packetId = qos > 0 ? checkPacketId(options.packetId, 'a QoS 1 PUBLISH') : 0;
  // Fixed header flags (§3.3.1): DUP bit 3, QoS bits 2–1, RETAIN bit 0.
  const flags = (dup ? 0x08 : 0) | (qos << 1) | (options.retain ? 0x01 : 0);
  const bodyLength = 2 + topic.length + (qos > 0 ? 2 : 0) + options.payload.length;
  return packet(PacketType.PUBLISH, flags, bodyLength, maxPacketSize, (out, o) => {
    o = putString(out, o, topic);
    if (qos > 0) o = put16(out, o, packetId);
    out.set(options.payload, o);
    return o + options.payload.length;
  });
}

/** PUBACK (§3.4). */
export function encodePuback(packetId: number): Uint8Array {
  const id = checkPacketId(packetId, 'PUBACK');
  return new Uint8Array([PacketType.PUBACK << 4, 2, id >> 8, id & 0xff]);
}

/** SUBSCRIBE (§3.8): flags 0010 [MQTT-3.8.1-1], at least one filter [MQTT-3.8.3-3]. */
export function encodeSubscribe(packetId: number, subscriptions: Subscription[], maxPacketSize: number = MQTT_LIMITS.maxPacketSize): Uint8Array {
  const id = checkPacketId(packetId, 'SUBSCRIBE');
  if (subscriptions.length === 0) throw invalid('[MQTT-3.8.3-3] SUBSCRIBE needs at least one topic filter');
  const filters = subscriptions.map((s) => {
    checkTopicFilter(s.filter);
    if (s.qos !== 0 && s.qos !== 1) throw invalid(`QoS ${String(s.qos)} is not supported by this client (0 or 1)`);
    return stringBytes(s.filter, 'topic filter');
  });
  let bodyLength = 2;
  for (const f of filters) bodyLength += 2 + f.length + 1;
  return packet(PacketType.SUBSCRIBE, 0x02, bodyLength, maxPacketSize, (out, o) => {
    o = put16(out, o, id);
    for (let i = 0; i < filters.length; i++) {
      o = putString(out, o, filters[i]);
      out[o++] = subscriptions[i].qos;
    }
    return o;
  });
}

/** UNSUBSCRIBE (§3.10): flags 0010 [MQTT-3.10.1-1], at least one filter [MQTT-3.10.3-2]. */
export function encodeUnsubscribe(packetId: number, filters: string[], maxPacketSize: number = MQTT_LIMITS.maxPacketSize): Uint8Array {
  const id = checkPacketId(packetId, 'UNSUBSCRIBE');
  if (filters.length === 0) throw invalid('[MQTT-3.10.3-2] UNSUBSCRIBE needs at least one topic filter');
  const encoded = filters.map((f) => {
    checkTopicFilter(f);
    return stringBytes(f, 'topic filter');
  });
  let bodyLength = 2;
  for (const f of encoded) bodyLength += 2 + f.length;
  return packet(PacketType.UNSUBSCRIBE, 0x02, bodyLength, maxPacketSize, (out, o) => {
    o = put16(out, o, id);
    for (const f of encoded) o = putString(out, o, f);
    return o;
  });
}

/** PINGREQ (§3.12). */
export function encodePingreq(): Uint8Array {
  return new Uint8Array([PacketType.PINGREQ << 4, 0]);
}

/** DISCONNECT (§3.14). */
export function encodeDisconnect(): Uint8Array {
  return new Uint8Array([PacketType.DISCONNECT << 4, 0]);
}

// ---------------------------------------------------------------- decoding

/**
 * Whether bytes[start, end) is well-formed UTF-8 without U+0000 and without surrogate code points
 * (§1.5.3: [MQTT-1.5.3-1], [MQTT-1.5.3-2]); utf8Decode alone would hide the damage as U+FFFD.
 */
export function checkMqttUtf8(bytes: Uint8Array, start: number, end: number): string | undefined {
  let i = start;
  while (i < end) {
    const b = bytes[i];
    if (b === 0) return `[MQTT-1.5.3-2] U+0000 at byte ${i - start}`;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    let cp: number;
    if (b >= 0xc2 && b < 0xe0) {
      need = 1;
      min = 0x80;
      cp = b & 0x1f;
    } else if (b >= 0xe0 && b < 0xf0) {
      need = 2;
      min = 0x800;
      cp = b & 0x0f;
    } else if (b >= 0xf0 && b < 0xf5) {
      need = 3;
      min = 0x10000;
      cp = b & 0x07;
    } else return `[MQTT-1.5.3-1] ill-formed UTF-8 at byte ${i - start}`;
    if (i + need >= end) return `[MQTT-1.5.3-1] truncated UTF-8 sequence at byte ${i - start}`;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if ((c & 0xc0) !== 0x80) return `[MQTT-1.5.3-1] ill-formed UTF-8 at byte ${i - start}`;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff) return `[MQTT-1.5.3-1] ill-formed UTF-8 at byte ${i - start}`;
    if (cp >= 0xd800 && cp <= 0xdfff) return `[MQTT-1.5.3-1] surrogate code point at byte ${i - start}`;
    i += need + 1;
  }
  return undefined;
}

/** Decoder states: small integers, one per field (style rule 10: hot parsers use numbers). */
const S_HEADER = 0;
const S_LENGTH = 1;
const S_BODY = 2;
const S_FAILED = 3;

/**
 * Resumable decoder of the packets a server sends. `push` accepts chunks of any size, split
 * anywhere; each whole packet goes to `onPacket` as soon as its last byte arrives. A protocol
 * violation throws an OtaError (`mqtt-malformed`, `mqtt-too-large`, `mqtt-protocol`) and leaves the
 * decoder failed: every later `push` throws the same error, because the only correct reaction is to
 * close the connection [MQTT-4.8.0-1].
 *
 * @example
 * const decoder = new MqttDecoder((p) => { if (p.type === 'connack') ... });
 * stream.onData((chunk) => decoder.push(chunk));
 */
export class MqttDecoder {
  readonly maxPacketSize: number;
  #onPacket: (packet: ServerPacket) => void;
  #body: Uint8Array;
  #state = S_HEADER;
  #first = 0;
  #length = 0;
  #lengthBytes = 0;
  #filled = 0;
  #failure: OtaError | undefined;
  #stopped = false;

  constructor(onPacket: (packet: ServerPacket) => void, maxPacketSize: number = MQTT_LIMITS.maxPacketSize) {
    if (!Number.isInteger(maxPacketSize) || maxPacketSize < 5) throw invalid(`maxPacketSize ${maxPacketSize}`);
    this.maxPacketSize = maxPacketSize;
    this.#onPacket = onPacket;
    // The largest body a packet within maxPacketSize can have; allocated once (style rule 4).
    this.#body = new Uint8Array(maxPacketSize - 2);
  }

  /** The error that failed the decoder, if any. */
  get failure(): OtaError | undefined {
    return this.#failure;
  }

  /**
   * Stop at once: a later `push` consumes nothing. For an `onPacket` handler that closes the
   * connection, so that the rest of the chunk is not decoded for nobody.
   */
  stop(): void {
    this.#stopped = true;
  }

  /** Feed bytes. Returns how many were consumed: all of them, unless `stop()` was called. */
  push(chunk: Uint8Array): number {
    if (this.#failure) throw this.#failure;
    let i = 0;
    try {
      while (i < chunk.length && !this.#stopped) {
        switch (this.#state) {
          case S_HEADER:
            this.#header(chunk[i++]);
            break;
          case S_LENGTH:
            this.#lengthByte(chunk[i++]);
            break;
          case S_BODY: {
            const take = Math.min(this.#length - this.#filled, chunk.length - i);
            this.#body.set(chunk.subarray(i, i + take), this.#filled);
            this.#filled += take;
            i += take;
            if (this.#filled === this.#length) this.#finish();
            break;
          }
          default:
            throw this.#failure ?? new OtaError('bad-state', 'mqtt decoder');
        }
      }
    } catch (error) {
      this.#state = S_FAILED;
      this.#failure = error instanceof OtaError ? error : new OtaError('mqtt-malformed', String(error), error);
      throw this.#failure;
    }
    return i;
  }

  #header(byte: number): void {
    const type = byte >> 4;
    const flags = byte & 0x0f;
    switch (type) {
      case PacketType.PUBLISH:
        if ((flags & 0x06) === 0x06) throw malformed('[MQTT-3.3.1-4] PUBLISH with both QoS bits set');
        break;
      case PacketType.CONNACK:
      case PacketType.PUBACK:
      case PacketType.SUBACK:
      case PacketType.UNSUBACK:
      case PacketType.PINGRESP:
        if (flags !== 0) throw malformed(`[MQTT-2.2.2-2] reserved flags 0x${flags.toString(16)} in ${TYPE_NAMES[type]}`);
        break;
      case PacketType.PUBREC:
      case PacketType.PUBREL:
      case PacketType.PUBCOMP:
        throw new OtaError('mqtt-protocol', `${TYPE_NAMES[type]}: QoS 2 is never used by this client`);
      case PacketType.CONNECT:
      case PacketType.SUBSCRIBE:
      case PacketType.UNSUBSCRIBE:
      case PacketType.PINGREQ:
      case PacketType.DISCONNECT:
        throw new OtaError('mqtt-protocol', `[MQTT-4.8.0-1] ${TYPE_NAMES[type]} is a client-to-server packet`);
      default:
        throw malformed(`[MQTT-2.2.1] reserved packet type ${type}`);
    }
    this.#first = byte;
    this.#length = 0;
    this.#lengthBytes = 0;
    this.#filled = 0;
    this.#state = S_LENGTH;
  }

  #lengthByte(byte: number): void {
    // §2.2.3: seven bits per byte, least significant group first, bit 7 = more bytes follow.
    this.#length += (byte & 0x7f) * 128 ** this.#lengthBytes;
    this.#lengthBytes++;
    if (byte & 0x80) {
      if (this.#lengthBytes >= MQTT_LIMITS.maxLengthBytes) throw malformed('[MQTT-2.2.3] Remaining Length longer than 4 bytes');
      return;
    }
    const type = this.#first >> 4;
    const total = 1 + this.#lengthBytes + this.#length;
    if (total > this.maxPacketSize) {
      throw new OtaError('mqtt-too-large', `${TYPE_NAMES[type]} of ${total} bytes is above the limit of ${this.maxPacketSize}`);
    }
    // Fixed-size packets are checked here, before their body arrives.
    const fixed = type === PacketType.PINGRESP ? 0 : type === PacketType.CONNACK || type === PacketType.PUBACK || type === PacketType.UNSUBACK ? 2 : -1;
    if (fixed >= 0 && this.#length !== fixed) throw malformed(`[MQTT-2.2.3] ${TYPE_NAMES[type]} Remaining Length ${this.#length}, must be ${fixed}`);
    if (type === PacketType.SUBACK && this.#length < 3) throw malformed(`[MQTT-3.9.3] SUBACK Remaining Length ${this.#length}: no return code`);
    if (this.#length === 0) this.#finish();
    else this.#state = S_BODY;
  }

  #finish(): void {
    const body = this.#body;
    const length = this.#length;
    const type = this.#first >> 4;
    this.#state = S_HEADER;
    const id = (body[0] << 8) | body[1];
    switch (type) {
      case PacketType.CONNACK: {
        // §3.2.2.1: bits 7–1 of the acknowledge flags are reserved and 0.
        if (body[0] & 0xfe) throw malformed(`[MQTT-3.2.2.1] reserved CONNACK flags 0x${body[0].toString(16)}`);
        this.#onPacket({ type: 'connack', sessionPresent: (body[0] & 1) === 1, returnCode: body[1] });
        return;
      }
      case PacketType.PUBACK:
        if (id === 0) throw malformed('[MQTT-2.3.1-1] PUBACK with packet identifier 0');
        this.#onPacket({ type: 'puback', packetId: id });
        return;
      case PacketType.UNSUBACK:
        if (id === 0) throw malformed('[MQTT-2.3.1-1] UNSUBACK with packet identifier 0');
        this.#onPacket({ type: 'unsuback', packetId: id });
        return;
      case PacketType.PINGRESP:
        this.#onPacket({ type: 'pingresp' });
        return;
      case PacketType.SUBACK: {
        if (id === 0) throw malformed('[MQTT-2.3.1-1] SUBACK with packet identifier 0');
        const codes: number[] = [];
        for (let k = 2; k < length; k++) {
          const c = body[k];
          if (c !== 0 && c !== 1 && c !== 2 && c !== SUBACK_FAILURE) throw malformed(`[MQTT-3.9.3-2] reserved SUBACK return code 0x${c.toString(16)}`);
          codes.push(c);
        }
        this.#onPacket({ type: 'suback', packetId: id, returnCodes: codes });
        return;
      }
      case PacketType.PUBLISH: {
        const flags = this.#first & 0x0f;
        const qos = (flags >> 1) & 3;
        const dup = (flags & 0x08) !== 0;
        if (qos === 2) throw new OtaError('mqtt-protocol', '[MQTT-3.8.4-6] QoS 2 PUBLISH, above any QoS this client subscribes with');
        if (qos === 0 && dup) throw malformed('[MQTT-3.3.1-2] DUP set on a QoS 0 PUBLISH');
        if (length < 2) throw malformed('[MQTT-3.3.2-1] PUBLISH too short for its topic name');
        const topicLength = id;
        let o = 2 + topicLength;
        if (o > length) throw malformed(`[MQTT-3.3.2-1] topic name of ${topicLength} bytes overruns the packet`);
        if (topicLength === 0) throw malformed('[MQTT-4.7.3-1] empty topic name');
        const bad = checkMqttUtf8(body, 2, o);
        if (bad) throw malformed(`${bad} of the topic name`);
        const topic = utf8Decode(body, 2, o);
        if (topic.indexOf('+') >= 0 || topic.indexOf('#') >= 0) throw malformed(`[MQTT-3.3.2-2] wildcard in topic name '${topic}'`);
        let packetId = 0;
        if (qos > 0) {
          if (o + 2 > length) throw malformed('[MQTT-2.3.1-1] PUBLISH too short for its packet identifier');
          packetId = (body[o] << 8) | body[o + 1];
          if (packetId === 0) throw malformed('[MQTT-2.3.1-1] QoS 1 PUBLISH with packet identifier 0');
          o += 2;
        }
        this.#onPacket({
          type: 'publish',
          topic,
          payload: body.subarray(o, length),
          qos: qos as QoS,
          dup,
          retain: (flags & 1) === 1,
          packetId,
        });
        return;
      }
      default:
        throw new OtaError('bad-state', `mqtt decoder finished a ${TYPE_NAMES[type]}`);
    }
  }
}

/** Name of a packet type, for messages. */
export function packetTypeName(type: number): string {
  return TYPE_NAMES[type & 15];
}
