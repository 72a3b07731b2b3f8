/**
 * The dev kit's key-value store (the device's journal storage). In memory, optionally persisted
 * to a JSON file so a simulated device keeps its journal across runs, with a limit on value
 * length as on the device, and write-failure injection.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { KeyValuePort } from '../../src/platform/key-value.js';

export interface SimKeyValueOptions {
  /** Persist to this JSON file (read at start if it exists). */
  file?: string;
  /** Longest value accepted (Zephyr settings default: 256 bytes per record is typical). */
  maxValueLength?: number;
}

export class SimKeyValue implements KeyValuePort {
  readonly maxValueLength: number;
  /** Write count, for wear figures. */
  writes = 0;
  /** When set, the next `failWrites` writes throw (a full or failing store). */
  failWrites = 0;
  #data = new Map<string, string>();
  #file: string | undefined;

  constructor(options: SimKeyValueOptions = {}) {
    this.maxValueLength = options.maxValueLength ?? 1024;
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
