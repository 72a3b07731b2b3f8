/**
 * `xs-ota image delta --from OLD.bin --to NEW.bin OUT [--json]`: makes the VCDIFF delta with
 * xdelta3 (encode.ts flags), decodes it again with the agent's own decoder and compares the result
 * with NEW byte for byte, and prints the sizes and the `deltas` entry a manifest needs.
 * `xs-ota image inspect DELTA [--from OLD.bin] [--json]` (a file starting d6 c3 c4): its windows
 * and the source bytes they copy from; with --from, whether it rebuilds a valid image from OLD.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { deltaFilename } from '../../src/delta/offer-fields.js';
import { isOtaError } from '../../src/util/errors.js';
import { applyDelta, listWindows } from './decode.js';
import { encodeDelta } from './encode.js';
import { imageId, type ImageId } from './image-id.js';

export class DeltaUsageError extends Error {}

export interface DeltaReport {
  from: ImageId;
  to: ImageId;
  delta: { file: string; size: number; sha256: string; windows: number };
  /** delta bytes / full image bytes. */
  ratio: number;
  /** The manifest entry (docs/delta.md). */
  manifestEntry: { fromVersion: string; fromImageHash: string; size: number; sha256: string };
  /** File names by the conventions (src/delta/offer-fields.ts): hawkBit artifact, IoTConnect file. */
  fileNames: { hawkbit: string; iotconnect: string };
}

export async function makeDelta(fromBytes: Uint8Array, toBytes: Uint8Array, out: string): Promise<DeltaReport> {
  const from = imageId(fromBytes);
  const to = imageId(toBytes);
  // The device's source is the image in its primary slot, header to last TLV: nothing past it.
  if (from.imageSize !== fromBytes.length) throw new DeltaUsageError(`--from is padded (${fromBytes.length} bytes, image ${from.imageSize}): use the unpadded signed image`);
  const delta = encodeDelta(fromBytes, toBytes);
  const rebuilt = await applyDelta(delta, fromBytes);
  if (rebuilt.length !== toBytes.length || !Buffer.from(rebuilt).equals(Buffer.from(toBytes))) {
    throw new Error('the decoder did not rebuild --to from the delta: not written');
  }
  writeFileSync(out, delta);
  const sha256 = createHash('sha256').update(delta).digest('hex');
  return {
    from,
    to,
    delta: { file: out, size: delta.length, sha256, windows: listWindows(delta).length },
    ratio: delta.length / toBytes.length,
    manifestEntry: { fromVersion: from.version, fromImageHash: from.imageHash, size: delta.length, sha256 },
    fileNames: {
      hawkbit: deltaFilename('app', from.version, from.imageHash),
      iotconnect: deltaFilename('app', from.version, from.imageHash, { size: delta.length, sha256 }),
    },
  };
}

export async function runDelta(args: string[]): Promise<number> {
  let from: string | undefined;
  let to: string | undefined;
  let out: string | undefined;
  let json = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--from') from = args[++i];
    else if (a === '--to') to = args[++i];
    else if (a === '--json') json = true;
    else if (a.startsWith('-')) throw new DeltaUsageError(`unknown option ${a}`);
    else if (out === undefined) out = a;
    else throw new DeltaUsageError(`unexpected argument ${a}`);
  }
  if (!from || !to || !out) throw new DeltaUsageError('delta needs --from OLD.bin --to NEW.bin OUT');
  const r = await makeDelta(new Uint8Array(readFileSync(from)), new Uint8Array(readFileSync(to)), out);
  if (json) {
    console.log(JSON.stringify(r, null, 2));
    return 0;
  }
  console.log(
    [
      `${out}: ${r.delta.size} bytes VCDIFF, ${r.delta.windows} windows, ${(r.ratio * 100).toFixed(1)} % of the full image; decoded and checked`,
      `  from ${r.from.version}  ${r.from.fileSize} bytes  image hash ${r.from.imageHash}`,
      `  to   ${r.to.version}  ${r.to.fileSize} bytes  file sha256 ${r.to.fileSha256}`,
      `  manifest deltas[] entry: ${JSON.stringify(r.manifestEntry)}`,
      `  hawkBit artifact name:   ${r.fileNames.hawkbit}  (any NAME before .from-)`,
      `  IoTConnect file name:    ${r.fileNames.iotconnect}`,
    ].join('\n'),
  );
  return 0;
}

export interface DeltaInspectReport {
  file: string;
  kind: 'vcdiff';
  verdict: 'valid' | 'reject';
  reason?: string;
  detail?: string;
  size: number;
  windows: { at: number; segment: string; segmentPosition: number; segmentLength: number; targetLength: number; data: number; inst: number; addr: number; adler32: string | null }[];
  targetLength?: number;
  /** Source bytes the windows copy from: [0, sourceEnd) of the old image. */
  sourceEnd?: number;
  from?: ImageId;
  to?: ImageId;
}

export async function inspectDelta(file: string, bytes: Uint8Array, fromBytes?: Uint8Array): Promise<DeltaInspectReport> {
  const report: DeltaInspectReport = { file, kind: 'vcdiff', verdict: 'reject', size: bytes.length, windows: [] };
  try {
    const windows = listWindows(bytes);
    report.windows = windows.map((w) => ({
      at: w.at,
      segment: w.segment,
      segmentPosition: w.segmentPosition,
      segmentLength: w.segmentLength,
      targetLength: w.targetLength,
      data: w.dataLength,
      inst: w.instLength,
      addr: w.addrLength,
      adler32: w.adler32 === undefined ? null : w.adler32.toString(16).padStart(8, '0'),
    }));
    report.targetLength = windows.reduce((a, w) => a + w.targetLength, 0);
    report.sourceEnd = windows.reduce((a, w) => (w.segment === 'source' ? Math.max(a, w.segmentPosition + w.segmentLength) : a), 0);
    if (fromBytes) {
      report.from = imageId(fromBytes);
      report.to = imageId(await applyDelta(bytes, fromBytes));
    }
    report.verdict = 'valid';
  } catch (error) {
    if (!isOtaError(error)) throw error;
    report.reason = error.reason;
    report.detail = error.detail;
  }
  return report;
}

export function printDeltaInspect(r: DeltaInspectReport): void {
  const out = [`${r.file}`, `  VCDIFF   ${r.size} bytes, ${r.windows.length} windows, target ${r.targetLength ?? '?'} bytes, copies from source bytes 0..${r.sourceEnd ?? '?'}`];
  for (const [i, w] of r.windows.entries()) {
    out.push(`  window ${i} @${w.at}: ${w.segment} ${w.segmentPosition}+${w.segmentLength} -> ${w.targetLength} bytes  data ${w.data} inst ${w.inst} addr ${w.addr}  adler32 ${w.adler32 ?? 'none'}`);
  }
  if (r.from && r.to) out.push(`  source   ${r.from.version} image hash ${r.from.imageHash}`, `  rebuilds ${r.to.version} (${r.to.fileSize} bytes, sha256 ${r.to.fileSha256})`);
  else out.push('  source   not named in the file (the offer names it: docs/delta.md); pass --from OLD.bin to check it');
  out.push(`  verdict  ${r.verdict === 'valid' ? 'VALID' : `REJECT: ${r.reason}${r.detail ? ` (${r.detail})` : ''}`}`);
  console.log(out.join('\n'));
}
