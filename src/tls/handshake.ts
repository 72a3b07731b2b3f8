/**
 * TLS 1.3 handshake messages the client writes and reads (RFC 8446 §4), for the one profile the
 * agent speaks: TLS_AES_128_GCM_SHA256, secp256r1, ecdsa_secp256r1_sha256, no PSK, no early data.
 * Readers check every length against its parent and throw `tls-protocol` naming the field.
 */
import { asciiEncode, bytesEqual } from '../util/bytes.js';
import { OtaError } from '../util/errors.js';
import { TLS_LIMITS } from './limits.js';

export const HS = {
  clientHello: 1,
  serverHello: 2,
  newSessionTicket: 4,
  encryptedExtensions: 8,
  certificate: 11,
  certificateRequest: 13,
  certificateVerify: 15,
  finished: 20,
  keyUpdate: 24,
} as const;
export const TLS_AES_128_GCM_SHA256 = 0x1301;
export const GROUP_SECP256R1 = 0x0017;
export const ECDSA_SECP256R1_SHA256 = 0x0403;
const EXT = { serverName: 0, maxFragmentLength: 1, supportedGroups: 10, signatureAlgorithms: 13, recordSizeLimit: 28, supportedVersions: 43, keyShare: 51 } as const;
/** RFC 8449 record_size_limit, extension type 28. */
export const EXT_RECORD_SIZE_LIMIT = EXT.recordSizeLimit;
/** RFC 8449 §4: a limit below 64 is an illegal_parameter. */
const RECORD_SIZE_LIMIT_MIN = 64;

/**
 * The record_size_limit we send (RFC 8449 §4): TLS_LIMITS.maxFragment of plaintext, which in TLS
 * 1.3 counts the inner content type byte too (2^11 + 1), so one record fits TLS_LIMITS.recordMax.
 * Sent beside max_fragment_length, which servers that do not know record_size_limit (OpenSSL,
 * node:tls) honour; one that knows both ignores max_fragment_length (§5).
 */
export function recordSizeLimitExtension(w: Writer, tls13: boolean): void {
  w.u16(EXT.recordSizeLimit).vector(2, (e) => e.u16(TLS_LIMITS.maxFragment + (tls13 ? 1 : 0)));
}

/** RFC 8446 §4.1.3: the last 8 bytes of a TLS 1.3 server's random when it negotiates TLS 1.2 ("DOWNGRD" 01). */
const DOWNGRADE_TLS12 = new Uint8Array([0x44, 0x4f, 0x57, 0x4e, 0x47, 0x52, 0x44, 0x01]);

/**
 * A client that offered TLS 1.3 and got TLS 1.2 refuses a server random carrying the downgrade
 * sentinel (RFC 8446 §4.1.3): a TLS 1.3 server chose 1.2 only because the offer was altered.
 */
export function checkDowngradeSentinel(serverRandom: Uint8Array): void {
  if (bytesEqual(serverRandom.subarray(24), DOWNGRADE_TLS12)) {
    throw new OtaError('tls-downgrade', 'the TLS 1.2 ServerHello carries the TLS 1.3 downgrade sentinel (RFC 8446 4.1.3): the offer was altered on the way');
  }
}

/** Whether a ServerHello chose TLS 1.2: no supported_versions extension (RFC 8446 §4.2.1). */
export function serverHelloIsTls12(body: Uint8Array): boolean {
  const r = new Reader(body, 'ServerHello');
  r.u16('legacy_version');
  r.bytes(32, 'random');
  r.vector(1, 'legacy_session_id_echo');
  r.u16('cipher_suite');
  r.u8('legacy_compression_method');
  if (r.left === 0) return true;
  const exts = r.vector(2, 'extensions');
  while (exts.left > 0) {
    const type = exts.u16('extension type');
    exts.vector(2, 'extension');
    if (type === EXT.supportedVersions) return false;
  }
  return true;
}

/**
 * The largest plaintext fragment we may send under the server's record_size_limit `value` (its
 * extension body, RFC 8449 §4): never more than our own TLS_LIMITS.maxFragment; TLS 1.3 counts
 * the content type byte in the limit. Throws `tls-protocol` for a malformed or too small limit.
 */
export function peerFragmentMax(body: Reader, tls13: boolean): number {
  const value = body.u16('record_size_limit');
  body.end();
  if (value < RECORD_SIZE_LIMIT_MIN) throw new OtaError('tls-protocol', `the server's record_size_limit ${value} is below ${RECORD_SIZE_LIMIT_MIN} (RFC 8449)`);
  return Math.min(TLS_LIMITS.maxFragment, tls13 ? value - 1 : value);
}
const TLS13 = 0x0304;
/** SHA-256("HelloRetryRequest"): a ServerHello with this random is an HRR (RFC 8446 §4.1.3). */
const HRR_RANDOM = new Uint8Array([
  0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
  0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
]);

/** Appends big-endian integers and length-prefixed vectors into a fixed buffer. */
export class Writer {
  readonly #buf: Uint8Array;
  #at = 0;
  constructor(size: number) {
    this.#buf = new Uint8Array(size);
  }
  u8(v: number): this {
    this.#buf[this.#at++] = v;
    return this;
  }
  u16(v: number): this {
    return this.u8(v >> 8).u8(v & 0xff);
  }
  u24(v: number): this {
    return this.u8(v >> 16).u16(v & 0xffff);
  }
  bytes(b: Uint8Array): this {
    this.#buf.set(b, this.#at);
    this.#at += b.length;
    return this;
  }
  /** A vector with a `size`-byte length prefix around what `body` writes. */
  vector(size: 1 | 2 | 3, body: (w: this) => void): this {
    const at = this.#at;
    this.#at += size;
    body(this);
    const n = this.#at - at - size;
    for (let i = 0; i < size; i++) this.#buf[at + i] = (n >> (8 * (size - 1 - i))) & 0xff;
    return this;
  }
  done(): Uint8Array {
    return this.#buf.slice(0, this.#at);
  }
}

/** Reads a handshake body; every read is bounds-checked. */
export class Reader {
  readonly #bytes: Uint8Array;
  #at: number;
  readonly #end: number;
  readonly #what: string;
  constructor(b: Uint8Array, what: string, start = 0, end = b.length) {
    this.#bytes = b;
    this.#at = start;
    this.#end = end;
    this.#what = what;
  }
  #need(n: number, field: string): void {
    if (this.#at + n > this.#end) throw new OtaError('tls-protocol', `${this.#what}: ${field} runs past the message`);
  }
  u8(field: string): number {
    this.#need(1, field);
    return this.#bytes[this.#at++];
  }
  u16(field: string): number {
    return (this.u8(field) << 8) | this.u8(field);
  }
  u24(field: string): number {
    return (this.u8(field) << 16) | this.u16(field);
  }
  bytes(n: number, field: string): Uint8Array {
    this.#need(n, field);
    const out = this.#bytes.subarray(this.#at, this.#at + n);
    this.#at += n;
    return out;
  }
  vector(size: 1 | 2 | 3, field: string): Reader {
    const n = size === 1 ? this.u8(field) : size === 2 ? this.u16(field) : this.u24(field);
    this.#need(n, field);
    const r = new Reader(this.#bytes, `${this.#what} ${field}`, this.#at, this.#at + n);
    this.#at += n;
    return r;
  }
  get left(): number {
    return this.#end - this.#at;
  }
  end(): void {
    if (this.#at !== this.#end) throw new OtaError('tls-protocol', `${this.#what}: ${this.#end - this.#at} stray bytes`);
  }
}

/** A handshake message: type u8, length u24, body. */
export function handshakeMessage(type: number, body: Uint8Array): Uint8Array {
  return new Writer(4 + body.length).u8(type).u24(body.length).bytes(body).done();
}

/** TLS 1.2's one suite (RFC 5289) and the extensions only its ClientHello carries. */
export const TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 = 0xc02b;
const EXT12 = { ecPointFormats: 11, extendedMasterSecret: 23, renegotiationInfo: 0xff01 } as const;
export const EXT_EXTENDED_MASTER_SECRET = EXT12.extendedMasterSecret;

/**
 * The ClientHello: TLS 1.3 (RFC 8446 §4.1.2) with the P-256 `keyShare`, or TLS 1.2 (RFC 5246
 * §7.4.1.2) without one, or, `alsoTls12` with a `keyShare`, one hello offering both (the server
 * picks; both suites, supported_versions 1.3 and 1.2, and the 1.2 extensions). `host` goes into
 * server_name unless it is an IP literal. All ask for 2^11-byte records (max_fragment_length and
 * record_size_limit) and offer secp256r1 with ecdsa_secp256r1_sha256 only.
 */
export function clientHello(random: Uint8Array, host: string, keyShare: Uint8Array | undefined, alsoTls12 = false): Uint8Array {
  const tls13 = keyShare !== undefined;
  const tls12 = !tls13 || alsoTls12;
  const w = new Writer(512);
  w.u16(0x0303).bytes(random).u8(0); // legacy_session_id: empty, so no middlebox CCS is expected
  w.vector(2, (v) => {
    if (tls13) v.u16(TLS_AES_128_GCM_SHA256);
    if (tls12) v.u16(TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256);
  });
  w.u8(1).u8(0);
  w.vector(2, (ext) => {
    if (!/^[0-9.]+$/.test(host) && !host.includes(':')) {
      const name = asciiEncode(host);
      ext.u16(EXT.serverName).vector(2, (e) => e.vector(2, (l) => l.u8(0).vector(2, (n) => n.bytes(name))));
    }
    // RFC 6066: 2^11-byte fragments keep the record buffer at TLS_LIMITS.recordMax.
    ext.u16(EXT.maxFragmentLength).vector(2, (e) => e.u8(3));
    // Offering both, the limit is read in the version the server picks: 2^11 fits either (RFC 8449 §4).
    recordSizeLimitExtension(ext, tls13 && !tls12);
    ext.u16(EXT.supportedGroups).vector(2, (e) => e.vector(2, (l) => l.u16(GROUP_SECP256R1)));
    ext.u16(EXT.signatureAlgorithms).vector(2, (e) => e.vector(2, (l) => l.u16(ECDSA_SECP256R1_SHA256)));
    if (tls13) {
      ext.u16(EXT.supportedVersions).vector(2, (e) =>
        e.vector(1, (l) => {
          l.u16(TLS13);
          if (tls12) l.u16(0x0303);
        }),
      );
      ext.u16(EXT.keyShare).vector(2, (e) => e.vector(2, (l) => l.u16(GROUP_SECP256R1).vector(2, (k) => k.bytes(keyShare))));
    }
    if (tls12) {
      ext.u16(EXT12.ecPointFormats).vector(2, (e) => e.vector(1, (l) => l.u8(0)));
      ext.u16(EXT12.extendedMasterSecret).vector(2, () => undefined);
      // RFC 5746: an initial handshake says it supports secure renegotiation (we never renegotiate).
      ext.u16(EXT12.renegotiationInfo).vector(2, (e) => e.u8(0));
    }
  });
  return handshakeMessage(HS.clientHello, w.done());
}

/** What the ServerHello chose: the server's P-256 key share. */
export function parseServerHello(body: Uint8Array): { keyShare: Uint8Array } {
  const r = new Reader(body, 'ServerHello');
  if (r.u16('legacy_version') !== 0x0303) throw new OtaError('tls-unsupported', 'ServerHello legacy_version is not 0x0303');
  const random = r.bytes(32, 'random');
  const hrr = bytesEqual(random, HRR_RANDOM);
  if (r.vector(1, 'legacy_session_id_echo').left !== 0) throw new OtaError('tls-protocol', 'ServerHello echoes a session id we did not send');
  const suite = r.u16('cipher_suite');
  if (r.u8('legacy_compression_method') !== 0) throw new OtaError('tls-protocol', 'ServerHello compression is not null');
  // A TLS 1.2 server may send no extensions at all: that is its version choice, not a malformed hello.
  if (r.left === 0) throw new OtaError('tls-unsupported', 'server selected TLS 1.2 (no supported_versions), not TLS 1.3');
  const exts = r.vector(2, 'extensions');
  r.end();
  let version = 0;
  let keyShare: Uint8Array | undefined;
  let group = -1;
  while (exts.left > 0) {
    const type = exts.u16('extension type');
    const e = exts.vector(2, 'extension');
    if (type === EXT.supportedVersions) version = e.u16('selected_version');
    else if (type === EXT.keyShare) {
      group = e.u16('group');
      if (!hrr) {
        const kx = e.vector(2, 'key_exchange');
        keyShare = kx.bytes(kx.left, 'key_exchange');
      }
    }
  }
  if (version !== TLS13) throw new OtaError('tls-unsupported', `server selected version 0x${version.toString(16)}, not TLS 1.3`);
  if (hrr) {
    // We offered one group with its share: a retry can only ask for another group.
    if (group !== GROUP_SECP256R1) throw new OtaError('tls-unsupported-group', `the server asks for group 0x${group.toString(16)}; this device offers secp256r1 only`);
    throw new OtaError('tls-protocol', 'HelloRetryRequest for the group we already sent');
  }
  if (suite !== TLS_AES_128_GCM_SHA256) throw new OtaError('tls-unsupported', `cipher suite 0x${suite.toString(16)}`);
  if (group !== GROUP_SECP256R1 || !keyShare) throw new OtaError('tls-unsupported-group', `server key share group 0x${group.toString(16)}`);
  if (keyShare.length !== 65 || keyShare[0] !== 0x04) throw new OtaError('tls-protocol', `server key share of ${keyShare.length} bytes`);
  return { keyShare: keyShare.slice() };
}

/**
 * EncryptedExtensions (RFC 8446 §4.3.1): the plaintext fragment we may send, from the server's
 * record_size_limit (RFC 8449) when it sent one; other extensions (the max_fragment_length echo,
 * server_name) change nothing for us: we send at most TLS_LIMITS.maxFragment anyway.
 */
export function parseEncryptedExtensions(body: Uint8Array): { fragmentMax: number } {
  const r = new Reader(body, 'EncryptedExtensions');
  const exts = r.vector(2, 'extensions');
  r.end();
  let fragmentMax: number = TLS_LIMITS.maxFragment;
  while (exts.left > 0) {
    const type = exts.u16('extension type');
    const e = exts.vector(2, 'extension');
    if (type === EXT.recordSizeLimit) fragmentMax = peerFragmentMax(e, true);
  }
  return { fragmentMax };
}

/**
 * The certificates of a Certificate message (leaf first), within TLS_LIMITS.chainMax: TLS 1.3's
 * (RFC 8446 §4.4.2: a request context, extensions per entry) or, `tls13` false, TLS 1.2's (a list).
 */
export function parseCertificateMessage(body: Uint8Array, tls13 = true): { context: Uint8Array; certificates: Uint8Array[] } {
  const r = new Reader(body, 'Certificate');
  const context = tls13 ? r.vector(1, 'certificate_request_context') : undefined;
  const list = r.vector(3, 'certificate_list');
  r.end();
  const certificates: Uint8Array[] = [];
  while (list.left > 0) {
    const cert = list.vector(3, 'cert_data');
    certificates.push(cert.bytes(cert.left, 'cert').slice());
    if (tls13) list.vector(2, 'extensions');
    if (certificates.length > TLS_LIMITS.chainMax) throw new OtaError('limit-exceeded', `certificate chain longer than ${TLS_LIMITS.chainMax}`);
  }
  return { context: context ? context.bytes(context.left, 'context').slice() : new Uint8Array(0), certificates };
}

/**
 * The client's Certificate message: TLS 1.3's echoing the request `context` (RFC 8446 §4.4.2), or,
 * `context` undefined, TLS 1.2's (RFC 5246 §7.4.6).
 */
export function certificateMessage(context: Uint8Array | undefined, chain: Uint8Array[]): Uint8Array {
  const size = 8 + (context?.length ?? 0) + chain.reduce((n, c) => n + c.length + 5, 0);
  const w = new Writer(size);
  if (context) w.vector(1, (v) => v.bytes(context));
  w.vector(3, (l) => {
    for (const c of chain) {
      l.vector(3, (v) => v.bytes(c));
      if (context) l.u16(0);
    }
  });
  return handshakeMessage(HS.certificate, w.done());
}

/** The CertificateRequest's context (its extensions are not needed: we sign with our one scheme). */
export function parseCertificateRequest(body: Uint8Array): Uint8Array {
  const r = new Reader(body, 'CertificateRequest');
  const context = r.vector(1, 'certificate_request_context');
  r.vector(2, 'extensions');
  r.end();
  return context.bytes(context.left, 'context').slice();
}

export function parseCertificateVerify(body: Uint8Array): Uint8Array {
  const r = new Reader(body, 'CertificateVerify');
  const scheme = r.u16('algorithm');
  if (scheme !== ECDSA_SECP256R1_SHA256) throw new OtaError('tls-unsupported', `CertificateVerify scheme 0x${scheme.toString(16)}`);
  const sig = r.vector(2, 'signature');
  r.end();
  return sig.bytes(sig.left, 'signature').slice();
}

export function certificateVerifyMessage(signature: Uint8Array): Uint8Array {
  return handshakeMessage(HS.certificateVerify, new Writer(4 + signature.length).u16(ECDSA_SECP256R1_SHA256).vector(2, (v) => v.bytes(signature)).done());
}

/**
 * The content a CertificateVerify signs (RFC 8446 §4.4.3): 64 spaces, the context string, a zero
 * byte, the transcript hash.
 */
export function certificateVerifyContent(server: boolean, transcriptHash: Uint8Array): Uint8Array {
  const label = asciiEncode(server ? 'TLS 1.3, server CertificateVerify' : 'TLS 1.3, client CertificateVerify');
  const out = new Uint8Array(64 + label.length + 1 + transcriptHash.length).fill(0x20, 0, 64);
  out.set(label, 64);
  out[64 + label.length] = 0;
  out.set(transcriptHash, 65 + label.length);
  return out;
}

/**
 * Cuts handshake messages out of handshake records (a message may span records; bounded by
 * `max`). After the handshake the client swaps in a small reader (TLS_LIMITS.postHandshakeMax)
 * that skips a NewSessionTicket too large for it: the agent never resumes, so a ticket is only
 * bytes to pass over, and the session keeps no handshake-sized buffer.
 */
export class HandshakeReader {
  readonly #buf: Uint8Array;
  readonly #max: number;
  #fill = 0;
  /** Bytes of an oversized NewSessionTicket still to pass over. */
  #skip = 0;

  constructor(max: number = TLS_LIMITS.handshakeMessageMax, readonly skipsTickets = false) {
    this.#max = max;
    this.#buf = new Uint8Array(4 + max);
  }

  push(fragment: Uint8Array, onMessage: (type: number, body: Uint8Array, raw: Uint8Array) => void): void {
    let i = 0;
    while (i < fragment.length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, fragment.length - i);
        this.#skip -= n;
        i += n;
        continue;
      }
      const need = this.#fill < 4 ? 4 : 4 + ((this.#buf[1] << 16) | (this.#buf[2] << 8) | this.#buf[3]);
      const take = Math.min(need - this.#fill, fragment.length - i);
      this.#buf.set(fragment.subarray(i, i + take), this.#fill);
      this.#fill += take;
      i += take;
      const length = (this.#buf[1] << 16) | (this.#buf[2] << 8) | this.#buf[3];
      if (this.#fill === 4 && length > this.#max) {
        if (this.skipsTickets && this.#buf[0] === HS.newSessionTicket) {
          this.#skip = length;
          this.#fill = 0;
          continue;
        }
        throw new OtaError('limit-exceeded', `handshake message ${this.#buf[0]} of ${length} bytes, limit ${this.#max}`);
      }
      if (this.#fill >= 4 && this.#fill === 4 + length) {
        const raw = this.#buf.slice(0, this.#fill);
        this.#fill = 0;
        onMessage(raw[0], raw.subarray(4), raw);
      }
    }
  }

  /** A record boundary must not split a message where keys change (RFC 8446 §5.1). */
  get empty(): boolean {
    return this.#fill === 0;
  }
}
