/**
 * `xs-ota bench`: deterministic performance figures of the agent on the simulated dev kit. Every
 * figure comes from virtual time and counters (never the wall clock), so two runs print the same.
 *
 * Sections are functions returning rows; add one by writing `async function mySection(): Promise<BenchSection>`
 * and listing it in SECTIONS.
 *
 *   xs-ota bench            table
 *   xs-ota bench --json     the same figures as JSON
 *   xs-ota bench --section modem-download
 *   xs-ota bench --section xs-modem     (the agent inside XS; slower)
 */
import { MiB, runNode, type Model, type Transport } from '../bench/rig.js';
import { runXs } from '../bench/rig-xs.js';
import { benchSeVerification } from '../bench/se.js';
import { benchImage, ERASES_PER_SECTOR_TARGET, REDOWNLOAD_TARGET_BYTES, runBenchUpdate, slotLayout, updateFigures, type UpdateFigures } from '../bench/update.js';
import { CAT_1, CAT_M } from '../devkit/sim-modem/index.js';
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

/** Slot size of the update section's layout: 1 MiB images need more than the default 0x60000. */
export const UPDATE_SLOT_SIZE = 0x140000;

/**
 * Whole updates on the simulated dev kit with the agent inside XS (server, modem, A5000, flash,
 * MCUboot): a 1 MiB image signed now with the vectors' key, in a layout with 0x140000-byte slots
 * (the default 0x60000 slots hold at most 0x5F3D0 bytes). Runs: 1 MiB on SIM7080 at 115200 baud
 * (SIM7600 is left out: on the dev kit its built-in HTTP POST answers ERROR, so the hawkBit
 * feedback never gets through and the update never reports), 128 KiB on SIM7080 (does XS memory grow with the image?), and 1 MiB on SIM7080 with
 * a power cut at 50% of the download.
 */
export async function updateSection(options: { small?: number; large?: number } = {}): Promise<BenchSection> {
  const large = options.large ?? MiB;
  const small = options.small ?? 128 * 1024;
  const layout = slotLayout(UPDATE_SLOT_SIZE);
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
  const big = await run(`${sizeName(large)} sim7080@${baud}`, 'sim7080', largeImage);
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
      `layout: slots 0x${UPDATE_SLOT_SIZE.toString(16)} + 64 KiB scratch, MCUBOOT_MAX_IMG_SECTORS ${layout.maxSectors}, trailer ${layout.trailerSize} bytes (the agent's trailerSize policy set to match); the default 0x60000 slots take at most 0x5F3D0 bytes. Images: signImage with the vectors' signing key, version 2.0.0+1 over 1.2.3+4.`,
      'goodput = image bytes / virtual seconds from download.start to download.done (the first artifact request to entering verify); bottleneck = min(UART baud/10, simulated downlink) as in modem-download.',
      'XS live heap = heap slots in use right after a full collection (xsnap gc), at boot and at every 1/16 of the download and at the end; slots in use peak = before collections (bounded by the heap size, so it says little); reserved heap = xsnap allocate.',
      'power cut: the whole board (MCU, flash, modem) loses power after the flash write that reaches 50% of the image; programmed again = image bytes the agent wrote to the slot minus the image size (what crossed the link twice and reached flash).',
      'server artifact bytes - image: what the server counted as sent (the figure the issue names). The loopback link has no TCP flow control, so the server writes a whole response at once and counts it whole; the first GET (to the end) counts the full image though the device had received only up to the cut, so this is the bytes from the resume offset to the end, counted twice. On a real link the excess is bounded by the TCP window and the modem buffer, not the image.',
      'erases: the agent\'s eraseBlock calls on the secondary slot until MCUboot\'s swap, per sector the image occupies; the trailer sectors (2 for 7728 bytes) are erased at the start of every download attempt, so no stale request survives.',
      'I2C: data bytes in ACKed transactions per signature verification in the update (session start, key read, ECDSAVerify), and benchSeVerification\'s first and later verification.',
    ],
  };
}

/** The sections `xs-ota bench` runs by default, in order. */
export const SECTIONS: Record<string, () => Promise<BenchSection>> = {
  'modem-download': () => modemDownloadSection(),
  update: () => updateSection(),
};

/** Sections run only when named (`--section <name>`): slower ones. */
export const EXTRA_SECTIONS: Record<string, () => Promise<BenchSection>> = {
  'xs-modem': () => xsModemSection(),
};

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
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
    const usage = `usage: xs-ota bench [--json] [--section ${[...Object.keys(SECTIONS), ...Object.keys(EXTRA_SECTIONS)].join('|')}]`;
    if (wantsHelp(args)) {
      console.log(usage);
      return EXIT.done;
    }
    const unknown = args.filter((a, i) => a.startsWith('-') && a !== '--json' && a !== '--section' && args[i - 1] !== '--section');
    if (unknown.length > 0 || (args.includes('--section') && !args[args.indexOf('--section') + 1])) {
      console.error(`xs-ota bench: ${unknown.length ? `unknown option ${unknown[0]}` : '--section needs a name'} (${usage})`);
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
    if (json) console.log(JSON.stringify({ sections: Object.fromEntries(sections.map((s) => [s.name, { title: s.title, rows: s.rows, notes: s.notes }])) }, null, 2));
    else for (const s of sections) console.log(formatSection(s));
    return 0;
  },
};
