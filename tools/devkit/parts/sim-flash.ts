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
 * Block erases: Zephyr's spi_nor driver serves a flash_erase of an aligned 64 KiB range with one
 * block erase (tBE2), not sixteen sector erases. The agent asks for them through the port's
 * `eraseBlocks(first, end)` (`eraseRange` here): every aligned 64 KiB block inside the range is
 * one operation timed tBE2 (a power cut tears the whole block), the rest one sector erase each.
 * MCUboot's flash_area_erase calls (tools/devkit/parts/sim-mcuboot.ts) arrive as runs of sector
 * erases: a run of back-to-back sector erases (no read or program between) that completes an
 * aligned 64 KiB block is timed as one block erase too.
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
  /** 64 KiB block erases asked for through eraseRange (each also counts in `erases`). */
  blockErases: number;
}

/** The block erase of the part (W25Q64JV tBE2: 64 KiB). */
export const BLOCK_ERASE_BYTES = 0x10000;

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
  /** Told the device time of every operation, us (the dev kit blocks the MCU for it); negative
   * when a run of sector erases turned out to be one block erase (see FlashTiming). */
  onBusy: ((us: number) => void) | undefined;
  /** Back-to-back sector erases from a 64 KiB boundary: the next sector expected, the count. */
  #eraseRun = { next: -1, count: 0 };
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
    this.#eraseRun.count = 0;
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
    this.#eraseRun.count = 0;
    this.stats.bytesWritten += data.length;
    this.#busy((data.length / 256) * this.timing.programUsPer256);
    if (rewrite) this.stats.rewrites++;
    this.#persist(addr, addr + data.length);
    if (torn) this.#cut(op);
  }

  eraseSector(sector: number): void {
    this.#alive();
    if (sector < 0 || (sector + 1) * this.sectorSize > this.size) throw new OtaError('flash-error', `erase of sector ${sector} outside the device`);
    const op = this.ops++;
    this.sectorErases[sector]++;
    const from = sector * this.sectorSize;
    const to = from + this.sectorSize;
    if (op === this.#cutAt) {
      const random = rng(this.#seed * 7919 + op);
      if (this.#tear === 'prefix') {
        this.bytes.fill(this.eraseValue, from, from + (random() % this.sectorSize));
      } else {
        // Erase raises bits; a torn erase leaves each byte somewhere between old and erased.
        for (let i = from; i < to; i++) this.bytes[i] |= random() & 0xff;
      }
      this.stats.erases++;
      this.#busy(this.timing.sectorEraseUs);
      this.#persist(from, to);
      this.#cut(op);
    }
    this.bytes.fill(this.eraseValue, from, to);
    this.stats.erases++;
    this.#busy(this.timing.sectorEraseUs);
    this.#persist(from, to);
    this.#blockErase(sector);
  }

  /**
   * Erases sectors [first, end): every aligned 64 KiB block inside the range with one block erase
   * (one operation, tBE2), the sectors outside such blocks one by one (the spi_nor driver's
   * flash_erase). A power cut at a block erase tears the whole block: in 'prefix' mode it is
   * erased up to a random byte, in 'random' mode every byte lies between old and erased.
   */
  eraseRange(first: number, end: number): void {
    this.#alive();
    const sectors = this.size / this.sectorSize;
    if (!(first >= 0 && end <= sectors && first < end)) throw new OtaError('flash-error', `erase of sectors [${first}, ${end}) outside the device`);
    const perBlock = BLOCK_ERASE_BYTES / this.sectorSize;
    for (let sector = first; sector < end; ) {
      if (sector % perBlock === 0 && sector + perBlock <= end) {
        this.#eraseBlock64(sector, perBlock);
        sector += perBlock;
      } else {
        this.eraseSector(sector);
        sector++;
      }
    }
  }

  #eraseBlock64(sector: number, perBlock: number): void {
    this.#alive();
    const op = this.ops++;
    for (let k = 0; k < perBlock; k++) this.sectorErases[sector + k]++;
    const from = sector * this.sectorSize;
    const to = from + perBlock * this.sectorSize;
    this.#eraseRun.count = 0;
    this.stats.erases++;
    this.stats.blockErases++;
    this.#busy(this.timing.blockEraseUs);
    if (op === this.#cutAt) {
      const random = rng(this.#seed * 7919 + op);
      if (this.#tear === 'prefix') this.bytes.fill(this.eraseValue, from, from + (random() % (to - from)));
      else for (let i = from; i < to; i++) this.bytes[i] |= random() & 0xff;
      this.#persist(from, to);
      this.#cut(op);
    }
    this.bytes.fill(this.eraseValue, from, to);
    this.#persist(from, to);
  }

  /** Times a run of sector erases that completes an aligned 64 KiB block as one block erase. */
  #blockErase(sector: number): void {
    const perBlock = BLOCK_ERASE_BYTES / this.sectorSize;
    const run = this.#eraseRun;
    if (run.count > 0 && sector === run.next) run.count++;
    else run.count = sector % perBlock === 0 ? 1 : 0;
    run.next = sector + 1;
    if (run.count === perBlock) {
      run.count = 0;
      const refund = perBlock * this.timing.sectorEraseUs - this.timing.blockEraseUs;
      if (refund > 0) this.#busy(-refund);
    }
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
    const large = offset % BLOCK_ERASE_BYTES === 0 && size >= BLOCK_ERASE_BYTES ? { largeBlockLength: BLOCK_ERASE_BYTES } : {};
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
 * 0x10000 and 0x110000, 64 KiB scratch at 0x210000, 256 sectors per slot, trailer 6192 bytes;
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
 * bench's 1 MiB images, header to last TLV, need more than the board's 1 MiB slot: 0x140000). MCUBOOT_MAX_IMG_SECTORS must cover a slot's sectors (MCUboot refuses to boot
 * otherwise), so it is the slot's sector count, and the trailer grows with it
 * (0x140000: 320 sectors, 320 x 3 x 8 + 48 = 7728 bytes). The scratch area stays 64 KiB.
 */
export function slotLayout(slotSize: number): FlashLayout {
  const sectorSize = SMALL_SLOT_LAYOUT.sectorSize;
  if (slotSize <= 0 || slotSize % sectorSize !== 0) throw new Error(`slot size 0x${slotSize.toString(16)} is not a positive multiple of the 4 KiB sector`);
  const maxSectors = Math.max(BOOT_MAX_IMG_SECTORS, slotSize / sectorSize);
  const scratchSize = SMALL_SLOT_LAYOUT.scratch.size;
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
