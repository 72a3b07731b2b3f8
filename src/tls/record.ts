/**
 * The TLS 1.3 record layer (RFC 8446 §5): a resumable reader that cuts the byte stream into
 * records (bounded by TLS_LIMITS.recordMax, never grown), and AES-128-GCM protection with the
 * per-record nonce (write_iv XOR the 64-bit sequence number, §5.3) and the record header as AAD.
 */
import type { TlsCryptoPort } from '../platform/tls-crypto.js';
import { OtaError } from '../util/errors.js';
import type { TrafficKeys } from './key-schedule.js';
import { TLS_LIMITS } from './limits.js';

export const CONTENT = { changeCipherSpec: 20, alert: 21, handshake: 22, applicationData: 23 } as const;
export const RECORD_HEADER = 5;
const TAG = 16;

export interface TlsRecord {
  type: number;
  fragment: Uint8Array;
}

/** Splits a byte stream into records; `push` calls `onRecord` for each whole one. */
export class RecordReader {
  readonly #buf = new Uint8Array(TLS_LIMITS.recordMax);
  #fill = 0;

  /** Consumes all of `chunk`; throws `tls-protocol`/`limit-exceeded` on a bad header. */
  push(chunk: Uint8Array, onRecord: (record: TlsRecord) => void): void {
    let i = 0;
    while (i < chunk.length) {
      const need = this.#fill < RECORD_HEADER ? RECORD_HEADER : RECORD_HEADER + ((this.#buf[3] << 8) | this.#buf[4]);
      const take = Math.min(need - this.#fill, chunk.length - i);
      this.#buf.set(chunk.subarray(i, i + take), this.#fill);
      this.#fill += take;
      i += take;
      if (this.#fill === RECORD_HEADER) {
        const type = this.#buf[0];
        const length = (this.#buf[3] << 8) | this.#buf[4];
        if (type < 20 || type > 23 || this.#buf[1] !== 0x03) throw new OtaError('tls-protocol', `record header ${this.#buf[0]} ${this.#buf[1]}.${this.#buf[2]}`);
        if (RECORD_HEADER + length > this.#buf.length) throw new OtaError('limit-exceeded', `record of ${length} bytes, limit ${this.#buf.length - RECORD_HEADER}`);
        if (length === 0 && type !== CONTENT.applicationData) throw new OtaError('tls-protocol', `empty record of type ${type}`);
      }
      if (this.#fill >= RECORD_HEADER && this.#fill === RECORD_HEADER + ((this.#buf[3] << 8) | this.#buf[4])) {
        const record = { type: this.#buf[0], fragment: this.#buf.slice(RECORD_HEADER, this.#fill) };
        this.#fill = 0;
        onRecord(record);
      }
    }
  }
}

/** One direction's AEAD state: key, IV, sequence number. */
export class RecordProtection {
  readonly #crypto: TlsCryptoPort;
  readonly #keys: TrafficKeys;
  #seq = 0;

  constructor(crypto: TlsCryptoPort, keys: TrafficKeys) {
    this.#crypto = crypto;
    this.#keys = keys;
  }

  #nonce(): Uint8Array {
    const nonce = this.#keys.iv.slice();
    // The sequence number never passes 2^53 here (a connection rekeys or ends long before).
    let s = this.#seq++;
    for (let i = 11; i >= 4 && s > 0; i--) {
      nonce[i] ^= s & 0xff;
      s = Math.floor(s / 256);
    }
    return nonce;
  }

  /** TLSCiphertext of `content` (type `type`), header included. */
  seal(type: number, content: Uint8Array): Uint8Array {
    const inner = new Uint8Array(content.length + 1);
    inner.set(content);
    inner[content.length] = type;
    const length = inner.length + TAG;
    const header = new Uint8Array([CONTENT.applicationData, 0x03, 0x03, length >> 8, length & 0xff]);
    const sealed = this.#crypto.aes128GcmSeal(this.#keys.key, this.#nonce(), header, inner);
    const out = new Uint8Array(RECORD_HEADER + sealed.length);
    out.set(header);
    out.set(sealed, RECORD_HEADER);
    return out;
  }

  /** The inner content type and content of a protected record (RFC 8446 §5.4: strip zero padding). */
  open(record: TlsRecord): TlsRecord {
    if (record.type !== CONTENT.applicationData) throw new OtaError('tls-protocol', `record type ${record.type} after encryption started`);
    const length = record.fragment.length;
    const header = new Uint8Array([CONTENT.applicationData, 0x03, 0x03, length >> 8, length & 0xff]);
    const inner = this.#crypto.aes128GcmOpen(this.#keys.key, this.#nonce(), header, record.fragment);
    if (!inner) throw new OtaError('tls-bad-record-mac', `record of ${length} bytes does not authenticate`);
    let end = inner.length;
    while (end > 0 && inner[end - 1] === 0) end--;
    if (end === 0) throw new OtaError('tls-protocol', 'protected record without a content type');
    return { type: inner[end - 1], fragment: inner.subarray(0, end - 1) };
  }
}

/**
 * A plaintext record. `hello`: the ClientHello, whose record says 0x0301 (RFC 8446 §5.1: for
 * servers that refuse anything newer there); every later record 0x0303 (TLS 1.2 servers check it).
 */
export function plainRecord(type: number, content: Uint8Array, hello = type === CONTENT.handshake): Uint8Array {
  const out = new Uint8Array(RECORD_HEADER + content.length);
  out.set([type, 0x03, hello ? 0x01 : 0x03, content.length >> 8, content.length & 0xff]);
  out.set(content, RECORD_HEADER);
  return out;
}
