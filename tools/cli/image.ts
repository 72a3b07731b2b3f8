/**
 * `xs-ota image inspect FILE [--key PUBKEY.pem] [--slot-size N] [--json]`
 *   What the agent would decide about an image: header, TLVs, hash, key hash, signature, trailer
 *   (for slot-sized padded files) and the overall verdict with its reason. Exit 0 = valid,
 *   1 = reject, 2 = usage. Without --key the signature is not checked (reported as such).
 * `xs-ota image sign --key KEY.pem --version 1.2.3+4 [--header-size 0x200] [--pad-header]
 *   [--align 8] [--slot-size N] [--pad] [--confirm] [--security-counter N]
 *   [--custom-tlv TYPE VALUE]... [--public-key-format hash|full] IN OUT`
 *   Signs like MCUboot's imgtool 2.4.0 (ECDSA P-256; KEYHASH + SHA256 + ECDSA_SIG TLVs).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { ImageStream, DEFAULT_SLOT_SIZE, type ParsedImage } from '../../src/image/image-stream.js';
import { decodeSwapState, swapTypeFor, swapTypeName, trailerSize, TRAILER_INFO_SIZE, SWAP_TYPE } from '../../src/image/trailer.js';
import { tlvName } from '../../src/image/tlv.js';
import { formatVersion } from '../../src/image/version.js';
import { bytesEqual, hex, unhex } from '../../src/util/bytes.js';
import { isOtaError, OtaError } from '../../src/util/errors.js';
import { NodeDigest } from '../devkit/node-digest.js';
import { NodeSignatureVerifier } from '../devkit/node-signature-verifier.js';
import { signImage, type SignOptions } from '../image/imgtool-sign.js';
import type { Command } from './main.js';
import { isVcdiff } from '../../src/delta/format.js';
import { DeltaUsageError, inspectDelta, printDeltaInspect, runDelta } from '../delta/cli.js';

const USAGE = `usage:
  xs-ota image inspect FILE [--key PUBKEY.pem] [--slot-size N] [--json]   (a VCDIFF delta: [--from OLD.bin])
  xs-ota image delta --from OLD.bin --to NEW.bin OUT [--json]
  xs-ota image sign --key KEY.pem --version 1.2.3+4 [--header-size 0x200] [--pad-header] [--align 8]
                    [--slot-size N] [--pad] [--confirm] [--security-counter N] [--custom-tlv TYPE VALUE]
                    [--public-key-format hash|full] IN OUT`;

class UsageError extends Error {}

function num(text: string | undefined, what: string): number {
  const n = text === undefined ? NaN : Number(text);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${what} needs a number (decimal or 0x...), got '${text}'`);
  return n;
}

export interface InspectReport {
  file: string;
  verdict: 'valid' | 'reject';
  reason?: string;
  detail?: string;
  signatureChecked: boolean;
  header?: { magic: string; loadAddr: string; hdrSize: number; protectTlvSize: number; imgSize: number; flags: string; version: string };
  imageSize?: number;
  protectedTlvs?: { type: string; offset: number; len: number; value: string }[];
  tlvs?: { type: string; offset: number; len: number; value: string }[];
  hash?: { computed: string; tlv: string | null; match: boolean };
  keyHash?: { tlv: string | null; trusted: string | null; match: boolean | null };
  securityCounter?: number | null;
  trailer?: { magic: string; imageOk: string; copyDone: string; swapInfo: string; swapTypeOnBoot: string };
}

export async function inspect(file: string, bytes: Uint8Array, options: { keyPem?: string; slotSize?: number }): Promise<InspectReport> {
  const slotSize = options.slotSize ?? DEFAULT_SLOT_SIZE;
  const report: InspectReport = { file, verdict: 'reject', signatureChecked: false };
  const verifier = options.keyPem ? new NodeSignatureVerifier(options.keyPem) : undefined;
  let image: ParsedImage | undefined;
  try {
    const stream = new ImageStream({ digest: new NodeDigest(), slotSize, trailerSize: trailerSize() });
    stream.push(bytes);
    if (stream.header) {
      const h = stream.header;
      report.header = {
        magic: `0x${h.magic.toString(16)}`,
        loadAddr: `0x${h.loadAddr.toString(16)}`,
        hdrSize: h.hdrSize,
        protectTlvSize: h.protectTlvSize,
        imgSize: h.imgSize,
        flags: `0x${h.flags.toString(16)}`,
        version: formatVersion(h.version),
      };
    }
    image = stream.finish();
    const tlvView = (t: { type: number; offset: number; value: Uint8Array }) => ({ type: tlvName(t.type), offset: t.offset, len: t.value.length, value: hex(t.value) });
    report.imageSize = image.imageSize;
    report.protectedTlvs = image.protectedTlvs.map(tlvView);
    report.tlvs = image.tlvs.map(tlvView);
    report.hash = { computed: hex(image.computedHash), tlv: image.expectedHash ? hex(image.expectedHash) : null, match: image.hashOk };
    const kh = image.keyHash;
    report.keyHash = { tlv: kh ? hex(kh) : null, trusted: verifier ? hex(verifier.keyHash) : null, match: kh && verifier ? bytesEqual(kh, verifier.keyHash) : null };
    report.securityCounter = image.securityCounter ?? null;
    if (bytes.length === slotSize) {
      const s = decodeSwapState(bytes.subarray(bytes.length - TRAILER_INFO_SIZE));
      const erased = { magic: 'unset' as const, swapType: SWAP_TYPE.NONE, imageNum: 0, copyDone: 'unset' as const, imageOk: 'unset' as const };
      report.trailer = { magic: s.magic, imageOk: s.imageOk, copyDone: s.copyDone, swapInfo: swapTypeName(s.swapType), swapTypeOnBoot: swapTypeName(swapTypeFor(erased, s)) };
    }
    if (verifier) {
      await image.verify(verifier, { trustedKeyHash: verifier.keyHash });
      report.signatureChecked = true;
    } else {
      image.check();
    }
    report.verdict = 'valid';
  } catch (error) {
    if (!isOtaError(error)) throw error;
    report.reason = error.reason;
    report.detail = error.detail;
  }
  return report;
}

function printReport(r: InspectReport): void {
  const out: string[] = [`${r.file}`];
  if (r.header) {
    const h = r.header;
    out.push(`  header   magic ${h.magic}  hdr_size 0x${h.hdrSize.toString(16)}  img_size ${h.imgSize}  protect_tlv_size ${h.protectTlvSize}  flags ${h.flags}  load_addr ${h.loadAddr}`);
    out.push(`  version  ${h.version}`);
  }
  if (r.imageSize !== undefined) out.push(`  size     ${r.imageSize} bytes (header to last TLV)`);
  for (const [title, list] of [['protected TLVs', r.protectedTlvs], ['TLVs', r.tlvs]] as const) {
    if (!list || list.length === 0) continue;
    out.push(`  ${title}:`);
    for (const t of list) out.push(`    ${t.type.padEnd(12)} @${t.offset} len ${t.len}  ${t.value.length > 72 ? t.value.slice(0, 72) + '…' : t.value}`);
  }
  if (r.securityCounter !== undefined && r.securityCounter !== null) out.push(`  SEC_CNT  ${r.securityCounter}`);
  if (r.hash) out.push(`  hash     ${r.hash.match ? 'OK' : 'MISMATCH'}  computed ${r.hash.computed}${r.hash.match ? '' : `  TLV ${r.hash.tlv ?? 'missing'}`}`);
  if (r.keyHash) {
    const m = r.keyHash.match === null ? (r.keyHash.trusted ? 'no KEYHASH' : 'not checked (no --key)') : r.keyHash.match ? 'matches --key' : 'DOES NOT match --key';
    out.push(`  key hash ${r.keyHash.tlv ?? '-'}  ${m}`);
  }
  out.push(`  signature ${r.signatureChecked ? 'ECDSA P-256 verified' : r.verdict === 'valid' ? 'not checked (no --key)' : 'not verified'}`);
  if (r.trailer) out.push(`  trailer  magic ${r.trailer.magic}, image_ok ${r.trailer.imageOk}, copy_done ${r.trailer.copyDone} -> MCUboot swap: ${r.trailer.swapTypeOnBoot}`);
  out.push(`  verdict  ${r.verdict === 'valid' ? 'VALID' : `REJECT: ${r.reason}${r.detail ? ` (${r.detail})` : ''}`}`);
  console.log(out.join('\n'));
}

async function runInspect(args: string[]): Promise<number> {
  let file: string | undefined;
  let keyPath: string | undefined;
  let slotSize: number | undefined;
  let json = false;
  let fromPath: string | undefined; // deltas only (tools/delta/cli.ts)
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--from') fromPath = args[++i];
    else if (a === '--key') keyPath = args[++i];
    else if (a === '--slot-size') slotSize = num(args[++i], '--slot-size');
    else if (a === '--json') json = true;
    else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
    else if (file === undefined) file = a;
    else throw new UsageError(`unexpected argument ${a}`);
  }
  if (!file) throw new UsageError('inspect needs a FILE');
  if (keyPath === '') throw new UsageError('--key needs a file');
  const fileBytes = new Uint8Array(readFileSync(file));
  if (isVcdiff(fileBytes)) {
    // A delta (issue 14): its windows and source, tools/delta/cli.ts.
    const delta = await inspectDelta(file, fileBytes, fromPath ? new Uint8Array(readFileSync(fromPath)) : undefined);
    if (json) console.log(JSON.stringify(delta, null, 2));
    else printDeltaInspect(delta);
    return delta.verdict === 'valid' ? 0 : 1;
  }
  const report = await inspect(file, fileBytes, { keyPem: keyPath ? readFileSync(keyPath, 'utf8') : undefined, slotSize });
  if (json) console.log(JSON.stringify(report, null, 2));
  else printReport(report);
  return report.verdict === 'valid' ? 0 : 1;
}

function runSign(args: string[]): number {
  const o: Partial<SignOptions> = {};
  const custom: { type: number; value: Uint8Array }[] = [];
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    switch (a) {
      case '--key':
        o.keyPem = readFileSync(args[++i], 'utf8');
        break;
      case '--version':
        o.version = args[++i];
        break;
      case '--header-size':
        o.headerSize = num(args[++i], a);
        break;
      case '--pad-header':
        o.padHeader = true;
        break;
      case '--align':
        o.align = num(args[++i], a);
        break;
      case '--slot-size':
        o.slotSize = num(args[++i], a);
        break;
      case '--pad':
        o.pad = true;
        break;
      case '--confirm':
        o.confirm = true;
        break;
      case '--security-counter':
        o.securityCounter = num(args[++i], a);
        break;
      case '--public-key-format': {
        const f = args[++i];
        if (f !== 'hash' && f !== 'full') throw new UsageError('--public-key-format is hash or full');
        o.publicKeyFormat = f;
        break;
      }
      case '--custom-tlv': {
        const type = num(args[++i], a);
        const value = args[++i] ?? '';
        // imgtool: a value starting with 0x is hex, anything else is the string's bytes.
        custom.push({ type, value: value.startsWith('0x') ? unhex(value.slice(2)) : new TextEncoder().encode(value) });
        break;
      }
      default:
        if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
        files.push(a);
    }
  }
  if (files.length !== 2) throw new UsageError('sign needs IN and OUT');
  if (!o.version) throw new UsageError('sign needs --version');
  if (custom.length) o.customTlvs = custom;
  const out = signImage(new Uint8Array(readFileSync(files[0])), o as SignOptions);
  writeFileSync(files[1], out);
  console.log(`${files[1]}: ${out.length} bytes, version ${o.version}${o.keyPem ? ', signed' : ', UNSIGNED'}`);
  return 0;
}

export const command: Command = {
  summary: 'inspect (verdict on) or sign MCUboot images, imgtool format; make or inspect VCDIFF deltas',
  async run(args: string[]): Promise<number> {
    const [sub, ...rest] = args;
    try {
      if (sub === 'inspect') return await runInspect(rest);
      if (sub === 'sign') return runSign(rest);
      if (sub === 'delta') return await runDelta(rest);
      throw new UsageError(sub ? `unknown subcommand '${sub}'` : 'missing subcommand');
    } catch (error) {
      if (error instanceof UsageError || error instanceof DeltaUsageError) {
        console.error(`xs-ota image: ${error.message}\n${USAGE}`);
        return 2;
      }
      if (error instanceof OtaError) {
        console.error(`xs-ota image: ${error.message}`);
        return 1;
      }
      throw error;
    }
  },
};
