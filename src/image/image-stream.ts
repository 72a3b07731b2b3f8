/**
 * Streaming MCUboot image parser: fed the image in chunks as they arrive (from the network or
 * read back from flash), never holding the image. It validates the structure as bytes come in,
 * hashes header + body + protected TLVs through the Digest port, and buffers only the TLV areas
 * (bounded by `tlvAreaMax`). The result (`ParsedImage`) carries the TLVs, the computed hash and
 * the signature; `ParsedImage.verify(verifier)` does the checks MCUboot's bootutil_img_validate
 * does, with the signature itself delegated to a SignatureVerifier (the A5000 on the device).
 *
 * @example
 *   const stream = new ImageStream({ digest });
 *   for (const chunk of chunks) stream.push(chunk);      // structural errors throw here
 *   const image = stream.finish();                       // `truncated` if the image is incomplete
 *   await image.verify(verifier, { trustedKeyHash });    // hash, key hash, signature
 */
import type { DigestPort, Sha256 } from '../platform/digest.js';
import type { SignatureVerifier } from './signature.js';
import { bytesEqual, hex } from '../util/bytes.js';
import { OtaError } from '../util/errors.js';
import { decodeHeader, IMAGE_F, IMAGE_HEADER_SIZE, SUPPORTED_FLAGS_DEFAULT, type ImageHeader } from './header.js';
import { checkEcdsaDer, decodeTlvs, TLV, TLV_INFO_MAGIC, TLV_INFO_SIZE, TLV_PROT_INFO_MAGIC, type Tlv } from './tlv.js';
import { mcubootCheckTlvs, type DecidingSignature } from './mcuboot-rules.js';
import type { ImageVersion } from './version.js';

/** Dev-kit slot size (docs/flash-layout.md). */
export const DEFAULT_SLOT_SIZE = 0x60000;
/** MCUboot swap trailer for 128 sectors, write alignment 8: 128*3*8 + 4*8 + 16 (see trailer.ts). */
export const DEFAULT_TRAILER_SIZE = 3120;
/**
 * Largest TLV area (either one) the parser buffers. imgtool's P-256 areas are 151-211 bytes
 * (SHA256 + KEYHASH or PUBKEY + ECDSA_SIG); protected areas hold SEC_CNT and a few vendor TLVs.
 * A larger area is refused (`limit-exceeded`), never buffered; each area is buffered at the length
 * its info header states, once that header has arrived.
 */
export const TLV_AREA_MAX = 1024;

/** The TLV areas before their info headers arrived (no bytes: nothing is stored there then). */
const NO_BYTES = new Uint8Array(0);
/** Dev-kit flash sector (docs/flash-layout.md): the erase unit of both slots and the scratch. */
export const DEFAULT_SECTOR_SIZE = 0x1000;

export interface ImageStreamOptions {
  digest: DigestPort;
  /** Slot the image must fit in, with its trailer. Default 0x60000. */
  slotSize?: number;
  /** Bytes at the slot's end reserved for MCUboot's trailer. Default 3120. */
  trailerSize?: number;
  /** ih_flags bits this device's MCUboot handles. Default 0 (none). */
  supportedFlags?: number;
  /** Per-area TLV buffer. Default TLV_AREA_MAX. */
  tlvAreaMax?: number;
  /** The slot's erase sector. Default DEFAULT_SECTOR_SIZE. */
  sectorSize?: number;
  /**
   * Accept an image that reaches into the slot's last sector (the one holding the trailer).
   * Default false: MCUboot swaps that sector through the scratch trailer, and a torn erase of the
   * scratch there can leave an unbootable primary (docs/flash-layout.md, "A hazard when an image
   * reaches the slot's last sector"). MCUboot itself accepts such images (its limit is the trailer).
   */
  allowLastSector?: boolean;
  /**
   * Called with the header once its 32 bytes passed the stream's own checks; throwing stops the
   * image there (the agent's version policy, so a downgrade is refused before the body is fetched).
   */
  onHeader?: (header: ImageHeader) => void;
}

const enum S {
  Header,
  HeaderPad,
  Body,
  ProtInfo,
  ProtTlvs,
  Info,
  Tlvs,
  Done,
}

const STATE_NAMES = ['header', 'header padding', 'body', 'protected TLV info', 'protected TLV area', 'TLV info', 'TLV area', 'end'];

/** A KEYHASH/PUBKEY followed by its signature TLV, as MCUboot pairs them. */
export interface SignatureEntry {
  type: number;
  keyHash: Uint8Array | undefined;
  signature: Uint8Array;
}

export class ImageStream {
  readonly #digest: DigestPort;
  readonly #slotSize: number;
  readonly #trailerSize: number;
  readonly #supportedFlags: number;
  readonly #tlvAreaMax: number;
  /** Where the image must end: the trailer (MCUboot's limit) or the last sector (the agent's). */
  readonly #room: number;
  readonly #roomWhy: string;
  readonly #small = new Uint8Array(IMAGE_HEADER_SIZE);
  /**
   * The protected and unprotected TLV areas, each made when its info header has said its length
   * (at most tlvAreaMax, checked first): made in the constructor at tlvAreaMax, they held 2 KiB
   * through the whole body (the agent's RAM peak is the download) for the few hundred bytes of
   * TLVs at its end.
   */
  #protBuf = NO_BYTES;
  #tlvBuf = NO_BYTES;
  #hash: Sha256 | undefined;
  #state = S.Header;
  /** Image offset of the next byte expected. */
  #offset = 0;
  /** End offset (exclusive) of the current state's field. */
  #stateEnd = IMAGE_HEADER_SIZE;
  #fill = 0;
  #header: ImageHeader | undefined;
  #protLen = 0;
  #tlvLen = 0;
  #tlvStart = 0;
  #computed: Uint8Array | undefined;
  #result: ParsedImage | undefined;
  readonly #onHeader: ((header: ImageHeader) => void) | undefined;

  constructor(options: ImageStreamOptions) {
    this.#digest = options.digest;
    this.#slotSize = options.slotSize ?? DEFAULT_SLOT_SIZE;
    this.#trailerSize = options.trailerSize ?? DEFAULT_TRAILER_SIZE;
    this.#supportedFlags = options.supportedFlags ?? SUPPORTED_FLAGS_DEFAULT;
    this.#tlvAreaMax = options.tlvAreaMax ?? TLV_AREA_MAX;
    this.#onHeader = options.onHeader;
    const trailerRoom = this.#slotSize - this.#trailerSize;
    const sector = options.sectorSize ?? DEFAULT_SECTOR_SIZE;
    const sectorRoom = this.#slotSize - Math.max(sector, Math.ceil(this.#trailerSize / sector) * sector);
    if (options.allowLastSector || sectorRoom >= trailerRoom) {
      this.#room = trailerRoom;
      this.#roomWhy = `the slot holds ${trailerRoom} bytes before its trailer`;
    } else {
      this.#room = sectorRoom;
      this.#roomWhy = `images must end below the slot's trailer sector at ${sectorRoom} (a power cut while MCUboot erases the scratch after swapping that sector can brick the device; docs/flash-layout.md)`;
    }
  }

  /** Bytes of the image consumed so far. */
  get offset(): number {
    return this.#offset;
  }

  /** True once the last TLV byte has been consumed. */
  get done(): boolean {
    return this.#state === S.Done;
  }

  /** The header, once its 32 bytes have arrived (to check the version before downloading the rest). */
  get header(): ImageHeader | undefined {
    return this.#header;
  }

  /** Total image size (header to last TLV) once the unprotected TLV info has arrived. */
  get imageSize(): number | undefined {
    return this.#state >= S.Tlvs ? this.#tlvStart + this.#tlvLen : undefined;
  }

  /**
   * Consumes bytes of `chunk`; returns how many (all of them, unless the image ends inside the
   * chunk: bytes after the last TLV, e.g. slot padding, are left to the caller). Throws an
   * OtaError on a structural fault; the stream is then unusable.
   */
  push(chunk: Uint8Array): number {
    let i = 0;
    while (i < chunk.length && this.#state !== S.Done) {
      const take = Math.min(chunk.length - i, this.#stateEnd - this.#offset);
      const part = chunk.subarray(i, i + take);
      switch (this.#state) {
        case S.Header:
          this.#small.set(part, this.#fill);
          break;
        case S.ProtInfo:
        case S.Info:
          this.#small.set(part, this.#fill);
          break;
        case S.ProtTlvs:
          this.#protBuf.set(part, this.#fill);
          break;
        case S.Tlvs:
          this.#tlvBuf.set(part, this.#fill);
          break;
        default:
          break;
      }
      // Header, padding, body and the protected area are the signed region (image_validate.c
      // bootutil_img_hash: hdr_size + img_size + protect_tlv_size bytes from the start). The
      // 32 header bytes are hashed once they are known to be a header (in #advance).
      if (this.#state !== S.Header && this.#state <= S.ProtTlvs) this.#hash!.update(part);
      this.#fill += take;
      this.#offset += take;
      i += take;
      if (this.#offset === this.#stateEnd) this.#advance();
    }
    return i;
  }

  #enter(state: S, length: number): void {
    this.#state = state;
    this.#stateEnd = this.#offset + length;
    this.#fill = 0;
  }

  #advance(): void {
    switch (this.#state) {
      case S.Header: {
        const h = decodeHeader(this.#small);
        this.#checkHeader(h);
        this.#onHeader?.(h);
        this.#header = h;
        this.#hash = this.#digest.sha256();
        this.#hash.update(this.#small);
        this.#enter(S.HeaderPad, h.hdrSize - IMAGE_HEADER_SIZE);
        if (this.#stateEnd === this.#offset) this.#advance();
        return;
      }
      case S.HeaderPad:
        this.#enter(S.Body, this.#header!.imgSize);
        if (this.#stateEnd === this.#offset) this.#advance();
        return;
      case S.Body:
        if (this.#header!.protectTlvSize > 0) this.#enter(S.ProtInfo, TLV_INFO_SIZE);
        else this.#endHashed();
        return;
      case S.ProtInfo: {
        const magic = this.#small[0] | (this.#small[1] << 8);
        const tot = this.#small[2] | (this.#small[3] << 8);
        if (magic !== TLV_PROT_INFO_MAGIC) {
          throw new OtaError('tlv-malformed', `protected TLV info magic 0x${magic.toString(16)} at ${this.#offset - 4}, expected 0x6908`);
        }
        // bootutil_tlv_iter_begin: the protected area's tlv_tot must equal ih_protect_tlv_size.
        if (tot !== this.#header!.protectTlvSize) {
          throw new OtaError('tlv-malformed', `protected tlv_tot ${tot} != header protect_tlv_size ${this.#header!.protectTlvSize}`);
        }
        this.#protLen = tot - TLV_INFO_SIZE;
        this.#protBuf = new Uint8Array(this.#protLen);
        this.#enter(S.ProtTlvs, this.#protLen);
        if (this.#stateEnd === this.#offset) this.#advance();
        return;
      }
      case S.ProtTlvs:
        this.#endHashed();
        return;
      case S.Info: {
        const magic = this.#small[0] | (this.#small[1] << 8);
        const tot = this.#small[2] | (this.#small[3] << 8);
        if (magic !== TLV_INFO_MAGIC) {
          const why = magic === TLV_PROT_INFO_MAGIC ? ' (a protected area the header does not declare)' : '';
          throw new OtaError('tlv-malformed', `TLV info magic 0x${magic.toString(16)} at ${this.#offset - 4}, expected 0x6907${why}`);
        }
        if (tot < TLV_INFO_SIZE) throw new OtaError('tlv-malformed', `tlv_tot ${tot} smaller than its info header`);
        this.#tlvLen = tot - TLV_INFO_SIZE;
        this.#tlvStart = this.#offset;
        if (this.#tlvLen > this.#tlvAreaMax) {
          throw new OtaError('limit-exceeded', `TLV area of ${this.#tlvLen} bytes, limit ${this.#tlvAreaMax}`);
        }
        const end = this.#tlvStart + this.#tlvLen;
        if (end > this.#room) throw new OtaError(this.#roomReason(end), `image ends at ${end}; ${this.#roomWhy}`);
        this.#tlvBuf = new Uint8Array(this.#tlvLen);
        this.#enter(S.Tlvs, this.#tlvLen);
        if (this.#stateEnd === this.#offset) this.#advance();
        return;
      }
      case S.Tlvs:
        this.#state = S.Done;
        this.#complete();
        return;
      default:
        return;
    }
  }

  #checkHeader(h: ImageHeader): void {
    if (h.hdrSize < IMAGE_HEADER_SIZE) throw new OtaError('bad-header', `hdr_size ${h.hdrSize} < ${IMAGE_HEADER_SIZE}`);
    const unsupported = h.flags & ~this.#supportedFlags;
    if (unsupported !== 0) {
      const names = Object.entries(IMAGE_F).filter(([, bit]) => unsupported & bit).map(([n]) => n);
      throw new OtaError('unsupported-flags', `ih_flags 0x${h.flags.toString(16)} (${names.join(', ') || 'unknown bits'}) not supported by this device`);
    }
    if (h.protectTlvSize !== 0 && h.protectTlvSize < TLV_INFO_SIZE) {
      throw new OtaError('bad-header', `protect_tlv_size ${h.protectTlvSize} smaller than a TLV info header`);
    }
    if (h.protectTlvSize > this.#tlvAreaMax + TLV_INFO_SIZE) {
      throw new OtaError('limit-exceeded', `protected TLV area of ${h.protectTlvSize} bytes, limit ${this.#tlvAreaMax + TLV_INFO_SIZE}`);
    }
    // The sum is exact in JS numbers; the u32 check mirrors MCUboot's boot_u32_safe_add, which
    // refuses sizes that wrap in the bootloader's arithmetic.
    const hashed = h.hdrSize + h.imgSize + h.protectTlvSize;
    if (hashed > 0xffffffff) throw new OtaError('too-large', `hdr_size + img_size + protect_tlv_size overflows u32`);
    // The unprotected info header must fit too: every image has one.
    if (hashed + TLV_INFO_SIZE > this.#room) {
      throw new OtaError(this.#roomReason(hashed + TLV_INFO_SIZE), `header + body + TLVs need more than ${hashed} bytes; ${this.#roomWhy}`);
    }
  }

  /** `too-large` past MCUboot's own limit (rule 1 of mcuboot-rules.ts); `last-sector` past the agent's. */
  #roomReason(end: number): 'too-large' | 'last-sector' {
    return end > this.#slotSize - this.#trailerSize ? 'too-large' : 'last-sector';
  }

  #endHashed(): void {
    this.#computed = this.#hash!.digest();
    this.#hash = undefined;
    this.#enter(S.Info, TLV_INFO_SIZE);
  }

  #complete(): void {
    const h = this.#header!;
    const protStart = h.hdrSize + h.imgSize + TLV_INFO_SIZE;
    const prot = decodeTlvs(this.#protBuf.subarray(0, this.#protLen), protStart, true);
    const tlvs = decodeTlvs(this.#tlvBuf.subarray(0, this.#tlvLen), this.#tlvStart, false);
    let securityCounter: number | undefined;
    for (const t of prot) {
      if (t.type === TLV.SEC_CNT) {
        if (t.value.length !== 4) throw new OtaError('tlv-malformed', `SEC_CNT of ${t.value.length} bytes, expected 4`);
        securityCounter = (t.value[0] | (t.value[1] << 8) | (t.value[2] << 16) | (t.value[3] << 24)) >>> 0;
      }
    }
    const signatures: SignatureEntry[] = [];
    let keyHash: Uint8Array | undefined;
    let expected: Uint8Array | undefined;
    // For reports only (inspect): the pairs as written. What counts is mcuboot-rules.ts.
    for (const t of [...prot, ...tlvs]) {
      if (t.type === TLV.SHA256) {
        expected ??= t.value;
      } else if (t.type === TLV.KEYHASH) {
        keyHash = t.value;
      } else if (t.type === TLV.ECDSA_SIG) {
        signatures.push({ type: t.type, keyHash, signature: t.value });
        keyHash = undefined;
      }
    }
    this.#result = new ParsedImage({
      header: h,
      imageSize: this.#tlvStart + this.#tlvLen,
      hashedSize: h.hdrSize + h.imgSize + h.protectTlvSize,
      protectedTlvs: prot,
      tlvs,
      computedHash: this.#computed!,
      expectedHash: expected,
      signatures,
      securityCounter,
    });
  }

  /**
   * The parsed image. Throws `truncated` when the input ended before the last TLV (an incomplete
   * download), naming where.
   */
  finish(): ParsedImage {
    if (this.#state !== S.Done || !this.#result) {
      throw new OtaError(
        'truncated',
        `input ended at ${this.#offset} inside the ${STATE_NAMES[this.#state]} (needs ${this.#stateEnd}${this.#state < S.Tlvs ? '+' : ''})`,
      );
    }
    return this.#result;
  }
}

export interface VerifyOptions {
  /**
   * SHA-256 of the provisioned key's SubjectPublicKeyInfo DER. When given, the image must carry
   * a signature under that key hash (`key-mismatch` otherwise) before the verifier is asked.
   */
  trustedKeyHash?: Uint8Array;
}

interface ParsedFields {
  header: ImageHeader;
  imageSize: number;
  hashedSize: number;
  protectedTlvs: Tlv[];
  tlvs: Tlv[];
  computedHash: Uint8Array;
  expectedHash: Uint8Array | undefined;
  signatures: SignatureEntry[];
  securityCounter: number | undefined;
}

/** A fully received image: what it claims, and what was computed. */
export class ParsedImage {
  readonly header: ImageHeader;
  /** Header to the last TLV byte: what occupies the slot (before padding and trailer). */
  readonly imageSize: number;
  /** Bytes covered by the hash and signature: header + body + protected TLVs. */
  readonly hashedSize: number;
  readonly protectedTlvs: Tlv[];
  /** Unprotected TLVs, in image order. */
  readonly tlvs: Tlv[];
  /** SHA-256 over the hashed region, computed while streaming. */
  readonly computedHash: Uint8Array;
  /** The SHA256 TLV, if present. */
  readonly expectedHash: Uint8Array | undefined;
  readonly signatures: SignatureEntry[];
  /** SEC_CNT (protected), if present. */
  readonly securityCounter: number | undefined;

  constructor(f: ParsedFields) {
    this.header = f.header;
    this.imageSize = f.imageSize;
    this.hashedSize = f.hashedSize;
    this.protectedTlvs = f.protectedTlvs;
    this.tlvs = f.tlvs;
    this.computedHash = f.computedHash;
    this.expectedHash = f.expectedHash;
    this.signatures = f.signatures;
    this.securityCounter = f.securityCounter;
  }

  get version(): ImageVersion {
    return this.header.version;
  }

  /** The first SHA256 TLV is present and equals the computed hash (for reports; check() decides). */
  get hashOk(): boolean {
    return this.expectedHash !== undefined && bytesEqual(this.expectedHash, this.computedHash);
  }

  /** Key hash of the first ECDSA signature's KEYHASH (for reports). */
  get keyHash(): Uint8Array | undefined {
    return this.signatures.find((s) => s.type === TLV.ECDSA_SIG)?.keyHash;
  }

  /** The first ECDSA_SIG value (for reports). */
  get signature(): Uint8Array | undefined {
    return this.signatures.find((s) => s.type === TLV.ECDSA_SIG)?.signature;
  }

  /**
   * The checks that need no signature verification, exactly as MCUboot makes them
   * (src/image/mcuboot-rules.ts): allow-list, every SHA256 TLV, KEYHASH length and lookup, and
   * which signature decides. Returns that signature (well-formed DER checked), keyed with the
   * trusted key's full hash when `trustedKeyHash` is given.
   */
  check(options: VerifyOptions = {}): DecidingSignature {
    const deciding = mcubootCheckTlvs(this.protectedTlvs, this.tlvs, this.computedHash, options.trustedKeyHash);
    checkEcdsaDer(deciding.signature);
    return deciding;
  }

  /**
   * Full verification: `check()`, then the deciding signature through `verifier` (the A5000 on
   * the device; node:crypto in tools). The trusted key hash is `options.trustedKeyHash`, else
   * the verifier's `provisionedKeyHash()`. Rejects with the failing check's reason.
   */
  async verify(verifier: SignatureVerifier, options: VerifyOptions = {}): Promise<void> {
    const trusted = options.trustedKeyHash ?? (verifier.provisionedKeyHash ? await verifier.provisionedKeyHash() : undefined);
    const sig = this.check({ trustedKeyHash: trusted });
    await verifier.verify({ algorithm: 'ecdsa-p256', imageHash: this.computedHash, keyHash: sig.keyHash, signature: sig.signature });
  }

}
