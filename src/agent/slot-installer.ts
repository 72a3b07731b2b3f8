/**
 * The agent's Installer on MCUboot slots: joins the streaming image parser (src/image), the slot
 * writer and trailer (src/slot) and the signature verifier (the A5000 on the device).
 *
 * Memory: one ImageStream (header + bounded TLV buffers), one SlotWriter (one write unit and one
 * sector of read-back buffer), one sector buffer for re-hashing from flash. Nothing grows with
 * the image.
 */
import type { DigestPort, Sha256 } from '../platform/digest.js';
import type { FlashPort } from '../platform/flash.js';
import type { SignatureVerifier } from '../image/signature.js';
import { DEFAULT_TRAILER_SIZE, ImageStream, type ParsedImage } from '../image/image-stream.js';
import { formatVersion } from '../image/version.js';
import { decodeHeader, IMAGE_HEADER_SIZE, IMAGE_MAGIC, type ImageHeader } from '../image/header.js';
import { TLV, TLV_PROT_INFO_MAGIC } from '../image/tlv.js';
import { confirmPrimary, markPending, readSwapState } from '../slot/boot-state.js';
import { readSlotImage, readSlotSummary, SLOT_READ_PIECE_MAX } from '../slot/slot-reader.js';
import { SlotWriter } from '../slot/slot-writer.js';
import { ErasedAheadSlot } from '../slot/erased-ahead.js';
import { bytesEqual, hex } from '../util/bytes.js';
import { OtaError } from '../util/errors.js';
import { startAsJob } from '../util/stack.js';
import type { ImageInfo, Installer } from './installer.js';

export interface SlotInstallerOptions {
  primary: FlashPort;
  secondary: FlashPort;
  digest: DigestPort;
  verifier: SignatureVerifier;
  /** MCUboot trailer size of this build (MCUBOOT_MAX_IMG_SECTORS and write alignment). */
  trailerSize?: number;
  /** ih_flags bits this device's MCUboot handles (none: no encrypted or RAM-load images). */
  supportedFlags?: number;
}

export { SLOT_READ_PIECE_MAX } from '../slot/slot-reader.js';

export class SlotInstaller implements Installer {
  readonly #o: SlotInstallerOptions;
  readonly #trailerSize: number;
  /**
   * Length of the re-hash buffer (at most SLOT_READ_PIECE_MAX bytes). The buffer is made for each
   * re-hash (a resume, the check before staging) and dropped after: kept, it was 1 KiB of RAM
   * through the whole download, which never uses it, and the download is the agent's RAM peak.
   */
  readonly #readPieceLength: number;
  #stream: ImageStream | undefined;
  #writer: SlotWriter | undefined;
  #fileHash: Sha256 | undefined;
  #verified = false;
  /** The image as re-read from flash by the last successful finish (what stage() marks pending). */
  #verifiedImage: ParsedImage | undefined;
  /** Bytes fed to the stream (from flash or the network) since the last resume/reload. */
  #fed = 0;
  #sealed = false;
  /** `finish` consumed the stream: a later `reload` must hash the slot again. */
  #finished = false;

  constructor(options: SlotInstallerOptions) {
    this.#o = options;
    this.#trailerSize = options.trailerSize ?? DEFAULT_TRAILER_SIZE;
    this.#readPieceLength = Math.min(SLOT_READ_PIECE_MAX, options.secondary.status().blockLength);
  }

  get flushed(): number {
    return this.#writer?.durableOffset ?? 0;
  }

  async resume(offset: number, size?: number, checkHeader?: (header: ImageHeader) => void): Promise<number> {
    const status = this.#o.secondary.status();
    const capacity = status.size - this.#trailerSize;
    let start = Math.min(offset, capacity);
    start -= start % status.blockLength;
    this.#verified = false;
    this.#startStream(checkHeader);
    // Re-hash what an earlier attempt (or boot) left in flash below the resume point: the hash
    // state is not persisted, the flash contents are. A torn sector is at or above `start`.
    this.#feedFromFlash(start);
    // What the idle erase already erased (a fresh write only): read before the first write forgets it.
    const secondary = this.#o.secondary;
    const erasedBytes = start === 0 && secondary instanceof ErasedAheadSlot ? secondary.erasedBytes : 0;
    this.#writer = new SlotWriter({ flash: secondary, trailerSize: this.#trailerSize, startOffset: start, eraseEnd: size, erasedBytes });
    this.#writer.begin();
    return start;
  }

  eraseAhead(): void {
    if (!this.#sealed) this.#writer?.eraseAhead();
  }

  eraseIdle(): boolean {
    // Only a secondary slot wrapped for it, and never while this boot has a download under way
    // (a writer) or sealed bytes (a verified or held image) in the slot.
    const secondary = this.#o.secondary;
    if (!(secondary instanceof ErasedAheadSlot) || this.#writer || this.#sealed) return false;
    if (!this.runningConfirmed()) return false;
    // A trailer with good magic is a swap request MCUboot acts on at the next reset (or one it
    // left): never erased here, whatever the journal says (abandon() is the one way to drop it).
    if (readSwapState(secondary).magic === 'good') return false;
    return secondary.eraseStep();
  }

  seal(): number {
    if (!this.#writer) throw new OtaError('bad-state', 'seal before resume');
    const length = this.#writer.flush();
    this.#writer = undefined;
    this.#sealed = true;
    return length;
  }

  async reload(length: number): Promise<void> {
    // A second verification of the same bytes (a download-only image offered again in the same
    // boot) must re-hash the slot: the stream and hash of the first one are spent.
    if (this.#sealed && this.#fed === length && !this.#finished) return;
    const status = this.#o.secondary.status();
    if (length > status.size - this.#trailerSize) throw new OtaError('slot-overflow', `sealed length ${length} exceeds the slot`);
    this.#verified = false;
    this.#startStream();
    this.#feedFromFlash(length);
    this.#writer = undefined;
    this.#sealed = true;
  }

  #startStream(checkHeader?: (header: ImageHeader) => void): void {
    const status = this.#o.secondary.status();
    this.#sealed = false;
    this.#finished = false;
    this.#fed = 0;
    this.#stream = new ImageStream({
      digest: this.#o.digest,
      slotSize: status.size,
      trailerSize: this.#trailerSize,
      supportedFlags: this.#o.supportedFlags,
      sectorSize: status.blockLength,
      onHeader: checkHeader,
    });
    this.#fileHash = this.#o.digest.sha256();
  }

  #feedFromFlash(end: number): void {
    if (end <= 0) return;
    const buffer = new Uint8Array(this.#readPieceLength);
    for (let at = 0; at < end; at += buffer.length) {
      const piece = buffer.subarray(0, Math.min(buffer.length, end - at));
      this.#o.secondary.read(at, piece);
      this.#feed(piece);
    }
  }

  /**
   * Not an async function: every received chunk passes here, on top of the HTTP parser and the
   * download's sink, synchronously down to the digest port; an async layer would add its slots
   * to the deepest JS stack of a download. Failures still arrive as a rejection.
   */
  write(chunk: Uint8Array): Promise<void> {
    try {
      if (!this.#writer || this.#sealed) throw new OtaError('bad-state', 'write before resume or after seal');
      this.#feed(chunk);
      this.#writer.write(chunk);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async finish(): Promise<ImageInfo> {
    if (!this.#sealed || this.#finished || !this.#stream || !this.#fileHash) throw new OtaError('bad-state', 'finish before seal or reload');
    const imageSize = this.#fed;
    this.#finished = true;
    const parsed = this.#stream.finish();
    // Its own job: the verifier's SE exchange (driver, T=1 link) was the deepest JS stack of an
    // update on top of the agent's verify step and this installer.
    await startAsJob(() => parsed.verify(this.#o.verifier));
    // Trust flash, not RAM: parse and hash the slot again from what is really written.
    const fromFlash = readSlotImage(this.#o.secondary, { digest: this.#o.digest, trailerSize: this.#trailerSize, buffer: new Uint8Array(this.#readPieceLength), supportedFlags: this.#o.supportedFlags });
    if (!bytesEqual(fromFlash.computedHash, parsed.computedHash) || fromFlash.imageSize !== parsed.imageSize) {
      throw new OtaError('flash-readback', `slot re-hash ${hex(fromFlash.computedHash)} differs from the stream's ${hex(parsed.computedHash)}`);
    }
    this.#verified = true;
    this.#verifiedImage = fromFlash;
    return {
      version: formatVersion(parsed.version),
      securityCounter: parsed.securityCounter,
      imageSize,
      fileSha256: this.#fileHash.digest(),
    };
  }

  stage(): void {
    // Never mark a slot pending unless the image verified in this boot (after a reset in 'stage'
    // the machine re-runs verify first, through resume + finish).
    if (!this.#verified) throw new OtaError('bad-state', 'stage before the image verified');
    // MCUboot's order (magic first); a re-stage after a cut part-way continues (boot-state.ts).
    markPending(this.#o.secondary, { verified: this.#verifiedImage, trailerSize: this.#trailerSize });
  }

  abandon(): void {
    // Erasing the sector(s) holding the trailer removes any pending request; the image bytes
    // may stay (MCUboot ignores a slot without trailer magic).
    const s = this.#o.secondary.status();
    const first = Math.floor((s.size - this.#trailerSize) / s.blockLength);
    for (let block = first; block < s.size / s.blockLength; block++) this.#o.secondary.eraseBlock(block);
    this.#verified = false;
  }

  runningVersion(): string {
    const summary = readSlotSummary(this.#o.primary, this.#trailerSize);
    if (!summary) throw new OtaError('not-an-image', 'the primary slot holds no readable image header');
    return formatVersion(summary.header.version);
  }

  runningConfirmed(): boolean {
    const state = readSwapState(this.#o.primary);
    // MCUboot leaves the primary with good magic and image_ok unset after a test swap: that
    // image is on trial. Any other state (never swapped, confirmed, permanent) is settled.
    return !(state.magic === 'good' && state.imageOk === 'unset');
  }

  runningSecurityCounter(): number | undefined {
    // A walk of the protected TLV area only (MCUboot bootutil image.h: IMAGE_TLV_PROT_INFO_MAGIC,
    // then entries; SEC_CNT is 4 bytes little-endian). The image was validated by MCUboot at boot.
    const flash = this.#o.primary;
    const head = new Uint8Array(IMAGE_HEADER_SIZE);
    flash.read(0, head);
    if ((head[0] | (head[1] << 8) | (head[2] << 16) | (head[3] << 24)) >>> 0 !== IMAGE_MAGIC) return undefined;
    const header = decodeHeader(head);
    if (header.protectTlvSize === 0) return undefined;
    const b = new Uint8Array(4);
    let at = header.hdrSize + header.imgSize;
    const room = flash.status().size - this.#trailerSize;
    if (at + 4 > room) return undefined;
    flash.read(at, b);
    if ((b[0] | (b[1] << 8)) !== TLV_PROT_INFO_MAGIC) return undefined;
    const end = Math.min(room, at + (b[2] | (b[3] << 8)));
    at += 4;
    while (at + 4 <= end) {
      flash.read(at, b);
      const type = b[0] | (b[1] << 8);
      const len = b[2] | (b[3] << 8);
      if (type === TLV.SEC_CNT && len === 4 && at + 8 <= end) {
        flash.read(at + 4, b);
        return (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
      }
      at += 4 + len;
    }
    return undefined;
  }

  canRevert(): boolean {
    return readSlotSummary(this.#o.secondary, this.#trailerSize) !== undefined;
  }

  confirmRunning(): void {
    if (this.runningConfirmed()) return;
    confirmPrimary(this.#o.primary);
  }

  #feed(bytes: Uint8Array): void {
    const stream = this.#stream!;
    const used = stream.done ? 0 : stream.push(bytes);
    if (used < bytes.length) {
      throw new OtaError('trailing-data', `${bytes.length - used} bytes after the image's last TLV`);
    }
    this.#fileHash!.update(bytes);
    this.#fed += bytes.length;
  }
}
