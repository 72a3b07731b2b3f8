/**
 * TLS 1.2 for brokers without TLS 1.3: ECDHE-ECDSA-AES128-GCM-SHA256 only (RFC 5289), secp256r1
 * (RFC 8422), extended master secret (RFC 7627) when the server agrees, mutual authentication,
 * every private-key operation in the A5000 through the same TlsKeyOps as TLS 1.3 (the ephemeral
 * key pair, ECDH, the client CertificateVerify, the server's signatures). No renegotiation, no
 * resumption. Records are AES-GCM with an 8-byte explicit nonce (RFC 5288).
 *
 * The record plumbing, alerts and the end of a connection are TlsConnection's (connection.ts,
 * shared with TLS 1.3), and so are the ClientHello and the Certificate messages (handshake.ts);
 * this file is the TLS 1.2 handshake, its PRF and its record protection.
 */
import type { ByteStream } from '../net/byte-stream.js';
import type { TlsCryptoPort } from '../platform/tls-crypto.js';
import { asciiEncode, bytesEqual } from '../util/bytes.js';
import { OtaError } from '../util/errors.js';
import { TlsConnection, Transcript, type HandshakeMessage, type RecordCipher, type TlsClientOptions } from './connection.js';
import {
  certificateMessage,
  checkDowngradeSentinel,
  clientHello,
  ECDSA_SECP256R1_SHA256,
  EXT_EXTENDED_MASTER_SECRET,
  EXT_RECORD_SIZE_LIMIT,
  GROUP_SECP256R1,
  handshakeMessage,
  parseCertificateMessage,
  peerFragmentMax,
  Reader,
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
  Writer,
} from './handshake.js';
import { TLS_LIMITS } from './limits.js';
import { CONTENT, RECORD_HEADER, type TlsRecord } from './record.js';

export { TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 } from './handshake.js';
export const HS12 = { serverHello: 2, certificate: 11, serverKeyExchange: 12, certificateRequest: 13, serverHelloDone: 14, certificateVerify: 15, clientKeyExchange: 16, finished: 20, helloRequest: 0 } as const;

/** P_SHA256 (RFC 5246 §5): the TLS 1.2 PRF. */
export function prf12(crypto: TlsCryptoPort, secret: Uint8Array, label: string, seed: Uint8Array, length: number): Uint8Array {
  const labelSeed = new Uint8Array(label.length + seed.length);
  labelSeed.set(asciiEncode(label));
  labelSeed.set(seed, label.length);
  const out = new Uint8Array(length);
  let a = crypto.hmacSha256(secret, labelSeed);
  for (let at = 0; at < length; at += 32) {
    const block = crypto.hmacSha256(secret, a, labelSeed);
    out.set(block.subarray(0, Math.min(32, length - at)), at);
    a = crypto.hmacSha256(secret, a);
  }
  return out;
}

/** One direction of TLS 1.2 AES-GCM (RFC 5288): nonce = 4-byte salt || 8-byte explicit (the sequence number). */
class Gcm12 implements RecordCipher {
  readonly #crypto: TlsCryptoPort;
  readonly #key: Uint8Array;
  readonly #salt: Uint8Array;
  #seq = 0;
  constructor(crypto: TlsCryptoPort, key: Uint8Array, salt: Uint8Array) {
    this.#crypto = crypto;
    this.#key = key;
    this.#salt = salt;
  }
  /** seq_num (8) || type || version || length: the AAD (RFC 5246 §6.2.3.3). */
  #aad(seq: number, type: number, length: number): Uint8Array {
    const aad = new Uint8Array(13);
    let s = seq;
    for (let i = 7; i >= 0 && s > 0; i--) {
      aad[i] = s & 0xff;
      s = Math.floor(s / 256);
    }
    aad.set([type, 3, 3, length >> 8, length & 0xff], 8);
    return aad;
  }
  seal(type: number, content: Uint8Array): Uint8Array {
    const seq = this.#seq++;
    const nonce = new Uint8Array(12);
    nonce.set(this.#salt);
    nonce.set(this.#aad(seq, 0, 0).subarray(0, 8), 4);
    const sealed = this.#crypto.aes128GcmSeal(this.#key, nonce, this.#aad(seq, type, content.length), content);
    const length = 8 + sealed.length;
    const out = new Uint8Array(RECORD_HEADER + length);
    out.set([type, 3, 3, length >> 8, length & 0xff]);
    out.set(nonce.subarray(4), RECORD_HEADER);
    out.set(sealed, RECORD_HEADER + 8);
    return out;
  }
  open(record: TlsRecord): TlsRecord {
    const f = record.fragment;
    if (f.length < 8 + 16) throw new OtaError('tls-protocol', `protected record of ${f.length} bytes`);
    const seq = this.#seq++;
    const nonce = new Uint8Array(12);
    nonce.set(this.#salt);
    nonce.set(f.subarray(0, 8), 4);
    const plain = this.#crypto.aes128GcmOpen(this.#key, nonce, this.#aad(seq, record.type, f.length - 8 - 16), f.subarray(8));
    if (!plain) throw new OtaError('tls-bad-record-mac', `record of ${f.length} bytes does not authenticate`);
    return { type: record.type, fragment: plain };
  }
}

/**
 * Snapshots of the TLS 1.2 transcript: through ClientKeyExchange (EMS session hash and the
 * CertificateVerify input), through CertificateVerify (client Finished), through client Finished
 * (server Finished).
 */
export const TLS12_TRANSCRIPT_SNAPSHOTS = 4;

/**
 * TlsClient (TLS 1.3) extends this class so that one offer of both versions can go on with the
 * TLS 1.2 handshake on the same connection and transcript when the server picks 1.2.
 */
export class Tls12Client extends TlsConnection {
  /** The server's read keys, in use from its ChangeCipherSpec. */
  #pendingRead: Gcm12 | undefined;

  protected constructor(io: ByteStream, options: TlsClientOptions) {
    super(io, options);
  }

  static connect(io: ByteStream, options: TlsClientOptions): Promise<Tls12Client> {
    return TlsConnection.handshakeOf(new Tls12Client(io, options));
  }

  protected async runHandshake(): Promise<void> {
    const { keys, digest } = this.options;
    const now = this.now();
    const transcript = new Transcript(digest, TLS12_TRANSCRIPT_SNAPSHOTS);
    this.stats.keyOps.random++;
    const clientRandom = await keys.random(32);
    const hello = clientHello(clientRandom, this.options.host, undefined);
    transcript.update(hello);
    await this.sendPlain(CONTENT.handshake, hello, true);
    await this.handshake12(transcript, now, clientRandom, await this.next(HS12.serverHello), undefined);
  }

  /**
   * The TLS 1.2 handshake from the server's ServerHello `sh` (not yet in `transcript`) on.
   * `offeredShare`: the hello offered TLS 1.3 too, with this ephemeral key in the SE: the random
   * must not carry the downgrade sentinel, and the key is the 1.2 ECDHE key (fresh for this
   * connection, used once) instead of a second one.
   */
  protected async handshake12(transcript: Transcript, now: number, clientRandom: Uint8Array, sh: HandshakeMessage, offeredShare: Uint8Array | undefined): Promise<void> {
    const { keys, crypto } = this.options;
    const { serverRandom, ems, fragmentMax } = parseServerHello12(sh.body);
    if (offeredShare) checkDowngradeSentinel(serverRandom);
    // RFC 8449 §4: in TLS 1.2 the limit binds protected records only (our Finished on: 12 bytes).
    this.fragmentMax = fragmentMax;
    transcript.update(sh.raw);
    const cert = await this.next(HS12.certificate);
    transcript.update(cert.raw);
    const leaf = await this.checkChain(parseCertificateMessage(cert.body, false).certificates, now);
    const ske = await this.next(HS12.serverKeyExchange);
    transcript.update(ske.raw);
    const { params, point, signature } = parseServerKeyExchange(ske.body);
    const signed = new Uint8Array(64 + params.length);
    signed.set(clientRandom);
    signed.set(serverRandom, 32);
    signed.set(params, 64);
    if (!(await this.verify(leaf.publicKey, this.sha256(signed), signature))) {
      throw new OtaError('tls-handshake-failed', "the server's key exchange signature does not verify with its certificate's key");
    }
    let m = await this.next();
    let certificateRequested = false;
    if (m.type === HS12.certificateRequest) {
      certificateRequested = true;
      transcript.update(m.raw);
      m = await this.next();
    }
    if (m.type !== HS12.serverHelloDone || m.body.length !== 0) throw new OtaError('tls-protocol', `expected ServerHelloDone, got handshake type ${m.type}`);
    transcript.update(m.raw);

    const chain = certificateRequested ? keys.certificateChain() : [];
    if (certificateRequested) {
      const msg = certificateMessage(undefined, chain);
      transcript.update(msg);
      await this.sendPlain(CONTENT.handshake, msg);
    }
    let ours = offeredShare;
    if (!ours) {
      this.stats.keyOps.ephemeral++;
      ours = await keys.ephemeralPublicKey();
    }
    this.stats.keyOps.agree++;
    const pms = await keys.agree(point);
    await keys.dropEphemeral().catch(() => undefined);
    const cke = handshakeMessage(HS12.clientKeyExchange, new Writer(70).vector(1, (v) => v.bytes(ours)).done());
    transcript.update(cke);
    await this.sendPlain(CONTENT.handshake, cke);
    const sessionHash = transcript.hash();
    const cvInput = transcript.hash();
    const randoms = new Uint8Array(64);
    randoms.set(clientRandom);
    randoms.set(serverRandom, 32);
    const master = ems ? prf12(crypto, pms, 'extended master secret', sessionHash, 48) : prf12(crypto, pms, 'master secret', randoms, 48);
    if (certificateRequested && chain.length > 0) {
      this.stats.keyOps.sign++;
      const sig = await keys.sign(cvInput);
      const cv = handshakeMessage(HS12.certificateVerify, new Writer(4 + sig.length).u16(ECDSA_SECP256R1_SHA256).vector(2, (v) => v.bytes(sig)).done());
      transcript.update(cv);
      await this.sendPlain(CONTENT.handshake, cv);
      this.stats.clientAuthenticated = true;
    }
    const serverClient = new Uint8Array(64);
    serverClient.set(serverRandom);
    serverClient.set(clientRandom, 32);
    const block = prf12(crypto, master, 'key expansion', serverClient, 40);
    const write = new Gcm12(crypto, block.slice(0, 16), block.slice(32, 36));
    this.#pendingRead = new Gcm12(crypto, block.slice(16, 32), block.slice(36, 40));
    await this.sendPlain(CONTENT.changeCipherSpec, new Uint8Array([1]));
    this.writer = write;
    const clientFinished = handshakeMessage(HS12.finished, prf12(crypto, master, 'client finished', transcript.hash(), 12));
    transcript.update(clientFinished);
    await this.sendProtected(write, CONTENT.handshake, clientFinished);
    const expected = prf12(crypto, master, 'server finished', transcript.hash(), 12);
    const fin = await this.next(HS12.finished);
    if (!this.reader) throw new OtaError('tls-protocol', 'server Finished before its ChangeCipherSpec');
    if (!bytesEqual(fin.body, expected)) throw new OtaError('tls-handshake-failed', 'server Finished does not verify');
    this.establish();
  }

  protected receive(record: TlsRecord): void {
    this.stats.recordsIn++;
    if (record.type === CONTENT.changeCipherSpec) {
      if (this.reader || !this.#pendingRead || record.fragment.length !== 1 || record.fragment[0] !== 1) throw new OtaError('tls-protocol', 'unexpected ChangeCipherSpec');
      if (!this.handshakeEmpty) throw new OtaError('tls-protocol', 'ChangeCipherSpec inside a handshake message');
      this.reader = this.#pendingRead;
      return;
    }
    this.deliver(this.reader ? this.reader.open(record) : record);
  }

  /** HelloRequest: we do not renegotiate (RFC 5746 §4.2 lets a client ignore it). */
  protected postHandshake(m: HandshakeMessage): void {
    if (m.type === HS12.helloRequest) return;
    throw new OtaError('tls-protocol', `handshake type ${m.type} after the handshake`);
  }
}

function parseServerHello12(body: Uint8Array): { serverRandom: Uint8Array; ems: boolean; fragmentMax: number } {
  const r = new Reader(body, 'ServerHello');
  const version = r.u16('server_version');
  if (version !== 0x0303) throw new OtaError('tls-unsupported', `server version 0x${version.toString(16)}, not TLS 1.2`);
  const serverRandom = r.bytes(32, 'random').slice();
  r.vector(1, 'session_id');
  const suite = r.u16('cipher_suite');
  if (suite !== TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256) throw new OtaError('tls-unsupported', `cipher suite 0x${suite.toString(16)}`);
  if (r.u8('compression_method') !== 0) throw new OtaError('tls-protocol', 'compression is not null');
  let ems = false;
  let fragmentMax: number = TLS_LIMITS.maxFragment;
  if (r.left > 0) {
    const exts = r.vector(2, 'extensions');
    while (exts.left > 0) {
      const type = exts.u16('extension type');
      const e = exts.vector(2, 'extension');
      if (type === EXT_EXTENDED_MASTER_SECRET) ems = true;
      else if (type === EXT_RECORD_SIZE_LIMIT) fragmentMax = peerFragmentMax(e, false);
    }
  }
  r.end();
  return { serverRandom, ems, fragmentMax };
}

/** ServerECDHParams (named curve secp256r1) and its signature (RFC 8422 §5.4). */
function parseServerKeyExchange(body: Uint8Array): { params: Uint8Array; point: Uint8Array; signature: Uint8Array } {
  const r = new Reader(body, 'ServerKeyExchange');
  if (r.u8('curve_type') !== 3) throw new OtaError('tls-unsupported', 'ServerKeyExchange curve type is not named_curve');
  const group = r.u16('namedcurve');
  if (group !== GROUP_SECP256R1) throw new OtaError('tls-unsupported-group', `the server chose group 0x${group.toString(16)}; this device offers secp256r1 only`);
  const p = r.vector(1, 'public');
  const point = p.bytes(p.left, 'point').slice();
  if (point.length !== 65 || point[0] !== 4) throw new OtaError('tls-protocol', `server ECDH point of ${point.length} bytes`);
  const params = body.slice(0, 4 + point.length);
  const scheme = r.u16('algorithm');
  if (scheme !== ECDSA_SECP256R1_SHA256) throw new OtaError('tls-unsupported', `ServerKeyExchange signed with 0x${scheme.toString(16)}`);
  const s = r.vector(2, 'signature');
  const signature = s.bytes(s.left, 'signature').slice();
  r.end();
  return { params, point, signature };
}
