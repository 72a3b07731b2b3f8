/**
 * `xs-ota image inspect FILE [--key PUBKEY.pem | --no-verify] [--slot-size N] [--json]`
 *   What the agent would decide about an image: header, TLVs, hash, key hash, signature, trailer
 *   (for slot-sized padded files) and the overall verdict with its reason. Exit 0 = valid,
 *   1 = reject (or not verified), 2 = usage. Without --key the signature is not checked: the
 *   verdict says so and the exit code is 1, unless --no-verify asks for the structure only.
 * `xs-ota image sign --key KEY.pem --version 1.2.3+4 [--header-size 0x200] [--pad-header]
 *   [--align 8] [--slot-size N] [--align-end N] [--pad] [--confirm] [--security-counter N]
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
import { NodeDigest } from '../node/node-digest.js';
import { NodeSignatureVerifier } from '../node/node-signature-verifier.js';
import { signImage, type SignOptions } from '../image/imgtool-sign.js';
import { describeError, EXIT, InputError, parseInteger, UsageError, wantsHelp } from './cli-common.js';
import type { Command } from './main.js';
import { isVcdiff } from '../../src/delta/format.js';
import { DeltaUsageError, inspectDelta, printDeltaInspect, runDelta } from '../delta/cli.js';

const USAGE = `usage:
  xs-ota image inspect FILE [--key PUBKEY.pem | --no-verify] [--slot-size N] [--json]   (a VCDIFF delta: [--from OLD.bin])
      the agent's verdict (MCUboot's checks, src/image/mcuboot-rules.ts); exit 0 valid, 1 reject
      or not verified (no --key: the signature is not checked, unless --no-verify), 2 usage
  xs-ota image delta --from OLD.bin --to NEW.bin OUT [--json]
  xs-ota image sign --key KEY.pem --version 1.2.3+4 [--header-size 0x200] [--pad-header] [--align 8]
                    [--slot-size N] [--align-end N] [--pad] [--confirm] [--security-counter N] [--custom-tlv TYPE VALUE]
                    [--public-key-format hash] IN OUT
      signs like imgtool (ECDSA P-256, SHA-256, KEYHASH); --security-counter is a u32
      (--public-key-format full is refused: this MCUboot build, without MCUBOOT_HW_KEY, ignores
      PUBKEY, so such an image never boots)`;

const num = (text: string | undefined, what: string): number => parseInteger(text, what);

export interface InspectReport {
  file: string;
  /** valid: every check passed; unverified: all but the signature (no --key); reject: a check failed. */
  verdict: 'valid' | 'unverified' | 'reject';
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
  let verifier: NodeSignatureVerifier | undefined;
  try {
    verifier = options.keyPem ? new NodeSignatureVerifier(options.keyPem) : undefined;
  } catch (error) {
    throw new OtaError('invalid-argument', describeError(error, '--key'));
  }
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
      report.verdict = 'valid';
    } else {
      image.check();
      report.verdict = 'unverified';
    }
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
  out.push(`  signature ${r.signatureChecked ? 'ECDSA P-256 verified' : r.verdict === 'unverified' ? 'NOT CHECKED (no --key)' : 'not verified'}`);
  if (r.trailer) out.push(`  trailer  magic ${r.trailer.magic}, image_ok ${r.trailer.imageOk}, copy_done ${r.trailer.copyDone} -> MCUboot swap: ${r.trailer.swapTypeOnBoot}`);
  const verdict =
    r.verdict === 'valid' ? 'VALID' : r.verdict === 'unverified' ? 'NOT VERIFIED: structure and hash OK, signature not checked (pass --key PUBKEY.pem)' : `REJECT: ${r.reason}${r.detail ? ` (${r.detail})` : ''}`;
  out.push(`  verdict  ${verdict}`);
  console.log(out.join('\n'));
}

async function runInspect(args: string[]): Promise<number> {
  let file: string | undefined;
  let keyPath: string | undefined;
  let slotSize: number | undefined;
  let json = false;
  let noVerify = false;
  let fromPath: string | undefined; // deltas only (tools/delta/cli.ts)
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--from') fromPath = args[++i];
    else if (a === '--key') keyPath = args[++i] ?? '';
    else if (a === '--no-verify') noVerify = true;
    else if (a === '--slot-size') slotSize = num(args[++i], '--slot-size');
    else if (a === '--json') json = true;
    else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
    else if (file === undefined) file = a;
    else throw new UsageError(`unexpected argument ${a}`);
  }
  if (!file) throw new UsageError('inspect needs a FILE');
  if (keyPath === '') throw new UsageError('--key needs a file');
  if (keyPath !== undefined && noVerify) throw new UsageError('--key and --no-verify exclude each other');
  const bytes = readInput(file, 'FILE');
  if (isVcdiff(bytes)) {
    // A delta (issue 14): its windows and source, tools/delta/cli.ts.
    const delta = await inspectDelta(file, bytes, fromPath ? readInput(fromPath, '--from') : undefined);
    if (json) console.log(JSON.stringify(delta, null, 2));
    else printDeltaInspect(delta);
    return delta.verdict === 'valid' ? EXIT.done : EXIT.failed;
  }
  const keyPem = keyPath === undefined ? undefined : new TextDecoder().decode(readInput(keyPath, '--key'));
  const report = await inspect(file, bytes, { keyPem, slotSize });
  if (json) console.log(JSON.stringify(report, null, 2));
  else printReport(report);
  if (report.verdict === 'valid') return EXIT.done;
  return report.verdict === 'unverified' && noVerify ? EXIT.done : EXIT.failed;
}

/** Reads a file named on the command line; a missing or unreadable one is a one-line failure. */
function readInput(file: string, what: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(file));
  } catch (error) {
    throw new InputError(describeError(error, `${what} ${file}`));
  }
}


function runSign(args: string[]): number {
  const o: Partial<SignOptions> = {};
  const custom: { type: number; value: Uint8Array }[] = [];
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    switch (a) {
      case '--key': {
        const file = args[++i];
        if (!file) throw new UsageError('--key needs a file');
        o.keyPem = new TextDecoder().decode(readInput(file, '--key'));
        break;
      }
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
      case '--align-end':
        o.alignEnd = num(args[++i], a);
        break;
      case '--pad':
        o.pad = true;
        break;
      case '--confirm':
        o.confirm = true;
        break;
      case '--security-counter':
        // SEC_CNT is a u32: 4294967296 must be refused, not written as 0.
        o.securityCounter = parseInteger(args[++i], a, { min: 0, max: 0xffffffff });
        break;
      case '--public-key-format': {
        const f = args[++i];
        if (f === 'full') {
          throw new UsageError(
            '--public-key-format full writes a PUBKEY TLV, which this MCUboot build (no MCUBOOT_HW_KEY, src/image/mcuboot-rules.ts) ignores: the image would never boot; use hash (the default)',
          );
        }
        if (f !== 'hash') throw new UsageError('--public-key-format is hash');
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
  let out: Uint8Array;
  try {
    out = signImage(readInput(files[0], 'IN'), o as SignOptions);
  } catch (error) {
    if (error instanceof InputError || isOtaError(error)) throw error;
    throw new InputError(describeError(error, '--key'));
  }
  try {
    writeFileSync(files[1], out);
  } catch (error) {
    throw new InputError(describeError(error, `OUT ${files[1]}`));
  }
  console.log(`${files[1]}: ${out.length} bytes, version ${o.version}${o.keyPem ? ', signed' : ', UNSIGNED'}`);
  return 0;
}

export const command: Command = {
  summary: 'inspect (verdict on) or sign MCUboot images, imgtool format; make or inspect VCDIFF deltas',
  async run(args: string[]): Promise<number> {
    const [sub, ...rest] = args;
    if (wantsHelp(args)) {
      console.log(USAGE);
      return EXIT.done;
    }
    try {
      if (sub === 'inspect') return await runInspect(rest);
      if (sub === 'sign') return runSign(rest);
      if (sub === 'delta') return await runDelta(rest);
      throw new UsageError(sub ? `unknown subcommand '${sub}'` : 'missing subcommand');
    } catch (error) {
      if (error instanceof UsageError || error instanceof DeltaUsageError) {
        console.error(`xs-ota image: ${error.message}\n${USAGE}`);
        return EXIT.usage;
      }
      if (error instanceof InputError || error instanceof OtaError) {
        console.error(`xs-ota image: ${error instanceof OtaError ? describeError(error) : error.message}`);
        return EXIT.failed;
      }
      throw error;
    }
  },
};
