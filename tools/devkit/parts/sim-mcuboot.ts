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
import type { FlashPort } from '../../../src/platform/flash.js';
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
} from '../../../src/image/trailer.js';
import { IMAGE_F, IMAGE_MAGIC } from '../../../src/image/header.js';
import { TLV, TLV_INFO_MAGIC, TLV_PROT_INFO_MAGIC } from '../../../src/image/tlv.js';

/**
 * image_validate.c allowed_unprot_tlvs with this build's #ifs resolved (no MCUBOOT_SIGN_PURE, no
 * MCUBOOT_HMAC_SHA512), copied from the C rather than from the agent's table on purpose.
 */
const MCUBOOT_ALLOWED_UNPROT_TLVS: readonly number[] = [
  TLV.KEYHASH, TLV.PUBKEY, TLV.SHA256, TLV.SHA384, TLV.SHA512, TLV.RSA2048_PSS, TLV.ECDSA224,
  TLV.ECDSA_SIG, TLV.RSA3072_PSS, TLV.ED25519, TLV.ENC_RSA2048, TLV.ENC_KW, TLV.ENC_EC256, TLV.ENC_X25519,
];

const IDX_0 = 1;
const STATE_0 = 1;
const STATE_1 = 2;
const STATE_2 = 3;
/**
 * loader.c BUF_SZ: boot_copy_region moves data in pieces of this size (1024 unless BOOT_MAX_ALIGN
 * is larger; BOOT_TMPBUF_SZ, 256, is only bootutil_img_hash's read buffer).
 */
const BOOT_COPY_BUF_SZ = 1024;

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
  /**
   * How boot_erase_region reaches the flash driver, which decides what the swap's erases cost
   * (tools/devkit/parts/sim-flash.ts). 'per-sector' (the default): one flash_area_erase per
   * sector of the flash page layout, MCUboot from v2.2 (bootutil_area.c, a flash_area_get_sector
   * loop), e.g. v2.3.0-66-gcf581020, which Zephyr 4.4.0's west.yml pins and the named board's
   * MCUboot is built from (docs/device-build.md). 'per-region': one flash_area_erase over each
   * region, MCUboot up to v2.1, where the driver turns an aligned 64 KiB run into a block erase.
   * The order of erases, and so every power-cut outcome, is the same in both.
   */
  eraseCalls?: McubootEraseCalls;
}

export type McubootEraseCalls = 'per-sector' | 'per-region';

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
    readonly eraseCalls: McubootEraseCalls = 'per-sector',
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
  /** boot_erase_region(..., backwards = false): sector by sector (>= v2.2) or one call (<= v2.1). */
  erase(off: number, len: number): void {
    if (this.eraseCalls === 'per-region' && this.port.eraseBlocks && len > this.sector) {
      this.port.eraseBlocks(off / this.sector, (off + len) / this.sector);
      return;
    }
    for (let at = off; at < off + len; at += this.sector) this.port.eraseBlock(at / this.sector);
  }
  /** boot_erase_region(..., backwards = true): the highest sector first. */
  eraseBackwards(off: number, len: number): void {
    for (let at = off + len - this.sector; at >= off; at -= this.sector) this.port.eraseBlock(at / this.sector);
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

/**
 * boot_is_header_valid + bootutil_img_validate alone on one slot: 'ok', or why MCUboot refuses
 * the image (the differential test compares this with the agent's verdict).
 */
export function mcubootImageCheck(slot: FlashPort, options: McubootOptions): string {
  return new Mcuboot({ primary: slot, secondary: slot, scratch: slot }, options).imageCheck(new Area('secondary', slot));
}

class Mcuboot {
  readonly primary: Area;
  readonly secondary: Area;
  readonly scratch: Area;
  readonly keys: { hash: string; key: KeyObject }[];
  readonly maxSectors: number;
  readonly log: string[] = [];

  constructor(flash: McubootFlash, options: McubootOptions) {
    const calls = options.eraseCalls ?? 'per-sector';
    this.primary = new Area('primary', flash.primary, calls);
    this.secondary = new Area('secondary', flash.secondary, calls);
    this.scratch = new Area('scratch', flash.scratch, calls);
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

  /**
   * boot_is_header_valid + bootutil_img_validate (image_validate.c @2d4bacc3, EC256 + SHA-256,
   * MCUBOOT_USE_TLV_ALLOW_LIST, no MCUBOOT_HW_KEY), with tlv.c's iterator. Returns 'ok' or why not.
   * Written from the C, independently of the agent's src/image/mcuboot-rules.ts: the
   * differential test (test/unit/image/mcuboot-parity.spec.ts) compares the two.
   */
  imageCheck(area: Area): string {
    const head = area.read(0, 32);
    const hv = new DataView(head.buffer);
    if (hv.getUint32(0, true) !== IMAGE_MAGIC) return 'bad header magic';
    const hdrSize = hv.getUint16(8, true);
    const protSize = hv.getUint16(10, true);
    const imgSize = hv.getUint32(12, true);
    const flags = hv.getUint32(16, true);
    if (flags & (IMAGE_F.ENCRYPTED_AES128 | IMAGE_F.ENCRYPTED_AES256 | IMAGE_F.COMPRESSED_LZMA1 | IMAGE_F.COMPRESSED_LZMA2)) return 'unsupported flags';
    // boot_is_header_valid: boot_u32_safe_add(hdr_size, img_size) and the sum inside the slot.
    if (hdrSize + imgSize >= area.size) return 'header sizes';
    // bootutil_max_image_size (swap-scratch: app_max_size): the slot minus its trailer.
    const maxImage = area.size - this.trailerSz;
    // bootutil_tlv_iter_begin
    const off = hdrSize + imgSize;
    if (off + 4 > area.size) return 'TLV info beyond slot';
    let info = new DataView(area.read(off, 4).buffer);
    if (info.getUint16(0, true) === TLV_PROT_INFO_MAGIC) {
      if (info.getUint16(2, true) !== protSize) return 'protected TLV info';
      if (off + protSize + 4 > area.size) return 'TLV info beyond slot';
      info = new DataView(area.read(off + protSize, 4).buffer);
    } else if (protSize !== 0) return 'protected TLV info';
    if (info.getUint16(0, true) !== TLV_INFO_MAGIC) return 'TLV info magic';
    const protEnd = off + protSize;
    const tlvEnd = off + protSize + info.getUint16(2, true);
    if (tlvEnd > maxImage) return 'TLV area beyond slot';
    // bootutil_img_hash: header + body + protected TLVs.
    const hashed = hdrSize + imgSize + protSize;
    const region = area.read(0, hashed);
    const hash = createHash('sha256').update(region).digest();
    let imageHashValid = false;
    let validSignature = false;
    let keyId = -1;
    // bootutil_tlv_iter_next (IMAGE_TLV_ANY, prot false)
    let at = off + 4;
    while (at < tlvEnd) {
      if (protSize > 0 && at === protEnd) {
        at += 4;
        continue;
      }
      if (4 > tlvEnd - at) return 'TLV header runs past the area';
      const t = new DataView(area.read(at, 4).buffer);
      const type = t.getUint16(0, true);
      const len = t.getUint16(2, true);
      if (len > tlvEnd - at - 4) return 'TLV runs past the area';
      const valueAt = at + 4;
      const isProt = at < protEnd;
      at = valueAt + len;
      if (!isProt && !MCUBOOT_ALLOWED_UNPROT_TLVS.includes(type)) return `unprotected TLV 0x${type.toString(16)} not permitted`;
      if (type === TLV.SHA256) {
        if (len !== 32) return 'SHA256 TLV length';
        if (!Buffer.from(area.read(valueAt, 32)).equals(hash)) return 'hash mismatch';
        imageHashValid = true;
      } else if (type === TLV.KEYHASH) {
        if (len > 32) return 'KEYHASH longer than KEY_BUF_SIZE';
        keyId = this.findKey(area.read(valueAt, len));
      } else if (type === TLV.ECDSA_SIG) {
        if (keyId < 0 || keyId >= this.keys.length) {
          keyId = -1;
          continue;
        }
        if (len > 128) return 'ECDSA_SIG longer than SIG_BUF_SIZE';
        const sig = area.read(valueAt, len);
        try {
          validSignature = cryptoVerify('sha256', region, this.keys[keyId].key, sig);
        } catch {
          validSignature = false;
        }
        keyId = -1;
      }
    }
    if (!imageHashValid) return 'no valid hash';
    if (!validSignature) return 'no signature verified with a trusted key';
    return 'ok';
  }

  /** bootutil_find_key: the first key whose SPKI SHA-256 starts with the KEYHASH (memcmp over its length). */
  findKey(keyHash: Uint8Array): number {
    if (keyHash.length > 32) return -1;
    const want = Buffer.from(keyHash).toString('hex');
    return this.keys.findIndex((k) => k.hash.startsWith(want));
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

  /**
   * swap_scramble_trailer_sectors (swap_misc.c): erase, backwards, from the sector holding the
   * trailer's start (boot_trailer_scramble_offset) to the end of the area.
   */
  scrambleTrailerSectors(area: Area): void {
    const from = this.firstTrailerSectorOff(area);
    area.eraseBackwards(from, area.size - from);
  }

  /** boot_img_sector_off(boot_get_first_trailer_sector(...)) for uniform sectors. */
  firstTrailerSectorOff(area: Area): number {
    let first = area.size / area.sector - 1;
    let covered = area.sector;
    while (covered < this.trailerSz) {
      first--;
      covered += area.sector;
    }
    return first * area.sector;
  }

  /** boot_copy_region: read then program BUF_SZ (1024) bytes at a time. */
  copyRegion(src: Area, dst: Area, offSrc: number, offDst: number, sz: number): void {
    for (let done = 0; done < sz; done += BOOT_COPY_BUF_SZ) {
      const n = Math.min(BOOT_COPY_BUF_SZ, sz - done);
      dst.port.write(offDst + done, src.read(offSrc + done, n));
    }
  }

  /**
   * boot_swap_sectors (swap_scratch.c @2d4bacc3): primary <-> secondary through scratch, three
   * logged steps, in the bootloader's order of flash operations.
   */
  swapSectors(idx: number, sz: number, bs: BootStatus): void {
    const P = this.primary;
    const S = this.secondary;
    const X = this.scratch;
    const imgOff = idx * P.sector;
    let copySz = sz;
    const firstTrailerOffPrimary = this.firstTrailerSectorOff(P);
    // The group holds (part of) the trailer sector: copy only up to the trailer, and never over
    // the scratch's own status area.
    if (imgOff + sz > firstTrailerOffPrimary) {
      copySz = P.size - imgOff - this.trailerSz;
      const scratchTrailerOff = this.statusOff(X);
      if (copySz > scratchTrailerOff) copySz = scratchTrailerOff;
    }
    bs.useScratch = bs.idx === IDX_0 && copySz !== sz;

    if (bs.state === STATE_0) {
      X.erase(0, X.size);
      if (bs.idx === IDX_0) {
        this.statusInit(X, bs);
        if (!bs.useScratch) {
          this.scrambleTrailerSectors(P);
          this.statusInit(P, bs);
          X.erase(0, X.size);
        }
      }
      this.copyRegion(S, X, imgOff, 0, copySz);
      this.writeStatus(bs);
      bs.state = STATE_1;
    }
    if (bs.state === STATE_1) {
      let eraseSz = sz;
      if (bs.idx === IDX_0) {
        // Only the primary may hold the status: scramble the secondary's trailer first.
        this.scrambleTrailerSectors(S);
        if (bs.useScratch) eraseSz = this.firstTrailerSectorOff(S) - imgOff;
      }
      if (eraseSz > 0) S.erase(imgOff, eraseSz);
      this.copyRegion(P, S, imgOff, imgOff, copySz);
      this.writeStatus(bs);
      bs.state = STATE_2;
    }
    if (bs.state === STATE_2) {
      let eraseSz = sz;
      if (bs.useScratch) {
        this.scrambleTrailerSectors(P);
        eraseSz = firstTrailerOffPrimary - imgOff;
      }
      if (eraseSz > 0) P.erase(imgOff, eraseSz);
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
      // mcu-tools/mcuboot f76fba70 "swap_scratch: Fix issue with bricking device": the scratch is
      // erased backwards (boot_scramble_region(..., true)), its trailer first, so a cut during
      // this erase can no longer leave a scratch trailer over half-erased data for the next boot
      // to copy back into the primary.
      if (eraseScratch) X.eraseBackwards(0, X.size);
    }
  }
}

function isUpgrade(t: number): boolean {
  return t === SWAP_TYPE.TEST || t === SWAP_TYPE.PERM || t === SWAP_TYPE.REVERT;
}

function u8(b: number): Uint8Array {
  return Uint8Array.of(b);
}
