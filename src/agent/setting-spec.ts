/**
 * The shape of a device setting's schema entry (src/agent/config.ts CONFIG_SCHEMA) and the
 * character classes the entries use: a leaf module, so that the settings of an optional part
 * (src/agent/settings-*.ts, each left out of a bundle without that part) can be declared beside
 * the part without importing config.ts.
 */

export interface IntSpec {
  readonly type: 'int';
  readonly default: number;
  readonly min: number;
  readonly max: number;
}

export interface TextSpec {
  readonly type: 'text';
  readonly default: string;
  /** Longest accepted value (characters). */
  readonly maxLength: number;
  /** Every character code must pass (checked per character, so no backtracking on long input). */
  readonly charset: (code: number) => boolean;
  /** An empty value is a start-up error (there is no safe default). */
  readonly required: boolean;
  /** A check of the whole value beyond its characters (e.g. a list of origins): what is wrong, or undefined. */
  readonly check?: (value: string) => string | undefined;
}

export interface ChoiceSpec {
  readonly type: 'choice';
  readonly default: string;
  readonly choices: readonly string[];
}

export type ConfigSpec = IntSpec | TextSpec | ChoiceSpec;

// Character classes as functions, not RegExp objects: this module is preloaded into flash, and
// plain functions and numbers are what XS preload stores best (documentation/xs/preload.md).
const isAlnum = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
/** A-Z a-z 0-9 _ . - */
export const LABEL = (c: number): boolean => isAlnum(c) || c === 0x5f || c === 0x2e || c === 0x2d;
/** LABEL and ':' */
export const ID = (c: number): boolean => LABEL(c) || c === 0x3a;
/** Printable ASCII without space. */
export const PRINTABLE = (c: number): boolean => c >= 0x21 && c <= 0x7e;
