/**
 * A TLS 1.3 client terminated in the agent, over any ByteStream (a plain modem socket:
 * SIM7080G AT+CAOPEN without SSL, SIM7600 AT+CIPOPEN), for the control channel. One profile:
 * TLS_AES_128_GCM_SHA256, secp256r1, ecdsa_secp256r1_sha256, mutual authentication.
 *
 * Every private-key operation is outside this file, behind TlsKeyOps (the A5000 on the device:
 * src/tls/se-key-ops.ts): the ephemeral ECDHE key is generated and used inside the SE, and the
 * client CertificateVerify is signed there. Symmetric crypto is the TlsCryptoPort (native).
 * The server's chain must lead to a provisioned CA, be valid now, and name the host.
 *
 * @example
 *   const tls = await TlsClient.connect(socket, { host, trustAnchors: [caDer], keys, crypto, digest, now });
 *   tls.onData((bytes) => …); await tls.write(request);
 */
import type { ByteStream } from '../net/byte-stream.js';
import type { DigestPort, Sha256 } from '../platform/digest.js';
import type { TlsCryptoPort } from '../platform/tls-crypto.js';
import { bytesEqual } from '../util/bytes.js';
import { OtaError, isOtaError, describeError } from '../util/errors.js';
import {
  certificateMessage,
  certificateVerifyContent,
  certificateVerifyMessage,
  clientHello,
  handshakeMessage,
  HandshakeReader,
  HS,
  parseCertificateMessage,
  parseCertificateRequest,
  parseCertificateVerify,
  parseEncryptedExtensions,
  parseServerHello,
} from './handshake.js';
import { applicationSecrets, finishedMac, handshakeSecrets, nextTrafficSecret, trafficKeys } from './key-schedule.js';
import { CONTENT, plainRecord, RecordProtection, RecordReader, type TlsRecord } from './record.js';
import { TLS_LIMITS } from './limits.js';
import type { Certificate } from './x509.js';
import { checkServerChain } from './chain.js';

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

/** Running SHA-256 of the transcript with snapshots: one context per snapshot the handshake takes. */
class Transcript {
  readonly #open: Sha256[] = [];
  constructor(digest: DigestPort, snapshots: number) {
    for (let i = 0; i < snapshots; i++) this.#open.push(digest.sha256());
  }
  update(message: Uint8Array): void {
    for (const h of this.#open) h.update(message);
  }
  /** Hash of everything so far. */
  hash(): Uint8Array {
    const h = this.#open.shift();
    if (!h) throw new OtaError('bad-state', 'transcript snapshots exhausted');
    return h.digest();
  }
}

const ALERTS: Record<number, string> = {
  0: 'close_notify', 10: 'unexpected_message', 20: 'bad_record_mac', 40: 'handshake_failure', 42: 'bad_certificate',
  43: 'unsupported_certificate', 44: 'certificate_revoked', 45: 'certificate_expired', 46: 'certificate_unknown',
  47: 'illegal_parameter', 48: 'unknown_ca', 50: 'decode_error', 51: 'decrypt_error', 70: 'protocol_version',
  71: 'insufficient_security', 80: 'internal_error', 109: 'missing_extension', 112: 'unrecognized_name',
  116: 'certificate_required', 120: 'no_application_protocol',
};

/** Our alert for a failure (RFC 8446 §6.2). */
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
    case 'limit-exceeded':
    case 'tls-protocol':
      return 50;
    default:
      return 80;
  }
}

type Message = { type: number; body: Uint8Array; raw: Uint8Array };
/** The server's flight after ServerHello: EncryptedExtensions … Finished, then tickets. */
const PENDING_RECORDS_MAX = 16;

export class TlsClient implements ByteStream {
  readonly stats: TlsStats = { keyOps: { ephemeral: 0, agree: 0, sign: 0, verify: 0, random: 0 }, recordsIn: 0, recordsOut: 0, bytesIn: 0, bytesOut: 0, clientAuthenticated: false };
  readonly #io: ByteStream;
  readonly #o: TlsClientOptions;
  readonly #records = new RecordReader();
  #handshake = new HandshakeReader();
  #read: RecordProtection | undefined;
  #write: RecordProtection | undefined;
  #serverAppSecret: Uint8Array | undefined;
  #clientAppSecret: Uint8Array | undefined;
  #established = false;
  /** Largest plaintext we put in one record: ours, or the server's record_size_limit (RFC 8449) if smaller. */
  #fragmentMax: number = TLS_LIMITS.maxFragment;
  #closed = false;
  #failure: OtaError | undefined;
  #messages: Message[] = [];
  /**
   * Records that arrived after a message where the read keys change (ServerHello, server
   * Finished) while the new keys are still being made (the SE's ECDH takes tens of ms): opened
   * once they are installed. Bounded by PENDING_RECORDS_MAX.
   */
  #pending: TlsRecord[] = [];
  #pendingBytes = 0;
  #paused = false;
  #waiter: { resolve: (m: Message) => void; reject: (e: unknown) => void } | undefined;
  #dataHandler: ((chunk: Uint8Array) => void) | undefined;
  #closeHandler: ((error?: OtaError) => void) | undefined;

  private constructor(io: ByteStream, options: TlsClientOptions) {
    this.#io = io;
    this.#o = options;
    io.onData((chunk) => this.#onBytes(chunk));
    io.onClose((error) => this.#fail(error ?? new OtaError('closed', 'the transport closed during TLS')));
  }

  /** Runs the handshake over `io`; resolves once application data may flow. */
  static async connect(io: ByteStream, options: TlsClientOptions): Promise<TlsClient> {
    const tls = new TlsClient(io, options);
    try {
      await tls.#runHandshake();
    } catch (error) {
      // A fatal alert that arrived while we were sending (the server refused our certificate
      // while the SE was signing) is the reason, not the closed socket our next write met.
      const failure = tls.#failure ?? error;
      tls.#abort(failure);
      throw failure;
    }
    return tls;
  }

  get established(): boolean {
    return this.#established;
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.#failure) throw this.#failure;
    if (!this.#established || !this.#write) throw new OtaError('bad-state', 'TLS write before the handshake completed');
    await this.#sendProtected(this.#write, CONTENT.applicationData, bytes);
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
    if (this.#write) {
      try {
        void this.#io.write(this.#write.seal(CONTENT.alert, new Uint8Array([1, 0]))).catch(() => undefined);
      } catch {
        // the transport is gone: nothing to tell the peer
      }
    }
    this.#io.close();
    this.#closeHandler?.();
  }

  // ── handshake ────────────────────────────────────────────────────────────────────────────

  async #runHandshake(): Promise<void> {
    const { keys, crypto } = this.#o;
    const now = this.#o.now();
    if (now === undefined) throw new OtaError('tls-no-time', 'no wall-clock time to check the server certificate against');
    // Snapshots: hello, server Certificate, server CertificateVerify, server Finished, client Certificate, client CertificateVerify.
    const transcript = new Transcript(this.#o.digest, 6);
    this.stats.keyOps.random++;
    const random = await keys.random(32);
    this.stats.keyOps.ephemeral++;
    const share = await keys.ephemeralPublicKey();
    const hello = clientHello(random, this.#o.host, share);
    transcript.update(hello);
    await this.#send(plainRecord(CONTENT.handshake, hello));

    const sh = await this.#next(HS.serverHello);
    const { keyShare } = parseServerHello(sh.body);
    transcript.update(sh.raw);
    this.stats.keyOps.agree++;
    const shared = await keys.agree(keyShare);
    await keys.dropEphemeral().catch(() => undefined);
    const hs = handshakeSecrets(crypto, shared, transcript.hash());
    this.#resume(new RecordProtection(crypto, trafficKeys(crypto, hs.serverHandshake)));
    const clientHandshakeWrite = new RecordProtection(crypto, trafficKeys(crypto, hs.clientHandshake));

    const ee = await this.#next(HS.encryptedExtensions);
    // The server's record_size_limit binds our protected records from here on, handshake ones too.
    this.#fragmentMax = parseEncryptedExtensions(ee.body).fragmentMax;
    transcript.update(ee.raw);
    let m = await this.#next();
    let requestContext: Uint8Array | undefined;
    if (m.type === HS.certificateRequest) {
      requestContext = parseCertificateRequest(m.body);
      transcript.update(m.raw);
      m = await this.#next();
    }
    if (m.type !== HS.certificate) throw new OtaError('tls-protocol', `expected Certificate, got handshake type ${m.type}`);
    const chain = parseCertificateMessage(m.body).certificates;
    transcript.update(m.raw);
    const leaf = await this.#checkChain(chain, now);

    const cv = await this.#next(HS.certificateVerify);
    const serverSignature = parseCertificateVerify(cv.body);
    const cvDigest = this.#sha256(certificateVerifyContent(true, transcript.hash()));
    this.stats.keyOps.verify++;
    if (!(await keys.verify(leaf.publicKey, cvDigest, serverSignature))) {
      throw new OtaError('tls-handshake-failed', "the server's CertificateVerify does not verify with its certificate's key");
    }
    transcript.update(cv.raw);

    const fin = await this.#next(HS.finished);
    if (!bytesEqual(fin.body, finishedMac(crypto, hs.serverHandshake, transcript.hash()))) {
      throw new OtaError('tls-handshake-failed', 'server Finished does not verify');
    }
    transcript.update(fin.raw);
    const app = applicationSecrets(crypto, hs.handshake, transcript.hash());
    if (!this.#handshake.empty) throw new OtaError('tls-protocol', 'handshake data after the server Finished in the same flight');
    // The server writes under its application keys from here on (tickets, or an alert refusing our
    // certificate while the SE signs): read with them at once.
    this.#serverAppSecret = app.serverApplication;
    this.#resume(new RecordProtection(crypto, trafficKeys(crypto, app.serverApplication)));

    if (requestContext !== undefined) {
      const ours = keys.certificateChain();
      const certificate = certificateMessage(requestContext, ours);
      transcript.update(certificate);
      await this.#sendProtected(clientHandshakeWrite, CONTENT.handshake, certificate);
      if (ours.length > 0) {
        const digest = this.#sha256(certificateVerifyContent(false, transcript.hash()));
        this.stats.keyOps.sign++;
        const verify = certificateVerifyMessage(await keys.sign(digest));
        transcript.update(verify);
        await this.#sendProtected(clientHandshakeWrite, CONTENT.handshake, verify);
        this.stats.clientAuthenticated = true;
      }
    }
    const finished = handshakeMessage(HS.finished, finishedMac(crypto, hs.clientHandshake, transcript.hash()));
    await this.#sendProtected(clientHandshakeWrite, CONTENT.handshake, finished);

    this.#clientAppSecret = app.clientApplication;
    this.#write = new RecordProtection(crypto, trafficKeys(crypto, app.clientApplication));
    this.#established = true;
    // The handshake-sized buffer is not needed any more (RAM budget: docs in src/tls/limits.ts).
    this.#handshake = new HandshakeReader(TLS_LIMITS.postHandshakeMax, true);
    // Anything that arrived after the server Finished under the application keys is handled now.
    const early = this.#messages;
    this.#messages = [];
    for (const msg of early) this.#postHandshake(msg);
  }

  async #checkChain(ders: Uint8Array[], now: number): Promise<Certificate> {
    return checkServerChain(ders, { anchors: this.#o.trustAnchors, host: this.#o.host, now, digest: this.#o.digest, verify: (key, digest, sig) => {
      this.stats.keyOps.verify++;
      return this.#o.keys.verify(key, digest, sig);
    } });
  }

  #sha256(bytes: Uint8Array): Uint8Array {
    const h = this.#o.digest.sha256();
    h.update(bytes);
    return h.digest();
  }

  /** The next handshake message (of `type`, when given). */
  #next(type?: number): Promise<Message> {
    const check = (m: Message): Message => {
      if (type !== undefined && m.type !== type) throw new OtaError('tls-protocol', `expected handshake type ${type}, got ${m.type}`);
      return m;
    };
    if (this.#failure) return Promise.reject(this.#failure);
    const queued = this.#messages.shift();
    if (queued) return Promise.resolve().then(() => check(queued));
    return new Promise<Message>((resolve, reject) => {
      this.#waiter = { resolve: (m) => { try { resolve(check(m)); } catch (e) { reject(e); } }, reject };
    });
  }

  // ── records in ───────────────────────────────────────────────────────────────────────────

  #onBytes(chunk: Uint8Array): void {
    if (this.#failure) return;
    this.stats.bytesIn += chunk.length;
    try {
      this.#records.push(chunk, (record) => this.#onRecord(record));
    } catch (error) {
      this.#abort(error);
    }
  }

  /** New read keys are in place: open what waited for them. */
  #resume(read: RecordProtection): void {
    this.#read = read;
    this.#paused = false;
    const waiting = this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;
    try {
      for (const record of waiting) this.#onRecord(record);
    } catch (error) {
      this.#abort(error);
    }
  }

  #onRecord(record: TlsRecord): void {
    if (this.#paused) {
      this.#pendingBytes += record.fragment.length;
      if (this.#pending.length >= PENDING_RECORDS_MAX || this.#pendingBytes > TLS_LIMITS.pendingBytesMax) {
        throw new OtaError('limit-exceeded', `more than ${TLS_LIMITS.pendingBytesMax} bytes of records while keys change`);
      }
      this.#pending.push(record);
      return;
    }
    this.stats.recordsIn++;
    // RFC 8446 §5: a middlebox-compatibility ChangeCipherSpec (one byte 01) is dropped unprotected.
    if (record.type === CONTENT.changeCipherSpec && !this.#established) {
      if (record.fragment.length !== 1 || record.fragment[0] !== 1) throw new OtaError('tls-protocol', 'malformed ChangeCipherSpec');
      return;
    }
    const inner = this.#read ? this.#read.open(record) : record;
    if (inner.type === CONTENT.alert) return this.#onAlert(inner.fragment);
    if (inner.type === CONTENT.handshake) {
      this.#handshake.push(inner.fragment, (type, body, raw) => {
        const m = { type, body: body.slice(), raw: raw.slice() };
        if (this.#established) return this.#postHandshake(m);
        // The read keys change after these two (RFC 8446 §7.1): hold later records until they do.
        if (type === HS.serverHello || type === HS.finished) this.#paused = true;
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
      this.#io.close();
      if (!this.#closed) {
        this.#closed = true;
        this.#closeHandler?.();
      }
      this.#waiter?.reject(this.#failure);
      return;
    }
    throw new OtaError('tls-alert', `the server sent ${name}`);
  }

  /** NewSessionTicket (ignored: no resumption) and KeyUpdate (RFC 8446 §4.6.3). */
  #postHandshake(m: Message): void {
    if (m.type === HS.newSessionTicket) return;
    if (m.type === HS.keyUpdate) {
      if (m.body.length !== 1 || m.body[0] > 1) throw new OtaError('tls-protocol', 'malformed KeyUpdate');
      this.#serverAppSecret = nextTrafficSecret(this.#o.crypto, this.#serverAppSecret!);
      this.#read = new RecordProtection(this.#o.crypto, trafficKeys(this.#o.crypto, this.#serverAppSecret));
      if (m.body[0] === 1) {
        const update = this.#write!.seal(CONTENT.handshake, handshakeMessage(HS.keyUpdate, new Uint8Array([0])));
        this.#clientAppSecret = nextTrafficSecret(this.#o.crypto, this.#clientAppSecret!);
        this.#write = new RecordProtection(this.#o.crypto, trafficKeys(this.#o.crypto, this.#clientAppSecret));
        void this.#send(update).catch((e: unknown) => this.#abort(e));
      }
      return;
    }
    throw new OtaError('tls-protocol', `handshake type ${m.type} after the handshake`);
  }

  // ── out, failure ─────────────────────────────────────────────────────────────────────────

  /** `bytes` as protected records of at most #fragmentMax plaintext bytes each. */
  async #sendProtected(protection: RecordProtection, type: number, bytes: Uint8Array): Promise<void> {
    for (let at = 0; at < bytes.length; at += this.#fragmentMax) {
      await this.#send(protection.seal(type, bytes.subarray(at, Math.min(bytes.length, at + this.#fragmentMax))));
    }
  }

  async #send(record: Uint8Array): Promise<void> {
    if (this.#failure) throw this.#failure;
    this.stats.recordsOut++;
    this.stats.bytesOut += record.length;
    await this.#io.write(record);
  }

  #abort(error: unknown): void {
    if (this.#failure) return;
    const failure = error instanceof OtaError ? error : new OtaError('tls-protocol', describeError(error), error);
    this.#failure = failure;
    // Tell the peer why (RFC 8446 §6.2), in the keys it can read, then drop the transport.
    const alert = new Uint8Array([2, alertFor(error)]);
    try {
      const record = this.#write ? this.#write.seal(CONTENT.alert, alert) : this.#read ? undefined : plainRecord(CONTENT.alert, alert);
      if (record) void this.#io.write(record).catch(() => undefined);
    } catch {
      // the transport is gone
    }
    this.#io.close();
    this.#waiter?.reject(failure);
    this.#waiter = undefined;
    if (!this.#closed) {
      this.#closed = true;
      if (this.#established) this.#closeHandler?.(failure);
    }
  }

  #fail(error: OtaError): void {
    this.#abort(error);
  }
}
