/**
 * `xs-ota release check --key PUB.pem --previous OLD.bin NEW.bin [--slot-size N] [--delta D] [--json]`
 *
 * The compliance gate a vendor's CI runs before publishing an image to the fleet. Every rule is
 * evaluated (a failure does not hide the others) and each failed rule gives one reason:
 *   signature         ECDSA P-256 under the fleet key (KEYHASH names it, the signature verifies)
 *   version           newer than the previous release (MCUboot order, build number included)
 *   security-counter  SEC_CNT not lower than the previous release's (absent counts as 0)
 *   fits-slot         header + body + TLVs leave room for the swap trailer in the slot
 *   format            header flags and TLV areas as the fleet's MCUboot accepts them
 *   hash              the SHA256 TLV equals the hash of header + body + protected TLVs
 *   delta             (with --delta) the delta rebuilds NEW.bin from OLD.bin exactly
 * All image facts come from the agent's own parser (src/image/image-stream.ts) run exactly as the
 * device runs it; the gate adds no second parser. Exit 0 = every rule passed, 1 = a rule failed
 * (or could not be evaluated), 2 = usage.
 */
import { readFileSync } from 'node:fs';
import { DEFAULT_SLOT_SIZE, ImageStream, ParsedImage } from '../../src/image/image-stream.js';
import { TLV, tlvName, type Tlv } from '../../src/image/tlv.js';
import { trailerSize } from '../../src/image/trailer.js';
import { compareVersions, formatVersion } from '../../src/image/version.js';
import { hex } from '../../src/util/bytes.js';
import { describeError, isOtaError } from '../../src/util/errors.js';
import type { Reason } from '../../src/util/errors.js';
import { applyDelta } from '../delta/decode.js';
import { NodeDigest } from '../node/node-digest.js';
import { NodeSignatureVerifier } from '../node/node-signature-verifier.js';
import type { Command } from './main.js';

const USAGE = `usage:
  xs-ota release check --key PUB.pem --previous OLD.bin NEW.bin [--slot-size N] [--delta D] [--json]
exit: 0 every rule passed, 1 a rule failed, 2 usage`;

export const RULES = ['signature', 'version', 'security-counter', 'fits-slot', 'format', 'hash', 'delta'] as const;
export type RuleName = (typeof RULES)[number];

/**
 * `pass`/`fail` as evaluated; `skipped`: not applicable (no --delta); `unchecked`: could not be
 * evaluated because the image did not parse (counts as a failure); `pending`: the rule needs a part
 * this build lacks (counts as a failure: the gate never vouches for what it did not check).
 */
export type RuleStatus = 'pass' | 'fail' | 'skipped' | 'unchecked' | 'pending';

export interface RuleResult {
  rule: RuleName;
  status: RuleStatus;
  /** For a failure: an agent reason (`OtaReason`, src/agent/reasons.ts) or a gate reason (`not-newer`, `counter-lower`, ...). */
  reason?: string;
  detail: string;
}

export interface ReleaseReport {
  image: string;
  previous: string;
  slotSize: number;
  trailerSize: number;
  version: string | null;
  previousVersion: string | null;
  securityCounter: number | null;
  imageHash: string | null;
  verdict: 'pass' | 'fail';
  failed: number;
  rules: RuleResult[];
}

export interface ReleaseInputs {
  keyPem: string;
  image: { name: string; bytes: Uint8Array };
  previous: { name: string; bytes: Uint8Array };
  slotSize?: number;
  delta?: { name: string; bytes: Uint8Array };
}

class UsageError extends Error {}

/** The agent's parse, with the device's options: `parsed` or the OtaError that stopped it. */
function parse(bytes: Uint8Array, slotSize: number, supportedFlags?: number): { image?: ParsedImage; reason?: Reason; detail?: string } {
  try {
    const stream = new ImageStream({ digest: new NodeDigest(), slotSize, trailerSize: trailerSize(), supportedFlags });
    stream.push(bytes);
    const image = stream.finish();
    // MCUboot's TLV rules (allow-list, TLV sizes) are part of the format: an image whose TLVs the
    // fleet's MCUboot refuses is refused here as a parse failure, whatever its hash or signature.
    try {
      withComputedHash(image).check();
    } catch (error) {
      if (isOtaError(error) && FORMAT_REASONS.has(error.reason)) return { reason: error.reason, detail: error.detail };
    }
    return { image };
  } catch (error) {
    if (!isOtaError(error)) throw error;
    return { reason: error.reason, detail: error.detail };
  }
}

/** The image with its SHA256 TLVs standing for the computed hash: the other rules judged apart from the hash rule. */
function withComputedHash(image: ParsedImage): ParsedImage {
  const asComputed = (tlvs: readonly Tlv[]) => tlvs.map((t) => (t.type === TLV.SHA256 ? { ...t, value: image.computedHash } : t));
  return new ParsedImage({ ...image, expectedHash: image.computedHash, tlvs: asComputed(image.tlvs), protectedTlvs: asComputed(image.protectedTlvs) });
}

/** Reasons of MCUboot's TLV rules that are about the image's format, not its signature. */
const FORMAT_REASONS: ReadonlySet<string> = new Set(['tlv-unknown', 'tlv-malformed']);

/** Which rule a structural parse failure belongs to. */
function ruleOfParseFailure(reason: Reason): RuleName {
  return reason === 'too-large' ? 'fits-slot' : 'format';
}

/** Largest slot the parser accepts: the lenient pass that gathers facts when the strict one fails on size. */
const ANY_SLOT = 0xffffffff;
const ANY_FLAGS = 0xffffffff;

export async function checkRelease(inputs: ReleaseInputs): Promise<ReleaseReport> {
  const slotSize = inputs.slotSize ?? DEFAULT_SLOT_SIZE;
  const verifier = new NodeSignatureVerifier(inputs.keyPem);
  const results = new Map<RuleName, RuleResult>();
  const set = (rule: RuleName, status: RuleStatus, detail: string, reason?: string) => void results.set(rule, { rule, status, reason, detail });

  // 1. The image exactly as the device parses it: fits the slot, flags, TLV areas.
  const strict = parse(inputs.image.bytes, slotSize);
  // 2. The same parser without the slot and flag limits, so that an image too large or flagged
  //    still has its hash, signature and version checked (each failure is reported once, by its rule).
  const lenient = strict.image ? strict : parse(inputs.image.bytes, ANY_SLOT, ANY_FLAGS);
  const image = lenient.image;
  if (strict.image) {
    const room = slotSize - trailerSize();
    set('fits-slot', 'pass', `${strict.image.imageSize} bytes of ${room} before the ${trailerSize()}-byte trailer`);
    set('format', 'pass', `flags 0x${strict.image.header.flags.toString(16)}, TLVs ${strict.image.tlvs.map((t) => tlvName(t.type)).join(', ')} on MCUboot's allow-list`);
  } else {
    const failed = ruleOfParseFailure(strict.reason!);
    set(failed, 'fail', strict.detail ?? strict.reason!, strict.reason);
    // The other structural rule passed when the lenient parse got through (only size or flags differ).
    const other: RuleName = failed === 'fits-slot' ? 'format' : 'fits-slot';
    if (image) {
      if (other === 'fits-slot') {
        const room = slotSize - trailerSize();
        if (image.imageSize <= room) set('fits-slot', 'pass', `${image.imageSize} bytes of ${room} before the ${trailerSize()}-byte trailer`);
        else set('fits-slot', 'fail', `image ends at ${image.imageSize}, slot holds ${room} bytes before its trailer`, 'too-large');
      } else {
        // Size failed first; the flags check runs at the header, so re-run with the device's flags.
        const flags = parse(inputs.image.bytes, ANY_SLOT);
        if (flags.image) set('format', 'pass', `flags 0x${image.header.flags.toString(16)}, TLVs on MCUboot's allow-list`);
        else set('format', 'fail', flags.detail ?? flags.reason!, flags.reason);
      }
    } else {
      set(other, 'unchecked', `image does not parse (${lenient.reason})`);
    }
  }

  // 3. Previous release: only its version and security counter are used; it must parse.
  const previous = parse(inputs.previous.bytes, ANY_SLOT, ANY_FLAGS);

  if (!image) {
    for (const rule of ['signature', 'version', 'security-counter', 'hash'] as const) set(rule, 'unchecked', `image does not parse (${lenient.reason}: ${lenient.detail ?? ''})`);
  } else {
    // hash
    if (image.hashOk) set('hash', 'pass', `SHA-256 ${hex(image.computedHash)}`);
    else if (!image.expectedHash) set('hash', 'fail', 'no SHA256 TLV', 'hash-missing');
    else set('hash', 'fail', `SHA256 TLV ${hex(image.expectedHash)}, computed ${hex(image.computedHash)}`, 'hash-mismatch');

    // signature: the agent's check and verify, over the computed hash (as MCUboot signs it), so a
    // hash failure is reported by the hash rule alone and does not mask the signature's own verdict.
    try {
      // MCUboot's rules compare every SHA256 TLV with the computed hash (src/image/mcuboot-rules.ts);
      // that comparison is the hash rule's. Here the SHA256 TLVs stand for the computed hash, so
      // the signature is judged on its own: does it sign what the image really holds?
      await withComputedHash(image).verify(verifier, { trustedKeyHash: verifier.keyHash });
      set('signature', 'pass', `ECDSA P-256 under the fleet key ${hex(verifier.keyHash)}`);
    } catch (error) {
      if (!isOtaError(error)) throw error;
      set('signature', 'fail', error.detail ?? error.reason, error.reason);
    }

    if (!previous.image) {
      const why = `previous release ${inputs.previous.name} does not parse (${previous.reason}: ${previous.detail ?? ''})`;
      set('version', 'unchecked', why);
      set('security-counter', 'unchecked', why);
    } else {
      const prev = previous.image;
      const v = formatVersion(image.version);
      const pv = formatVersion(prev.version);
      const order = compareVersions(image.version, prev.version);
      if (order > 0) set('version', 'pass', `${v} is newer than ${pv}`);
      else set('version', 'fail', `${v} is ${order === 0 ? 'the same as' : 'older than'} the previous release ${pv}`, order === 0 ? 'same-version' : 'downgrade');
      const c = image.securityCounter ?? 0;
      const pc = prev.securityCounter ?? 0;
      if (c >= pc) set('security-counter', 'pass', `SEC_CNT ${c} >= previous ${pc}`);
      else set('security-counter', 'fail', `SEC_CNT ${c} is lower than the previous release's ${pc}: the fleet would refuse it`, 'security-counter-rollback');
    }
  }

  if (!inputs.delta) set('delta', 'skipped', 'no --delta given');
  else {
    // The agent's own VCDIFF decoder (src/delta, through tools/delta/decode.ts), the previous
    // release as its source exactly as the device's primary slot holds it: the rebuilt bytes must
    // be NEW.bin byte for byte, or a device would verify something other than what was signed.
    try {
      const rebuilt = await applyDelta(inputs.delta.bytes, inputs.previous.bytes, slotSize);
      const target = inputs.image.bytes;
      let at = 0;
      while (at < Math.min(rebuilt.length, target.length) && rebuilt[at] === target[at]) at++;
      if (rebuilt.length === target.length && at === target.length) set('delta', 'pass', `${inputs.delta.name} (${inputs.delta.bytes.length} bytes) rebuilds the ${target.length}-byte image exactly`);
      else set('delta', 'fail', `${inputs.delta.name} rebuilds ${rebuilt.length} bytes that differ from the image (${target.length} bytes) at byte ${at}`, 'delta-mismatch');
    } catch (error) {
      set('delta', 'fail', `${inputs.delta.name} does not decode against the previous release: ${describeError(error)}`, isOtaError(error) ? error.reason : 'delta-malformed');
    }
  }

  const rules = RULES.map((r) => results.get(r)!);
  const failed = rules.filter((r) => r.status === 'fail' || r.status === 'unchecked' || r.status === 'pending').length;
  return {
    image: inputs.image.name,
    previous: inputs.previous.name,
    slotSize,
    trailerSize: trailerSize(),
    version: image ? formatVersion(image.version) : null,
    previousVersion: previous.image ? formatVersion(previous.image.version) : null,
    securityCounter: image ? (image.securityCounter ?? null) : null,
    imageHash: image ? hex(image.computedHash) : null,
    verdict: failed === 0 ? 'pass' : 'fail',
    failed,
    rules,
  };
}

/** The CI log form: one line per rule, failures first word FAIL, then a summary line. */
export function formatReport(r: ReleaseReport): string {
  const out = [`release check ${r.image} (${r.version ?? 'unreadable'}) against previous ${r.previous} (${r.previousVersion ?? 'unreadable'}), slot ${r.slotSize} bytes`];
  for (const rule of r.rules) {
    const word = rule.status === 'pass' ? 'PASS' : rule.status === 'skipped' ? 'SKIP' : rule.status === 'pending' ? 'PENDING' : rule.status === 'unchecked' ? 'UNCHECKED' : 'FAIL';
    out.push(`  ${word.padEnd(9)} ${rule.rule.padEnd(16)} ${rule.reason ? `${rule.reason}: ` : ''}${rule.detail}`);
  }
  out.push(r.verdict === 'pass' ? 'release check: PASS' : `release check: FAIL (${r.failed} rule${r.failed === 1 ? '' : 's'} not passed)`);
  return out.join('\n');
}

function num(text: string | undefined, what: string): number {
  const n = text === undefined ? NaN : Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${what} needs a positive number (decimal or 0x...), got '${text}'`);
  return n;
}

function readInput(path: string, what: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (error) {
    throw new UsageError(`${what} ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

async function runCheck(args: string[]): Promise<number> {
  let keyPath: string | undefined;
  let previousPath: string | undefined;
  let deltaPath: string | undefined;
  let slotSize: number | undefined;
  let json = false;
  let file: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--key') keyPath = args[++i];
    else if (a === '--previous') previousPath = args[++i];
    else if (a === '--delta') deltaPath = args[++i];
    else if (a === '--slot-size') slotSize = num(args[++i], '--slot-size');
    else if (a === '--json') json = true;
    else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
    else if (file === undefined) file = a;
    else throw new UsageError(`unexpected argument ${a}`);
  }
  if (!keyPath) throw new UsageError('check needs --key PUB.pem (the fleet key)');
  if (!previousPath) throw new UsageError('check needs --previous OLD.bin (the release the fleet runs)');
  if (!file) throw new UsageError('check needs NEW.bin');
  let keyPem: string;
  try {
    keyPem = new TextDecoder().decode(readInput(keyPath, '--key'));
    new NodeSignatureVerifier(keyPem);
  } catch (error) {
    throw new UsageError(`--key ${keyPath} is not a P-256 public key: ${error instanceof Error ? error.message : String(error)}`);
  }
  const report = await checkRelease({
    keyPem,
    image: { name: file, bytes: readInput(file, 'image') },
    previous: { name: previousPath, bytes: readInput(previousPath, '--previous') },
    slotSize,
    delta: deltaPath ? { name: deltaPath, bytes: readInput(deltaPath, '--delta') } : undefined,
  });
  console.log(json ? JSON.stringify(report, null, 2) : formatReport(report));
  return report.verdict === 'pass' ? 0 : 1;
}

export const command: Command = {
  summary: 'release gate for CI: signature, version, security counter, slot fit, format, hash, delta',
  async run(args: string[]): Promise<number> {
    const [sub, ...rest] = args;
    try {
      if (sub === 'check') return await runCheck(rest);
      throw new UsageError(sub ? `unknown subcommand '${sub}'` : 'missing subcommand');
    } catch (error) {
      if (error instanceof UsageError) {
        console.error(`xs-ota release: ${error.message}\n${USAGE}`);
        return 2;
      }
      throw error;
    }
  },
};
