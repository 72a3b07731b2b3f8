/**
 * The SE05x IoT applet subset the OTA agent needs (NXP AN12413; encodings as NXP's nano package
 * sends them, lib/apdu/se05x_APDU_impl.c): SELECT, GetVersion, CheckObjectExists, ReadObject,
 * ECDSAVerify, GetRandom (the device's own identity's key commands: src/se/se05x-keys.ts). Every answer's status word is checked and mapped to a typed error, and
 * where the verdict is in the data (ECDSAVerify, CheckObjectExists) TAG_1 is checked too: an
 * invalid signature is SW 9000 with TAG_1 = 0x02.
 */
import { hex, unhex } from '../util/bytes.js';
import { OtaError, type CommonReason } from '../util/errors.js';
import type { SeReason } from './reasons.js';
import { objectName } from './objects.js';
import { ApduBuilder, SW_OK, statusWord } from './apdu.js';
import type { T1Link } from './t1-link.js';
import { TAG_1, TAG_2, TAG_3, TAG_4, TAG_5, findTlv } from './tlv.js';

/** The SE05x IoT applet AID (nano se05x_APDU_impl.c, AN12413 §4.1). */
export const SE05X_APPLET_AID = unhex('a0000003965453000000010300000000');

export const CLA_SE05X = 0x80;
export const INS_WRITE = 0x01;
export const INS_READ = 0x02;
export const INS_CRYPTO = 0x03;
export const INS_MGMT = 0x04;
export const P1_DEFAULT = 0x00;
export const P1_BINARY = 0x06;
export const P1_SIGNATURE = 0x0c;
export const P2_DEFAULT = 0x00;
export const P2_SIZE = 0x07;
/** Bytes per ReadObject chunk: one short R-APDU (256) less TAG_1's header and the SW. */
export const SE05X_READ_CHUNK = 0xe0;
/** Bytes per WriteBinary chunk: one short C-APDU body (255) less the id/offset/length TLVs. */
export const SE05X_WRITE_CHUNK = 0xc0;
export const P2_VERIFY = 0x0a;
export const P2_VERSION = 0x20;
export const P2_EXIST = 0x27;
export const P2_RANDOM = 0x49;
/** Key management and private-key operations (nano se05x_const.h / AN12413 §4.3). */
export const INS_TRANSIENT = 0x80;
export const P1_EC = 0x01;
export const P1_KEY_PAIR = 0x60;
export const P1_PUBLIC = 0x20;
export const P2_SIGN = 0x09;
export const P2_DH = 0x0f;
export const P2_DELETE_OBJECT = 0x28;
/** SE05x_ECCurve_t kSE05x_ECCurve_NIST_P256. */
export const CURVE_NIST_P256 = 0x03;
/** ECSignatureAlgo SIG_ECDSA_SHA_256: the input is a SHA-256 digest the host computed. */
export const SIG_ECDSA_SHA_256 = 0x21;
/** SE05x_Result_t. */
export const RESULT_SUCCESS = 0x01;
export const RESULT_FAILURE = 0x02;

/**
 * Longest command APDU built (nano MAX_APDU_BUFFER = 512): ECDSAVerify with a 72-byte signature is
 * 122 bytes, so only a caller bug can reach it (limit-exceeded).
 */
export const SE05X_COMMAND_MAX = 512;
/**
 * Largest GetRandom asked for: 256 bytes answer in 262, inside the link's 512-byte R-APDU buffer.
 */
export const SE05X_RANDOM_MAX = 256;
/** Largest DER ECDSA P-256 signature: SEQUENCE(2) + 2 × INTEGER(2 + 33). */
export const ECDSA_P256_DER_MAX = 72;

export interface VersionInfo {
  major: number;
  minor: number;
  patch: number;
  appletConfig: number;
  secureBox: number;
}

/** Status-word meanings (NXP plug-and-trust hostlib/hostLib/inc/se05x_tlv.h, ISO 7816-4). */
const SW_TEXT: Record<number, string> = {
  0x6700: 'wrong length',
  0x6982: 'security status not satisfied',
  0x6984: 'data invalid',
  0x6985: 'conditions of use not satisfied',
  0x6986: 'command not allowed by object policy',
  0x6a80: 'wrong data',
  0x6a82: 'not found',
  0x6a84: 'not enough memory',
  0x6d00: 'instruction not supported',
  0x6e00: 'class not supported',
  0x66a6: 'APDU throughput error',
};

function swReason(sw: number): SeReason | CommonReason {
  switch (sw) {
    case 0x6985:
      return 'se-no-object';
    case 0x6982:
    case 0x6986:
      return 'se-denied';
    case 0x6700:
    case 0x6984:
    case 0x6a80:
      return 'se-wrong-data';
    case 0x6d00:
    case 0x6e00:
      return 'se-not-selected';
    default:
      return 'se-status';
  }
}

/** A status word other than 9000, with the SW itself for callers that need it. */
export class SeStatusError extends OtaError {
  readonly sw: number;
  constructor(command: string, sw: number) {
    const swHex = sw.toString(16).padStart(4, '0');
    super(swReason(sw), `${command}: SW ${swHex}${SW_TEXT[sw] ? ` (${SW_TEXT[sw]})` : ''}`);
    this.sw = sw;
  }
}

export { objectName };

export interface Se05xOptions {
  link: T1Link;
}

export class Se05x {
  readonly link: T1Link;
  #builder = new ApduBuilder(SE05X_COMMAND_MAX);
  #selectApdu: Uint8Array;
  #opened = false;
  /** The link epoch at the last SELECT: a later recovery may have cost us the selection. */
  #selectedEpoch = -1;
  #version: VersionInfo | undefined;

  constructor(options: Se05xOptions) {
    this.link = options.link;
    // SELECT is kept in its own buffer so that reselecting never clobbers a command being retried.
    this.#selectApdu = new ApduBuilder(32).start(0x00, 0xa4, 0x04, 0x00).raw(SE05X_APPLET_AID).finish({ shortLe: true }).slice();
  }

  /** The applet's VersionInfo from the last SELECT. */
  get version(): VersionInfo | undefined {
    return this.#version;
  }

  /** Opens the T=1 session (RESYNCH + ATR) and selects the applet. Called lazily by every command. */
  async open(): Promise<VersionInfo> {
    await this.link.open();
    this.#opened = true;
    return this.select();
  }

  /**
   * Adopts a session someone else opened on this link (T=1 synchronised, applet selected), as
   * nano's ESE_MODE_RESUME does: no RESYNCH, no SELECT. Tests start mid-session with it.
   */
  resume(): void {
    this.#opened = true;
    this.#selectedEpoch = this.link.epoch;
  }

  /** SELECT the IoT applet: `00 A4 04 00 10 <AID> 00` → 7-byte VersionInfo (raw, not TLV). */
  async select(): Promise<VersionInfo> {
    const rapdu = await this.link.transceive(this.#selectApdu);
    const sw = statusWord(rapdu);
    if (sw !== SW_OK) throw new SeStatusError('SELECT', sw);
    if (rapdu.length - 2 < 7) throw new OtaError('se-response-malformed', `SELECT answered ${rapdu.length - 2} bytes, not VersionInfo`);
    this.#selectedEpoch = this.link.epoch;
    this.#version = versionInfo(rapdu);
    return this.#version;
  }

  /** GetVersion `80 04 00 20` (nano: case 1, no Le) → TAG_1 VersionInfo. */
  async getVersion(): Promise<VersionInfo> {
    const apdu = this.#builder.start(CLA_SE05X, INS_MGMT, P1_DEFAULT, P2_VERSION).finish();
    const value = tag1('GetVersion', await this.#send('GetVersion', apdu));
    if (value.length < 7) throw new OtaError('se-response-malformed', `GetVersion TAG_1 of ${value.length} bytes`);
    return versionInfo(value);
  }

  /** CheckObjectExists `80 04 00 27 06 41 04 <id>` → TAG_1 01 (exists) / 02 (absent). */
  async checkObjectExists(objectId: number): Promise<boolean> {
    const apdu = this.#builder.start(CLA_SE05X, INS_MGMT, P1_DEFAULT, P2_EXIST).tlvUint(TAG_1, objectId, 4).finish();
    const name = `CheckObjectExists ${objectName(objectId)}`;
    return this.#result(name, await this.#send(name, apdu));
  }

  /**
   * ReadObject `80 02 00 00 00 00 06 41 04 <id> 00 00` (extended, as nano) → TAG_1 data; for an
   * EC public key the uncompressed point 04||X||Y. Returns a copy.
   */
  async readObject(objectId: number): Promise<Uint8Array> {
    const apdu = this.#builder.start(CLA_SE05X, INS_READ, P1_DEFAULT, P2_DEFAULT).tlvUint(TAG_1, objectId, 4).finish({ extended: true });
    const name = `ReadObject ${objectName(objectId)}`;
    return tag1(name, await this.#send(name, apdu)).slice();
  }

  /**
   * ReadSize `80 02 00 07 Lc 41 04 <id> 00` → TAG_1 the object's size as u16 (P2_SIZE = 0x07 as
   * AN12413 table 23 lists it; Plug&Trust's Se05x_API_ReadSize).
   */
  async readSize(objectId: number): Promise<number> {
    const apdu = this.#builder.start(CLA_SE05X, INS_READ, P1_DEFAULT, P2_SIZE).tlvUint(TAG_1, objectId, 4).finish({ extended: true });
    const name = `ReadSize ${objectName(objectId)}`;
    const value = tag1(name, await this.#send(name, apdu));
    if (value.length !== 2) throw new OtaError('se-response-malformed', `${name}: TAG_1 of ${value.length} bytes, not a u16`);
    return (value[0] << 8) | value[1];
  }

  /**
   * ReadObject with offset and length (Se05x_API_ReadObject: TAG_1 id, TAG_2 offset u16, TAG_3
   * length u16) → exactly `length` bytes; an answer of any other length is malformed. The caller
   * chunks (one short response holds at most SE05X_READ_CHUNK bytes).
   */
  async readObjectRange(objectId: number, offset: number, length: number): Promise<Uint8Array> {
    if (offset < 0 || offset > 0xffff || length <= 0 || length > SE05X_READ_CHUNK) {
      throw new OtaError('limit-exceeded', `ReadObject range ${offset}+${length} (chunk limit ${SE05X_READ_CHUNK})`);
    }
    const builder = this.#builder.start(CLA_SE05X, INS_READ, P1_DEFAULT, P2_DEFAULT).tlvUint(TAG_1, objectId, 4);
    // Plug&Trust sets the offset as an optional u16 (TLVSET_U16Optional): absent when 0.
    if (offset !== 0) builder.tlvUint(TAG_2, offset, 2);
    const apdu = builder.tlvUint(TAG_3, length, 2).finish({ extended: true });
    const name = `ReadObject ${objectName(objectId)} @${offset}+${length}`;
    const value = tag1(name, await this.#send(name, apdu));
    if (value.length !== length) throw new OtaError('se-response-malformed', `${name}: ${value.length} bytes answered`);
    return value.slice();
  }

  /**
   * A whole binary object into `out` (its size read first with ReadSize, then chunked reads);
   * throws limit-exceeded when the object is larger than `out`. Returns the bytes written.
   */
  async readBinaryInto(objectId: number, out: Uint8Array): Promise<number> {
    const size = await this.readSize(objectId);
    if (size === 0) throw new OtaError('se-response-malformed', `ReadSize ${objectName(objectId)}: empty object`);
    if (size > out.length) throw new OtaError('limit-exceeded', `object ${objectName(objectId)} of ${size} bytes > ${out.length}`);
    for (let offset = 0; offset < size; ) {
      const length = Math.min(SE05X_READ_CHUNK, size - offset);
      out.set(await this.readObjectRange(objectId, offset, length), offset);
      offset += length;
    }
    return size;
  }

  /**
   * WriteBinary `80 01 06 00`: TAG_1 id, TAG_2 offset u16, TAG_3 the object's total length u16
   * (first chunk only: it creates the object), TAG_4 the data; offset and length are optional and
   * left out when 0, as NXPPlugNTrust/nano-package lib/apdu/se05x_APDU_impl.c
   * Se05x_API_WriteBinary builds them (TLVSET_U16Optional). Chunked at SE05X_WRITE_CHUNK bytes so
   * each command fits one short APDU.
   */
  async writeBinary(objectId: number, data: Uint8Array): Promise<void> {
    if (data.length === 0 || data.length > 0xffff) throw new OtaError('limit-exceeded', `WriteBinary of ${data.length} bytes`);
    for (let offset = 0; offset < data.length; ) {
      const length = Math.min(SE05X_WRITE_CHUNK, data.length - offset);
      const builder = this.#builder.start(CLA_SE05X, INS_WRITE, P1_BINARY, P2_DEFAULT).tlvUint(TAG_1, objectId, 4);
      if (offset === 0) builder.tlvUint(TAG_3, data.length, 2);
      else builder.tlvUint(TAG_2, offset, 2);
      const apdu = builder.tlv(TAG_4, data.subarray(offset, offset + length)).finish();
      const name = `WriteBinary ${objectName(objectId)} @${offset}+${length}`;
      await this.#send(name, apdu);
      offset += length;
    }
  }

  /**
   * ECDSAVerify `80 03 0C 0A Lc 41 04 <id> 42 01 21 43 20 <digest> 45 <n> <DER>`: true when TAG_1
   * says 0x01 (valid), false for 0x02 (invalid, still SW 9000). TAG_3 carries the digest and TAG_5
   * the signature (nano's code, NXP's MW and Nitrokey agree; the nano doc table swaps them).
   */
  async ecdsaVerify(objectId: number, digest: Uint8Array, signature: Uint8Array): Promise<boolean> {
    if (digest.length !== 32) throw new OtaError('invalid-argument', `SHA-256 digest of ${digest.length} bytes`);
    if (signature.length === 0 || signature.length > ECDSA_P256_DER_MAX) {
      throw new OtaError('signature-malformed', `DER signature of ${signature.length} bytes (1..${ECDSA_P256_DER_MAX})`);
    }
    const apdu = this.#builder
      .start(CLA_SE05X, INS_CRYPTO, P1_SIGNATURE, P2_VERIFY)
      .tlvUint(TAG_1, objectId, 4)
      .tlvUint(TAG_2, SIG_ECDSA_SHA_256, 1)
      .tlv(TAG_3, digest)
      .tlv(TAG_5, signature)
      .finish();
    const name = `ECDSAVerify ${objectName(objectId)}`;
    return this.#result(name, await this.#send(name, apdu));
  }

  /** GetRandom `80 04 00 49 00 00 04 41 02 <n> 00 00` (full MW form, extended) → n random bytes. */
  async getRandom(length: number): Promise<Uint8Array> {
    if (!Number.isInteger(length) || length < 1 || length > SE05X_RANDOM_MAX) {
      throw new OtaError('invalid-argument', `GetRandom of ${length} bytes (1..${SE05X_RANDOM_MAX})`);
    }
    const apdu = this.#builder.start(CLA_SE05X, INS_MGMT, P1_DEFAULT, P2_RANDOM).tlvUint(TAG_1, length, 2).finish({ extended: true });
    const value = tag1('GetRandom', await this.#send('GetRandom', apdu));
    if (value.length !== length) throw new OtaError('se-response-malformed', `GetRandom(${length}) returned ${value.length} bytes`);
    return value.slice();
  }

  /** S(END OF APDU SESSION); the next command opens the session again. */
  async close(): Promise<void> {
    if (!this.#opened) return;
    this.#opened = false;
    await this.link.endSession();
  }

  /**
   * Sends the command `build` writes with this session's APDU builder; returns the R-APDU (SW
   * 9000: anything else throws). For the key commands of src/se/se05x-keys.ts, which only a
   * firmware that uses them carries (TLS in the agent, provisioning tools).
   */
  command(name: string, build: (builder: ApduBuilder) => Uint8Array): Promise<Uint8Array> {
    return this.#send(name, build(this.#builder));
  }

  /** Sends an applet command, reselecting when the SE may have lost the applet; returns the R-APDU. */
  async #send(name: string, apdu: Uint8Array): Promise<Uint8Array> {
    if (!this.#opened) await this.open();
    else if (this.#selectedEpoch !== this.link.epoch) await this.select();
    let rapdu = await this.link.transceive(apdu);
    const sw = statusWord(rapdu);
    if (sw === 0x6d00 || sw === 0x6e00) {
      // The SE reset under us (chip reset, brown-out) and the command reached no applet. Select
      // again and send once more: our commands are idempotent, and an applet that really lacks
      // the instruction answers the same SW the second time, which is then thrown.
      await this.select();
      rapdu = await this.link.transceive(apdu);
    }
    if (statusWord(rapdu) !== SW_OK) throw new SeStatusError(name, statusWord(rapdu));
    return rapdu;
  }

  /** The SE05x_Result_t in TAG_1: 0x01 true, 0x02 false, anything else malformed. */
  #result(name: string, rapdu: Uint8Array): boolean {
    const value = tag1(name, rapdu);
    if (value.length === 1 && value[0] === RESULT_SUCCESS) return true;
    if (value.length === 1 && value[0] === RESULT_FAILURE) return false;
    throw new OtaError('se-response-malformed', `${name}: TAG_1 ${hex(value)} is not a result (01/02)`);
  }
}

/**
 * TAG_1 of a successful answer (a view, valid until the next command). Synchronous, on the
 * R-APDU `#send` returned: every async layer costs about 20 slots of the device's JS stack.
 */
export function tag1(name: string, rapdu: Uint8Array): Uint8Array {
  const value = findTlv(rapdu, TAG_1, rapdu.length - 2);
  if (value === undefined) throw new OtaError('se-response-malformed', `${name}: no TAG_1 in ${hex(rapdu)}`);
  return value;
}

function versionInfo(bytes: Uint8Array): VersionInfo {
  return {
    major: bytes[0],
    minor: bytes[1],
    patch: bytes[2],
    appletConfig: (bytes[3] << 8) | bytes[4],
    secureBox: (bytes[5] << 8) | bytes[6],
  };
}
