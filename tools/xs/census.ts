/**
 * Diagnosis: what the agent adds to the XS heap, by kind of object. The 32-bit engine writes a
 * census of the live heap when XSOTA_CENSUS_FILE is set (tools/xs/native/xs-ota-device-platform.c):
 * `<file>.<pid>.base` once the guest is loaded and `<file>.<pid>` at each new live peak. This
 * prints, per engine, the peak less the base: objects grouped by constructor (functions by name,
 * buffers by chunk size), with their own slots and the chunks they hold, largest first.
 *
 *   XSOTA_CENSUS_FILE=/tmp/census/c node tools/xs-ota.mjs bench --section device-profile
 *   node build/tools/xs/census.js /tmp/census/c [rows]
 *
 * Function rows include the byte code XS copies into a chunk per function object here, which a
 * device keeps in flash (the bench's live figures leave it out).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { SLOT_BYTES } from './device-profile.js';

export interface CensusGroup {
  name: string;
  count: number;
  slots: number;
  chunkBytes: number;
}
export interface Census {
  liveSlots: number;
  liveChunkBytes: number;
  groups: CensusGroup[];
  frames: string[];
}

function byName(census: Census): Map<string, CensusGroup> {
  const out = new Map<string, CensusGroup>();
  for (const g of census.groups) {
    const sum = out.get(g.name) ?? { name: g.name, count: 0, slots: 0, chunkBytes: 0 };
    sum.count += g.count;
    sum.slots += g.slots;
    sum.chunkBytes += g.chunkBytes;
    out.set(g.name, sum);
  }
  return out;
}

/**
 * Function rows are keyed by the function's name, and XS names a private method's function only
 * when the first instance gets the method (in place: no allocation, and on a device the
 * preloaded function stays unnamed in flash). So a `fn #name` row above the base is mostly a
 * function that moved out of the base's `fn (unnamed function)` row: only the net over all
 * function rows (`functions`) says how many function objects the agent really made.
 */
export function censusFunctions(rows: readonly (CensusGroup & { bytes: number })[]): CensusGroup & { bytes: number } {
  const net = { name: 'functions, all names (net)', count: 0, slots: 0, chunkBytes: 0, bytes: 0 };
  for (const r of rows) {
    if (!r.name.startsWith('fn ')) continue;
    net.count += r.count;
    net.slots += r.slots;
    net.chunkBytes += r.chunkBytes;
    net.bytes += r.bytes;
  }
  return net;
}

export function censusGrowth(peak: Census, base: Census): { bytes: number; rows: (CensusGroup & { bytes: number })[] } {
  const p = byName(peak);
  const b = byName(base);
  const rows: (CensusGroup & { bytes: number })[] = [];
  for (const name of new Set([...p.keys(), ...b.keys()])) {
    const x = p.get(name) ?? { name, count: 0, slots: 0, chunkBytes: 0 };
    const y = b.get(name) ?? { name, count: 0, slots: 0, chunkBytes: 0 };
    const row = { name, count: x.count - y.count, slots: x.slots - y.slots, chunkBytes: x.chunkBytes - y.chunkBytes, bytes: 0 };
    row.bytes = row.slots * SLOT_BYTES + row.chunkBytes;
    if (row.bytes !== 0) rows.push(row);
  }
  rows.sort((a, c) => c.bytes - a.bytes);
  return { bytes: (peak.liveSlots - base.liveSlots) * SLOT_BYTES + peak.liveChunkBytes - base.liveChunkBytes, rows };
}

function main(prefix: string, rowCount: number): void {
  const dir = path.dirname(prefix);
  const stem = path.basename(prefix);
  const peaks = readdirSync(dir).filter((f) => f.startsWith(`${stem}.`) && /^\d+$/.test(f.slice(stem.length + 1)));
  if (peaks.length === 0) throw new Error(`no census ${prefix}.<pid> (set XSOTA_CENSUS_FILE=${prefix})`);
  for (const file of peaks) {
    const read = (f: string) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as Census;
    const peak = read(file);
    const { bytes, rows } = censusGrowth(peak, read(`${file}.base`));
    console.log(`${file}: ${bytes} bytes above the loaded guest (byte code included)`);
    const f = censusFunctions(rows);
    console.log(`${String(f.bytes).padStart(8)}  ${f.name.padEnd(48)} n=${f.count} slots=${f.slots} chunks=${f.chunkBytes} (the fn rows below move between names)`);
    for (const r of rows.slice(0, rowCount)) console.log(`${String(r.bytes).padStart(8)}  ${r.name.padEnd(48)} n=${r.count} slots=${r.slots} chunks=${r.chunkBytes}`);
    console.log(`  at the peak: ${peak.frames.join(' < ')}`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]).endsWith(path.join('xs', 'census.js'))) {
  main(process.argv[2] ?? '', Number(process.argv[3] ?? 40));
}
