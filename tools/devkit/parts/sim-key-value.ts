/**
 * The dev kit's key-value store (the device's journal storage). In memory, optionally persisted
 * to a JSON file so a simulated device keeps its journal across runs, with a limit on value
 * length as on the device (255 by default: the Moddable Zephyr binding's, modules/ota-key-value.ts,
 * so every test runs with the real constraint), and write-failure injection.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { KeyValuePort } from '../../../src/platform/key-value.js';

export interface SimKeyValueOptions {
  /** Persist to this JSON file (read at start if it exists). */
  file?: string;
  /** Longest value accepted; default DEVICE_MAX_VALUE_LENGTH, the device's. */
  maxValueLength?: number;
}

/**
 * The device's value limit: Zephyr SETTINGS_MAX_VAL_LEN (256) less the Moddable binding's format
 * byte (modules/ota-key-value.ts MAX_VALUE_LENGTH; a unit test keeps the two equal).
 */
export const DEVICE_MAX_VALUE_LENGTH = 255;

export class SimKeyValue implements KeyValuePort {
  readonly maxValueLength: number;
  /** Write count, for wear figures. */
  writes = 0;
  /** When set, the next `failWrites` writes throw (a full or failing store). */
  failWrites = 0;
  /**
   * When set, the write that would be write number `cutAtWrite` (counting as `writes` does, from
   * 1) throws and stores nothing, as a power cut just before it committed; later writes work.
   */
  cutAtWrite: number | undefined;
  #data = new Map<string, string>();
  #file: string | undefined;

  constructor(options: SimKeyValueOptions = {}) {
    this.maxValueLength = options.maxValueLength ?? DEVICE_MAX_VALUE_LENGTH;
    this.#file = options.file;
    if (this.#file && existsSync(this.#file)) {
      const parsed = JSON.parse(readFileSync(this.#file, 'utf8')) as Record<string, string>;
      for (const [k, v] of Object.entries(parsed)) this.#data.set(k, v);
    }
  }

  read(key: string): string | undefined {
    return this.#data.get(key);
  }

  write(key: string, value: string): void {
    if (this.failWrites > 0) {
      this.failWrites--;
      throw new Error(`key-value: write of '${key}' failed (injected)`);
    }
    if (this.cutAtWrite === this.writes + 1) {
      this.cutAtWrite = undefined;
      throw new Error(`key-value: power cut before write ${this.writes + 1} ('${key}') committed (injected)`);
    }
    if (value.length > this.maxValueLength) {
      throw new RangeError(`key-value: value of '${key}' is ${value.length} bytes, limit ${this.maxValueLength}`);
    }
    this.writes++;
    this.#data.set(key, value);
    this.#persist();
  }

  delete(key: string): void {
    this.#data.delete(key);
    this.#persist();
  }

  /** Everything stored (tests, the summary). */
  entries(): Record<string, string> {
    return Object.fromEntries(this.#data);
  }

  #persist(): void {
    if (!this.#file) return;
    const tmp = `${this.#file}.tmp`;
    writeFileSync(tmp, JSON.stringify(Object.fromEntries(this.#data), null, 1));
    renameSync(tmp, this.#file);
  }
}
