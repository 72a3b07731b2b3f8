/**
 * Reads the MQTT inside a TLS 1.3 connection the dev kit cannot terminate (issue 13: the agent's
 * TLS to mosquitto's own TLS listener), so that the simulated modem's waits on that socket end on
 * counts, never on a window of real silence.
 *
 * The dev kit owns the device's half of every secret: the ClientHello's key share is a key pair
 * generated in the simulated A5000, whose ECDH with the ServerHello's share the SE would compute
 * (`ecdhFor`). From that shared secret and the transcript both sides see, the RFC 8446 §7.1 key
 * schedule gives every traffic key, so every record each way opens, as a passive observer with
 * the client's key (Wireshark with a key log) reads it. The agent's own key schedule and record
 * layer do the work (src/tls/key-schedule.ts, src/tls/record.ts) over node:crypto: nothing here
 * is a second TLS implementation, and nothing reaches the agent.
 *
 * What it tells the socket:
 * - `handshakeOwed`: the ClientHello went out and the server's flight has not been read to its
 *   Finished yet (then the wait goes on: the flight is what is owed); then, once the client's
 *   Finished went out, the NewSessionTickets the server sends for it (`ticketsAfterFinished`:
 *   OpenSSL's default SSL_CTX_set_num_tickets is 2, and mosquitto does not change it; RFC 8446
 *   §4.6.1 leaves the number to the server, so the listener's own count is what the dev kit gives);
 * - `exchange`: an ExchangeTracker fed with the MQTT plaintext each way (CONNECT owes CONNACK,
 *   PUBLISH QoS 1 PUBACK, ...; its PUBACK / PUBLISH counts feed the cloud's work);
 * - `failed`: something it cannot read (not TLS 1.3 with TLS_AES_128_GCM_SHA256 over secp256r1,
 *   a HelloRetryRequest, a key it does not know, a record that does not open): the socket then
 *   falls back to its quiet-window rule, counted, as for any protocol it cannot read.
 */
import { createHash } from 'node:crypto';
import { handshakeSecrets, applicationSecrets, trafficKeys } from '../../../src/tls/key-schedule.js';
import { CONTENT, RecordProtection, RecordReader, type TlsRecord } from '../../../src/tls/record.js';
import { NodeTlsCrypto } from '../../node/node-tls-crypto.js';
import { ExchangeTracker } from './sim-modem/exchange.js';

/** The device's ECDH for its key share `ownPublic` (uncompressed P-256 point), or undefined when no such key is known. */
export type EcdhFor = (ownPublic: Uint8Array) => ((peer: Uint8Array) => Uint8Array) | undefined;

const HANDSHAKE = { clientHello: 1, serverHello: 2, newSessionTicket: 4, finished: 20 } as const;
const EXT_KEY_SHARE = 0x0033;
const EXT_SUPPORTED_VERSIONS = 0x002b;
const SECP256R1 = 0x0017;
const TLS_AES_128_GCM_SHA256 = 0x1301;
/** RFC 8446 §4.1.3: a ServerHello with this random is a HelloRetryRequest. */
const HRR_RANDOM = Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex');

const crypto = new NodeTlsCrypto();

/** Handshake messages out of a byte stream that records cut anywhere. */
class HandshakeFramer {
  #buf = Buffer.alloc(0);

  push(bytes: Uint8Array): { type: number; body: Buffer; whole: Buffer }[] {
    this.#buf = Buffer.concat([this.#buf, bytes]);
    const out: { type: number; body: Buffer; whole: Buffer }[] = [];
    while (this.#buf.length >= 4) {
      const length = this.#buf.readUIntBE(1, 3);
      if (this.#buf.length < 4 + length) break;
      const whole = this.#buf.subarray(0, 4 + length);
      out.push({ type: whole[0], body: whole.subarray(4), whole: Buffer.from(whole) });
      this.#buf = this.#buf.subarray(4 + length);
    }
    return out;
  }
}

/** The extensions of a hello body from `offset` (the extensions' length field). */
function extensions(body: Buffer, offset: number): Map<number, Buffer> {
  const map = new Map<number, Buffer>();
  const end = offset + 2 + body.readUInt16BE(offset);
  for (let i = offset + 2; i + 4 <= end; ) {
    const type = body.readUInt16BE(i);
    const length = body.readUInt16BE(i + 2);
    map.set(type, body.subarray(i + 4, i + 4 + length));
    i += 4 + length;
  }
  return map;
}

export class Tls13Observer {
  readonly exchange = new ExchangeTracker();
  handshakeOwed = false;
  failed: string | undefined;

  readonly #ecdhFor: EcdhFor;
  #ecdh: ((peer: Uint8Array) => Uint8Array) | undefined;
  readonly #transcript = createHash('sha256');
  readonly #out = { records: new RecordReader(), handshake: new HandshakeFramer(), protection: undefined as RecordProtection | undefined };
  readonly #in = { records: new RecordReader(), handshake: new HandshakeFramer(), protection: undefined as RecordProtection | undefined };
  #handshakeSecret: Uint8Array | undefined;
  /** The client's application keys, taken once its Finished went out (the server's at the server's Finished). */
  #clientApplication: RecordProtection | undefined;
  #transcriptDone = false;

  readonly #ticketsAfterFinished: number;
  /** NewSessionTickets still to come after the client's Finished. */
  #ticketsOwed = 0;

  constructor(ecdhFor: EcdhFor, ticketsAfterFinished = 0) {
    this.#ecdhFor = ecdhFor;
    this.#ticketsAfterFinished = ticketsAfterFinished;
  }

  /** Bytes the device sent. */
  sent(bytes: Uint8Array): void {
    this.#guard(() => this.#out.records.push(bytes, (record) => this.#record(record, 'out')));
  }

  /** Bytes the server sent. */
  received(bytes: Uint8Array): void {
    this.#guard(() => this.#in.records.push(bytes, (record) => this.#record(record, 'in')));
  }

  #guard(work: () => void): void {
    if (this.failed !== undefined) return;
    try {
      work();
    } catch (error) {
      this.failed = error instanceof Error ? error.message : String(error);
    }
  }

  #record(record: TlsRecord, way: 'out' | 'in'): void {
    if (this.failed !== undefined) return;
    const side = way === 'out' ? this.#out : this.#in;
    if (record.type === CONTENT.changeCipherSpec) return; // middlebox compatibility (RFC 8446 §5)
    let inner = record;
    if (side.protection) inner = side.protection.open(record);
    else if (record.type !== CONTENT.handshake) throw new Error(`record type ${record.type} before the keys`);
    if (inner.type === CONTENT.handshake) {
      for (const message of side.handshake.push(inner.fragment)) this.#handshake(message, way);
    } else if (inner.type === CONTENT.applicationData) {
      if (way === 'out') this.exchange.sent(inner.fragment);
      else this.exchange.received(inner.fragment);
    }
    // Alerts (close_notify) owe nothing: the close that follows is the peer's.
  }

  #handshake(message: { type: number; body: Buffer; whole: Buffer }, way: 'out' | 'in'): void {
    if (message.type === HANDSHAKE.clientHello && way === 'out') {
      this.#clientHello(message.body);
      this.#transcript.update(message.whole);
      this.handshakeOwed = true;
      return;
    }
    if (message.type === HANDSHAKE.serverHello && way === 'in') {
      this.#transcript.update(message.whole);
      this.#serverHello(message.body);
      return;
    }
    // After the client's Finished (NewSessionTicket, KeyUpdate) nothing joins the transcript.
    if (this.#transcriptDone) {
      if (message.type === HANDSHAKE.newSessionTicket && way === 'in') this.#ticketsOwed = Math.max(0, this.#ticketsOwed - 1);
      return;
    }
    if (this.#handshakeSecret === undefined) return;
    this.#transcript.update(message.whole);
    if (message.type !== HANDSHAKE.finished) return;
    if (way === 'in') {
      // The server's flight is in: application keys from Hash(ClientHello..server Finished).
      const app = applicationSecrets(crypto, this.#handshakeSecret, new Uint8Array(this.#transcript.copy().digest()));
      this.#in.protection = new RecordProtection(crypto, trafficKeys(crypto, app.serverApplication));
      this.#clientApplication = new RecordProtection(crypto, trafficKeys(crypto, app.clientApplication));
      this.handshakeOwed = false;
    } else {
      if (!this.#clientApplication) throw new Error('client Finished before the server\'s');
      this.#out.protection = this.#clientApplication;
      this.#transcriptDone = true;
      this.#ticketsOwed = this.#ticketsAfterFinished;
    }
  }

  #clientHello(body: Buffer): void {
    let i = 2 + 32;
    i += 1 + body[i]; // legacy_session_id
    i += 2 + body.readUInt16BE(i); // cipher_suites
    i += 1 + body[i]; // legacy_compression_methods
    const share = extensions(body, i).get(EXT_KEY_SHARE);
    if (!share) throw new Error('ClientHello without key_share');
    for (let j = 2; j + 4 <= share.length; ) {
      const group = share.readUInt16BE(j);
      const length = share.readUInt16BE(j + 2);
      if (group === SECP256R1) {
        this.#ecdh = this.#ecdhFor(new Uint8Array(share.subarray(j + 4, j + 4 + length)));
        if (!this.#ecdh) throw new Error('the key share is no key the A5000 holds');
        return;
      }
      j += 4 + length;
    }
    throw new Error('ClientHello without a secp256r1 key share');
  }

  #serverHello(body: Buffer): void {
    if (HRR_RANDOM.equals(body.subarray(2, 34))) throw new Error('HelloRetryRequest');
    let i = 2 + 32;
    i += 1 + body[i];
    const suite = body.readUInt16BE(i);
    i += 3; // cipher_suite, legacy_compression_method
    const ext = extensions(body, i);
    const version = ext.get(EXT_SUPPORTED_VERSIONS);
    if (!version || version.readUInt16BE(0) !== 0x0304) throw new Error('not TLS 1.3');
    if (suite !== TLS_AES_128_GCM_SHA256) throw new Error(`cipher suite 0x${suite.toString(16)}`);
    const share = ext.get(EXT_KEY_SHARE);
    if (!share || share.readUInt16BE(0) !== SECP256R1) throw new Error('ServerHello without a secp256r1 key share');
    const shared = this.#ecdh!(new Uint8Array(share.subarray(4, 4 + share.readUInt16BE(2))));
    const hs = handshakeSecrets(crypto, shared, new Uint8Array(this.#transcript.copy().digest()));
    this.#handshakeSecret = hs.handshake;
    this.#in.protection = new RecordProtection(crypto, trafficKeys(crypto, hs.serverHandshake));
    this.#out.protection = new RecordProtection(crypto, trafficKeys(crypto, hs.clientHandshake));
  }

  /** Nothing more is coming from the server for what the device sent (see the module comment). */
  get settled(): boolean {
    const x = this.exchange;
    return this.failed === undefined && !this.handshakeOwed && this.#ticketsOwed === 0 && x.answered >= x.owed && !x.closeOwed;
  }
}
