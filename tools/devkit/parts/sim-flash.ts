/**
 * Simulated NOR flash for the dev kit, faithful to the part's rules:
 * - erase works per sector (4 KiB) and sets every byte to the erase value 0xff;
 * - programming can only clear bits (new = old AND data); writes must start and end on the
 *   write alignment (8);
 * - a power cut can be scheduled at any program/erase operation: that operation is torn (a
 *   program stops part-way, leaving one unit half-programmed; an erase stops part-way, leaving
 *   the sector partly erased), every later access throws `PowerCut` until `powerOn()`.
 * - optional backing file: the whole device, byte for byte, in the layout of
 *   docs/flash-layout.md (written through on every operation, so a killed process leaves it as
 *   a real power cut would).
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, writeSync, fstatSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FlashPort, FlashStatus } from '../../../src/platform/flash.js';
import { OtaError } from '../../../src/util/errors.js';
import { BOOT_MAX_IMG_SECTORS, trailerSize } from '../../../src/image/trailer.js';

/** Thrown by every flash access from the torn operation on, until `powerOn()`: the harness "reboots". */
export class PowerCut extends Error {
  readonly op: number;
  constructor(op: number) {
    super(`power cut at flash operation ${op}`);
    this.name = 'PowerCut';
    this.op = op;
  }
}

/** True for a PowerCut, also when wrapped as an OtaError's cause by agent code. */
export function isPowerCut(error: unknown): boolean {
  for (let e = error; e instanceof Error; e = (e as { cause?: unknown }).cause) if (e instanceof PowerCut) return true;
  return false;
}

/** How a torn operation leaves the bytes it was changing. */
export type TearMode = 'prefix' | 'random';

export interface SimFlashOptions {
  size: number;
  sectorSize?: number;
  writeAlign?: number;
  eraseValue?: number;
  /** Backing file holding the whole device; created (erased) when missing. */
  file?: string;
  /** Seed for torn-operation bit patterns. */
  seed?: number;
  /**
   * Device timing (default NOR_TIMING_TYPICAL), accumulated in `stats.busyUs` and reported per
   * operation to `onBusy`: the port is synchronous, as Moddable's flash is on the device (an erase
   * blocks the caller until the part is ready), so the dev kit turns it into time the MCU is
   * blocked for (tools/devkit/parts/cpu-busy.ts).
   */
  timing?: FlashTiming;
}

/**
 * Erase, program and read times of a NOR part, in microseconds. The dev kit models the Winbond
 * W25Q64JV (8 MiB quad-SPI NOR, the external flash of many Zephyr boards; datasheet rev. L,
 * §9.6 "AC Electrical Characteristics"): 4 KiB sector erase tSE 45 ms typical / 400 ms max,
 * 32 KiB block erase tBE1 120 / 1600 ms, 64 KiB block erase tBE2 150 / 2000 ms, page program
 * (256 bytes) tPP 0.4 / 3 ms; reads at 50 MHz quad I/O about 0.04 us per byte (no max: reads are
 * clocked).
 *
 * Erases are timed as the board's flash driver issues them, one command per erase call: Zephyr's
 * spi_nor driver, and the RP2350's flash_rpi_pico driver through the pico-sdk's
 * flash_range_erase (the boot ROM's range erase, given the 64 KiB block command 0xD8), erase
 * every aligned 64 KiB block inside a range with one block erase (tBE2) and the rest 4 KiB sector
 * by sector (tSE). So an erase of one 4 KiB layout sector costs tSE, of one 64 KiB layout sector
 * (a board whose devicetree gives the flash a 64 KiB erase-block-size) tBE2, and a range through
 * the port's `eraseBlocks(first, end)` (`eraseRange` here) tBE2 per aligned block inside it. A
 * power cut tears what the command was erasing: one sector, or the whole block. The part never
 * merges separate commands: MCUboot from v2.2 erases sector by sector (bootutil_area.c
 * boot_erase_region), so on a 4 KiB layout its swap pays tSE per sector
 * (tools/devkit/parts/sim-mcuboot.ts `eraseCalls`).
 */
export interface FlashTiming {
  /** Which figures these are (for reports). */
  name: string;
  sectorEraseUs: number;
  /** 64 KiB block erase (tBE2). */
  blockEraseUs: number;
  programUsPer256: number;
  readUsPerByte: number;
}

/** W25Q64JV, datasheet "typ" column (the dev kit's default). */
export const NOR_TIMING_TYPICAL: FlashTiming = { name: 'typical', sectorEraseUs: 45_000, blockEraseUs: 150_000, programUsPer256: 400, readUsPerByte: 0.04 };
/** W25Q64JV, datasheet "max" column: a part at the end of its life or its temperature range. */
export const NOR_TIMING_WORST: FlashTiming = { name: 'worst', sectorEraseUs: 400_000, blockEraseUs: 2_000_000, programUsPer256: 3_000, readUsPerByte: 0.04 };
/** No device time at all (unit tests of NOR semantics). */
export const NOR_TIMING_NONE: FlashTiming = { name: 'none', sectorEraseUs: 0, blockEraseUs: 0, programUsPer256: 0, readUsPerByte: 0 };

export type FlashTimingName = 'typical' | 'worst' | 'none';

export function flashTiming(name: FlashTimingName): FlashTiming {
  return name === 'worst' ? NOR_TIMING_WORST : name === 'none' ? NOR_TIMING_NONE : NOR_TIMING_TYPICAL;
}

export interface FlashStats {
  reads: number;
  writes: number;
  erases: number;
  bytesWritten: number;
  /** Program operations that hit already-programmed (non-erased) bytes. */
  rewrites: number;
  /** Device busy time the operations would take (see FlashTiming). */
  busyUs: number;
  /** 64 KiB block erase commands (tBE2) among `erases`: from eraseRange, or a 64 KiB layout sector. */
  blockErases: number;
}

/** The block erase of the part (W25Q64JV tBE2: 64 KiB). */
export const BLOCK_ERASE_BYTES = 0x10000;
/** The part's smallest erase (W25Q64JV tSE: 4 KiB); a layout sector is a multiple of it. */
export const PART_SECTOR_BYTES = 0x1000;

/** Deterministic xorshift32. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

export class SimNorFlash {
  readonly size: number;
  readonly sectorSize: number;
  readonly writeAlign: number;
  readonly eraseValue: number;
  readonly bytes: Uint8Array;
  readonly stats: FlashStats = { reads: 0, writes: 0, erases: 0, bytesWritten: 0, rewrites: 0, busyUs: 0, blockErases: 0 };
  /**
   * Erases per sector since creation (a torn erase counts: the cells were stressed). NOR endurance
   * is per sector (W25Q64JV: 100k program/erase cycles), so wear is judged per sector, not in total.
   */
  readonly sectorErases: Uint32Array;
  readonly timing: FlashTiming;
  /** Program/erase operations so far (reads do not count): the index power cuts are scheduled by. */
  ops = 0;
  /** Told the device time of every operation, us (the dev kit blocks the MCU for it). */
  onBusy: ((us: number) => void) | undefined;
  #cutAt: number | undefined;
  #tear: TearMode = 'prefix';
  #powered = true;
  #fd: number | undefined;
  #seed: number;

  constructor(options: SimFlashOptions) {
    this.size = options.size;
    this.sectorSize = options.sectorSize ?? 4096;
    this.writeAlign = options.writeAlign ?? 8;
    this.eraseValue = options.eraseValue ?? 0xff;
    this.#seed = options.seed ?? 1;
    this.timing = options.timing ?? NOR_TIMING_TYPICAL;
    if (this.size % this.sectorSize !== 0) throw new Error('flash size must be a multiple of the sector size');
    if (this.sectorSize % PART_SECTOR_BYTES !== 0) throw new Error(`sector size ${this.sectorSize} is not a multiple of the part's 4 KiB sector`);
    this.bytes = new Uint8Array(this.size).fill(this.eraseValue);
    this.sectorErases = new Uint32Array(this.size / this.sectorSize);
    if (options.file) {
      const exists = existsSync(options.file);
      this.#fd = openSync(options.file, exists ? 'r+' : 'w+');
      if (exists) {
        const have = fstatSync(this.#fd).size;
        if (have !== this.size) throw new Error(`${options.file}: ${have} bytes, the device has ${this.size}`);
        readSync(this.#fd, this.bytes, 0, this.size, 0);
      } else {
        writeSync(this.#fd, this.bytes, 0, this.size, 0);
      }
    }
  }

  /** Schedules a power cut at program/erase operation number `op` (0-based, counted from creation). */
  cutAt(op: number, tear: TearMode = 'prefix'): void {
    this.#cutAt = op;
    this.#tear = tear;
  }

  /** Cancels a scheduled cut. */
  clearCut(): void {
    this.#cutAt = undefined;
  }

  get powered(): boolean {
    return this.#powered;
  }

  /** Power back on after a cut (the harness's reboot). */
  powerOn(): void {
    this.#powered = true;
    this.#cutAt = undefined;
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  #alive(): void {
    if (!this.#powered) throw new PowerCut(this.ops);
  }

  #persist(from: number, to: number): void {
    if (this.#fd !== undefined && to > from) writeSync(this.#fd, this.bytes, from, to - from, from);
  }

  read(addr: number, into: Uint8Array): void {
    this.#alive();
    if (addr < 0 || addr + into.length > this.size) throw new OtaError('flash-error', `read [${addr}, +${into.length}) outside the device`);
    this.stats.reads++;
    this.#busy(into.length * this.timing.readUsPerByte);
    into.set(this.bytes.subarray(addr, addr + into.length));
  }

  write(addr: number, data: Uint8Array): void {
    this.#alive();
    if (addr % this.writeAlign !== 0 || data.length % this.writeAlign !== 0) {
      throw new OtaError('flash-misaligned', `write [${addr}, +${data.length}) not on ${this.writeAlign}-byte units`);
    }
    if (addr < 0 || addr + data.length > this.size) throw new OtaError('flash-error', `write [${addr}, +${data.length}) outside the device`);
    const op = this.ops++;
    let end = data.length;
    let torn = false;
    const random = rng(this.#seed * 7919 + op);
    if (op === this.#cutAt) {
      torn = true;
      end = random() % data.length;
    }
    let rewrite = false;
    for (let i = 0; i < end; i++) {
      if (this.bytes[addr + i] !== this.eraseValue) rewrite = true;
      this.bytes[addr + i] &= data[i];
    }
    if (torn && end < data.length) {
      // The unit being programmed when power went: some of its bits cleared, some not.
      const unitEnd = Math.min(data.length, end - (end % this.writeAlign) + this.writeAlign);
      for (let i = end; i < unitEnd; i++) this.bytes[addr + i] &= data[i] | (random() & 0xff);
    }
    this.stats.writes++;
    this.stats.bytesWritten += data.length;
    this.#busy((data.length / 256) * this.timing.programUsPer256);
    if (rewrite) this.stats.rewrites++;
    this.#persist(addr, addr + data.length);
    if (torn) this.#cut(op);
  }

  /**
   * Erases one layout sector with one erase command, timed as the driver issues it: a 64 KiB
   * sector (or a multiple) with block erases (tBE2), a 4 KiB one with a sector erase (tSE).
   */
  eraseSector(sector: number): void {
    this.#alive();
    if (sector < 0 || (sector + 1) * this.sectorSize > this.size) throw new OtaError('flash-error', `erase of sector ${sector} outside the device`);
    this.#eraseCommand(sector, 1);
  }

  /**
   * Erases sectors [first, end) as one flash_erase over the range: every aligned 64 KiB block
   * inside it with one block erase (one operation, tBE2), the sectors outside such blocks one by
   * one. A power cut at a block erase tears the whole block: in 'prefix' mode it is erased up to
   * a random byte, in 'random' mode every byte lies between old and erased.
   */
  eraseRange(first: number, end: number): void {
    this.#alive();
    const sectors = this.size / this.sectorSize;
    if (!(first >= 0 && end <= sectors && first < end)) throw new OtaError('flash-error', `erase of sectors [${first}, ${end}) outside the device`);
    const perBlock = Math.max(1, BLOCK_ERASE_BYTES / this.sectorSize);
    for (let sector = first; sector < end; ) {
      if (perBlock > 1 && sector % perBlock === 0 && sector + perBlock <= end) {
        this.#eraseCommand(sector, perBlock);
        sector += perBlock;
      } else {
        this.#eraseCommand(sector, 1);
        sector++;
      }
    }
  }

  /** The part's time for erasing `bytes` from an aligned offset: tBE2 per 64 KiB block, tSE per 4 KiB rest. */
  #eraseUs(bytes: number): { us: number; blocks: number } {
    const blocks = Math.floor(bytes / BLOCK_ERASE_BYTES);
    const sectors = Math.ceil((bytes - blocks * BLOCK_ERASE_BYTES) / PART_SECTOR_BYTES);
    return { us: blocks * this.timing.blockEraseUs + sectors * this.timing.sectorEraseUs, blocks };
  }

  /** One erase operation over `count` layout sectors from `sector` (one op index: a cut tears all of it). */
  #eraseCommand(sector: number, count: number): void {
    const op = this.ops++;
    for (let k = 0; k < count; k++) this.sectorErases[sector + k]++;
    const from = sector * this.sectorSize;
    const to = from + count * this.sectorSize;
    const cost = this.#eraseUs(to - from);
    this.stats.erases++;
    this.stats.blockErases += cost.blocks;
    this.#busy(cost.us);
    if (op === this.#cutAt) {
      const random = rng(this.#seed * 7919 + op);
      if (this.#tear === 'prefix') this.bytes.fill(this.eraseValue, from, from + (random() % (to - from)));
      // Erase raises bits; a torn erase leaves each byte somewhere between old and erased.
      else for (let i = from; i < to; i++) this.bytes[i] |= random() & 0xff;
      this.#persist(from, to);
      this.#cut(op);
    }
    this.bytes.fill(this.eraseValue, from, to);
    this.#persist(from, to);
  }

  #busy(us: number): void {
    this.stats.busyUs += us;
    if (us !== 0) this.onBusy?.(us);
  }

  #cut(op: number): never {
    this.#powered = false;
    this.#cutAt = undefined;
    throw new PowerCut(op);
  }

  /** A FlashPort over [offset, offset + size) (an MCUboot flash area). */
  partition(offset: number, size: number): FlashPort {
    if (offset % this.sectorSize !== 0 || size % this.sectorSize !== 0 || offset + size > this.size) {
      throw new Error(`partition [0x${offset.toString(16)}, +0x${size.toString(16)}) is not sector-aligned inside the device`);
    }
    // The large erase is aligned on the device: a partition that does not start on a 64 KiB
    // boundary has no aligned block of its own offsets (the port then erases sector by sector).
    // A layout sector of 64 KiB is already the large erase: no larger unit to offer.
    const large = this.sectorSize < BLOCK_ERASE_BYTES && offset % BLOCK_ERASE_BYTES === 0 && size >= BLOCK_ERASE_BYTES ? { largeBlockLength: BLOCK_ERASE_BYTES } : {};
    const status: FlashStatus = { size, blockLength: this.sectorSize, writeAlign: this.writeAlign, eraseValue: this.eraseValue, ...large };
    const check = (at: number, length: number) => {
      if (at < 0 || length < 0 || at + length > size) throw new OtaError('flash-error', `access [${at}, +${length}) outside the ${size}-byte partition`);
    };
    return {
      status: () => status,
      read: (at, into) => {
        check(at, into.length);
        this.read(offset + at, into);
      },
      write: (at, bytes) => {
        check(at, bytes.length);
        this.write(offset + at, bytes);
      },
      eraseBlock: (block) => {
        check(block * this.sectorSize, this.sectorSize);
        this.eraseSector(offset / this.sectorSize + block);
      },
      eraseBlocks: (first, end) => {
        if (!(Number.isInteger(first) && Number.isInteger(end) && first < end)) throw new OtaError('flash-error', `erase of blocks [${first}, ${end})`);
        check(first * this.sectorSize, (end - first) * this.sectorSize);
        const base = offset / this.sectorSize;
        this.eraseRange(base + first, base + end);
      },
      close: () => {},
    };
  }
}

/** Where the MCUboot areas sit on the NOR device, and the trailer size of that MCUboot build. */
export interface FlashLayout {
  readonly primary: { readonly offset: number; readonly size: number };
  readonly secondary: { readonly offset: number; readonly size: number };
  readonly scratch: { readonly offset: number; readonly size: number };
  readonly deviceSize: number;
  readonly sectorSize: number;
  readonly writeAlign: number;
  readonly eraseValue: number;
  /** MCUBOOT_MAX_IMG_SECTORS of the build (imgtool --max-sectors): sizes the swap status area. */
  readonly maxSectors: number;
  /** trailerSize(maxSectors, writeAlign) (src/image/trailer.ts). */
  readonly trailerSize: number;
}

/** The board whose flash the dev kit simulates by default (docs/device-build.md, the named board). */
export const DEVKIT_BOARD = 'pico_plus2';

/**
 * The dev kit's write unit: 8 bytes, MCUboot's BOOT_MAX_ALIGN and the `--align 8` images are signed
 * with, also for boards whose flash writes single bytes (the RP2350, the RT1062's QSPI flash). A
 * multiple of every board's unit, so what the dev kit accepts the board accepts.
 */
export const DEVKIT_WRITE_ALIGN = 8;

/** boards/<board>/flash-layout.json: the board's partitions as its devicetree overlay defines them. */
interface BoardLayoutFile {
  readonly flash: { readonly size: number; readonly sectorSize: number; readonly writeAlign: number; readonly eraseValue: number };
  readonly mcubootMaxImgSectors: number;
  readonly partitions: readonly { readonly label: string; readonly offset: number; readonly size: number }[];
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

/**
 * A board's MCUboot areas as the dev kit simulates them, read from the one table the board has
 * (boards/<board>/flash-layout.json, which test/unit/moddable/boards.spec.ts checks against its
 * overlay): partitions image-0, image-1 and image-scratch at their offsets, the sector size, the
 * erase value and MCUBOOT_MAX_IMG_SECTORS; the write unit is DEVKIT_WRITE_ALIGN. The simulated NOR
 * device ends at the last of these areas: MCUboot's own partition below them is erased flash no
 * one touches here, and the settings partition is the key-value store (sim-key-value.ts).
 */
export function boardLayout(board: string): FlashLayout {
  const file = JSON.parse(readFileSync(path.join(repoRoot, 'boards', board, 'flash-layout.json'), 'utf8')) as BoardLayoutFile;
  const area = (label: string) => {
    const p = file.partitions.find((x) => x.label === label);
    if (!p) throw new Error(`boards/${board}/flash-layout.json: no partition '${label}'`);
    return { offset: p.offset, size: p.size };
  };
  const [primary, secondary, scratch] = [area('image-0'), area('image-1'), area('image-scratch')];
  if (DEVKIT_WRITE_ALIGN % file.flash.writeAlign !== 0) throw new Error(`boards/${board}: write unit ${file.flash.writeAlign} does not divide the dev kit's ${DEVKIT_WRITE_ALIGN}`);
  return {
    primary,
    secondary,
    scratch,
    deviceSize: Math.max(...[primary, secondary, scratch].map((a) => a.offset + a.size)),
    sectorSize: file.flash.sectorSize,
    writeAlign: DEVKIT_WRITE_ALIGN,
    eraseValue: file.flash.eraseValue,
    maxSectors: file.mcubootMaxImgSectors,
    trailerSize: trailerSize(file.mcubootMaxImgSectors, DEVKIT_WRITE_ALIGN),
  };
}

/**
 * The dev kit's default flash layout: the named board's (boards/pico_plus2: 1 MiB slots at
 * 0x10000 and 0x110000, 64 KiB scratch at 0x210000, 64 KiB sectors, 16 per slot, trailer 432 bytes;
 * docs/flash-layout.md).
 */
export const DEVKIT_LAYOUT: FlashLayout = boardLayout(DEVKIT_BOARD);

/**
 * The layout of the earlier dev kit: two 0x60000 slots from offset 0 and a 64 KiB scratch, 128
 * sectors (the MCUboot default), trailer 3120 bytes. The MCUboot test vectors
 * (test/fixtures/mcuboot, imgtool --slot-size 0x60000) and the firmware fixtures were made for it;
 * a spec about slot capacity, trailer offsets or images padded to the slot names it explicitly.
 */
export const SMALL_SLOT_LAYOUT: FlashLayout = {
  primary: { offset: 0x000000, size: 0x60000 },
  secondary: { offset: 0x060000, size: 0x60000 },
  scratch: { offset: 0x0c0000, size: 0x10000 },
  deviceSize: 0x0d0000,
  sectorSize: 0x1000,
  writeAlign: DEVKIT_WRITE_ALIGN,
  eraseValue: 0xff,
  maxSectors: BOOT_MAX_IMG_SECTORS,
  trailerSize: 3120,
} as const;

/**
 * A layout like SMALL_SLOT_LAYOUT (slots from offset 0) with both slots `slotSize` bytes (the
 * bench's 1 MiB images, header to last TLV, need more than the board's 1 MiB slot: 0x140000) and
 * a 64 KiB scratch. With 4 KiB sectors (the default) MCUBOOT_MAX_IMG_SECTORS is the larger of
 * MCUboot's default 128 and the slot's sectors (MCUboot refuses to boot a slot its table cannot
 * describe; 0x140000: 320 sectors, 320 x 3 x 8 + 48 = 7728 bytes of trailer). With the named
 * board's 64 KiB sectors (`boardSlotLayout`) it is the slot's sector count, as the board's
 * MCUboot build sets it (0x140000: 20 sectors, trailer 528 bytes).
 */
export function slotLayout(slotSize: number, sectorSize: number = SMALL_SLOT_LAYOUT.sectorSize): FlashLayout {
  if (slotSize <= 0 || slotSize % sectorSize !== 0) throw new Error(`slot size 0x${slotSize.toString(16)} is not a positive multiple of the ${sectorSize}-byte sector`);
  const sectors = slotSize / sectorSize;
  const maxSectors = sectorSize === SMALL_SLOT_LAYOUT.sectorSize ? Math.max(BOOT_MAX_IMG_SECTORS, sectors) : sectors;
  const scratchSize = Math.max(SMALL_SLOT_LAYOUT.scratch.size, sectorSize);
  return {
    primary: { offset: 0, size: slotSize },
    secondary: { offset: slotSize, size: slotSize },
    scratch: { offset: 2 * slotSize, size: scratchSize },
    deviceSize: 2 * slotSize + scratchSize,
    sectorSize,
    writeAlign: SMALL_SLOT_LAYOUT.writeAlign,
    eraseValue: SMALL_SLOT_LAYOUT.eraseValue,
    maxSectors,
    trailerSize: trailerSize(maxSectors, SMALL_SLOT_LAYOUT.writeAlign),
  };
}

/** slotLayout with the named board's sector (DEVKIT_LAYOUT.sectorSize): what the bench's larger slots use. */
export function boardSlotLayout(slotSize: number): FlashLayout {
  return slotLayout(slotSize, DEVKIT_LAYOUT.sectorSize);
}

export interface DevkitFlash {
  device: SimNorFlash;
  layout: FlashLayout;
  primary: FlashPort;
  secondary: FlashPort;
  scratch: FlashPort;
  /** Power-cut controls (operation indices are the device's program/erase count). */
  powerCut: {
    /** Cut at the `n`-th program/erase operation from now (0 = the next one). */
    afterOps(n: number, tear?: TearMode): void;
    clear(): void;
    powerOn(): void;
    readonly ops: number;
    readonly powered: boolean;
  };
}

/** The dev kit's flash: one NOR device with the MCUboot primary, secondary and scratch areas. */
export function createDevkitFlash(options: { file?: string; seed?: number; layout?: FlashLayout; timing?: FlashTiming } = {}): DevkitFlash {
  const L = options.layout ?? DEVKIT_LAYOUT;
  const device = new SimNorFlash({ size: L.deviceSize, sectorSize: L.sectorSize, writeAlign: L.writeAlign, eraseValue: L.eraseValue, file: options.file, seed: options.seed, timing: options.timing });
  return {
    device,
    layout: L,
    primary: device.partition(L.primary.offset, L.primary.size),
    secondary: device.partition(L.secondary.offset, L.secondary.size),
    scratch: device.partition(L.scratch.offset, L.scratch.size),
    powerCut: {
      afterOps: (n, tear) => device.cutAt(device.ops + n, tear),
      clear: () => device.clearCut(),
      powerOn: () => device.powerOn(),
      get ops() {
        return device.ops;
      },
      get powered() {
        return device.powered;
      },
    },
  };
}
