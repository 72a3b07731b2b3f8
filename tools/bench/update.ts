/**
 * The update-cycle bench: whole updates on the simulated dev kit with the agent inside XS
 * (tools/devkit/devkit.ts `runDevkitUpdate`), images signed at run time with the vectors' signing
 * key. Every figure is virtual time, a counter or an XS meter count; none is wall-clock.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { signImage } from '../image/imgtool-sign.js';
import type { AgentConfig } from '../../src/agent/config.js';
import { runDevkitUpdate, type DevkitFault, type DevkitSummary } from '../devkit/devkit.js';
import { DEVKIT_LAYOUT, boardSlotLayout, slotLayout, type FlashLayout, type FlashTimingName } from '../devkit/parts/sim-flash.js';
import { rigImage } from './rig.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const vectors = path.join(repoRoot, 'test', 'fixtures', 'mcuboot');
/** The vectors' signing key: MCUboot and the A5000 trust its public half. */
export const SIGNING_KEY_FILE = path.join(vectors, 'keys', 'signing-key-p256.pem');
/** The image in the primary slot before the update (imgtool vector, version 1.2.3+4). */
export const BASE_IMAGE_FILE = path.join(vectors, 'images', 'small-v1.2.3+4.signed.bin');
/** Version of the images the bench offers: newer than the base's 1.2.3+4. */
export const BENCH_VERSION = '2.0.0+1';

/** KEYHASH (4 + 32), SHA256 (4 + 32), ECDSA_SIG (4 + 70..72) and the TLV info header (4). */
const TLV_OVERHEAD_BASE = 4 + 36 + 36 + 4;
/** The DER signature length the bench keeps (r and s of 32 bytes, one of them with the high bit set). */
const SIG_LENGTH = 71;

/**
 * A signed image of exactly `size` bytes (header to the last TLV), version BENCH_VERSION.
 * ECDSA signatures are 70-72 bytes in DER depending on the random nonce; signing again until the
 * signature is 71 bytes keeps the size (and the I2C byte count of the verification) fixed.
 */
export function benchImage(size: number, keyPem = readFileSync(SIGNING_KEY_FILE, 'utf8')): Uint8Array {
  const body = size - 0x200 - TLV_OVERHEAD_BASE - SIG_LENGTH;
  const input = rigImage(body, size);
  for (let attempt = 0; attempt < 64; attempt++) {
    const image = signImage(input, { keyPem, version: BENCH_VERSION, padHeader: true, headerSize: 0x200, align: 8 });
    if (image.length === size) return image;
  }
  throw new Error(`could not sign a ${size}-byte image with a ${SIG_LENGTH}-byte signature`);
}

export interface UpdateRun {
  summary: DevkitSummary;
  layout: FlashLayout;
}

export async function runBenchUpdate(options: {
  image: Uint8Array;
  layout?: FlashLayout;
  modem?: 'sim7080' | 'sim7600';
  baud?: number;
  faults?: DevkitFault[];
  /** Agent policy over the dev kit's (e.g. downloadSegmentBytes, to measure its cost). */
  policy?: Partial<AgentConfig>;
  /** Flash timing of the NOR part (default 'typical'). */
  flashTiming?: FlashTimingName;
  /** The board's modem UART wiring (default the dev kit's 'rts-cts'). */
  flowControl?: 'rts-cts' | 'none';
  /** hawkBit assigns the update this long after power-on (the device idles first; DevkitOptions.offerAfterS). */
  offerAfterS?: number;
  /** The board wires the modem's STATUS to a GPIO input (DevkitOptions.modemStatusPin). */
  modemStatusPin?: boolean;
}): Promise<UpdateRun> {
  const layout = options.layout ?? DEVKIT_LAYOUT;
  const keyPem = readFileSync(SIGNING_KEY_FILE, 'utf8');
  const summary = await runDevkitUpdate({
    modem: options.modem ?? 'sim7080',
    baud: options.baud ?? 115_200,
    image: options.image,
    baseImage: new Uint8Array(readFileSync(BASE_IMAGE_FILE)),
    trustedKeyPem: keyPem,
    layout,
    faults: options.faults,
    policy: options.policy,
    flashTiming: options.flashTiming,
    flowControl: options.flowControl,
    offerAfterS: options.offerAfterS,
    modemStatusPin: options.modemStatusPin,
    seed: 1,
  });
  return { summary, layout };
}

export { boardSlotLayout, slotLayout };

/** Target for bytes fetched again after a power cut mid-download (issue). */
export const REDOWNLOAD_TARGET_BYTES = 4096;
/** Target for erases per secondary-slot sector during one download (issue). */
export const ERASES_PER_SECTOR_TARGET = 1;

/** Figures of one update run that the bench section prints. */
export interface UpdateFigures {
  imageBytes: number;
  outcome: string;
  virtualS: number;
  /** Virtual seconds from the first download request to entering verify. */
  downloadS: number;
  goodputBps: number;
  /** XS heap slots after a full collection: at boot (base) and the peak of the samples. */
  liveHeapBase: number;
  liveHeapPeak: number;
  /** XS heap slots in use incl. uncollected garbage (the engine collects when its heap is full). */
  heapCountPeak: number;
  /** Bytes the engine reserved (xsnap allocate), base and peak. */
  allocateBase: number;
  allocatePeak: number;
  /** Server artifact bytes minus the image. */
  serverExtraBytes: number;
  /** Image bytes the agent programmed again (after a resume) = programmed minus the image. */
  rewrittenBytes: number;
  imageSectors: number;
  /** Agent erases of the sectors the image occupies, before the swap. */
  imageSectorErases: number;
  maxErasesPerImageSector: number;
  /** Agent erases of the trailer's sectors, before the swap. */
  trailerSectorErases: number;
  i2cBytesPerVerification: number;
  verifications: number;
  /** Key-value writes over the whole run (journal saves: parts + header each; wear). */
  keyValueWrites: number;
}

export function updateFigures(run: UpdateRun): UpdateFigures {
  const s = run.summary;
  const sector = run.layout.sectorSize;
  const imageSectors = Math.ceil(s.imageBytes / sector);
  const erases = s.flash.agentSecondaryErases;
  const firstTrailerSector = Math.floor((run.layout.secondary.size - run.layout.trailerSize) / sector);
  const imageErases = erases.slice(0, imageSectors);
  const start = s.logs.find((e) => e.event === 'download.start');
  const done = [...s.logs].reverse().find((e) => e.event === 'download.done');
  return {
    imageBytes: s.imageBytes,
    outcome: s.outcome,
    virtualS: s.virtualMs / 1000,
    downloadS: start && done ? (done.at - start.at) / 1000 : 0,
    goodputBps: s.downloadGoodputBps,
    liveHeapBase: s.xs.baseLiveHeapCount,
    liveHeapPeak: s.xs.peakLiveHeapCount,
    heapCountPeak: s.xs.peakHeapCount,
    allocateBase: s.xs.baseAllocate,
    allocatePeak: s.xs.peakAllocate,
    serverExtraBytes: s.artifactBytesSent - s.imageBytes,
    rewrittenBytes: s.flash.agentImageBytesWritten - s.imageBytes,
    imageSectors,
    imageSectorErases: imageErases.reduce((a, b) => a + b, 0),
    maxErasesPerImageSector: Math.max(...imageErases),
    trailerSectorErases: erases.slice(firstTrailerSector).reduce((a, b) => a + b, 0),
    i2cBytesPerVerification: s.a5000.verifications > 0 ? (s.a5000.i2cBytesToSe + s.a5000.i2cBytesFromSe) / s.a5000.verifications : 0,
    verifications: s.a5000.verifications,
    keyValueWrites: s.keyValue.writes,
  };
}
