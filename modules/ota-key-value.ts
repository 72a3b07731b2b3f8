/**
 * KeyValuePort on `embedded:storage/key-value`, Moddable's Zephyr binding
 * (modules/io/storage/zephyr/storage-zephyr.{js,c}; typings/embedded/storage/key-value.d.ts):
 * Zephyr settings (NVS backend) under `<domain>/<key>`.
 *
 * Facts from storage-zephyr.c that set the limits below: the settings name is "<domain>/<key>";
 * each value is stored with one format byte in front (settings_save_one) and committed; a missing
 * key reads as undefined (settings_get_val_len returns 0); a value stored in another format throws
 * TypeError "mismatch"; every settings error throws "setting error". Zephyr's settings.h caps a
 * name at SETTINGS_MAX_NAME_LEN (64) and a value at SETTINGS_MAX_VAL_LEN (256), so a string value
 * gets 255 bytes. The value is stored as the string's UTF-8 bytes; the journal writes ASCII, so
 * bytes = length. Provisioning tools must write through this binding too (docs/device-build.md):
 * a raw `settings write` lacks the format byte and reads back as "mismatch".
 */
import { OtaError, type KeyValuePort } from 'xs-ota';

/** Zephyr SETTINGS_MAX_VAL_LEN (256) less the binding's format byte. Longer: limit-exceeded. */
export const MAX_VALUE_LENGTH = 255;
/** Zephyr SETTINGS_MAX_NAME_LEN: "<domain>/<key>" plus its NUL. Longer keys: invalid-argument. */
export const SETTINGS_MAX_NAME_LEN = 64;

export interface ZephyrKeyValueStore {
  read(key: string): string | undefined;
  write(key: string, value: string): void;
  delete(key: string): void;
  close(): void;
}

export interface ZephyrKeyValueStorage {
  open(options: { path: string; mode?: 'r' | 'r+'; format?: 'string' }): ZephyrKeyValueStore;
}

export class ModdableKeyValue implements KeyValuePort {
  readonly maxValueLength = MAX_VALUE_LENGTH;
  readonly #domain: string;
  /** Longest key that fits SETTINGS_MAX_NAME_LEN after "<domain>/". */
  readonly maxKeyLength: number;
  readonly #store: ZephyrKeyValueStore;

  constructor(storage: ZephyrKeyValueStorage, domain: string, mode: 'r' | 'r+' = 'r+') {
    this.#domain = domain;
    this.maxKeyLength = SETTINGS_MAX_NAME_LEN - 1 - domain.length - 1;
    if (this.maxKeyLength < 1) throw new OtaError('invalid-argument', `key-value domain too long: ${domain}`);
    this.#store = storage.open({ path: domain, mode, format: 'string' });
  }

  read(key: string): string | undefined {
    this.#checkKey(key);
    const value: unknown = this.#store.read(key);
    if (value === undefined) return undefined;
    if (typeof value === 'string') return value;
    // The binding throws "mismatch" for another stored format; anything else is not ours either.
    throw new OtaError('platform-error', `key-value ${this.#domain}/${key}: not a string (${typeof value})`);
  }

  write(key: string, value: string): void {
    this.#checkKey(key);
    if (value.length > MAX_VALUE_LENGTH) {
      throw new OtaError('limit-exceeded', `key-value ${this.#domain}/${key}: ${value.length} > ${MAX_VALUE_LENGTH} bytes`);
    }
    // Throws "setting error" when settings_save_one or the commit fails: the journal must know.
    this.#store.write(key, value);
  }

  delete(key: string): void {
    this.#checkKey(key);
    this.#store.delete(key);
  }

  close(): void {
    this.#store.close();
  }

  #checkKey(key: string): void {
    if (key.length === 0 || key.length > this.maxKeyLength) {
      throw new OtaError('invalid-argument', `key-value ${this.#domain}: key length ${key.length} outside 1..${this.maxKeyLength}`);
    }
  }
}
