/**
 * What the state machine needs of the image and slot code: a sink that parses, hashes and writes
 * the image into the secondary slot, verifies it, and the MCUboot trailer operations. The
 * implementation (src/agent/slot-installer.ts) joins src/image, src/slot and the signature
 * verifier; tests may give the machine the same implementation on a simulated flash.
 */
import type { ImageHeader } from '../image/header.js';

export interface ImageInfo {
  /** Version from the image header, "major.minor.revision+build". */
  version: string;
  /** SEC_CNT TLV, when the image has one. */
  securityCounter?: number;
  /** Header + body + TLVs, bytes. */
  imageSize: number;
  /** SHA-256 of the whole image file as written (compared with a backend-given artifact hash). */
  fileSha256: Uint8Array;
}

export interface Installer {
  /**
   * Prepare to (re)write the secondary slot from byte `offset` (0: a fresh download). Re-hashes
   * what is already in flash below the returned offset, which is `offset` rounded down to a
   * sector; resolves with it. Called before every attempt. `size`: the artifact's size as the
   * offer states it, when known; no erase ahead of the data goes past it. `checkHeader`: called
   * with the image's MCUboot header once its 32 bytes are in (from flash or the network); what
   * it throws ends the attempt there, before the rest of the image is fetched.
   */
  resume(offset: number, size?: number, checkHeader?: (header: ImageHeader) => void): Promise<number>;
  /**
   * The link is idle for a round trip (a request is on its way, no answer yet): erase the next
   * erase unit the image will need, so that erase is not in series with reception. Bounded by
   * the stated size and the trailer; a no-op when there is nothing to do.
   */
  eraseAhead(): void;
  /**
   * The agent is idle or bringing the link up at boot (no deployment, no held image, the running
   * image confirmed; never a slot with a pending trailer): erase the next
   * unit of the secondary slot, so the next download programs erased flash without erasing in
   * series with reception (src/slot/erased-ahead.ts). Returns whether more is left to erase; false
   * when the slot is erased, when this installer is busy, or when it has no idle erase.
   */
  eraseIdle(): boolean;
  /** Next bytes of the image, in order. Throws an OtaError as soon as the image is known bad. */
  write(chunk: Uint8Array): Promise<void>;
  /** Bytes written to flash and read back so far (a resume point). */
  readonly flushed: number;
  /** The body ended: write the held-back tail to flash; returns the bytes in the slot. */
  seal(): number;
  /**
   * Before `finish` after a reset: re-hash the `length` sealed bytes from flash. A no-op when this
   * installer sealed exactly those bytes in this boot.
   */
  reload(length: number): Promise<void>;
  /** The image is complete: check hash, key and signature, re-hash from flash. */
  finish(): Promise<ImageInfo>;
  /** Mark the secondary slot pending (MCUboot test swap). Only after `finish` succeeded. */
  stage(): void;
  /** Make sure nothing in the secondary slot is pending (erase its trailer sector). */
  abandon(): void;
  /** Version of the image running from the primary slot. */
  runningVersion(): string;
  /** SEC_CNT of the running image (MCUboot protected TLV), undefined when it has none. */
  runningSecurityCounter(): number | undefined;
  /** Whether the running image is confirmed (image_ok set, or it was never a test swap). */
  runningConfirmed(): boolean;
  /**
   * Whether MCUboot has an image to go back to if the running one is not confirmed: the
   * secondary slot holds a readable image (after a test swap, the previous one). A factory image
   * flashed with a test trailer has none: resetting it boots it again (issue 13.3).
   */
  canRevert(): boolean;
  /** Set image_ok on the running image: MCUboot will keep it. */
  confirmRunning(): void;
}
