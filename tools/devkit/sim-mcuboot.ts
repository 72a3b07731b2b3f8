/**
 * Simulated MCUboot (swap-using-scratch, one image, MCUBOOT_VALIDATE_PRIMARY_SLOT, TLV allow-list,
 * ECDSA P-256 + SHA-256) running on the dev kit's flash. It follows bootutil's code paths, in its
 * order of flash operations, so that a power cut at any operation leaves the flash as the real
 * bootloader would and the next boot resumes the same way:
 *   loader.c  boot_prepare_image_for_update, boot_validated_swap_type, boot_validate_slot,
 *             boot_swap_image, boot_perform_update, boot_complete_partial_swap, boot_copy_region
 *   swap_scratch.c  swap_status_source (boot_status_tables), swap_read_status_bytes, swap_run,
 *             boot_copy_sz, boot_swap_sectors (the three-step scratch swap per sector group)
 *   swap_misc.c  swap_status_init, swap_erase_trailer_sectors, swap_read_status
 *   bootutil_public.c  boot_swap_tables, boot_read_swap_state, boot_write_* trailer writers
 *   image_validate.c  bootutil_img_validate (hash, key hash lookup, signature, allow-list)
 * Validation uses node:crypto against the provisioned (trusted) keys.
 */
import { createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import type { FlashPort } from '../../src/platform/flash.js';
import {
  BOOT_FLAG_SET,
  BOOT_MAGIC,
  BOOT_MAX_IMG_SECTORS,
  BOOT_STATUS_STATE_COUNT,
  decodeSwapState,
  scratchTrailerSize,
  SWAP_TYPE,
  swapInfoByte,
  swapTypeFor,
  swapTypeName,
  TRAILER_FROM_END,
  TRAILER_INFO_SIZE,
  trailerSize,
  type SwapState,
  type SwapTypeName,
} from '../../src/image/trailer.js';
import { IMAGE_F, IMAGE_MAGIC } from '../../src/image/header.js';
import { ALLOWED_UNPROTECTED, TLV, TLV_INFO_MAGIC, TLV_PROT_INFO_MAGIC } from '../../src/image/tlv.js';

const IDX_0 = 1;
const STATE_0 = 1;
const STATE_1 = 2;
const STATE_2 = 3;
/** loader.c BOOT_TMPBUF_SZ: boot_copy_region moves data in pieces of this size. */
const BOOT_TMPBUF_SZ = 256;

export interface McubootFlash {
  primary: FlashPort;
  secondary: FlashPort;
  scratch: FlashPort;
}

export interface McubootOptions {
  /** PEM of the provisioned public key(s) (MCUboot's built-in key table). */
  trustedKeyPem: string | string[];
  /** MCUBOOT_MAX_IMG_SECTORS (trailer size). Default 128. */
  maxSectors?: number;
}

export type McubootOutcome = 'test-swap' | 'perm' | 'revert' | 'none' | 'invalid-secondary-erased' | 'resumed-swap' | 'unbootable';

export interface McubootResult {
  /** The slot booted, or null when MCUboot found no valid image to boot (a bricked device). */
  booted: 'primary' | null;
  /** The swap performed (or resumed) on this boot. */
  swapType: SwapTypeName;
  outcome: McubootOutcome;
  /** Version of the booted image (`1.2.3+4`). */
  version?: string;
  /** SHA256 TLV (hex) of the booted image. */
  imageHash?: string;
  log: string[];
}

interface BootStatus {
  idx: number;
  state: number;
  swapType: number;
  swapSize: number;
  useScratch: boolean;
}

class Area {
  readonly size: number;
  readonly sector: number;
  readonly align: number;
  readonly erased: number;
  constructor(
    readonly name: 'primary' | 'secondary' | 'scratch',
    readonly port: FlashPort,
  ) {
    const s = port.status();
    this.size = s.size;
    this.sector = s.blockLength;
    this.align = s.writeAlign;
    this.erased = s.eraseValue;
  }
  read(off: number, len: number): Uint8Array {
    const b = new Uint8Array(len);
    this.port.read(off, b);
    return b;
  }
  /** flash_area_erase: sector by sector. */
  erase(off: number, len: number): void {
    for (let at = off; at < off + len; at += this.sector) this.port.eraseBlock(at / this.sector);
  }
  /** boot_write_trailer: data padded to the write alignment with the erase value. */
  writeTrailer(off: number, data: Uint8Array): void {
    const len = Math.ceil(data.length / this.align) * this.align;
    const buf = new Uint8Array(len).fill(this.erased);
    buf.set(data);
    this.port.write(off, buf);
  }
  swapState(): SwapState {
    return decodeSwapState(this.read(this.size - TRAILER_INFO_SIZE, TRAILER_INFO_SIZE), this.erased);
  }
}

export function bootMcuboot(flash: McubootFlash, options: McubootOptions): McubootResult {
  return new Mcuboot(flash, options).boot();
}

class Mcuboot {
  readonly primary: Area;
  readonly secondary: Area;
  readonly scratch: Area;
  readonly keys: { hash: string; key: KeyObject }[];
  readonly maxSectors: number;
  readonly log: string[] = [];

  constructor(flash: McubootFlash, options: McubootOptions) {
    this.primary = new Area('primary', flash.primary);
    this.secondary = new Area('secondary', flash.secondary);
    this.scratch = new Area('scratch', flash.scratch);
    this.maxSectors = options.maxSectors ?? BOOT_MAX_IMG_SECTORS;
    const pems = Array.isArray(options.trustedKeyPem) ? options.trustedKeyPem : [options.trustedKeyPem];
    this.keys = pems.map((pem) => {
      const key = createPublicKey(pem);
      const spki = key.export({ format: 'der', type: 'spki' });
      return { hash: createHash('sha256').update(spki).digest('hex'), key };
    });
  }

  get trailerSz(): number {
    return trailerSize(this.maxSectors, this.primary.align);
  }

  /** boot_status_off */
  statusOff(a: Area): number {
    return a.size - (a.name === 'scratch' ? scratchTrailerSize(a.align) : this.trailerSz);
  }

  boot(): McubootResult {
    let outcome: McubootOutcome = 'none';
    let performed: number = SWAP_TYPE.NONE;
    const bs: BootStatus = { idx: IDX_0, state: STATE_0, swapType: SWAP_TYPE.NONE, swapSize: 0, useScratch: false };

    // boot_prepare_image_for_update: swap_read_status
    const source = this.statusSource();
    if (source) this.readStatus(source, bs);
    const reset = bs.idx === IDX_0 && bs.state === STATE_0;
    let swapType: number;
    if (!reset) {
      // boot_complete_partial_swap: a reset interrupted a swap; finish it first.
      this.log.push(`resuming ${swapTypeName(bs.swapType)} swap at idx ${bs.idx} state ${bs.state}`);
      this.swapImage(bs, false);
      if (bs.swapType === SWAP_TYPE.REVERT || bs.swapType === SWAP_TYPE.PERM) this.setImageOk();
      if (isUpgrade(bs.swapType)) this.primary.writeTrailer(this.primary.size - TRAILER_FROM_END.copyDone, u8(BOOT_FLAG_SET));
      if (bs.swapType > SWAP_TYPE.REVERT || bs.swapType < SWAP_TYPE.NONE) return this.panic(`swap type ${bs.swapType}`);
      performed = bs.swapType;
      outcome = 'resumed-swap';
      swapType = SWAP_TYPE.NONE;
    } else if (bs.swapType === SWAP_TYPE.NONE) {
      swapType = this.validatedSwapType();
      if (swapType === SWAP_TYPE.NONE && this.log.some((l) => l.includes('not valid'))) outcome = 'invalid-secondary-erased';
    } else {
      // swap_info written by swap_status_init but no step recorded: validate and redo that swap.
      swapType = this.validateSlot(this.secondary) === 'ok' ? bs.swapType : SWAP_TYPE.FAIL;
    }

    // context_boot_go
    bs.swapType = swapType;
    switch (swapType) {
      case SWAP_TYPE.NONE:
        break;
      case SWAP_TYPE.TEST:
      case SWAP_TYPE.PERM:
      case SWAP_TYPE.REVERT:
        this.swapImage(bs, true);
        if (swapType === SWAP_TYPE.REVERT || swapType === SWAP_TYPE.PERM) this.setImageOk();
        this.primary.writeTrailer(this.primary.size - TRAILER_FROM_END.copyDone, u8(BOOT_FLAG_SET));
        performed = swapType;
        outcome = swapType === SWAP_TYPE.TEST ? 'test-swap' : swapType === SWAP_TYPE.PERM ? 'perm' : 'revert';
        break;
      case SWAP_TYPE.FAIL:
        // The secondary was invalid and is erased; set image_ok so no revert follows.
        this.setImageOk();
        outcome = 'invalid-secondary-erased';
        break;
      default:
        return this.panic(`swap type ${swapType}`);
    }

    // MCUBOOT_VALIDATE_PRIMARY_SLOT: boot only a valid primary image.
    const primaryCheck = this.imageCheck(this.primary);
    if (primaryCheck !== 'ok') {
      this.log.push(`[ERR] Image in the primary slot is not valid! (${primaryCheck})`);
      return { booted: null, swapType: swapTypeName(performed), outcome: 'unbootable', log: this.log };
    }
    const head = this.primary.read(0, 32);
    const v = new DataView(head.buffer);
    return {
      booted: 'primary',
      swapType: swapTypeName(performed),
      outcome,
      version: `${head[20]}.${head[21]}.${v.getUint16(22, true)}+${v.getUint32(24, true)}`,
      imageHash: this.imageHashTlv(this.primary),
      log: this.log,
    };
  }

  panic(why: string): McubootResult {
    this.log.push(`[ERR] panic: ${why}`);
    return { booted: null, swapType: 'panic', outcome: 'unbootable', log: this.log };
  }

  /** swap_status_source (swap_scratch.c boot_status_tables). */
  statusSource(): Area | undefined {
    const p = this.primary.swapState();
    const s = this.scratch.swapState();
    if (p.magic === 'good' && s.magic !== 'good' && p.copyDone === 'set') return undefined;
    if (p.magic === 'good' && s.magic !== 'good' && p.copyDone === 'unset') return this.primary;
    if (s.magic === 'good') return this.scratch;
    if (p.magic === 'unset' && p.copyDone === 'unset') return this.primary;
    return undefined;
  }

  /** swap_read_status + swap_read_status_bytes. */
  readStatus(area: Area, bs: BootStatus): void {
    const off = this.statusOff(area);
    const entries = area.name === 'scratch' ? BOOT_STATUS_STATE_COUNT : BOOT_STATUS_STATE_COUNT * this.maxSectors;
    let found = false;
    let foundIdx = 0;
    let invalid = false;
    let i = 0;
    for (; i < entries; i++) {
      const status = area.read(off + i * area.align, 1)[0];
      if (status === area.erased) {
        if (found && !foundIdx) foundIdx = i;
      } else if (!found) {
        found = true;
      } else if (foundIdx) {
        invalid = true;
        break;
      }
    }
    if (invalid) this.log.push('[ERR] Detected inconsistent status!');
    if (found) {
      if (!foundIdx) foundIdx = i;
      bs.idx = Math.floor(foundIdx / BOOT_STATUS_STATE_COUNT) + 1;
      bs.state = (foundIdx % BOOT_STATUS_STATE_COUNT) + 1;
    }
    const info = area.read(area.size - TRAILER_FROM_END.swapInfo, 1)[0];
    bs.swapType = info === area.erased ? SWAP_TYPE.NONE : info & 0x0f;
  }

  /** boot_validated_swap_type */
  validatedSwapType(): number {
    const type = swapTypeFor(this.primary.swapState(), this.secondary.swapState());
    if (!isUpgrade(type)) return type;
    const check = this.validateSlot(this.secondary);
    // boot_validate_slot returns FIH_NO_BOOTABLE_IMAGE both for an empty slot and after erasing
    // an invalid one; boot_validated_swap_type maps that to NONE.
    return check === 'ok' ? type : SWAP_TYPE.NONE;
  }

  /** boot_validate_slot for the secondary: erased header -> no image; invalid -> erase the slot. */
  validateSlot(area: Area): 'ok' | 'no-image' | 'invalid' {
    const head = area.read(0, 32);
    if (head.subarray(0, 4).every((b) => b === area.erased)) return 'no-image';
    const flags = new DataView(head.buffer).getUint32(16, true);
    if (flags & IMAGE_F.NON_BOOTABLE) return 'no-image';
    const why = this.imageCheck(area);
    if (why !== 'ok') {
      area.erase(0, area.size);
      this.log.push(`[ERR] Image in the ${area.name} slot is not valid! (${why})`);
      return 'invalid';
    }
    return 'ok';
  }

  /** boot_is_header_valid + bootutil_img_validate. Returns 'ok' or why not. */
  imageCheck(area: Area): string {
    const head = area.read(0, 32);
    const hv = new DataView(head.buffer);
    if (hv.getUint32(0, true) !== IMAGE_MAGIC) return 'bad header magic';
    const hdrSize = hv.getUint16(8, true);
    const protSize = hv.getUint16(10, true);
    const imgSize = hv.getUint32(12, true);
    const flags = hv.getUint32(16, true);
    if (flags & (IMAGE_F.ENCRYPTED_AES128 | IMAGE_F.ENCRYPTED_AES256 | IMAGE_F.COMPRESSED_LZMA1 | IMAGE_F.COMPRESSED_LZMA2)) return 'unsupported flags';
    if (hdrSize + imgSize >= area.size) return 'header sizes';
    const maxImage = area.size - this.trailerSz;
    let off = hdrSize + imgSize;
    if (off + 4 > maxImage) return 'TLV info beyond slot';
    let info = new DataView(area.read(off, 4).buffer);
    let protEnd = 0;
    if (protSize > 0) {
      if (info.getUint16(0, true) !== TLV_PROT_INFO_MAGIC || info.getUint16(2, true) !== protSize) return 'protected TLV info';
      protEnd = off + protSize;
      if (protEnd + 4 > maxImage) return 'TLV info beyond slot';
      info = new DataView(area.read(protEnd, 4).buffer);
    }
    if (info.getUint16(0, true) !== TLV_INFO_MAGIC) return 'TLV info magic';
    const tlvStart = protSize > 0 ? protEnd : off;
    const tlvEnd = tlvStart + info.getUint16(2, true);
    if (tlvEnd > maxImage) return 'TLV area beyond slot';
    const hashed = hdrSize + imgSize + protSize;
    const region = area.read(0, hashed);
    const hash = createHash('sha256').update(region).digest();
    let hashValid = false;
    let sigValid = false;
    let key: KeyObject | undefined;
    let at = off + 4;
    while (at < tlvEnd) {
      if (protEnd > 0 && at === protEnd) at += 4;
      if (at >= tlvEnd) break;
      const t = new DataView(area.read(at, 4).buffer);
      const type = t.getUint16(0, true);
      const len = t.getUint16(2, true);
      const valueAt = at + 4;
      if (valueAt + len > tlvEnd) return 'TLV runs past the area';
      const isProt = at < protEnd;
      at = valueAt + len;
      if (!isProt && !ALLOWED_UNPROTECTED.includes(type)) return `unprotected TLV 0x${type.toString(16)} not allowed`;
      if (type === TLV.SHA256) {
        if (len !== 32) return 'SHA256 TLV length';
        if (!Buffer.from(area.read(valueAt, 32)).equals(hash)) return 'hash mismatch';
        hashValid = true;
      } else if (type === TLV.KEYHASH) {
        const kh = Buffer.from(area.read(valueAt, len)).toString('hex');
        key = this.keys.find((k) => k.hash === kh)?.key;
      } else if (type === TLV.ECDSA_SIG) {
        if (!key) continue;
        const sig = area.read(valueAt, len);
        let ok = false;
        try {
          ok = cryptoVerify('sha256', region, key, sig);
        } catch {
          ok = false;
        }
        if (ok) sigValid = true;
        key = undefined;
      } else if (type === TLV.SEC_CNT && !isProt) {
        return 'SEC_CNT not protected';
      }
    }
    if (!hashValid) return 'no valid hash';
    if (!sigValid) return 'no signature verified with a trusted key';
    return 'ok';
  }

  imageHashTlv(area: Area): string | undefined {
    const hv = new DataView(area.read(0, 32).buffer);
    let off = hv.getUint16(8, true) + hv.getUint32(12, true) + hv.getUint16(10, true);
    const end = off + new DataView(area.read(off, 4).buffer).getUint16(2, true);
    off += 4;
    while (off + 4 <= end) {
      const t = new DataView(area.read(off, 4).buffer);
      if (t.getUint16(0, true) === TLV.SHA256) return Buffer.from(area.read(off + 4, 32)).toString('hex');
      off += 4 + t.getUint16(2, true);
    }
    return undefined;
  }

  /** swap_set_image_ok: only when unset. */
  setImageOk(): void {
    if (this.primary.swapState().imageOk === 'unset') this.primary.writeTrailer(this.primary.size - TRAILER_FROM_END.imageOk, u8(BOOT_FLAG_SET));
  }

  /** boot_read_image_size */
  imageSize(area: Area): number {
    const hv = new DataView(area.read(0, 32).buffer);
    if (hv.getUint32(0, true) !== IMAGE_MAGIC) return 0;
    const off = hv.getUint16(8, true) + hv.getUint32(12, true);
    const protSize = hv.getUint16(10, true);
    let info = new DataView(area.read(off, 4).buffer);
    if (info.getUint16(0, true) === TLV_PROT_INFO_MAGIC) {
      if (info.getUint16(2, true) !== protSize) throw new Error('boot_read_image_size: bad protected TLV size');
      info = new DataView(area.read(off + protSize, 4).buffer);
    } else if (protSize !== 0) throw new Error('boot_read_image_size: missing protected TLVs');
    if (info.getUint16(0, true) !== TLV_INFO_MAGIC) throw new Error('boot_read_image_size: bad TLV info');
    return off + protSize + info.getUint16(2, true);
  }

  /** boot_swap_image */
  swapImage(bs: BootStatus, fresh: boolean): void {
    let copySize: number;
    if (fresh) {
      copySize = Math.max(this.imageSize(this.primary), this.imageSize(this.secondary));
      bs.swapSize = copySize;
    } else {
      // boot_read_swap_size via boot_find_status: scratch first, then primary, whichever has the magic.
      const area = this.scratch.swapState().magic === 'good' ? this.scratch : this.primary.swapState().magic === 'good' ? this.primary : undefined;
      if (!area) throw new Error('boot_read_swap_size: no status area with a magic');
      bs.swapSize = copySize = new DataView(area.read(area.size - TRAILER_FROM_END.swapSize, 4).buffer).getUint32(0, true);
    }
    this.swapRun(bs, copySize);
  }

  /** swap_run (uniform sectors in both slots) */
  swapRun(bs: BootStatus, copySize: number): void {
    const sector = this.primary.sector;
    let lastSectorIdx = Math.max(0, Math.ceil(copySize / sector) - 1);
    let swapIdx = 0;
    while (lastSectorIdx >= 0) {
      // boot_copy_sz: as many sectors (from the top down) as fit in the scratch area.
      let sz = 0;
      let i = lastSectorIdx;
      for (; i >= 0; i--) {
        if (sz + sector > this.scratch.size) break;
        sz += sector;
      }
      const firstSectorIdx = i + 1;
      if (swapIdx >= bs.idx - IDX_0) this.swapSectors(firstSectorIdx, sz, bs);
      lastSectorIdx = firstSectorIdx - 1;
      swapIdx++;
    }
  }

  /** boot_write_status */
  writeStatus(bs: BootStatus): void {
    const area = bs.useScratch ? this.scratch : this.primary;
    const off = this.statusOff(area) + (bs.idx - IDX_0) * BOOT_STATUS_STATE_COUNT * area.align + (bs.state - STATE_0) * area.align;
    area.writeTrailer(off, u8(bs.state));
  }

  /** swap_status_init */
  statusInit(area: Area, bs: BootStatus): void {
    const secondary = this.secondary.swapState();
    if (bs.swapType !== SWAP_TYPE.NONE) area.writeTrailer(area.size - TRAILER_FROM_END.swapInfo, u8(swapInfoByte(bs.swapType, 0)));
    if (secondary.imageOk === 'set') area.writeTrailer(area.size - TRAILER_FROM_END.imageOk, u8(BOOT_FLAG_SET));
    const size = new Uint8Array(4);
    new DataView(size.buffer).setUint32(0, bs.swapSize, true);
    area.writeTrailer(area.size - TRAILER_FROM_END.swapSize, size);
    area.writeTrailer(area.size - TRAILER_FROM_END.magic, BOOT_MAGIC);
  }

  /** swap_erase_trailer_sectors: from the last sector down until the trailer is covered. */
  eraseTrailerSectors(area: Area): void {
    let total = 0;
    let sector = area.size / area.sector - 1;
    do {
      area.erase(sector * area.sector, area.sector);
      sector--;
      total += area.sector;
    } while (total < this.trailerSz);
  }

  /** copy in BOOT_TMPBUF_SZ pieces (boot_copy_region) */
  copyRegion(src: Area, dst: Area, offSrc: number, offDst: number, sz: number): void {
    for (let done = 0; done < sz; done += BOOT_TMPBUF_SZ) {
      const n = Math.min(BOOT_TMPBUF_SZ, sz - done);
      dst.port.write(offDst + done, src.read(offSrc + done, n));
    }
  }

  /** boot_swap_sectors (swap_scratch.c): primary <-> secondary through scratch, 3 logged steps. */
  swapSectors(idx: number, sz: number, bs: BootStatus): void {
    const P = this.primary;
    const S = this.secondary;
    const X = this.scratch;
    const imgOff = idx * P.sector;
    let copySz = sz;
    const lastSector = P.size / P.sector - 1;
    if (imgOff + sz > lastSector * P.sector) copySz -= this.trailerSz;
    bs.useScratch = bs.idx === IDX_0 && copySz !== sz;

    if (bs.state === STATE_0) {
      X.erase(0, X.size);
      if (bs.idx === IDX_0) {
        this.statusInit(X, bs);
        if (!bs.useScratch) {
          this.eraseTrailerSectors(P);
          this.statusInit(P, bs);
          X.erase(0, X.size);
        }
      }
      this.copyRegion(S, X, imgOff, 0, copySz);
      this.writeStatus(bs);
      bs.state = STATE_1;
    }
    if (bs.state === STATE_1) {
      S.erase(imgOff, sz);
      this.copyRegion(P, S, imgOff, imgOff, copySz);
      if (bs.idx === IDX_0 && !bs.useScratch) this.eraseTrailerSectors(S);
      this.writeStatus(bs);
      bs.state = STATE_2;
    }
    if (bs.state === STATE_2) {
      P.erase(imgOff, sz);
      this.copyRegion(X, P, 0, imgOff, copySz);
      if (bs.useScratch) {
        this.copyRegion(X, P, this.statusOff(X), imgOff + copySz, (BOOT_STATUS_STATE_COUNT - 1) * X.align);
        const xs = X.swapState();
        if (xs.imageOk === 'set') P.writeTrailer(P.size - TRAILER_FROM_END.imageOk, u8(BOOT_FLAG_SET));
        if (xs.swapType !== SWAP_TYPE.NONE) P.writeTrailer(P.size - TRAILER_FROM_END.swapInfo, u8(swapInfoByte(xs.swapType, 0)));
        const size = new Uint8Array(4);
        new DataView(size.buffer).setUint32(0, bs.swapSize, true);
        P.writeTrailer(P.size - TRAILER_FROM_END.swapSize, size);
        P.writeTrailer(P.size - TRAILER_FROM_END.magic, BOOT_MAGIC);
      }
      const eraseScratch = bs.useScratch;
      bs.useScratch = false;
      this.writeStatus(bs);
      bs.idx++;
      bs.state = STATE_0;
      // swap_scratch.c (mcu-tools/mcuboot 0218d02, as read) erases the whole scratch area first
      // sector first: a power cut before its last sector is erased leaves the scratch trailer
      // (magic + stale status) and the next boot redoes this group from a half-erased scratch.
      if (eraseScratch) X.erase(0, X.size);
    }
  }
}

function isUpgrade(t: number): boolean {
  return t === SWAP_TYPE.TEST || t === SWAP_TYPE.PERM || t === SWAP_TYPE.REVERT;
}

function u8(b: number): Uint8Array {
  return Uint8Array.of(b);
}
