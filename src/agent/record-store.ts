/**
 * One record larger than a key-value value, saved atomically: a power cut at any instant of a save
 * leaves the previous record readable (or the new one, once its last write landed), never a mix.
 *
 * Why: the device's store (Zephyr settings through Moddable's binding, modules/ota-key-value.ts)
 * takes at most 255 bytes per value, and each key's write is atomic, but a journal record with a
 * deployment (a pre-signed URL alone is 1-3 KB) needs several values. Writing them in place would
 * leave a half-old, half-new record after a cut in the middle.
 *
 * Layout: two banks, `a` and `b`. A bank is its data parts `<name>.<bank>.<i>` (i = 0..count-1,
 * each at most `maxValueLength` characters) and its header `<name>.<bank>`:
 *
 *     R1 <seq> <count> <length> <crc32 as 8 lower-case hex digits>
 *
 * A save writes the bank not holding the newest record: its data parts first, its header last. The
 * header is the commit: until it lands, that bank's old header describes parts that no longer
 * match its CRC (or the bank was empty), so load takes the other bank, which the save never
 * touched. Load reads both banks and keeps the valid one with the higher sequence number; a bank
 * that is torn or corrupt is ignored and the reason is returned. Parts beyond a header's count
 * (left by an earlier, longer record) are never read, so they are not deleted (deleting would cost
 * flash wear for nothing).
 *
 * Cost per save: at most ceil(length / maxValueLength) + 1 key writes (the header); a data part
 * the bank already holds with the same content (the record two saves ago: a long URL's parts) is
 * not written again, so a save that changes one field of a long record costs about 2-3.
 *
 * Everything read is hostile (flash after a power cut, another firmware's keys): the header is
 * parsed strictly, its numbers bounded, each part's length checked before it is kept, the CRC
 * checked last.
 */
import type { KeyValuePort } from '../platform/key-value.js';
import { crc32Ascii } from '../util/crc32.js';
import { OtaError } from '../util/errors.js';

export type Bank = 'a' | 'b';
const BANKS: readonly Bank[] = ['a', 'b'];

/** Header format tag: a header that does not start with it is not ours (or a future format). */
const HEADER_TAG = 'R1';
/**
 * `R1 <seq> <count> <length> <crc>`, every number decimal without leading zeros and bounded by its
 * digit count (seq: a safe integer; count: 4 digits; length: 8 digits), so parsing cannot overflow.
 */
const HEADER_PATTERN = /^R1 (0|[1-9][0-9]{0,15}) (0|[1-9][0-9]{0,3}) (0|[1-9][0-9]{0,7}) ([0-9a-f]{8})$/;
/** The longest header: "R1 " + 16 + 1 + 4 + 1 + 8 + 1 + 8 digits. A store must fit one in a value. */
export const HEADER_MAX_LENGTH = 42;
/**
 * Sequence numbers are compared in serial-number arithmetic modulo 2^32 (RFC 1982): a save takes
 * (newest + 1) mod 2^32, and `a` is newer than `b` when (a - b) mod 2^32 is in (0, 2^31). So no
 * value read from a bank (9007199254740991 included) can stop later saves from being loaded:
 * a plain "higher wins" would have to go past the largest safe integer, which no header may hold.
 * The two banks' numbers differ by the attempts between two saves, far below 2^31.
 */
export const SEQ_MODULUS = 0x1_0000_0000;
const SEQ_HALF = 0x8000_0000;

/** True when sequence `a` is newer than `b` (serial-number arithmetic, see SEQ_MODULUS). */
export function seqNewer(a: number, b: number): boolean {
  const d = (((a - b) % SEQ_MODULUS) + SEQ_MODULUS) % SEQ_MODULUS;
  return d > 0 && d < SEQ_HALF;
}

export interface RecordLoad {
  /** The newest valid record's text, or undefined when no bank holds a valid record. */
  text: string | undefined;
  /** The bank it came from. */
  bank?: Bank;
  /** Its sequence number. */
  seq?: number;
  /** Banks that held something but were not valid, each with the reason (`a: crc mismatch`). */
  discarded: string[];
}

/** What a bank was found to hold. */
type BankState = { ok: true; seq: number; text: string } | { ok: false; empty: boolean; why: string; seq?: number };

export class RecordStore {
  readonly #store: KeyValuePort;
  readonly #name: string;
  /** Largest record accepted, characters (= bytes: records are ASCII). */
  readonly maxLength: number;
  /** Characters per data part: the store's value limit. */
  readonly partLength: number;
  /** Most data parts a valid record can have (maxLength / partLength, rounded up). */
  readonly maxParts: number;
  /** Key writes of the last save (changed data parts + header), for wear figures. */
  lastSaveWrites = 0;
  /** Key writes of all saves through this instance. */
  totalWrites = 0;
  #scanned = false;
  /** Bank holding the newest valid record, if any: a save must not touch it. */
  #current: Bank | undefined;
  /** Newest sequence number (mod 2^32, serial order) seen in any header or used by any save attempt. */
  #seq = 0;
  /** False until a header's or a save's sequence number has been seen (then #seq means something). */
  #seqSeen = false;

  constructor(store: KeyValuePort, name: string, maxLength: number) {
    if (!Number.isSafeInteger(maxLength) || maxLength < 0 || maxLength > 99_999_999) {
      throw new OtaError('invalid-argument', `record store ${name}: maxLength ${maxLength}`);
    }
    if (store.maxValueLength < HEADER_MAX_LENGTH) {
      throw new OtaError('invalid-argument', `record store ${name}: values of ${store.maxValueLength} bytes cannot hold a ${HEADER_MAX_LENGTH}-byte header`);
    }
    this.#store = store;
    this.#name = name;
    this.maxLength = maxLength;
    this.partLength = store.maxValueLength;
    this.maxParts = Math.ceil(maxLength / this.partLength);
    if (this.maxParts > 9999) throw new OtaError('invalid-argument', `record store ${name}: ${this.maxParts} parts`);
  }

  /** Key of a bank's header (`i` undefined) or of its data part `i`. */
  key(bank: Bank, i?: number): string {
    return i === undefined ? `${this.#name}.${bank}` : `${this.#name}.${bank}.${i}`;
  }

  /** Reads both banks; returns the newest valid record and why any other bank was discarded. */
  load(): RecordLoad {
    const states = BANKS.map((bank) => this.#readBank(bank));
    this.#scanned = true;
    let best: Bank | undefined;
    let bestSeq = 0;
    const discarded: string[] = [];
    let text: string | undefined;
    states.forEach((state, i) => {
      const bank = BANKS[i];
      if (state.seq !== undefined && (!this.#seqSeen || seqNewer(state.seq, this.#seq))) {
        this.#seq = state.seq;
        this.#seqSeen = true;
      }
      if (!state.ok) {
        if (!state.empty) discarded.push(`${bank}: ${state.why}`);
        return;
      }
      // Equal sequence numbers cannot come from saves (each takes a new one): keep bank a then.
      if (best === undefined || seqNewer(state.seq, bestSeq)) {
        best = bank;
        bestSeq = state.seq;
        text = state.text;
      }
    });
    this.#current = best;
    return best === undefined ? { text: undefined, discarded } : { text, bank: best, seq: bestSeq, discarded };
  }

  /**
   * Saves `text` as the newest record. Throws OtaError('limit-exceeded') for a record longer than
   * `maxLength` and OtaError('invalid-argument') for a non-ASCII one, both before any write; a
   * store write that throws propagates (the previous record is still the one load returns, unless
   * the header write itself landed before the error).
   */
  save(text: string): number {
    if (text.length > this.maxLength) {
      throw new OtaError('limit-exceeded', `record ${this.#name} is ${text.length} bytes, at most ${this.maxLength}`);
    }
    // Validates ASCII (throws before any write) and is the header's CRC.
    let crc: number;
    try {
      crc = crc32Ascii(text);
    } catch (error) {
      throw new OtaError('invalid-argument', `record ${this.#name}: ${(error as Error).message}`);
    }
    if (!this.#scanned) this.load();
    const bank: Bank = this.#current === 'a' ? 'b' : 'a';
    // A new number for every attempt, even one that fails: a header that landed although its write
    // reported an error can never tie with the next attempt's.
    const seq = (this.#seq + 1) % SEQ_MODULUS;
    this.#seq = seq;
    this.#seqSeen = true;
    const count = Math.ceil(text.length / this.partLength);
    this.lastSaveWrites = 0;
    for (let i = 0; i < count; i++) {
      const key = this.key(bank, i);
      const part = text.slice(i * this.partLength, (i + 1) * this.partLength);
      // The bank holds the record of two saves ago: most parts (a long URL) are usually the same.
      // Skipping those saves wear and changes nothing stored; reads cost no wear.
      if (this.#readQuietly(key) === part) continue;
      this.#write(key, part);
    }
    this.#write(this.key(bank), `${HEADER_TAG} ${seq} ${count} ${text.length} ${crc.toString(16).padStart(8, '0')}`);
    this.#current = bank;
    return this.lastSaveWrites;
  }

  #readQuietly(key: string): unknown {
    try {
      return this.#store.read(key);
    } catch {
      return undefined; // unreadable: written again
    }
  }

  #write(key: string, value: string): void {
    this.#store.write(key, value);
    this.lastSaveWrites++;
    this.totalWrites++;
  }

  #readBank(bank: Bank): BankState {
    const read = (key: string): string | undefined | Error => {
      try {
        const value: unknown = this.#store.read(key);
        if (value === undefined || typeof value === 'string') return value;
        return new Error(`${key} is not a string`);
      } catch (error) {
        return error instanceof Error ? error : new Error(String(error));
      }
    };
    const header = read(this.key(bank));
    if (header === undefined) return { ok: false, empty: true, why: 'no header' };
    if (header instanceof Error) return { ok: false, empty: false, why: `header unreadable: ${header.message}` };
    const match = header.length <= HEADER_MAX_LENGTH ? HEADER_PATTERN.exec(header) : null;
    if (!match) return { ok: false, empty: false, why: `header malformed: '${header.slice(0, HEADER_MAX_LENGTH)}'` };
    let seq = Number(match[1]);
    const count = Number(match[2]);
    const length = Number(match[3]);
    const crc = parseInt(match[4], 16);
    if (!Number.isSafeInteger(seq)) return { ok: false, empty: false, why: `sequence ${match[1]} not a safe integer` };
    // Headers written before the serial order (or by hand) may hold any safe integer: reduce it.
    seq %= SEQ_MODULUS;
    const bad = (why: string): BankState => ({ ok: false, empty: false, why, seq });
    if (length > this.maxLength) return bad(`length ${length} > ${this.maxLength}`);
    if (count !== Math.ceil(length / this.partLength)) return bad(`part count ${count} does not fit length ${length}`);
    let text = '';
    for (let i = 0; i < count; i++) {
      const part = read(this.key(bank, i));
      if (part === undefined) return bad(`part ${i} of ${count} missing`);
      if (part instanceof Error) return bad(`part ${i} unreadable: ${part.message}`);
      // Every part but the last is full; checked before keeping it, so memory stays bounded.
      const expected = i < count - 1 ? this.partLength : length - i * this.partLength;
      if (part.length !== expected) return bad(`part ${i} is ${part.length} bytes, expected ${expected}`);
      text += part;
    }
    let actual: number;
    try {
      actual = crc32Ascii(text);
    } catch {
      return bad('non-ASCII content');
    }
    if (actual !== crc) return bad(`crc mismatch (header ${match[4]}, parts ${actual.toString(16).padStart(8, '0')})`);
    return { ok: true, seq, text };
  }
}
