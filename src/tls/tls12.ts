/**
 * TLS 1.2 for brokers without TLS 1.3: ECDHE-ECDSA-AES128-GCM-SHA256 only (RFC 5289), secp256r1
 * (RFC 8422), extended master secret (RFC 7627) when the server agrees, mutual authentication,
 * every private-key operation in the A5000 through the same TlsKeyOps as TLS 1.3 (the ephemeral
 * key pair, ECDH, the client CertificateVerify, the server's signatures). No renegotiation, no
 * resumption. Records are AES-GCM with an 8-byte explicit nonce (RFC 5288).
 */
import type { ByteStream } from '../net/byte-stream.js';
import type { DigestPort, Sha256 } from '../platform/digest.js';
import type { TlsCryptoPort } from '../platform/tls-crypto.js';
import { asciiEncode, bytesEqual } from '../util/bytes.js';
import { OtaError, describeError } from '../util/errors.js';
import { checkServerChain } from './chain.js';
import type { TlsClientOptions, TlsStats } from './client.js';
import { ECDSA_SECP256R1_SHA256, EXT_RECORD_SIZE_LIMIT, GROUP_SECP256R1, handshakeMessage, HandshakeReader, peerFragmentMax, Reader, recordSizeLimitExtension, Writer } from './handshake.js';
import { TLS_LIMITS } from './limits.js';
import { CONTENT, plainRecord, RecordReader, RECORD_HEADER, type TlsRecord } from './record.js';

export const TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 = 0xc02b;
const HS12 = { clientHello: 1, serverHello: 2, certificate: 11, serverKeyExchange: 12, certificateRequest: 13, serverHelloDone: 14, certificateVerify: 15, clientKeyExchange: 16, finished: 20, helloRequest: 0 } as const;
const EXT = { serverName: 0, maxFragmentLength: 1, supportedGroups: 10, ecPointFormats: 11, signatureAlgorithms: 13, extendedMasterSecret: 23, renegotiationInfo: 0xff01 } as const;

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
class Gcm12 {
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
  open(record: TlsRecord): Uint8Array {
    const f = record.fragment;
    if (f.length < 8 + 16) throw new OtaError('tls-protocol', `protected record of ${f.length} bytes`);
    const seq = this.#seq++;
    const nonce = new Uint8Array(12);
    nonce.set(this.#salt);
    nonce.set(f.subarray(0, 8), 4);
    const plain = this.#crypto.aes128GcmOpen(this.#key, nonce, this.#aad(seq, record.type, f.length - 8 - 16), f.subarray(8));
    if (!plain) throw new OtaError('tls-bad-record-mac', `record of ${f.length} bytes does not authenticate`);
    return plain;
  }
}

class Hashes {
  readonly #open: Sha256[] = [];
  constructor(digest: DigestPort, n: number) {
    for (let i = 0; i < n; i++) this.#open.push(digest.sha256());
  }
  update(m: Uint8Array): void {
    for (const h of this.#open) h.update(m);
  }
  hash(): Uint8Array {
    const h = this.#open.shift();
    if (!h) throw new OtaError('bad-state', 'transcript snapshots exhausted');
    return h.digest();
  }
}

type Message = { type: number; body: Uint8Array; raw: Uint8Array };

export class Tls12Client implements ByteStream {
  readonly stats: TlsStats = { keyOps: { ephemeral: 0, agree: 0, sign: 0, verify: 0, random: 0 }, recordsIn: 0, recordsOut: 0, bytesIn: 0, bytesOut: 0, clientAuthenticated: false };
  readonly #io: ByteStream;
  readonly #o: TlsClientOptions;
  readonly #records = new RecordReader();
  #handshake = new HandshakeReader();
  #read: Gcm12 | undefined;
  #pendingRead: Gcm12 | undefined;
  #write: Gcm12 | undefined;
  #established = false;
  /** Largest plaintext in one protected record: ours, or the server's record_size_limit (RFC 8449) if smaller. */
  #fragmentMax: number = TLS_LIMITS.maxFragment;
  #closed = false;
  #failure: OtaError | undefined;
  #messages: Message[] = [];
  #waiter: { resolve: (m: Message) => void; reject: (e: unknown) => void } | undefined;
  #data: ((chunk: Uint8Array) => void) | undefined;
  #onClose: ((error?: OtaError) => void) | undefined;

  private constructor(io: ByteStream, options: TlsClientOptions) {
    this.#io = io;
    this.#o = options;
    io.onData((chunk) => this.#onBytes(chunk));
    io.onClose((error) => this.#abort(error ?? new OtaError('closed', 'the transport closed during TLS')));
  }

  static async connect(io: ByteStream, options: TlsClientOptions): Promise<Tls12Client> {
    const tls = new Tls12Client(io, options);
    try {
      await tls.#run();
    } catch (error) {
      const failure = tls.#failure ?? error;
      tls.#abort(failure);
      throw failure;
    }
    return tls;
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.#failure) throw this.#failure;
    if (!this.#established || !this.#write) throw new OtaError('bad-state', 'TLS write before the handshake completed');
    for (let at = 0; at < bytes.length; at += this.#fragmentMax) {
      await this.#send(this.#write.seal(CONTENT.applicationData, bytes.subarray(at, Math.min(bytes.length, at + this.#fragmentMax))));
    }
  }

  onData(handler: (chunk: Uint8Array) => void): void {
    this.#data = handler;
  }

  onClose(handler: (error?: OtaError) => void): void {
    this.#onClose = handler;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#write) void this.#io.write(this.#write.seal(CONTENT.alert, new Uint8Array([1, 0]))).catch(() => undefined);
    this.#io.close();
    this.#onClose?.();
  }

  async #run(): Promise<void> {
    const { keys, crypto, digest } = this.#o;
    const now = this.#o.now();
    if (now === undefined) throw new OtaError('tls-no-time', 'no wall-clock time to check the server certificate against');
    // Snapshots: through ClientKeyExchange (EMS session hash and the CertificateVerify input), through
    // CertificateVerify (client Finished), through client Finished (server Finished).
    const transcript = new Hashes(digest, 4);
    this.stats.keyOps.random++;
    const clientRandom = await keys.random(32);
    const hello = this.#clientHello(clientRandom);
    transcript.update(hello);
    await this.#send(plainRecord(CONTENT.handshake, hello));

    const sh = await this.#next(HS12.serverHello);
    const { serverRandom, ems, fragmentMax } = parseServerHello12(sh.body);
    // RFC 8449 §4: in TLS 1.2 the limit binds protected records only (our Finished on: 12 bytes).
    this.#fragmentMax = fragmentMax;
    transcript.update(sh.raw);
    const cert = await this.#next(HS12.certificate);
    transcript.update(cert.raw);
    const leaf = await checkServerChain(parseCertificate12(cert.body), {
      anchors: this.#o.trustAnchors, host: this.#o.host, now, digest,
      verify: (k, d, s) => {
        this.stats.keyOps.verify++;
        return keys.verify(k, d, s);
      },
    });
    const ske = await this.#next(HS12.serverKeyExchange);
    transcript.update(ske.raw);
    const { params, point, signature } = parseServerKeyExchange(ske.body);
    const signed = new Uint8Array(64 + params.length);
    signed.set(clientRandom);
    signed.set(serverRandom, 32);
    signed.set(params, 64);
    this.stats.keyOps.verify++;
    if (!(await keys.verify(leaf.publicKey, this.#sha256(signed), signature))) {
      throw new OtaError('tls-handshake-failed', "the server's key exchange signature does not verify with its certificate's key");
    }
    let m = await this.#next();
    let certificateRequested = false;
    if (m.type === HS12.certificateRequest) {
      certificateRequested = true;
      transcript.update(m.raw);
      m = await this.#next();
    }
    if (m.type !== HS12.serverHelloDone || m.body.length !== 0) throw new OtaError('tls-protocol', `expected ServerHelloDone, got handshake type ${m.type}`);
    transcript.update(m.raw);

    const chain = certificateRequested ? keys.certificateChain() : [];
    if (certificateRequested) {
      const size = 8 + chain.reduce((n, c) => n + c.length + 3, 0);
      const w = new Writer(size);
      w.vector(3, (l) => {
        for (const c of chain) l.vector(3, (v) => v.bytes(c));
      });
      const msg = handshakeMessage(HS12.certificate, w.done());
      transcript.update(msg);
      await this.#send(plainRecord(CONTENT.handshake, msg, false));
    }
    this.stats.keyOps.ephemeral++;
    const ours = await keys.ephemeralPublicKey();
    this.stats.keyOps.agree++;
    const pms = await keys.agree(point);
    await keys.dropEphemeral().catch(() => undefined);
    const cke = handshakeMessage(HS12.clientKeyExchange, new Writer(70).vector(1, (v) => v.bytes(ours)).done());
    transcript.update(cke);
    await this.#send(plainRecord(CONTENT.handshake, cke, false));
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
      await this.#send(plainRecord(CONTENT.handshake, cv, false));
      this.stats.clientAuthenticated = true;
    }
    const serverClient = new Uint8Array(64);
    serverClient.set(serverRandom);
    serverClient.set(clientRandom, 32);
    const block = prf12(crypto, master, 'key expansion', serverClient, 40);
    this.#write = new Gcm12(crypto, block.slice(0, 16), block.slice(32, 36));
    this.#pendingRead = new Gcm12(crypto, block.slice(16, 32), block.slice(36, 40));
    await this.#send(plainRecord(CONTENT.changeCipherSpec, new Uint8Array([1])));
    const clientFinished = handshakeMessage(HS12.finished, prf12(crypto, master, 'client finished', transcript.hash(), 12));
    transcript.update(clientFinished);
    await this.#send(this.#write.seal(CONTENT.handshake, clientFinished));
    const expected = prf12(crypto, master, 'server finished', transcript.hash(), 12);
    const fin = await this.#next(HS12.finished);
    if (!this.#read) throw new OtaError('tls-protocol', 'server Finished before its ChangeCipherSpec');
    if (!bytesEqual(fin.body, expected)) throw new OtaError('tls-handshake-failed', 'server Finished does not verify');
    this.#established = true;
    this.#handshake = new HandshakeReader(TLS_LIMITS.postHandshakeMax, true);
  }

  #clientHello(random: Uint8Array): Uint8Array {
    const w = new Writer(512);
    w.u16(0x0303).bytes(random).u8(0);
    w.vector(2, (v) => v.u16(TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256));
    w.u8(1).u8(0);
    const host = this.#o.host;
    w.vector(2, (ext) => {
      if (!/^[0-9.]+$/.test(host)) {
        const name = asciiEncode(host);
        ext.u16(EXT.serverName).vector(2, (e) => e.vector(2, (l) => l.u8(0).vector(2, (n) => n.bytes(name))));
      }
      ext.u16(EXT.maxFragmentLength).vector(2, (e) => e.u8(3));
      recordSizeLimitExtension(ext, false);
      ext.u16(EXT.supportedGroups).vector(2, (e) => e.vector(2, (l) => l.u16(GROUP_SECP256R1)));
      ext.u16(EXT.ecPointFormats).vector(2, (e) => e.vector(1, (l) => l.u8(0)));
      ext.u16(EXT.signatureAlgorithms).vector(2, (e) => e.vector(2, (l) => l.u16(ECDSA_SECP256R1_SHA256)));
      ext.u16(EXT.extendedMasterSecret).vector(2, () => undefined);
      // RFC 5746: an initial handshake says it supports secure renegotiation (we never renegotiate).
      ext.u16(EXT.renegotiationInfo).vector(2, (e) => e.u8(0));
    });
    return handshakeMessage(HS12.clientHello, w.done());
  }

  #sha256(bytes: Uint8Array): Uint8Array {
    const h = this.#o.digest.sha256();
    h.update(bytes);
    return h.digest();
  }

  #next(type?: number): Promise<Message> {
    const check = (m: Message): Message => {
      if (type !== undefined && m.type !== type) throw new OtaError('tls-protocol', `expected handshake type ${type}, got ${m.type}`);
      return m;
    };
    if (this.#failure) return Promise.reject(this.#failure);
    const queued = this.#messages.shift();
    if (queued) return Promise.resolve().then(() => check(queued));
    return new Promise<Message>((resolve, reject) => {
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

  #onBytes(chunk: Uint8Array): void {
    if (this.#failure) return;
    this.stats.bytesIn += chunk.length;
    try {
      this.#records.push(chunk, (r) => this.#onRecord(r));
    } catch (error) {
      this.#abort(error);
    }
  }

  #onRecord(record: TlsRecord): void {
    this.stats.recordsIn++;
    if (record.type === CONTENT.changeCipherSpec) {
      if (this.#read || !this.#pendingRead || record.fragment.length !== 1 || record.fragment[0] !== 1) throw new OtaError('tls-protocol', 'unexpected ChangeCipherSpec');
      if (!this.#handshake.empty) throw new OtaError('tls-protocol', 'ChangeCipherSpec inside a handshake message');
      this.#read = this.#pendingRead;
      return;
    }
    const content = this.#read ? this.#read.open(record) : record.fragment;
    if (record.type === CONTENT.alert) {
      if (content.length !== 2) throw new OtaError('tls-protocol', 'malformed alert');
      if (content[1] === 0) {
        this.#abort(new OtaError('closed', 'the server sent close_notify'));
        return;
      }
      throw new OtaError('tls-alert', `the server sent alert ${content[1]}`);
    }
    if (record.type === CONTENT.handshake) {
      this.#handshake.push(content, (type, body, raw) => {
        if (this.#established) {
          // HelloRequest: we do not renegotiate (RFC 5746 §4.2 lets a client ignore it... with a warning).
          if (type === HS12.helloRequest) return;
          throw new OtaError('tls-protocol', `handshake type ${type} after the handshake`);
        }
        const m = { type, body: body.slice(), raw: raw.slice() };
        const w = this.#waiter;
        if (w) {
          this.#waiter = undefined;
          w.resolve(m);
        } else this.#messages.push(m);
      });
      return;
    }
    if (record.type === CONTENT.applicationData) {
      if (!this.#established) throw new OtaError('tls-protocol', 'application data before the handshake completed');
      if (content.length > 0) this.#data?.(content.slice());
      return;
    }
    throw new OtaError('tls-protocol', `record type ${record.type}`);
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
    this.#io.close();
    this.#waiter?.reject(failure);
    this.#waiter = undefined;
    if (!this.#closed) {
      this.#closed = true;
      if (this.#established) this.#onClose?.(failure.reason === 'closed' ? undefined : failure);
    }
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
      if (type === EXT.extendedMasterSecret) ems = true;
      else if (type === EXT_RECORD_SIZE_LIMIT) fragmentMax = peerFragmentMax(e, false);
    }
  }
  r.end();
  return { serverRandom, ems, fragmentMax };
}

function parseCertificate12(body: Uint8Array): Uint8Array[] {
  const r = new Reader(body, 'Certificate');
  const list = r.vector(3, 'certificate_list');
  r.end();
  const out: Uint8Array[] = [];
  while (list.left > 0) {
    const c = list.vector(3, 'ASN.1Cert');
    out.push(c.bytes(c.left, 'cert').slice());
    if (out.length > TLS_LIMITS.chainMax) throw new OtaError('limit-exceeded', `certificate chain longer than ${TLS_LIMITS.chainMax}`);
  }
  return out;
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
