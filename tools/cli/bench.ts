/**
 * `xs-ota bench`: deterministic performance figures of the agent on the simulated dev kit. Every
 * figure comes from virtual time and counters (never the wall clock), so two runs print the same.
 *
 * Sections are functions returning rows; add one by writing `async function mySection(): Promise<BenchSection>`
 * and listing it in SECTIONS.
 *
 *   xs-ota bench            table
 *   xs-ota bench --json     the same figures as JSON (always written to build/bench.json too)
 *   xs-ota bench --json-out docs/bench.json   also write the JSON there (`npm run docs:bench`)
 *   xs-ota bench --section modem-download
 *   xs-ota bench --section xs-modem     (the agent inside XS; slower)
 *   xs-ota bench --section flash        (the flash cost per bundle; needs $MODDABLE, the real SDK)
 */
import { MiB, runNode, type Model, type Transport } from '../bench/rig.js';
import { runXs } from '../bench/rig-xs.js';
import { deviceProfileSection } from '../bench/device-profile.js';
import { benchSeVerification } from '../bench/se.js';
import { BASE_IMAGE_FILE, benchImage, ERASES_PER_SECTOR_TARGET, REDOWNLOAD_TARGET_BYTES, runBenchUpdate, boardSlotLayout, SIGNING_KEY_FILE, slotLayout, updateFigures, type UpdateFigures } from '../bench/update.js';
import { swapCost } from '../bench/swap-cost.js';
import { CAT_1, CAT_M } from '../devkit/parts/sim-modem/index.js';
import { BAUDS, bottleneckBps, confirmedMs, CYCLE_SLOT_SIZE, type CycleStart, cycleRun, flashLimit, flashLimitErased, IDLE_OFFER_AFTER_S, type ModemStatusWiring, MODEMS, phases, STARTS, TARGET_CONFIRMED_OVER_TRANSFER, TARGET_TYPICAL, TARGET_WORST, TIMINGS } from '../bench/cycle.js';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { flashTiming, type FlashTimingName } from '../devkit/parts/sim-flash.js';
import path from 'node:path';
import { EXIT, wantsHelp } from './cli-common.js';
import type { Command } from './main.js';

export interface BenchSection {
  name: string;
  title: string;
  /** Column names, in print order. */
  columns: string[];
  rows: Record<string, string | number | boolean>[];
  /** Lines printed under the table (definitions, the verdict). */
  notes: string[];
}

/** Goodput target as a ratio of the bottleneck rate (issue 5). */
export const GOODPUT_TARGET = 0.9;

/**
 * The transport the agent uses for `model` on a board with this UART wiring (src/agent/start.ts
 * passes the wiring to the driver, which pushes exactly when RTS/CTS is wired;
 * src/net/modem-http.ts `modemHttpClient` then picks the client).
 */
export function defaultTransport(model: Model, flowControl: 'rts-cts' | 'none'): Transport {
  if (flowControl === 'rts-cts') return 'socket-push';
  return model === 'sim7600' ? 'native' : 'socket';
}

/**
 * A 1 MiB download through each SIMCom personality and transport at 115200 and 921600 baud:
 * goodput as a ratio of the bottleneck (the lower of the UART line rate, baud/10 bytes/s for 8N1,
 * and the simulated network's downlink rate), UART bytes per payload byte, requests per MiB.
 */
export async function modemDownloadSection(options: { size?: number } = {}): Promise<BenchSection> {
  const size = options.size ?? MiB;
  const rows: BenchSection['rows'] = [];
  const best = new Map<string, { transport: Transport; ratio: number }>();
  for (const model of ['sim7080', 'sim7600'] as Model[]) {
    for (const baud of [115_200, 921_600]) {
      for (const transport of ['socket', 'socket-push', 'native'] as Transport[]) {
        const run = await runNode({ model, transport, baud, size });
        if (!Buffer.from(run.received).equals(Buffer.from(run.image))) throw new Error(`${model} ${transport} ${baud}: bytes differ`);
        const uartRate = baud / 10;
        const netRate = run.network.downlinkBps / 8;
        const bottleneck = Math.min(uartRate, netRate);
        const goodput = size / (run.downloadMs / 1000);
        const ratio = goodput / bottleneck;
        rows.push({
          modem: model,
          baud,
          transport,
          seconds: round(run.downloadMs / 1000, 2),
          goodputBps: Math.round(goodput),
          bottleneckBps: Math.round(bottleneck),
          bottleneck: uartRate <= netRate ? 'uart' : 'network',
          ratio: round(ratio, 3),
          uartRxPerByte: round(run.uartToHost / size, 4),
          uartTxPerByte: round(run.uartToModem / size, 4),
          requestsPerMiB: round((run.serverRequests * MiB) / size, 1),
        });
        const key = `${model}@${baud}`;
        if (!best.has(key) || best.get(key)!.ratio < ratio) best.set(key, { transport, ratio });
      }
    }
  }
  for (const row of rows) {
    row.best = best.get(`${row.modem}@${row.baud}`)!.transport === row.transport;
    // What the agent picks (src/agent/start.ts, src/net/modem-http.ts `modemHttpClient`) on a
    // board with RTS/CTS (the dev kit): pushed socket data on both modems.
    row.default = row.transport === defaultTransport(row.modem as Model, 'rts-cts');
  }
  const worstDefault = Math.min(...rows.filter((r) => r.default).map((r) => r.ratio as number));
  const worstBest = Math.min(...rows.filter((r) => r.best).map((r) => r.ratio as number));
  // Without RTS/CTS the agent never takes pushed data (a slow flash write would overrun the UART).
  const noFlowDefaults = rows.filter((r) => r.transport === defaultTransport(r.modem as Model, 'none'));
  const worstNoFlow = Math.min(...noFlowDefaults.map((r) => r.ratio as number));
  const noFlowText = noFlowDefaults.map((r) => `${r.modem} ${r.transport}@${r.baud} ${r.ratio}`).join(', ');
  return {
    name: 'modem-download',
    title: `Modem: ${size === MiB ? '1 MiB' : `${size} B`} download (virtual time; goodput / bottleneck, target >= ${GOODPUT_TARGET})`,
    columns: ['modem', 'baud', 'transport', 'default', 'best', 'seconds', 'goodputBps', 'bottleneck', 'bottleneckBps', 'ratio', 'uartRxPerByte', 'uartTxPerByte', 'requestsPerMiB'],
    rows,
    notes: [
      'bottleneck = min(UART line rate = baud/10 B/s (8N1), simulated network downlink); goodput = image bytes / virtual seconds from the first request to the last byte (connection and TLS setup included, modem bring-up excluded).',
      'uartRxPerByte / uartTxPerByte = UART bytes modem->host / host->modem per image byte; requestsPerMiB = HTTP requests the server saw, per MiB.',
      `default = what the agent picks on a board with RTS/CTS wired (uartFlowControl 'rts-cts', the dev kit): socket-push on both modems; worst default ratio ${round(worstDefault, 3)} (${worstDefault >= GOODPUT_TARGET ? 'meets' : 'BELOW'} the ${GOODPUT_TARGET} target).`,
      `default without RTS/CTS (uartFlowControl 'none'): SIM7080 socket (AT+CARECV), SIM7600 built-in HTTP: ${noFlowText}; worst ${round(worstNoFlow, 3)} (${worstNoFlow >= GOODPUT_TARGET ? 'meets' : 'BELOW'} the target).`,
      `best = the fastest transport per modem and rate; worst best ratio ${round(worstBest, 3)} (${worstBest >= GOODPUT_TARGET ? 'meets' : 'BELOW'} the target). socket-push = data pushed by the modem (SIM7080 AT+CAOPEN recv_mode 1, SIM7600 AT+CCHSET=1,0) with RTS/CTS (AT+IFC=2,2) on the simulated UART.`,
      'SIM7080 manual socket reads are bounded by AT+CARECV (at most 1460 bytes per command, M7080 12.2) plus one command round trip each; SH* windows serialise radio and UART (store and forward).',
      'Field reference: TinyGSM-style socket reads give 5-6 kB/s even at 921600 baud (simcom-at.md §8).',
    ],
  };
}

/**
 * The same download with the agent inside the XS engine (default transports, 921600 baud): the
 * virtual-time figures match Node's, plus what XS spent: its computation meter per payload byte and
 * the peak heap count (slots) over bring-up and download. The meter depends on how the loopback
 * server's bytes were chunked, so it may move by a few percent between runs.
 */
export async function xsModemSection(options: { size?: number } = {}): Promise<BenchSection> {
  const size = options.size ?? MiB;
  const rows: BenchSection['rows'] = [];
  for (const [model, transport] of [
    ['sim7080', defaultTransport('sim7080', 'rts-cts')],
    ['sim7600', defaultTransport('sim7600', 'rts-cts')],
    ['sim7080', defaultTransport('sim7080', 'none')],
    ['sim7600', defaultTransport('sim7600', 'none')],
  ] as [Model, Transport][]) {
    const baud = 921_600;
    const run = await runXs({ model, transport, baud, size });
    if (!Buffer.from(run.out.received).equals(Buffer.from(run.image))) throw new Error(`${model} ${transport}: bytes differ on XS`);
    const bottleneck = Math.min(baud / 10, run.network.downlinkBps / 8);
    rows.push({
      modem: model,
      baud,
      transport,
      seconds: round(run.out.ms / 1000, 2),
      ratio: round(size / (run.out.ms / 1000) / bottleneck, 3),
      uartRxPerByte: round(run.uartToHost / size, 4),
      xsComputePerByte: round(run.meter.compute / size, 1),
      xsPeakHeapCount: run.meter.peakHeapCount,
      xsCranks: run.meter.cranks,
    });
  }
  return {
    name: 'xs-modem',
    title: `Modem on XS: ${size === MiB ? '1 MiB' : `${size} B`} download with the agent in xsnap (default transports with and without RTS/CTS)`,
    columns: ['modem', 'baud', 'transport', 'seconds', 'ratio', 'uartRxPerByte', 'xsComputePerByte', 'xsPeakHeapCount', 'xsCranks'],
    rows,
    notes: [
      'xsComputePerByte = XS computation meter over bring-up and download / image bytes; xsPeakHeapCount = peak XS heap slots; xsCranks = host->XS deliveries.',
    ],
  };
}

/** Slot size of the update section's layout: a 1 MiB image (header to last TLV) needs more than the board's 1 MiB slot. */
export const UPDATE_SLOT_SIZE = 0x140000;

/**
 * Whole updates on the simulated dev kit with the agent inside XS (server, modem, A5000, flash,
 * MCUboot): a 1 MiB image signed now with the vectors' key, in a layout with 0x140000-byte slots
 * (the board's 1 MiB slots, the dev kit's default, hold at most 0xF0000 bytes of image). Runs: 1 MiB on SIM7080 at 115200 baud
 * (SIM7600 is left out: on the dev kit its built-in HTTP POST answers ERROR, so the hawkBit
 * feedback never gets through and the update never reports), 128 KiB on SIM7080 (does XS memory grow with the image?), and 1 MiB on SIM7080 with
 * a power cut at 50% of the download.
 */
export async function updateSection(options: { small?: number; large?: number } = {}): Promise<BenchSection> {
  const large = options.large ?? MiB;
  const small = options.small ?? 128 * 1024;
  const layout = boardSlotLayout(UPDATE_SLOT_SIZE);
  const largeImage = benchImage(large);
  const baud = 115_200;
  const runs: { label: string; modem: Model; f: UpdateFigures }[] = [];
  const run = async (label: string, modem: Model, image: Uint8Array, powerCut = false): Promise<UpdateFigures> => {
    const r = await runBenchUpdate({ image, layout, modem, baud, faults: powerCut ? [{ kind: 'power-cut', at: 0.5 }] : [] });
    const f = updateFigures(r);
    if (f.outcome !== 'running') throw new Error(`update ${label}: outcome ${f.outcome} (${r.summary.reason ?? ''})`);
    runs.push({ label, modem, f });
    return f;
  };
  const sizeName = (n: number) => (n % MiB === 0 ? `${n / MiB} MiB` : `${n / 1024} KiB`);
  const big =
    large === 1 << 20
      ? await (async () => {
          const f = updateFigures(await cycleRun('sim7080', baud, 'typical'));
          if (f.outcome !== 'running') throw new Error(`update 1 MiB sim7080@${baud}: outcome ${f.outcome}`);
          runs.push({ label: `${sizeName(large)} sim7080@${baud}`, modem: 'sim7080', f });
          return f;
        })()
      : await run(`${sizeName(large)} sim7080@${baud}`, 'sim7080', largeImage);
  const little = await run(`${sizeName(small)} sim7080@${baud}`, 'sim7080', benchImage(small));
  const cut = await run(`${sizeName(large)} sim7080@${baud} power-cut@50%`, 'sim7080', largeImage, true);
  const se = await benchSeVerification();

  const rows: BenchSection['rows'] = [];
  const row = (figure: string, runLabel: string, value: number, unit: string, target = '', meets: boolean | '' = '') =>
    rows.push({ figure, run: runLabel, value: round(value, 3), unit, target, meets });
  for (const r of runs.filter((x) => x.f.imageBytes === large && x.label.indexOf('power-cut') < 0)) {
    const bottleneck = Math.min(baud / 10, (r.modem === 'sim7080' ? CAT_M : CAT_1).downlinkBps / 8);
    const ratio = r.f.goodputBps / bottleneck;
    row('download time', r.label, r.f.downloadS, 's (virtual)');
    row('goodput', r.label, Math.round(r.f.goodputBps), 'B/s');
    row('bottleneck', r.label, Math.round(bottleneck), 'B/s');
    row('goodput ratio', r.label, ratio, 'of bottleneck', `>= ${GOODPUT_TARGET}`, ratio >= GOODPUT_TARGET);
    row('whole update', r.label, r.f.virtualS, 's (virtual)');
  }
  for (const r of [little, big]) {
    const label = runs.find((x) => x.f === r)!.label;
    row('XS live heap at boot', label, r.liveHeapBase, 'slots');
    row('XS live heap peak', label, r.liveHeapPeak, 'slots');
    row('XS live heap growth', label, r.liveHeapPeak - r.liveHeapBase, 'slots');
    row('XS heap slots in use peak', label, r.heapCountPeak, 'slots');
    row('XS reserved heap growth', label, r.allocatePeak - r.allocateBase, 'bytes');
  }
  const growthDiff = big.liveHeapPeak - big.liveHeapBase - (little.liveHeapPeak - little.liveHeapBase);
  row('XS live heap growth, large - small', `${sizeName(large)} vs ${sizeName(small)}`, growthDiff, 'slots');
  const cutLabel = runs.find((x) => x.f === cut)!.label;
  row('image bytes programmed again', cutLabel, cut.rewrittenBytes, 'bytes', `<= ${REDOWNLOAD_TARGET_BYTES}`, cut.rewrittenBytes <= REDOWNLOAD_TARGET_BYTES);
  row('server artifact bytes - image', cutLabel, cut.serverExtraBytes, 'bytes', `<= ${REDOWNLOAD_TARGET_BYTES}`, cut.serverExtraBytes <= REDOWNLOAD_TARGET_BYTES);
  for (const r of [big, cut]) {
    const label = runs.find((x) => x.f === r)!.label;
    const perSector = r.imageSectorErases / r.imageSectors;
    row('agent erases per image sector', label, perSector, 'erases/sector', `${ERASES_PER_SECTOR_TARGET}`, perSector <= ERASES_PER_SECTOR_TARGET);
    row('max agent erases of one image sector', label, r.maxErasesPerImageSector, 'erases');
    row('agent erases of trailer sectors', label, r.trailerSectorErases, 'erases');
    row('key-value writes (journal parts and headers)', label, r.keyValueWrites, 'writes');
  }
  row('I2C bytes per verification', big.verifications === 1 ? runs[0].label : `${runs[0].label} (${big.verifications} verifications)`, big.i2cBytesPerVerification, 'bytes');
  row('I2C bytes, first verification', 'benchSeVerification', se.first.i2cBytes, 'bytes');
  row('I2C bytes, later verification', 'benchSeVerification', se.next.i2cBytes, 'bytes');
  return {
    name: 'update',
    title: `Update cycle: whole updates on the simulated dev kit, agent in XS (${sizeName(large)} image, slots 0x${UPDATE_SLOT_SIZE.toString(16)})`,
    columns: ['figure', 'run', 'value', 'unit', 'target', 'meets'],
    rows,
    notes: [
      `layout: slots 0x${UPDATE_SLOT_SIZE.toString(16)} of ${layout.sectorSize / 1024} KiB sectors (the board's) + 64 KiB scratch, MCUBOOT_MAX_IMG_SECTORS ${layout.maxSectors}, trailer ${layout.trailerSize} bytes (the agent's trailerSize policy set to match); the dev kit's default (the board's 1 MiB slots, 64 KiB sectors) takes at most 0xF0000 bytes of image. Images: signImage with the vectors' signing key, version 2.0.0+1 over 1.2.3+4.`,
      'goodput = image bytes / virtual seconds from download.start to download.done (the first artifact request to entering verify); bottleneck = min(UART baud/10, simulated downlink) as in modem-download.',
      'XS live heap = heap slots in use right after a full collection (xsnap gc), at boot and at every 1/16 of the download and at the end; slots in use peak = before collections (bounded by the heap size, so it says little); reserved heap = xsnap allocate.',
      'power cut: the whole board (MCU, flash, modem) loses power after the flash write that reaches 50% of the image; programmed again = image bytes the agent wrote to the slot minus the image size (what crossed the link twice and reached flash).',
      'server artifact bytes - image: what the server counted as sent (the figure the issue names). The loopback link has no TCP flow control, so the server writes a whole response at once and counts it whole; the first GET (to the end) counts the full image though the device had received only up to the cut, so this is the bytes from the resume offset to the end, counted twice. On a real link the excess is bounded by the TCP window and the modem buffer, not the image.',
      'erases: the agent\'s eraseBlock calls on the secondary slot until MCUboot\'s swap, per sector the image occupies; the trailer sectors (2 for 7728 bytes) are erased at the start of every download attempt, so no stale request survives.',
      'I2C: data bytes in ACKed transactions per signature verification in the update (session start, key read, ECDSAVerify), and benchSeVerification\'s first and later verification.',
    ],
  };
}


/**
 * Issue 15's whole-update targets: 1 MiB, default settings, on both modems at both rates, with
 * the NOR part's typical and worst-case erase/program times (tools/devkit/parts/sim-flash.ts).
 */
export async function cycleSection(): Promise<BenchSection> {
  const rows: BenchSection['rows'] = [];
  // The boards' default wiring (AT probe before the power key) in every configuration; the
  // STATUS pin (issue 15: power-on to confirmed) for the cold start with typical flash.
  const runs: { start: CycleStart; timing: FlashTimingName; status: ModemStatusWiring }[] = [];
  for (const start of STARTS) for (const timing of TIMINGS) runs.push({ start, timing, status: 'probe' });
  runs.push({ start: 'cold', timing: 'typical', status: 'pin' });
  for (const { start, timing, status } of runs) {
    for (const model of MODEMS) {
      for (const baud of BAUDS) {
        const r = await cycleRun(model, baud, timing, undefined, start, status);
        const f = updateFigures(r);
        const s = r.summary;
        const bottleneck = bottleneckBps(model, baud);
        const ratio = f.goodputBps / bottleneck;
        const target = timing === 'typical' ? TARGET_TYPICAL : TARGET_WORST;
        // The physical limit of blocking 64 KiB block erases with a 4 KiB RX FIFO (cycle.ts), or
        // of page programs alone where the slot was erased ahead before the download (idle
        // start; a cold start whose link-up erase finished during the modem's bring-up).
        const downloadAt = s.logs.find((e) => e.event === 'download.start')?.at ?? Infinity;
        const erasedAhead = s.logs.some((e) => e.event === 'slot.erased-ahead' && e.boot === 1 && e.at < downloadAt);
        const limit = erasedAhead ? flashLimitErased(model, baud, flashTiming(timing)) : flashLimit(model, baud, flashTiming(timing));
        const transferS = f.imageBytes / bottleneck;
        const confirmedS = confirmedMs(s.logs) / 1000;
        const confirmed = Number.isFinite(confirmedS);
        const registeredS = (s.logs.find((e) => e.event === 'modem.registered')?.at ?? 0) / 1000;
        rows.push({
          start,
          flash: timing,
          modemStatus: status,
          modem: model,
          baud,
          outcome: f.outcome,
          downloadS: round(f.downloadS, 2),
          goodputBps: Math.round(f.goodputBps),
          bottleneckBps: Math.round(bottleneck),
          ratio: round(ratio, 3),
          erasedAhead,
          flashLimit: round(limit, 3),
          target,
          meets: ratio >= target,
          transferS: round(transferS, 2),
          confirmedS: confirmed ? round(confirmedS, 2) : 'never',
          // An idle start includes the idle minute before the offer: the power-on ratios are the cold start's.
          confirmedOverTransfer: start === 'idle' ? '' : confirmed ? round(confirmedS / transferS, 3) : 'never',
          registeredToConfirmedOverTransfer: start === 'idle' ? '' : confirmed ? round((confirmedS - registeredS) / transferS, 3) : 'never',
          reportedS: round(f.virtualS, 2),
          swapS: round((s.flash.bootloaderMs[1] ?? 0) / 1000, 2),
          flashBusyS: round(s.flash.busyMs / 1000, 2),
          ctsHolds: s.uart.ctsHolds,
          overrunBytes: s.uart.overrunBytes,
          xsComputePerByte: round(s.xs.compute / f.imageBytes, 1),
        });
      }
    }
  }
  const baseOf = (status: ModemStatusWiring) => rows.find((r) => r.start === 'cold' && r.flash === 'typical' && r.modemStatus === status && r.modem === 'sim7080' && r.baud === 115_200)!;
  const base = baseOf('probe');
  const pinned = baseOf('pin');
  const worstRatio = (start: string, flash: string) => Math.min(...rows.filter((r) => r.start === start && r.flash === flash && r.modemStatus === 'probe').map((r) => r.ratio as number));
  return {
    name: 'cycle',
    title: 'Whole update, 1 MiB, default settings, agent in XS: goodput / bottleneck with typical and worst-case flash timing',
    columns: ['start', 'flash', 'modemStatus', 'modem', 'baud', 'outcome', 'downloadS', 'goodputBps', 'bottleneckBps', 'ratio', 'erasedAhead', 'flashLimit', 'target', 'meets', 'transferS', 'confirmedS', 'confirmedOverTransfer', 'registeredToConfirmedOverTransfer', 'reportedS', 'swapS', 'flashBusyS', 'ctsHolds', 'overrunBytes', 'xsComputePerByte'],
    rows,
    notes: [
      'flash: W25Q64JV datasheet timing (tools/devkit/parts/sim-flash.ts): typical 150 ms per 64 KiB block erase (45 ms per 4 KiB sector) and 0.4 ms per 256-byte page; worst 2000 ms (400 ms) and 3 ms. The slot writer erases 64 KiB blocks where the image needs them and erases the next one ahead during each request\'s round trip (docs/flash-layout.md). The MCU is blocked during each operation (Moddable flash calls are synchronous); the UART keeps filling its RX FIFO and RTS/CTS holds the modem when it is full.',
      'flashLimit = the physical limit the flash sets on the download (tools/bench/cycle.ts): where the slot was erased ahead before the download (erasedAhead: an idle start, or a cold start whose erase during the modem\'s bring-up finished), page programs alone (flashLimitErased); otherwise blocking 64 KiB block erases with a 4 KiB RX FIFO (flashLimit): per block the MCU is busy tBE2 + 256 page programs, and the part of a block erase the FIFO cannot cover (bottleneck x tBE2 - 4 KiB, unless the UART has spare rate over the network to catch up) is lost line time. With the slot erased in series it is below the target where the UART is the bottleneck at 921600 (typical) and everywhere at worst-case timing; past it needs the erase done before the download (the idle erase, the erase during the modem\'s bring-up), a larger RX ring or a flash that can be read while it erases. A cold start at worst-case timing stays erase-bound: after the first 2 s block erase no further one fits the bring-up\'s waits without delaying registration.',
      'downloadS = download.start to download.done; ratio = image bytes / downloadS / bottleneck (min of UART baud/10 and the simulated downlink); target 0.95 (typical) / 0.9 (worst, where the flash allows).',
      `transferS = image bytes / bottleneck (the pure transfer); confirmedS = power-on to image.confirmed (bootloader swap included); registeredToConfirmedOverTransfer = from the first modem.registered to image.confirmed, over transferS; confirmedOverTransfer target <= ${TARGET_CONFIRMED_OVER_TRANSFER} at SIM7080 115200 typical: ${base.confirmedOverTransfer} with the AT probe (${(base.confirmedOverTransfer as number) <= TARGET_CONFIRMED_OVER_TRANSFER ? 'met' : 'not met'}), ${pinned.confirmedOverTransfer} with the STATUS pin (${(pinned.confirmedOverTransfer as number) <= TARGET_CONFIRMED_OVER_TRANSFER ? 'met' : 'not met'}).`,
      'modemStatus: probe = the boards\' default wiring, the driver probes with AT at every rate (about 7 s) before the power key; pin = the modem\'s STATUS output on a GPIO input (Platform.modemStatus, settings otaModemStatusPort/Pin): an off modem gets the power key at once (cold start, typical flash only).',
      `start: cold = the update is assigned before power-on and taken at the first poll; the agent brings the modem up before that poll and erases the secondary slot meanwhile, one 64 KiB block at a time inside the driver's quiet waits only (registration pauses, the unanswered probes while the modem boots; docs/flash-layout.md), and the slot writer erases what is left as it receives; idle = assigned ${IDLE_OFFER_AFTER_S} s after power-on, so the device polled, found nothing and erased its secondary slot ahead between polls (src/slot/erased-ahead.ts: one 64 KiB block per timer tick, the mark in the key-value store), as a fleet device meets an update. erasedAhead = the whole slot was erased before download.start (slot.erased-ahead in the first boot); such a run's flashLimit counts page programs only (256 B / tPP).`,
      `cold: worst ratio ${worstRatio('cold', 'typical')} (typical flash), ${worstRatio('cold', 'worst')} (worst-case flash); idle: ${worstRatio('idle', 'typical')} (typical), ${worstRatio('idle', 'worst')} (worst-case).`,
      `outcome: the update's report (running = confirmed); ${rows.every((r) => r.outcome === 'running') ? 'every run ended confirmed' : `not confirmed: ${rows.filter((r) => r.outcome !== 'running').map((r) => `${r.start} ${r.flash} ${r.modem}@${r.baud} ${r.outcome}`).join(', ')} (their download figures stand, their confirmed time does not exist)`}.`,
      'swapS = the second MCUboot run (the test swap: validation reads, erases and programs of both slots and the scratch area); flashBusyS = device busy time of all flash operations after the factory image; xsComputePerByte = XS computation meter over every boot of the update / image bytes (agent and its XS port shims; the simulator runs in Node and is not metered).',
    ],
  };
}

/** Where the time from power-on to the report goes, per typical-flash configuration. */
export async function overheadSection(): Promise<BenchSection> {
  const columns: string[] = ['phase'];
  const table = new Map<string, Record<string, string | number | boolean>>();
  for (const model of MODEMS) {
    for (const baud of BAUDS) {
      const key = `${model}@${baud}`;
      columns.push(key);
      const r = await cycleRun(model, baud, 'typical');
      for (const p of phases(r.summary.logs)) {
        const row = table.get(p.phase) ?? { phase: p.phase };
        row[key] = p.seconds;
        table.set(p.phase, row);
      }
      const total = table.get('total, power-on to report') ?? { phase: 'total, power-on to report' };
      total[key] = round(r.summary.virtualMs / 1000, 3);
      table.delete('total, power-on to report');
      table.set('total, power-on to report', total);
    }
  }
  return {
    name: 'overhead',
    title: 'Power-on to report, typical flash: virtual seconds per phase (1 MiB, default settings)',
    columns,
    rows: [...table.values()],
    notes: [
      'Each phase ends at the agent log event named in tools/bench/cycle.ts MILESTONES (the probe ends at the first modem.power-key, registration at modem.registered, polls at download.start, the transfer at the last download.done, verify at stage.start, stage at reboot.swap, the swap at the next boot\'s agent.started, then modem.registered, image.confirmed, deployment.reported).',
      await confirmedBudgetNote(),
      swapPagesNote(),
    ],
  };
}

/**
 * The swap row's bootloader time against the erase page and MCUboot version (tools/bench/swap-cost.ts):
 * why the named board's overlay gives its flash 64 KiB erase pages.
 */
function swapPagesNote(): string {
  const keyPem = readFileSync(SIGNING_KEY_FILE, 'utf8');
  const base = new Uint8Array(readFileSync(BASE_IMAGE_FILE));
  const image = benchImage(MiB, keyPem);
  const cost = (layout: ReturnType<typeof slotLayout>, eraseCalls: 'per-sector' | 'per-region', timing: FlashTimingName) => swapCost({ layout, base, image, keyPem, eraseCalls, timing });
  const parts = (['typical', 'worst'] as const).map((timing) => {
    const board = cost(boardSlotLayout(CYCLE_SLOT_SIZE), 'per-sector', timing);
    const small = cost(slotLayout(CYCLE_SLOT_SIZE), 'per-sector', timing);
    const old = cost(slotLayout(CYCLE_SLOT_SIZE), 'per-region', timing);
    for (const c of [board, small, old]) if (c.outcome !== 'test-swap') throw new Error(`swap cost: MCUboot ${c.outcome}`);
    return `${timing} flash: ${round(board.seconds, 2)} s with the board's 64 KiB pages (${board.blockErases} block erases), ${round(small.seconds, 2)} s with 4 KiB pages (${small.sectorErases} sector erases), ${round(old.seconds, 2)} s with 4 KiB pages and MCUboot up to v2.1 (${old.blockErases} block and ${old.sectorErases} sector erases)`;
  });
  return `MCUboot's test swap of the 1 MiB image alone (flash busy time; MCUboot v2.2+ erases one page per call, as the v2.3.0 Zephyr 4.4.0 pins): ${parts.join('; ')} (docs/flash-layout.md, "Why 64 KiB sectors").`;
}

/**
 * Issue 15's power-on to confirmed target, as a budget: the SIM7080 115200 cold start with the
 * STATUS pin (no AT probe), split into the modelled parts' own times, the pure transfer and the
 * agent's share, with whether the target can be met at all with these parts.
 */
async function confirmedBudgetNote(): Promise<string> {
  const r = await cycleRun('sim7080', 115_200, 'typical', undefined, 'cold', 'pin');
  const logs = r.summary.logs;
  const s = (event: string, boot: 1 | 2) => (logs.find((e) => e.event === event && e.boot === boot)?.at ?? NaN) / 1000;
  const transferS = (r.summary.imageBytes) / bottleneckBps('sim7080', 115_200);
  const confirmedS = confirmedMs(logs) / 1000;
  // The modelled parts: the modem from the power key to registered (the simulated SIM7080's boot
  // and network registration), and MCUboot's test swap (reset request to the next agent start).
  const registrationS = s('modem.registered', 1) - s('modem.power-key', 1);
  const swapS = s('agent.started', 2) - (logs.find((e) => e.event === 'reboot.swap')?.at ?? NaN) / 1000;
  const agentS = confirmedS - registrationS - swapS - transferS;
  const budgetS = TARGET_CONFIRMED_OVER_TRANSFER * transferS;
  const floor = (registrationS + swapS + transferS) / transferS;
  const phaseList = phases(logs)
    .filter((p) => !/registration|bootloader|report/.test(p.phase))
    .map((p) => `${p.phase} ${round(/transfer/.test(p.phase) ? p.seconds - transferS : p.seconds, 2)} s${/transfer/.test(p.phase) ? ' over the pure transfer' : ''}`)
    .join(', ');
  return (
    `Power-on to confirmed budget (SIM7080 115200, typical flash, STATUS pin): ${round(confirmedS, 2)} s = modelled parts ${round(registrationS + swapS, 2)} s ` +
    `(modem power key to registered ${round(registrationS, 2)} s, MCUboot swap ${round(swapS, 2)} s) + pure transfer ${round(transferS, 2)} s + the agent's share ${round(agentS, 2)} s ` +
    `(${phaseList}); ratio ${round(confirmedS / transferS, 3)}. The target ${TARGET_CONFIRMED_OVER_TRANSFER} x ${round(transferS, 2)} s = ${round(budgetS, 2)} s leaves ${round(budgetS - transferS, 2)} s for everything but the transfer, ` +
    `less than the modelled parts take alone: with an agent share of 0 the ratio is (${round(registrationS, 2)} + ${round(swapS, 2)} + ${round(transferS, 2)}) / ${round(transferS, 2)} = ${round(floor, 3)}, ` +
    `so ${TARGET_CONFIRMED_OVER_TRANSFER} is ${floor <= TARGET_CONFIRMED_OVER_TRANSFER ? 'reachable' : 'not reachable'} with these parts (it needs a faster swap or registration: the swap alone is more than the budget's non-transfer part).`
  );
}

/**
 * The download alone (Node rig, default transport with RTS/CTS) in three request patterns side by
 * side: one request for the whole image (Zephyr fota_http), 2 KiB Range requests on a kept
 * connection (the nRF Connect SDK downloader's buffer), and xs-ota's whole update (cycle section).
 */
export async function patternsSection(options: { size?: number } = {}): Promise<BenchSection> {
  const size = options.size ?? MiB;
  const rows: BenchSection['rows'] = [];
  for (const model of MODEMS) {
    for (const baud of BAUDS) {
      const transport = defaultTransport(model, 'rts-cts');
      const bottleneck = bottleneckBps(model, baud);
      for (const [pattern, requestBytes] of [
        ['one request', undefined],
        ['2 KiB Range requests', 2048],
      ] as [string, number | undefined][]) {
        const run = await runNode({ model, transport, baud, size, requestBytes });
        if (!Buffer.from(run.received).equals(Buffer.from(run.image))) throw new Error(`${model} ${pattern} ${baud}: bytes differ`);
        const ratio = size / (run.downloadMs / 1000) / bottleneck;
        rows.push({ modem: model, baud, transport, pattern, seconds: round(run.downloadMs / 1000, 2), ratio: round(ratio, 3), requests: run.serverRequests });
      }
      const cycle = updateFigures(await cycleRun(model, baud, 'typical'));
      rows.push({ modem: model, baud, transport, pattern: 'xs-ota whole update (segments, cancel polls, flash)', seconds: round(cycle.downloadS, 2), ratio: round(cycle.goodputBps / bottleneck, 3), requests: '' });
    }
  }
  return {
    name: 'patterns',
    title: `Request patterns side by side: ${size === MiB ? '1 MiB' : `${size} B`}, goodput / bottleneck`,
    columns: ['modem', 'baud', 'transport', 'pattern', 'seconds', 'ratio', 'requests'],
    rows,
    notes: [
      'one request and 2 KiB Range requests: the agent\'s driver, socket HTTP client (kept connection) and download engine in Node (tools/bench/rig.ts, requestBytes), no flash; xs-ota whole update: the cycle section\'s typical-flash run (agent in XS, hawkBit, segments with cancel polls, the flash writes).',
    ],
  };
}

/** The sections `xs-ota bench` runs by default, in order. */
export const SECTIONS: Record<string, () => Promise<BenchSection>> = {
  'modem-download': () => modemDownloadSection(),
  patterns: () => patternsSection(),
  cycle: () => cycleSection(),
  overhead: () => overheadSection(),
  update: () => updateSection(),
  delta: async () => (await import('../bench/delta.js')).deltaSection(), // issue 14: tools/bench/delta.ts
  'device-profile': () => deviceProfileSection(), // issue 11: memory and stack on the 32-bit XS engine
  'tls-handshake': () => tlsHandshakeSection(), // issue 16: tools/bench/tls-handshake.ts
};

/** Sections run only when named (`--section <name>`): slower ones. */
export const EXTRA_SECTIONS: Record<string, () => Promise<BenchSection>> = {
  'xs-modem': () => xsModemSection(),
  // issue 11: the flash cost per bundle with the real SDK (needs $MODDABLE): tools/bench/flash.ts
  flash: async () => (await import('../bench/flash.js')).flashSection(),
};

/**
 * One handshake of the agent's TLS on the control channel (otaControlTls agent) per version and
 * modem at 115200 baud, over the simulated modem's plain socket to node:tls requiring a client
 * certificate, the key operations in the simulated A5000: virtual seconds, bytes, A5000 commands.
 */
export async function tlsHandshakeSection(): Promise<BenchSection> {
  const { benchHandshake } = await import('../bench/tls-handshake.js');
  const rows: BenchSection['rows'] = [];
  for (const modem of ['sim7080', 'sim7600'] as const) {
    for (const version of ['1.3', '1.2'] as const) rows.push({ ...(await benchHandshake({ version, modem, baud: 115_200 })) });
    // otaTlsVersions 1.3,1.2 (the default): one hello offering both, to a server of each version.
    for (const server of ['1.3', '1.2'] as const) rows.push({ ...(await benchHandshake({ version: '1.3,1.2', server, modem, baud: 115_200 })) });
  }
  return {
    name: 'tls-handshake',
    title: 'TLS in the agent: one control-channel handshake (key in the A5000), 115200 baud, virtual time',
    columns: ['modem', 'version', 'spoken', 'baud', 'handshakeS', 'tlsBytesOut', 'tlsBytesIn', 'uartToModem', 'uartFromModem', 'a5000Commands', 'a5000KeyGenerations', 'a5000Agreements', 'a5000Signatures', 'a5000Verifications', 'i2cBytes'],
    rows,
    notes: [
      'version = the versions the agent offers (otaTlsVersions; 1.3,1.2 is one ClientHello offering both), spoken = the one the server accepts and picked.',
      'handshakeS = virtual seconds from the connect call (the plain socket open, AT+CAOPEN / AT+CIPOPEN, included) to application data; the SE session is already open (as after the image check). Cat-M network model for SIM7080, Cat-1 for SIM7600; RTS/CTS wired (pushed socket data).',
      'tlsBytesOut / tlsBytesIn = TLS record bytes (a one-certificate chain each way); uartToModem / uartFromModem = UART bytes of the AT dialogue carrying them; i2cBytes = bytes over I2C to and from the A5000.',
      'a5000Commands = APDUs the A5000 ran for the handshake: GetRandom, the ephemeral key pair (WriteECKey generate, ReadObject), ECDH and its DeleteSecureObject, the client CertificateVerify (ECDSASign), two ECDSAVerify (the server leaf under the CA, its CertificateVerify or ServerKeyExchange) each with its transient public-key object.',
      'ECDSA signatures vary by a byte or two in DER, so bytes and times may move by that much between runs. XS session RAM: test/xs/tls.spec.ts prints the live heap slots an open session holds (32-bit XS, 16 bytes a slot).',
    ],
  };
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** The bench's JSON: `{sections: {<name>: {title, columns, rows, notes}}}`, stable key order. */
export function benchJson(sections: BenchSection[]): string {
  return JSON.stringify({ sections: Object.fromEntries(sections.map((s) => [s.name, { title: s.title, columns: s.columns, rows: s.rows, notes: s.notes }])) }, null, 2) + '\n';
}

export function formatSection(section: BenchSection): string {
  const cells = section.rows.map((row) => section.columns.map((c) => String(row[c] ?? '')));
  const widths = section.columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  const line = (values: string[]) => values.map((v, i) => (typeof section.rows[0]?.[section.columns[i]] === 'number' ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join('  ');
  return [section.title, '', line(section.columns), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line), '', ...section.notes.map((n) => `  ${n}`), ''].join('\n');
}

export const command: Command = {
  summary: 'deterministic performance figures (modem download goodput, ...); --json for JSON',
  async run(args: string[]) {
    // truth helper (issue 17.9): --help without running anything; unknown options refused; a
    // progress line per section on stderr (a section takes tens of seconds).
    const usage = `usage: xs-ota bench [--json] [--json-out FILE] [--section ${[...Object.keys(SECTIONS), ...Object.keys(EXTRA_SECTIONS)].join('|')}]`;
    if (wantsHelp(args)) {
      console.log(usage);
      return EXIT.done;
    }
    const takesValue = (a: string | undefined) => a === '--section' || a === '--json-out';
    const unknown = args.filter((a, i) => a.startsWith('-') && a !== '--json' && !takesValue(a) && !takesValue(args[i - 1]));
    const missing = ['--section', '--json-out'].find((o) => args.includes(o) && !args[args.indexOf(o) + 1]);
    if (unknown.length > 0 || missing) {
      console.error(`xs-ota bench: ${unknown.length ? `unknown option ${unknown[0]}` : `${missing} needs a value`} (${usage})`);
      return EXIT.usage;
    }
    const json = args.includes('--json');
    const pick = args.indexOf('--section');
    const names = pick >= 0 ? [args[pick + 1]] : Object.keys(SECTIONS);
    const sections: BenchSection[] = [];
    for (const name of names) {
      const section = SECTIONS[name] ?? EXTRA_SECTIONS[name];
      if (!section) {
        console.error(`bench: unknown section '${name}' (have: ${[...Object.keys(SECTIONS), ...Object.keys(EXTRA_SECTIONS)].join(', ')})`);
        return 2;
      }
      process.stderr.write(`bench: section ${name} (${sections.length + 1}/${names.length})...\n`);
      sections.push(await section());
    }
    const out = benchJson(sections);
    // Always kept in build/ (the docs renderer's input after `--json-out docs/bench.json`).
    const files = ['build/bench.json'];
    const at = args.indexOf('--json-out');
    if (at >= 0 && args[at + 1]) files.push(args[at + 1]);
    for (const file of files) {
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, out);
    }
    if (json) console.log(out.trimEnd());
    else for (const s of sections) console.log(formatSection(s));
    return 0;
  },
};
