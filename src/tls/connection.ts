/**
 * What the TLS 1.3 client (client.ts) and the TLS 1.2 client (tls12.ts) share, once: the
 * ByteStream they are to the application, the record reader and the handshake-message queue,
 * records out within the peer's record size, alerts both ways, the end of a connection. Each
 * version adds its handshake, its record protection (a RecordCipher) and what it does with a
 * record before it is opened (a ChangeCipherSpec, records held while keys change).
 *
 * Every private-key operation is outside this file, behind TlsKeyOps (the A5000 on the device:
 * src/tls/se-key-ops.ts); symmetric crypto is the TlsCryptoPort (native).
 */
import type { ByteStream } from '../net/byte-stream.js';
import type { DigestPort, Sha256 } from '../platform/digest.js';
import type { TlsCryptoPort } from '../platform/tls-crypto.js';
import { OtaError, isOtaError, describeError } from '../util/errors.js';
import { checkServerChain } from './chain.js';
import { HandshakeReader } from './handshake.js';
import { TLS_LIMITS } from './limits.js';
import { CONTENT, plainRecord, RecordReader, type TlsRecord } from './record.js';
import type { Certificate } from './x509.js';

/** The private-key side: the A5000 on the device. */
export interface TlsKeyOps {
  /** A fresh ephemeral P-256 key pair for ECDHE (in the SE); resolves with its public point. */
  ephemeralPublicKey(): Promise<Uint8Array>;
  /** ECDH of the ephemeral key with the server's share: the 32-byte x coordinate. */
  agree(peer: Uint8Array): Promise<Uint8Array>;
  /** Forget the ephemeral key (best effort). */
  dropEphemeral(): Promise<void>;
  /** The device's certificate chain (DER, leaf first) for client authentication; empty: none. */
  certificateChain(): Uint8Array[];
  /** ECDSA P-256 with the device key over a SHA-256 digest: DER. */
  sign(digest: Uint8Array): Promise<Uint8Array>;
  /** ECDSA P-256 verification over a digest with a public point (the SE's ECDSAVerify, or the port). */
  verify(publicKey: Uint8Array, digest: Uint8Array, signature: Uint8Array): Promise<boolean>;
  /** `n` random bytes (the SE's GetRandom). */
  random(n: number): Promise<Uint8Array>;
}

export interface TlsClientOptions {
  /** Host name (or IPv4 literal) the server's certificate must name. */
  host: string;
  /** Provisioned CA certificates (DER). */
  trustAnchors: Uint8Array[];
  keys: TlsKeyOps;
  crypto: TlsCryptoPort;
  digest: DigestPort;
  /** Wall-clock seconds, for certificate validity; undefined fails with `tls-no-time`. */
  now(): number | undefined;
}

/** Counts for budgets (deterministic, per connection). */
export interface TlsStats {
  /** Key operations handed to TlsKeyOps (A5000 operations). */
  keyOps: { ephemeral: number; agree: number; sign: number; verify: number; random: number };
  recordsIn: number;
  recordsOut: number;
  bytesIn: number;
  bytesOut: number;
  clientAuthenticated: boolean;
}

/** One direction's record protection: TLS 1.3 (record.ts) or TLS 1.2 AES-GCM (tls12.ts). */
export interface RecordCipher {
  /** The protected record of `content` (type `type`), header included. */
  seal(type: number, content: Uint8Array): Uint8Array;
  /** The content type and content of a protected record; throws `tls-bad-record-mac`. */
  open(record: TlsRecord): TlsRecord;
}

/** Running SHA-256 of the transcript with snapshots: one context per hash the handshake takes. */
export class Transcript {
  readonly #open: Sha256[] = [];
  constructor(digest: DigestPort, snapshots: number) {
    for (let i = 0; i < snapshots; i++) this.#open.push(digest.sha256());
  }
  update(message: Uint8Array): void {
    for (const h of this.#open) h.update(message);
  }
  /** Keeps `n` snapshots: the offer of both versions opened the 1.3 count and 1.2 was chosen. */
  keep(n: number): void {
    this.#open.splice(n);
  }
  /** Hash of everything so far. */
  hash(): Uint8Array {
    const h = this.#open.shift();
    if (!h) throw new OtaError('bad-state', 'transcript snapshots exhausted');
    return h.digest();
  }
}

const ALERTS: Record<number, string> = {
  0: 'close_notify', 10: 'unexpected_message', 20: 'bad_record_mac', 22: 'record_overflow', 40: 'handshake_failure', 42: 'bad_certificate',
  43: 'unsupported_certificate', 44: 'certificate_revoked', 45: 'certificate_expired', 46: 'certificate_unknown',
  47: 'illegal_parameter', 48: 'unknown_ca', 50: 'decode_error', 51: 'decrypt_error', 70: 'protocol_version',
  71: 'insufficient_security', 80: 'internal_error', 109: 'missing_extension', 112: 'unrecognized_name',
  116: 'certificate_required', 120: 'no_application_protocol',
};

/** Our alert for a failure (RFC 8446 §6.2, RFC 5246 §7.2). */
function alertFor(error: unknown): number {
  if (!isOtaError(error)) return 80;
  switch (error.reason) {
    case 'tls-bad-record-mac':
      return 20;
    case 'tls-certificate-untrusted':
      return 48;
    case 'tls-certificate-expired':
      return 45;
    case 'tls-host-mismatch':
    case 'tls-certificate-malformed':
      return 42;
    case 'tls-unsupported-group':
    case 'tls-unsupported':
      return 40;
    case 'tls-handshake-failed':
      return 51;
    case 'tls-downgrade':
      return 47;
    case 'limit-exceeded':
    case 'tls-protocol':
      return 50;
    default:
      return 80;
  }
}

export type HandshakeMessage = { type: number; body: Uint8Array; raw: Uint8Array };

export abstract class TlsConnection implements ByteStream {
  readonly stats: TlsStats = { keyOps: { ephemeral: 0, agree: 0, sign: 0, verify: 0, random: 0 }, recordsIn: 0, recordsOut: 0, bytesIn: 0, bytesOut: 0, clientAuthenticated: false };
  protected readonly io: ByteStream;
  protected readonly options: TlsClientOptions;
  /** Opens what the server sends once its keys are in use. */
  protected reader: RecordCipher | undefined;
  /** Seals application data (and alerts) once the handshake is done. */
  protected writer: RecordCipher | undefined;
  /** Largest plaintext we put in one record: ours, or the server's record_size_limit (RFC 8449) if smaller. */
  protected fragmentMax: number = TLS_LIMITS.maxFragment;
  readonly #records = new RecordReader();
  #handshake = new HandshakeReader();
  #established = false;
  #closed = false;
  #failure: OtaError | undefined;
  /** Handshake messages that arrived before the handshake asked for them. */
  #messages: HandshakeMessage[] = [];
  #waiter: { resolve: (m: HandshakeMessage) => void; reject: (e: unknown) => void } | undefined;
  #dataHandler: ((chunk: Uint8Array) => void) | undefined;
  #closeHandler: ((error?: OtaError) => void) | undefined;

  protected constructor(io: ByteStream, options: TlsClientOptions) {
    this.io = io;
    this.options = options;
    io.onData((chunk) => this.#onBytes(chunk));
    io.onClose((error) => this.abort(error ?? new OtaError('closed', 'the transport closed during TLS')));
  }

  /** Runs `tls`'s handshake; resolves with it once application data may flow. */
  protected static async handshakeOf<T extends TlsConnection>(tls: T): Promise<T> {
    try {
      await tls.runHandshake();
    } catch (error) {
      // A fatal alert that arrived while we were sending (the server refused our certificate
      // while the SE was signing) is the reason, not the closed socket our next write met.
      const failure = tls.#failure ?? error;
      tls.abort(failure);
      throw failure;
    }
    return tls;
  }

  /** The version's handshake; ends with `established()`. */
  protected abstract runHandshake(): Promise<void>;

  /** A record as read, before it is opened: the version decides (a ChangeCipherSpec, keys changing). */
  protected abstract receive(record: TlsRecord): void;

  /** A handshake message after the handshake (TLS 1.3 NewSessionTicket, KeyUpdate; TLS 1.2 HelloRequest). */
  protected abstract postHandshake(m: HandshakeMessage): void;

  /** A handshake message of the handshake arrived (TLS 1.3 holds records after some of them). */
  protected onHandshakeMessage(_type: number): void {}

  get established(): boolean {
    return this.#established;
  }

  /** The plaintext bytes we put in one record: ours, or less when the server's record_size_limit says so. */
  get recordFragmentMax(): number {
    return this.fragmentMax;
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.#failure) throw this.#failure;
    if (!this.#established || !this.writer) throw new OtaError('bad-state', 'TLS write before the handshake completed');
    await this.sendProtected(this.writer, CONTENT.applicationData, bytes);
  }

  onData(handler: (chunk: Uint8Array) => void): void {
    this.#dataHandler = handler;
  }

  onClose(handler: (error?: OtaError) => void): void {
    this.#closeHandler = handler;
  }

  /** close_notify, then the transport. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.writer) {
      try {
        void this.io.write(this.writer.seal(CONTENT.alert, new Uint8Array([1, 0]))).catch(() => undefined);
      } catch {
        // the transport is gone: nothing to tell the peer
      }
    }
    this.io.close();
    this.#closeHandler?.();
  }

  // ── for the handshakes ───────────────────────────────────────────────────────────────────

  /** Application data may flow; the handshake-sized buffer goes (RAM budget: src/tls/limits.ts). */
  protected establish(): void {
    this.#established = true;
    this.#handshake = new HandshakeReader(TLS_LIMITS.postHandshakeMax, true);
    // Anything that arrived after the server's last handshake message is handled now.
    const early = this.#messages;
    this.#messages = [];
    for (const m of early) this.postHandshake(m);
  }

  /** No handshake message is half read (a record boundary where keys change, RFC 8446 §5.1). */
  protected get handshakeEmpty(): boolean {
    return this.#handshake.empty;
  }

  /** The next handshake message (of `type`, when given). */
  protected next(type?: number): Promise<HandshakeMessage> {
    const check = (m: HandshakeMessage): HandshakeMessage => {
      if (type !== undefined && m.type !== type) throw new OtaError('tls-protocol', `expected handshake type ${type}, got ${m.type}`);
      return m;
    };
    if (this.#failure) return Promise.reject(this.#failure);
    const queued = this.#messages.shift();
    if (queued) return Promise.resolve().then(() => check(queued));
    return new Promise<HandshakeMessage>((resolve, reject) => {
      this.#waiter = {
        resolve: (m) => {
          try {
            resolve(check(m));
          } catch (e) {
            reject(e);
          }
        },
        reject,
      };
    });
  }

  /** The server's chain checked against the provisioned CAs, validity now and the host; its leaf. */
  protected checkChain(ders: Uint8Array[], now: number): Promise<Certificate> {
    return checkServerChain(ders, {
      anchors: this.options.trustAnchors,
      host: this.options.host,
      now,
      digest: this.options.digest,
      verify: (key, digest, sig) => this.verify(key, digest, sig),
    });
  }

  /** ECDSA verification in the SE, counted. */
  protected verify(key: Uint8Array, digest: Uint8Array, signature: Uint8Array): Promise<boolean> {
    this.stats.keyOps.verify++;
    return this.options.keys.verify(key, digest, signature);
  }

  protected sha256(bytes: Uint8Array): Uint8Array {
    const h = this.options.digest.sha256();
    h.update(bytes);
    return h.digest();
  }

  /** The wall-clock time certificates are checked against; `tls-no-time` before anything is sent. */
  protected now(): number {
    const now = this.options.now();
    if (now === undefined) throw new OtaError('tls-no-time', 'no wall-clock time to check the server certificate against');
    return now;
  }

  /** A plaintext handshake record (the ClientHello; TLS 1.2's flight before ChangeCipherSpec). */
  protected sendPlain(type: number, content: Uint8Array, hello = false): Promise<void> {
    return this.send(plainRecord(type, content, hello));
  }

  /** `bytes` as protected records of at most fragmentMax plaintext bytes each. */
  protected async sendProtected(cipher: RecordCipher, type: number, bytes: Uint8Array): Promise<void> {
    for (let at = 0; at < bytes.length; at += this.fragmentMax) {
      await this.send(cipher.seal(type, bytes.subarray(at, Math.min(bytes.length, at + this.fragmentMax))));
    }
  }

  // ── records in ───────────────────────────────────────────────────────────────────────────

  #onBytes(chunk: Uint8Array): void {
    if (this.#failure) return;
    this.stats.bytesIn += chunk.length;
    try {
      this.#records.push(chunk, (record) => this.receive(record));
    } catch (error) {
      this.abort(error);
    }
  }

  /** An opened (or plaintext) record: alert, handshake or application data. */
  protected deliver(inner: TlsRecord): void {
    if (inner.type === CONTENT.alert) return this.#onAlert(inner.fragment);
    if (inner.type === CONTENT.handshake) {
      this.#handshake.push(inner.fragment, (type, body, raw) => {
        const m = { type, body: body.slice(), raw: raw.slice() };
        if (this.#established) return this.postHandshake(m);
        this.onHandshakeMessage(type);
        const w = this.#waiter;
        if (w) {
          this.#waiter = undefined;
          w.resolve(m);
        } else this.#messages.push(m);
      });
      return;
    }
    if (inner.type === CONTENT.applicationData) {
      if (!this.#established) throw new OtaError('tls-protocol', 'application data before the handshake completed');
      if (inner.fragment.length > 0) this.#dataHandler?.(inner.fragment.slice());
      return;
    }
    throw new OtaError('tls-protocol', `record content type ${inner.type}`);
  }

  #onAlert(fragment: Uint8Array): void {
    if (fragment.length !== 2) throw new OtaError('tls-protocol', 'malformed alert');
    const name = ALERTS[fragment[1]] ?? `alert ${fragment[1]}`;
    if (fragment[1] === 0) {
      this.#failure = new OtaError('closed', 'the server sent close_notify');
      this.io.close();
      if (!this.#closed) {
        this.#closed = true;
        this.#closeHandler?.();
      }
      this.#waiter?.reject(this.#failure);
      this.#waiter = undefined;
      return;
    }
    throw new OtaError('tls-alert', `the server sent ${name}`);
  }

  // ── out, failure ─────────────────────────────────────────────────────────────────────────

  protected async send(record: Uint8Array): Promise<void> {
    if (this.#failure) throw this.#failure;
    this.stats.recordsOut++;
    this.stats.bytesOut += record.length;
    await this.io.write(record);
  }

  protected abort(error: unknown): void {
    if (this.#failure) return;
    const failure = error instanceof OtaError ? error : new OtaError('tls-protocol', describeError(error), error);
    this.#failure = failure;
    // Tell the peer why (RFC 8446 §6.2), in the keys it can read, then drop the transport.
    const alert = new Uint8Array([2, alertFor(error)]);
    try {
      const record = this.writer ? this.writer.seal(CONTENT.alert, alert) : this.reader ? undefined : plainRecord(CONTENT.alert, alert);
      if (record) void this.io.write(record).catch(() => undefined);
    } catch {
      // the transport is gone
    }
    this.io.close();
    this.#waiter?.reject(failure);
    this.#waiter = undefined;
    if (!this.#closed) {
      this.#closed = true;
      if (this.#established) this.#closeHandler?.(failure);
    }
  }
}
