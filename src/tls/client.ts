/**
 * A TLS 1.3 client terminated in the agent, over any ByteStream (a plain modem socket:
 * SIM7080G AT+CAOPEN without SSL, SIM7600 AT+CIPOPEN), for the control channel. One profile:
 * TLS_AES_128_GCM_SHA256, secp256r1, ecdsa_secp256r1_sha256, mutual authentication.
 *
 * The record plumbing, alerts and the end of a connection are TlsConnection's (connection.ts,
 * shared with TLS 1.2); this file is the TLS 1.3 handshake, its key schedule and KeyUpdate. The
 * ephemeral ECDHE key is generated and used inside the SE, and the client CertificateVerify is
 * signed there. The server's chain must lead to a provisioned CA, be valid now, and name the host.
 *
 * @example
 *   const tls = await TlsClient.connect(socket, { host, trustAnchors: [caDer], keys, crypto, digest, now });
 *   tls.onData((bytes) => …); await tls.write(request);
 */
import type { ByteStream } from '../net/byte-stream.js';
import { bytesEqual } from '../util/bytes.js';
import { OtaError } from '../util/errors.js';
import { TlsConnection, Transcript, type HandshakeMessage, type TlsClientOptions } from './connection.js';
import {
  certificateMessage,
  certificateVerifyContent,
  certificateVerifyMessage,
  clientHello,
  handshakeMessage,
  HS,
  parseCertificateMessage,
  parseCertificateRequest,
  parseCertificateVerify,
  parseEncryptedExtensions,
  parseServerHello,
  serverHelloIsTls12,
} from './handshake.js';
import { applicationSecrets, finishedMac, handshakeSecrets, nextTrafficSecret, trafficKeys } from './key-schedule.js';
import { CONTENT, RecordProtection, type TlsRecord } from './record.js';
import { TLS_LIMITS } from './limits.js';
import { Tls12Client, TLS12_TRANSCRIPT_SNAPSHOTS } from './tls12.js';

export type { TlsClientOptions, TlsKeyOps, TlsStats } from './connection.js';

/** The server's flight after ServerHello: EncryptedExtensions … Finished, then tickets. */
const PENDING_RECORDS_MAX = 16;

export class TlsClient extends Tls12Client {
  /** The hello offered TLS 1.2 too (otaTlsVersions '1.3,1.2'). */
  readonly #alsoTls12: boolean;
  /** The server picked TLS 1.2: records, post-handshake messages and the rest are Tls12Client's. */
  #tls12 = false;
  #serverAppSecret: Uint8Array | undefined;
  #clientAppSecret: Uint8Array | undefined;
  /**
   * Records that arrived after a message where the read keys change (ServerHello, server
   * Finished) while the new keys are still being made (the SE's ECDH takes tens of ms): opened
   * once they are installed. Bounded by PENDING_RECORDS_MAX.
   */
  #pending: TlsRecord[] = [];
  #pendingBytes = 0;
  #paused = false;

  private constructor(io: ByteStream, options: TlsClientOptions, alsoTls12: boolean) {
    super(io, options);
    this.#alsoTls12 = alsoTls12;
  }

  /**
   * Runs the handshake over `io`; resolves once application data may flow. `alsoTls12`: one
   * ClientHello offers TLS 1.3 and 1.2, and the handshake goes on in the version the server picks.
   */
  static override connect(io: ByteStream, options: TlsClientOptions, alsoTls12 = false): Promise<TlsClient> {
    return TlsConnection.handshakeOf(new TlsClient(io, options, alsoTls12));
  }

  /** The version the handshake agreed on (after connect). */
  get version(): '1.3' | '1.2' {
    return this.#tls12 ? '1.2' : '1.3';
  }

  protected override async runHandshake(): Promise<void> {
    const { keys, crypto } = this.options;
    const now = this.now();
    // Snapshots: hello, server Certificate, server CertificateVerify, server Finished, client Certificate, client CertificateVerify.
    const transcript = new Transcript(this.options.digest, 6);
    this.stats.keyOps.random++;
    const random = await keys.random(32);
    this.stats.keyOps.ephemeral++;
    const share = await keys.ephemeralPublicKey();
    const hello = clientHello(random, this.options.host, share, this.#alsoTls12);
    transcript.update(hello);
    await this.sendPlain(CONTENT.handshake, hello, true);

    const sh = await this.next(HS.serverHello);
    if (this.#alsoTls12 && serverHelloIsTls12(sh.body)) {
      this.#tls12 = true;
      transcript.keep(TLS12_TRANSCRIPT_SNAPSHOTS);
      // No key change follows a TLS 1.2 ServerHello: what waited is read in the clear (until its ChangeCipherSpec).
      this.#resume(undefined);
      await this.handshake12(transcript, now, random, sh, share);
      return;
    }
    const { keyShare } = parseServerHello(sh.body);
    transcript.update(sh.raw);
    this.stats.keyOps.agree++;
    const shared = await keys.agree(keyShare);
    await keys.dropEphemeral().catch(() => undefined);
    const hs = handshakeSecrets(crypto, shared, transcript.hash());
    this.#resume(new RecordProtection(crypto, trafficKeys(crypto, hs.serverHandshake)));
    const clientHandshakeWrite = new RecordProtection(crypto, trafficKeys(crypto, hs.clientHandshake));

    const ee = await this.next(HS.encryptedExtensions);
    // The server's record_size_limit binds our protected records from here on, handshake ones too.
    this.fragmentMax = parseEncryptedExtensions(ee.body).fragmentMax;
    transcript.update(ee.raw);
    let m = await this.next();
    let requestContext: Uint8Array | undefined;
    if (m.type === HS.certificateRequest) {
      requestContext = parseCertificateRequest(m.body);
      transcript.update(m.raw);
      m = await this.next();
    }
    if (m.type !== HS.certificate) throw new OtaError('tls-protocol', `expected Certificate, got handshake type ${m.type}`);
    const chain = parseCertificateMessage(m.body).certificates;
    transcript.update(m.raw);
    const leaf = await this.checkChain(chain, now);

    const cv = await this.next(HS.certificateVerify);
    const serverSignature = parseCertificateVerify(cv.body);
    if (!(await this.verify(leaf.publicKey, this.sha256(certificateVerifyContent(true, transcript.hash())), serverSignature))) {
      throw new OtaError('tls-handshake-failed', "the server's CertificateVerify does not verify with its certificate's key");
    }
    transcript.update(cv.raw);

    const fin = await this.next(HS.finished);
    if (!bytesEqual(fin.body, finishedMac(crypto, hs.serverHandshake, transcript.hash()))) {
      throw new OtaError('tls-handshake-failed', 'server Finished does not verify');
    }
    transcript.update(fin.raw);
    const app = applicationSecrets(crypto, hs.handshake, transcript.hash());
    if (!this.handshakeEmpty) throw new OtaError('tls-protocol', 'handshake data after the server Finished in the same flight');
    // The server writes under its application keys from here on (tickets, or an alert refusing our
    // certificate while the SE signs): read with them at once.
    this.#serverAppSecret = app.serverApplication;
    this.#resume(new RecordProtection(crypto, trafficKeys(crypto, app.serverApplication)));

    if (requestContext !== undefined) {
      const ours = keys.certificateChain();
      const certificate = certificateMessage(requestContext, ours);
      transcript.update(certificate);
      await this.sendProtected(clientHandshakeWrite, CONTENT.handshake, certificate);
      if (ours.length > 0) {
        const digest = this.sha256(certificateVerifyContent(false, transcript.hash()));
        this.stats.keyOps.sign++;
        const verify = certificateVerifyMessage(await keys.sign(digest));
        transcript.update(verify);
        await this.sendProtected(clientHandshakeWrite, CONTENT.handshake, verify);
        this.stats.clientAuthenticated = true;
      }
    }
    const finished = handshakeMessage(HS.finished, finishedMac(crypto, hs.clientHandshake, transcript.hash()));
    await this.sendProtected(clientHandshakeWrite, CONTENT.handshake, finished);

    this.#clientAppSecret = app.clientApplication;
    this.writer = new RecordProtection(crypto, trafficKeys(crypto, app.clientApplication));
    this.establish();
  }

  /** The read keys change after these two (RFC 8446 §7.1): hold later records until they do. */
  protected override onHandshakeMessage(type: number): void {
    if (this.#tls12) return;
    if (type === HS.serverHello || type === HS.finished) this.#paused = true;
  }

  /** New read keys are in place (none: TLS 1.2 was chosen): open what waited for them. */
  #resume(read: RecordProtection | undefined): void {
    this.reader = read;
    this.#paused = false;
    const waiting = this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;
    try {
      for (const record of waiting) this.receive(record);
    } catch (error) {
      this.abort(error);
    }
  }

  protected override receive(record: TlsRecord): void {
    if (this.#tls12 && !this.#paused) return super.receive(record);
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
    if (record.type === CONTENT.changeCipherSpec && !this.established) {
      if (record.fragment.length !== 1 || record.fragment[0] !== 1) throw new OtaError('tls-protocol', 'malformed ChangeCipherSpec');
      return;
    }
    this.deliver(this.reader ? this.reader.open(record) : record);
  }

  /** NewSessionTicket (ignored: no resumption) and KeyUpdate (RFC 8446 §4.6.3). */
  protected override postHandshake(m: HandshakeMessage): void {
    if (this.#tls12) return super.postHandshake(m);
    if (m.type === HS.newSessionTicket) return;
    if (m.type === HS.keyUpdate) {
      if (m.body.length !== 1 || m.body[0] > 1) throw new OtaError('tls-protocol', 'malformed KeyUpdate');
      const crypto = this.options.crypto;
      this.#serverAppSecret = nextTrafficSecret(crypto, this.#serverAppSecret!);
      this.reader = new RecordProtection(crypto, trafficKeys(crypto, this.#serverAppSecret));
      if (m.body[0] === 1) {
        const update = this.writer!.seal(CONTENT.handshake, handshakeMessage(HS.keyUpdate, new Uint8Array([0])));
        this.#clientAppSecret = nextTrafficSecret(crypto, this.#clientAppSecret!);
        this.writer = new RecordProtection(crypto, trafficKeys(crypto, this.#clientAppSecret));
        void this.send(update).catch((e: unknown) => this.abort(e));
      }
      return;
    }
    throw new OtaError('tls-protocol', `handshake type ${m.type} after the handshake`);
  }
}
