/**
 * A small MQTT 3.1.1 client for the OTA agent: clean sessions, QoS 0 and 1 both ways, keep-alive
 * on the ClockPort, orderly DISCONNECT, and a `close()` that ends everything. It runs over any
 * ByteStream (the modem's TLS socket on the device, a Node socket in the dev kit).
 *
 * Not here, on purpose: QoS 2, wills, persistent sessions and reconnection. The agent connects,
 * does one exchange and disconnects (IoTConnect: ask for pending OTA, take the command, ack);
 * a lost connection fails the operation and the agent's retry policy decides what next.
 *
 * @example
 * const client = await MqttClient.connect({ stream, clock, clientId: 'dev42', onMessage: (m) => ... });
 * await client.subscribe([{ filter: 'iot/dev42/cmd', qos: 1 }]);
 * await client.publish('di/dev42', utf8Encode('{"mt":205}'), { qos: 1 });
 * await client.disconnect();
 */
import type { ByteStream } from '../byte-stream.js';
import type { ClockPort, TimerId } from '../../platform/clock.js';
import type { LogPort } from '../../platform/log.js';
import { OtaError, describeError } from '../../util/errors.js';
import {
  CONNACK_RETURN_CODES,
  MQTT_LIMITS,
  MqttDecoder,
  SUBACK_FAILURE,
  encodeConnect,
  encodeDisconnect,
  encodePingreq,
  encodePuback,
  encodePublish,
  encodeSubscribe,
  encodeUnsubscribe,
  type QoS,
  type ServerPacket,
  type Subscription,
} from './codec.js';

/** Defaults of the client's timing and bounds; each can be set per client. */
export const MQTT_CLIENT_DEFAULTS = {
  /**
   * Keep Alive, seconds (§3.1.2.10). 60 s keeps a cellular NAT mapping open (carriers drop idle
   * UDP/TCP mappings after a few minutes) while costing one 2-byte PINGREQ a minute; 0 = off.
   */
  keepAliveS: 60,
  /** CONNACK must arrive within this (TLS is already up). Past it: `timeout`, connection closed. */
  connectTimeoutMs: 30_000,
  /** PUBACK/SUBACK/UNSUBACK must arrive within this. A clean session never resends, so: `timeout`, closed. */
  ackTimeoutMs: 30_000,
  /** PINGRESP must arrive within this after a PINGREQ (§3.1.2.10: "a reasonable amount of time"). */
  pingTimeoutMs: 15_000,
  /** QoS 1 publishes and subscriptions in flight at once; one more is refused with `limit-exceeded`. */
  maxInflight: 8,
  /**
   * Packet ids of delivered QoS 1 messages remembered for duplicate detection (a ring; older
   * ids are forgotten, so a re-delivery later than that is delivered again: the application
   * keeps its own idempotency, as IoTConnect's ack id does).
   */
  recentInbound: 16,
} as const;

/** A message the server delivered. */
export interface MqttMessage {
  topic: string;
  /** Valid only during the `onMessage` call (a view into the decoder's buffer): copy to keep it. */
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
  /** 0 for QoS 0. */
  packetId: number;
}

export interface MqttClientOptions {
  /** A connected stream; the client owns it from now on and closes it. */
  stream: ByteStream;
  clock: ClockPort;
  clientId: string;
  username?: string;
  password?: Uint8Array;
  keepAliveS?: number;
  connectTimeoutMs?: number;
  ackTimeoutMs?: number;
  pingTimeoutMs?: number;
  maxInflight?: number;
  recentInbound?: number;
  maxPacketSize?: number;
  /**
   * Each delivered message, once. Runs before the PUBACK is sent (the PUBACK says we took
   * ownership [MQTT-4.3.2-2]); a handler that throws closes the connection without acking.
   */
  onMessage?: (message: MqttMessage) => void;
  /** Called once when the client ends: with the error, or none after `disconnect()`/`close()`. */
  onClose?: (error?: OtaError) => void;
  log?: LogPort;
}

export type MqttClientState = 'connecting' | 'connected' | 'disconnecting' | 'closed';

interface Waiter<T> {
  kind: 'puback' | 'suback' | 'unsuback';
  resolve: (value: T) => void;
  reject: (error: OtaError) => void;
  timer: TimerId;
  /** For SUBACK: how many return codes to expect. */
  count: number;
}

export class MqttClient {
  readonly clientId: string;
  #stream: ByteStream;
  #clock: ClockPort;
  #log: LogPort | undefined;
  #decoder: MqttDecoder;
  #state: MqttClientState = 'connecting';
  #keepAliveMs: number;
  #connectTimeoutMs: number;
  #ackTimeoutMs: number;
  #pingTimeoutMs: number;
  #maxInflight: number;
  #maxPacketSize: number;
  #onMessage: ((message: MqttMessage) => void) | undefined;
  #onClose: ((error?: OtaError) => void) | undefined;
  #pending = new Map<number, Waiter<any>>();
  #nextId = 1;
  #connectWaiter: { resolve: () => void; reject: (error: OtaError) => void; timer: TimerId } | undefined;
  #pingTimer: TimerId | undefined;
  #pongTimer: TimerId | undefined;
  #recent: Uint16Array;
  #recentNext = 0;
  /** Counters for tests and logs. */
  readonly stats = { pingsSent: 0, pongs: 0, duplicatesDropped: 0, delivered: 0 };

  private constructor(options: MqttClientOptions) {
    this.clientId = options.clientId;
    this.#stream = options.stream;
    this.#clock = options.clock;
    this.#log = options.log;
    const keepAliveS = options.keepAliveS ?? MQTT_CLIENT_DEFAULTS.keepAliveS;
    this.#keepAliveMs = keepAliveS * 1000;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? MQTT_CLIENT_DEFAULTS.connectTimeoutMs;
    this.#ackTimeoutMs = options.ackTimeoutMs ?? MQTT_CLIENT_DEFAULTS.ackTimeoutMs;
    this.#pingTimeoutMs = options.pingTimeoutMs ?? MQTT_CLIENT_DEFAULTS.pingTimeoutMs;
    this.#maxInflight = options.maxInflight ?? MQTT_CLIENT_DEFAULTS.maxInflight;
    this.#maxPacketSize = options.maxPacketSize ?? MQTT_LIMITS.maxPacketSize;
    this.#onMessage = options.onMessage;
    this.#onClose = options.onClose;
    // 0 never occurs as a QoS 1 packet id [MQTT-2.3.1-1], so a zeroed ring remembers nothing.
    this.#recent = new Uint16Array(options.recentInbound ?? MQTT_CLIENT_DEFAULTS.recentInbound);
    this.#decoder = new MqttDecoder((packet) => this.#handle(packet), this.#maxPacketSize);
  }

  /**
   * Send CONNECT (clean session) on `stream` and wait for a CONNACK that accepts it. Rejects with
   * `mqtt-refused` (the return code named), `timeout`, `link-lost` or a codec error; the stream
   * is closed then.
   */
  static connect(options: MqttClientOptions): Promise<MqttClient> {
    const client = new MqttClient(options);
    return client.#start(options).then(() => client);
  }

  get state(): MqttClientState {
    return this.#state;
  }

  #start(options: MqttClientOptions): Promise<void> {
    let connect: Uint8Array;
    try {
      connect = encodeConnect(
        { clientId: options.clientId, cleanSession: true, keepAliveS: this.#keepAliveMs / 1000, username: options.username, password: options.password },
        this.#maxPacketSize,
      );
    } catch (error) {
      this.close(error as OtaError);
      return Promise.reject(error);
    }
    const done = new Promise<void>((resolve, reject) => {
      const timer = this.#clock.setTimeout(
        () => this.close(new OtaError('timeout', `no CONNACK within ${this.#connectTimeoutMs} ms`)),
        this.#connectTimeoutMs,
      );
      this.#connectWaiter = { resolve, reject, timer };
    });
    this.#stream.onData((chunk) => this.#onData(chunk));
    // After our DISCONNECT the server closes the connection (MQTT 3.1.1 §3.14.4): that end is the
    // goodbye answered, not a lost link (a SIM7600 in push mode reports the close at once).
    this.#stream.onClose((error) => this.close(this.#state === 'disconnecting' && error === undefined ? undefined : (error ?? new OtaError('link-lost', 'the stream ended'))));
    this.#send(connect).catch(() => undefined /* close() rejected the waiter with the reason */);
    return done;
  }

  /**
   * Publish. QoS 0 resolves once the bytes were handed to the stream; QoS 1 once the PUBACK came
   * [MQTT-4.3.2-1]. Rejects with `timeout` (no PUBACK: the connection is closed, since a clean
   * session never resends), `closed`, `link-lost`, `limit-exceeded` or `mqtt-too-large`.
   */
  publish(topic: string, payload: Uint8Array, options: { qos: QoS; retain?: boolean } = { qos: 0 }): Promise<void> {
    const bad = this.#usable();
    if (bad) return Promise.reject(bad);
    if (options.qos === 0) {
      let bytes: Uint8Array;
      try {
        bytes = encodePublish({ topic, payload, qos: 0, retain: options.retain }, this.#maxPacketSize);
      } catch (error) {
        return Promise.reject(error);
      }
      return this.#send(bytes);
    }
    return this.#request<void>('puback', 1, (id) => encodePublish({ topic, payload, qos: 1, retain: options.retain, packetId: id }, this.#maxPacketSize));
  }

  /**
   * Subscribe; resolves with the granted QoS per filter. A filter the server refused (SUBACK
   * 0x80) rejects with `mqtt-subscribe-refused`; the connection stays up.
   */
  subscribe(subscriptions: Subscription[]): Promise<number[]> {
    const bad = this.#usable();
    if (bad) return Promise.reject(bad);
    return this.#request<number[]>('suback', subscriptions.length, (id) => encodeSubscribe(id, subscriptions, this.#maxPacketSize)).then((codes) => {
      const refused = subscriptions.filter((_, i) => codes[i] === SUBACK_FAILURE).map((s) => s.filter);
      if (refused.length > 0) throw new OtaError('mqtt-subscribe-refused', refused.join(', '));
      return codes;
    });
  }

  unsubscribe(filters: string[]): Promise<void> {
    const bad = this.#usable();
    if (bad) return Promise.reject(bad);
    return this.#request<void>('unsuback', 0, (id) => encodeUnsubscribe(id, filters, this.#maxPacketSize));
  }

  /**
   * Orderly end: DISCONNECT, then close the stream [MQTT-3.14.4-1]. Operations still waiting for
   * an acknowledgement reject with `closed`. Never rejects; a dead link just closes.
   */
  async disconnect(): Promise<void> {
    if (this.#state !== 'connected') {
      this.close();
      return;
    }
    this.#state = 'disconnecting';
    try {
      await this.#stream.write(encodeDisconnect());
    } catch {
      // The link died under the DISCONNECT: close() below ends the client all the same, and the
      // stream's onClose has already reported the link loss if it was one.
    }
    this.close();
    // The session is over only when the transport is: a modem socket's close is an AT exchange.
    await this.#stream.released?.();
  }

  /**
   * End at once, whatever the state: timers cleared, pending operations rejected with `error`
   * (default `closed`), stream closed, `onClose` called once. Idempotent; never throws.
   */
  close(error?: OtaError): void {
    if (this.#state === 'closed') return;
    const wasUp = this.#state;
    this.#state = 'closed';
    this.#decoder.stop();
    this.#cancelTimer(this.#pingTimer);
    this.#cancelTimer(this.#pongTimer);
    this.#pingTimer = this.#pongTimer = undefined;
    const why = error ?? new OtaError('closed', 'MQTT client closed');
    const connect = this.#connectWaiter;
    this.#connectWaiter = undefined;
    if (connect) {
      this.#cancelTimer(connect.timer);
      connect.reject(why);
    }
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const waiter of pending) {
      this.#cancelTimer(waiter.timer);
      waiter.reject(why);
    }
    try {
      this.#stream.close();
    } catch (closeError) {
      this.#log?.log('warn', 'mqtt.stream-close-failed', { error: describeError(closeError) });
    }
    this.#log?.log(error ? 'warn' : 'debug', 'mqtt.closed', { clientId: this.clientId, from: wasUp, reason: error?.reason, detail: error?.detail });
    const onClose = this.#onClose;
    this.#onClose = undefined;
    try {
      onClose?.(error);
    } catch (handlerError) {
      this.#log?.log('error', 'mqtt.onclose-threw', { error: describeError(handlerError) });
    }
  }

  #usable(): OtaError | undefined {
    if (this.#state === 'connected') return undefined;
    return new OtaError(this.#state === 'connecting' ? 'bad-state' : 'closed', `MQTT client is ${this.#state}`);
  }

  #cancelTimer(id: TimerId | undefined): void {
    if (id !== undefined) this.#clock.clearTimeout(id);
  }

  /** A packet id not in flight [MQTT-2.3.1-2]. */
  #allocateId(): number {
    for (;;) {
      const id = this.#nextId;
      this.#nextId = id === 0xffff ? 1 : id + 1;
      if (!this.#pending.has(id)) return id;
    }
  }

  #request<T>(kind: Waiter<T>['kind'], count: number, encode: (id: number) => Uint8Array): Promise<T> {
    if (this.#pending.size >= this.#maxInflight) {
      return Promise.reject(new OtaError('limit-exceeded', `${this.#pending.size} MQTT operations in flight (maxInflight)`));
    }
    const id = this.#allocateId();
    let bytes: Uint8Array;
    try {
      bytes = encode(id);
    } catch (error) {
      return Promise.reject(error);
    }
    const done = new Promise<T>((resolve, reject) => {
      const timer = this.#clock.setTimeout(
        () => this.close(new OtaError('timeout', `no ${kind.toUpperCase()} for packet ${id} within ${this.#ackTimeoutMs} ms`)),
        this.#ackTimeoutMs,
      );
      this.#pending.set(id, { kind, resolve, reject, timer, count });
    });
    this.#send(bytes).catch(() => undefined /* close() rejected the waiter with the reason */);
    return done;
  }

  /** Write a packet; a failed write closes the client with the stream's reason. */
  #send(bytes: Uint8Array): Promise<void> {
    this.#armKeepAlive();
    return this.#stream.write(bytes).catch((error: unknown) => {
      const why = error instanceof OtaError ? error : new OtaError('link-lost', describeError(error), error);
      this.close(why);
      throw why;
    });
  }

  /** [MQTT-3.1.2-23]: no more than Keep Alive between two packets we send; PINGREQ fills the gap. */
  #armKeepAlive(): void {
    if (this.#keepAliveMs === 0 || this.#state === 'closed') return;
    this.#cancelTimer(this.#pingTimer);
    this.#pingTimer = this.#clock.setTimeout(() => this.#ping(), this.#keepAliveMs);
  }

  #ping(): void {
    this.#pingTimer = undefined;
    if (this.#state !== 'connected' && this.#state !== 'connecting') return;
    if (this.#pongTimer === undefined) {
      this.#pongTimer = this.#clock.setTimeout(
        () => this.close(new OtaError('timeout', `no PINGRESP within ${this.#pingTimeoutMs} ms`)),
        this.#pingTimeoutMs,
      );
    }
    this.stats.pingsSent++;
    this.#send(encodePingreq()).catch(() => undefined /* close() already ran with the reason */);
  }

  #onData(chunk: Uint8Array): void {
    if (this.#state === 'closed') return;
    try {
      this.#decoder.push(chunk);
    } catch (error) {
      this.close(error instanceof OtaError ? error : new OtaError('mqtt-malformed', describeError(error), error));
    }
  }

  #handle(packet: ServerPacket): void {
    if (this.#state === 'connecting') {
      if (packet.type !== 'connack') throw new OtaError('mqtt-protocol', `[MQTT-3.2.0-1] ${packet.type} before CONNACK`);
      // A clean session has no state, so Session Present must be 0 (§3.2.2.2, [MQTT-3.2.2-1]).
      if (packet.returnCode === 0 && packet.sessionPresent) throw new OtaError('mqtt-protocol', '[MQTT-3.2.2-1] Session Present on a clean session');
      if (packet.returnCode !== 0) {
        const name = CONNACK_RETURN_CODES[packet.returnCode] ?? 'reserved';
        this.close(new OtaError('mqtt-refused', `CONNACK ${packet.returnCode} (${name})`));
        return;
      }
      const waiter = this.#connectWaiter;
      this.#connectWaiter = undefined;
      if (waiter) this.#cancelTimer(waiter.timer);
      this.#state = 'connected';
      this.#log?.log('info', 'mqtt.connected', { clientId: this.clientId });
      waiter?.resolve();
      return;
    }
    switch (packet.type) {
      case 'connack':
        throw new OtaError('mqtt-protocol', '[MQTT-3.2.0-1] a second CONNACK');
      case 'pingresp':
        this.stats.pongs++;
        this.#cancelTimer(this.#pongTimer);
        this.#pongTimer = undefined;
        return;
      case 'puback':
      case 'unsuback':
      case 'suback': {
        const waiter = this.#pending.get(packet.packetId);
        if (!waiter || waiter.kind !== packet.type) {
          throw new OtaError('mqtt-protocol', `${packet.type.toUpperCase()} for packet ${packet.packetId}, which is not waiting for one`);
        }
        // §3.9.3: one return code per filter of the SUBSCRIBE, in order [MQTT-3.8.4-5]. The
        // waiter stays pending until then, so that close() rejects it with this error.
        if (packet.type === 'suback' && packet.returnCodes.length !== waiter.count) {
          throw new OtaError('mqtt-protocol', `[MQTT-3.8.4-5] SUBACK with ${packet.returnCodes.length} return codes for ${waiter.count} filters`);
        }
        this.#pending.delete(packet.packetId);
        this.#cancelTimer(waiter.timer);
        waiter.resolve(packet.type === 'suback' ? packet.returnCodes : undefined);
        return;
      }
      case 'publish':
        this.#deliver(packet);
        return;
    }
  }

  #deliver(packet: Extract<ServerPacket, { type: 'publish' }>): void {
    if (this.#state === 'disconnecting') return; // we said goodbye: take nothing more
    const message: MqttMessage = { topic: packet.topic, payload: packet.payload, qos: packet.qos, retain: packet.retain, packetId: packet.packetId };
    if (packet.qos === 0) {
      this.#callOnMessage(message);
      return;
    }
    // QoS 1. DUP=1 marks a re-send of an earlier attempt (§3.3.1.1); if we already took that
    // packet id, our PUBACK was lost: ack again, deliver nothing. A new message that reuses an
    // id comes with DUP=0 and is delivered [MQTT-4.3.2-2].
    const id = packet.packetId;
    if (packet.dup && this.#recent.indexOf(id) >= 0) {
      this.stats.duplicatesDropped++;
      this.#log?.log('info', 'mqtt.duplicate', { topic: packet.topic, packetId: id });
    } else {
      if (!this.#callOnMessage(message)) return;
      if (this.#recent.length > 0) {
        this.#recent[this.#recentNext] = id;
        this.#recentNext = (this.#recentNext + 1) % this.#recent.length;
      }
    }
    if ((this.#state as MqttClientState) === 'closed') return;
    this.#send(encodePuback(id)).catch(() => undefined /* close() already ran with the reason */);
  }

  /** Runs the user's handler; false when it threw (the client is closed then) or closed us. */
  #callOnMessage(message: MqttMessage): boolean {
    this.stats.delivered++;
    try {
      this.#onMessage?.(message);
    } catch (error) {
      this.close(error instanceof OtaError ? error : new OtaError('aborted', `onMessage threw: ${describeError(error)}`, error));
      return false;
    }
    return this.#state !== 'closed';
  }
}
