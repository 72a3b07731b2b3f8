/**
 * FlashPort on `embedded:storage/flash`, Moddable's Zephyr binding
 * (modules/io/flash/zephyr/flash-zephyr.js + flash-zephyr.c; typings/embedded/storage/flash.d.ts).
 *
 * `open({path})` looks the partition up by its devicetree `label` *property* (DT_PROP(node, label)
 * in flash-zephyr.c), e.g. "image-1" for the node `slot1_partition: partition@... {label =
 * "image-1"; ...}`; it is not the node label. The binding wraps Zephyr's flash_area_* calls and
 * reports `status()` = {size, blockLength (the page size at the partition start), blocks,
 * writeAlign (flash_area_align), eraseValue (flash_area_erased_val)}. Both slots are opened
 * "r+": confirming the running image writes image_ok into the primary slot's trailer.
 * Arguments are checked here, before the native call, so a bad offset is a typed error naming
 * the value instead of the binding's bare "write failed".
 */
import { OtaError, type FlashPort, type FlashStatus } from 'xs-ota';
import type { ByteBuffer } from 'ota-zephyr-io';

/** The subset of the binding's Flash instance this port uses. */
export interface ZephyrFlash {
  read(buffer: ByteBuffer, byteOffset: number): number;
  write(buffer: ByteBuffer, byteOffset: number): void;
  eraseBlock(start: number, end?: number): void;
  status(): { size: number; blockLength: number; blocks: number; writeAlign: number; eraseValue: number };
  close(): void;
}

export interface ZephyrFlashStorage {
  open(options: { path: string; mode?: 'r' | 'r+' }): ZephyrFlash;
}

export class ModdableFlash implements FlashPort {
  readonly #label: string;
  readonly #io: ZephyrFlash;
  readonly #status: FlashStatus;

  /**
   * `largeBlockLength`: the board's large erase (otaFlashBlockErase; 0 or absent: none). Zephyr's
   * flash_area API does not report erase types, so the board says it: a SPI NOR part under the
   * spi_nor driver erases an aligned 64 KiB range with one block erase (SFDP erase type 0xD8),
   * an SoC's internal flash page by page.
   */
  constructor(storage: ZephyrFlashStorage, label: string, options: { largeBlockLength?: number } = {}) {
    this.#label = label;
    try {
      this.#io = storage.open({ path: label, mode: 'r+' });
    } catch (error) {
      // flash-zephyr.c: "can't find partition" when no fixed-partition has this label property.
      throw new OtaError('config-invalid', `flash partition "${label}": ${String(error)}`, error);
    }
    const s = this.#io.status();
    if (!(s.blockLength > 0 && s.writeAlign > 0 && s.size > 0 && s.size % s.blockLength === 0)) {
      throw new OtaError(
        'platform-error',
        `flash partition "${label}": unusable geometry size=${s.size} block=${s.blockLength} align=${s.writeAlign}`,
      );
    }
    const large = options.largeBlockLength ?? 0;
    if (large !== 0 && !(Number.isInteger(large) && large > s.blockLength && large % s.blockLength === 0)) {
      throw new OtaError('config-invalid', `flash partition "${label}": a ${large}-byte block erase is not a multiple of its ${s.blockLength}-byte blocks`);
    }
    this.#status = large === 0
      ? { size: s.size, blockLength: s.blockLength, writeAlign: s.writeAlign, eraseValue: s.eraseValue }
      : { size: s.size, blockLength: s.blockLength, writeAlign: s.writeAlign, eraseValue: s.eraseValue, largeBlockLength: large };
  }

  status(): FlashStatus {
    return this.#status;
  }

  read(offset: number, into: Uint8Array): void {
    this.#checkRange(offset, into.length);
    this.#io.read(into, offset);
  }

  write(offset: number, bytes: Uint8Array): void {
    this.#checkRange(offset, bytes.length);
    const align = this.#status.writeAlign;
    if (offset % align !== 0 || bytes.length % align !== 0) {
      throw new OtaError('invalid-argument', `flash "${this.#label}": write ${offset}+${bytes.length} not aligned to ${align}`);
    }
    this.#io.write(bytes, offset);
  }

  eraseBlock(block: number): void {
    const blocks = this.#status.size / this.#status.blockLength;
    if (!Number.isInteger(block) || block < 0 || block >= blocks) {
      throw new OtaError('invalid-argument', `flash "${this.#label}": block ${block} outside 0..${blocks - 1}`);
    }
    this.#io.eraseBlock(block, block + 1); // flash-zephyr.c: erases [start, end) blocks
  }

  eraseBlocks(first: number, end: number): void {
    const blocks = this.#status.size / this.#status.blockLength;
    if (!Number.isInteger(first) || !Number.isInteger(end) || first < 0 || end > blocks || first >= end) {
      throw new OtaError('invalid-argument', `flash "${this.#label}": blocks [${first}, ${end}) outside 0..${blocks}`);
    }
    // One flash_area_erase over the range: the driver picks its block erase for aligned runs.
    this.#io.eraseBlock(first, end);
  }

  close(): void {
    this.#io.close();
  }

  #checkRange(offset: number, length: number): void {
    if (!Number.isInteger(offset) || offset < 0 || offset + length > this.#status.size) {
      throw new OtaError('invalid-argument', `flash "${this.#label}": ${offset}+${length} outside ${this.#status.size} bytes`);
    }
  }
}
