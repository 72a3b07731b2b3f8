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
      for (const transport of (model === 'sim7600' ? ['socket', 'socket-push', 'native'] : ['socket', 'native']) as Transport[]) {
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
    // What src/net/modem-http.ts `modemHttpClient` picks on a board without RTS/CTS.
    row.default = row.transport === (row.modem === 'sim7600' ? 'native' : 'socket');
  }
  const worstDefault = Math.min(...rows.filter((r) => r.default).map((r) => r.ratio as number));
  const worstBest = Math.min(...rows.filter((r) => r.best).map((r) => r.ratio as number));
  return {
    name: 'modem-download',
    title: `Modem: ${size === MiB ? '1 MiB' : `${size} B`} download (virtual time; goodput / bottleneck, target >= ${GOODPUT_TARGET})`,
    columns: ['modem', 'baud', 'transport', 'default', 'best', 'seconds', 'goodputBps', 'bottleneck', 'bottleneckBps', 'ratio', 'uartRxPerByte', 'uartTxPerByte', 'requestsPerMiB'],
    rows,
    notes: [
      'bottleneck = min(UART line rate = baud/10 B/s (8N1), simulated network downlink); goodput = image bytes / virtual seconds from the first request to the last byte (connection and TLS setup included, modem bring-up excluded).',
      'uartRxPerByte / uartTxPerByte = UART bytes modem->host / host->modem per image byte; requestsPerMiB = HTTP requests the server saw, per MiB.',
      `default = what modemHttpClient() picks without RTS/CTS (SIM7080 socket, SIM7600 built-in HTTP); worst default ratio ${round(worstDefault, 3)} (${worstDefault >= GOODPUT_TARGET ? 'meets' : 'BELOW'} the ${GOODPUT_TARGET} target).`,
      `best = the fastest transport per modem and rate; worst best ratio ${round(worstBest, 3)} (${worstBest >= GOODPUT_TARGET ? 'meets' : 'BELOW'} the target). socket-push = SIM7600 data pushed by the modem (AT+CCHSET=1,0): needs RTS/CTS on the board.`,
      'SIM7080 socket reads are bounded by AT+CARECV (at most 1460 bytes per command, M7080 12.2) plus one command round trip each; SH* windows serialise radio and UART (store and forward).',
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
    ['sim7080', 'socket'],
    ['sim7600', 'native'],
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
    title: `Modem on XS: ${size === MiB ? '1 MiB' : `${size} B`} download with the agent in xsnap (default transports)`,
    columns: ['modem', 'baud', 'transport', 'seconds', 'ratio', 'uartRxPerByte', 'xsComputePerByte', 'xsPeakHeapCount', 'xsCranks'],
    rows,
    notes: [
      'xsComputePerByte = XS computation meter over bring-up and download / image bytes; xsPeakHeapCount = peak XS heap slots; xsCranks = host->XS deliveries.',
    ],
  };
}

/** The sections `xs-ota bench` runs by default, in order. */
export const SECTIONS: Record<string, () => Promise<BenchSection>> = {
  'modem-download': () => modemDownloadSection(),
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
      sections.push(await section());
    }
    if (json) console.log(JSON.stringify({ sections: Object.fromEntries(sections.map((s) => [s.name, { title: s.title, rows: s.rows, notes: s.notes }])) }, null, 2));
    else for (const s of sections) console.log(formatSection(s));
    return 0;
  },
};
