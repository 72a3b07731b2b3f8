/**
 * What every `xs-ota` command shares, so that a QA engineer gets the same behaviour everywhere
 * (docs/cli.md): `--help`/`-h` prints the usage and does nothing else; a bad option is a one-line
 * usage error with exit code 2; a failure is a one-line message with exit code 1; 0 means the
 * command did what was asked.
 */
import { isOtaError } from '../../src/util/errors.js';

/** Exit codes of every command (docs/cli.md). */
export const EXIT = {
  /** Done as asked (an update ran to the outcome asked for, an image verified, ...). */
  done: 0,
  /** The command ran but failed: the update failed, the image was rejected, a file was bad. */
  failed: 1,
  /** The command line was wrong: unknown option, bad value, missing argument. */
  usage: 2,
} as const;

/** A wrong command line: one line and a pointer to --help, exit code 2 (tools/cli/main.ts prints it). */
export class UsageError extends Error {}

/** An input named on the command line cannot be used (not an image, not a key, missing): exit 1. */
export class InputError extends Error {}

/** True when `args` ask for help (anywhere: `image sign --key k --help` prints help too). */
export function wantsHelp(args: readonly string[]): boolean {
  return args.includes('--help') || args.includes('-h');
}

/**
 * A whole number from the command line (decimal or 0x...), within [min, max]; UsageError
 * naming the option otherwise (`--seed abc`, `--segment-bytes 0`).
 */
export function parseInteger(text: string | undefined, what: string, range: { min?: number; max?: number } = {}): number {
  const min = range.min ?? 0;
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  const trimmed = text?.trim() ?? '';
  const n = trimmed === '' || !/^(0x[0-9a-f]+|[0-9]+)$/i.test(trimmed) ? NaN : Number(trimmed);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const bounds = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `${min}..${max}`;
    throw new UsageError(`${what} needs a whole number ${bounds} (decimal or 0x...), got '${text ?? ''}'`);
  }
  return n;
}

/**
 * One line for an error the user caused or met (a bad file, a bad key, an OtaError), never a
 * stack or a raw library message: OpenSSL's `error:1E08010C:DECODER routines::unsupported` and
 * a TypeError from deep inside the parser both become "what was wrong with which input".
 */
export function describeError(error: unknown, input?: string): string {
  const where = input ? `${input}: ` : '';
  if (isOtaError(error)) return `${where}${error.reason}${error.detail ? `: ${error.detail}` : ''}`;
  const e = error as { code?: unknown; message?: unknown; path?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  if (code === 'ENOENT') return `${where}no such file${typeof e.path === 'string' ? ` '${e.path}'` : ''}`;
  if (code === 'EACCES') return `${where}permission denied`;
  if (code === 'EISDIR') return `${where}is a directory, not a file`;
  if (code.startsWith('ERR_OSSL') || /DECODER routines|error:[0-9A-F]{8}|asn1/i.test(String(e?.message ?? ''))) {
    return `${where}not a usable key (expected a P-256 key in PEM or DER)`;
  }
  if (error instanceof TypeError || error instanceof RangeError) return `${where}not in the expected format (${error.message})`;
  return `${where}${error instanceof Error ? error.message : String(error)}`;
}
