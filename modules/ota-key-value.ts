/**
 * KeyValuePort on `embedded:storage/key-value`, Moddable's Zephyr binding
 * (modules/io/storage/zephyr/storage-zephyr.{js,c}; typings/embedded/storage/key-value.d.ts):
 * Zephyr settings (NVS backend) under `<domain>/<key>`.
 *
 * Facts from storage-zephyr.c that set the limits below: the domain is copied into a 64-byte
 * buffer; a key is converted into a 64-byte buffer after it; each value is stored with one format
 * byte in front (settings_save_one) and committed; a missing key reads as undefined
 * (settings_get_val_len returns 0); every settings error throws "setting error". Zephyr's
 * settings.h caps a value at SETTINGS_MAX_VAL_LEN (256), so a string value gets 255 bytes.
 * The value is stored as the string's UTF-8 bytes; the journal writes ASCII, so bytes = length.
 */
import { OtaError, type KeyValuePort } from 'xs-ota';

/** Zephyr SETTINGS_MAX_VAL_LEN (256) less the binding's format byte. Longer: limit-exceeded. */
export const MAX_VALUE_LENGTH = 255;
/** The binding's key buffer is 64 bytes including the terminating NUL. Longer: limit-exceeded. */
export const MAX_KEY_LENGTH = 63;

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
  readonly #store: ZephyrKeyValueStore;

  constructor(storage: ZephyrKeyValueStorage, domain: string, mode: 'r' | 'r+' = 'r+') {
    this.#domain = domain;
    this.#store = storage.open({ path: domain, mode, format: 'string' });
  }

  read(key: string): string | undefined {
    this.#checkKey(key);
    const value: unknown = this.#store.read(key);
    if (value === undefined || typeof value === 'string') return value;
    // Written by something else in another format: hostile data, not a journal.
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
    if (key.length === 0 || key.length > MAX_KEY_LENGTH) {
      throw new OtaError('invalid-argument', `key-value ${this.#domain}: key length ${key.length} outside 1..${MAX_KEY_LENGTH}`);
    }
  }
}
