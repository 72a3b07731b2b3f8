/**
 * Update history: the last HISTORY_DEPTH update attempts, on the device, in the key-value store,
 * as evidence a CRA audit can read (what was offered, by whom, what the device did and why) that
 * outlives the journal, which forgets a deployment when the next one starts.
 *
 * Storage: a ring of HISTORY_DEPTH slots, each its own RecordStore (record-store.ts: two banks,
 * parts then header with CRC-32, so a power cut in a save leaves the slot's previous entry or the
 * new one, never a mix). Entry `seq` lives in slot `seq % depth`; load reads every slot and
 * orders by seq, so there is no separate head pointer to tear. Delivery to the backend is one
 * more key, `xs-ota.h.sent` = the highest seq the backend acknowledged (one atomic key write).
 * The ring never grows: at most depth x (2 banks x (ceil(HISTORY_ENTRY_MAX / value) parts +
 * header)) + 1 keys, HISTORY_STORE_MAX_BYTES in all (docs/history.md).
 *
 * An entry is one line of printable ASCII, fields separated by `|` (docs/history.md has the
 * format). Everything read back is hostile: a slot whose text does not parse is skipped, and
 * said so, never trusted.
 */
import type { KeyValuePort } from '../platform/key-value.js';
import { OtaError } from '../util/errors.js';
import { RecordStore, HEADER_MAX_LENGTH } from './record-store.js';

/**
 * Attempts kept (build-time; at least 16, the floor). Each costs up to
 * HISTORY_SLOT_MAX_BYTES of the key-value store.
 */
export const HISTORY_DEPTH = 16;
export const HISTORY_DEPTH_MIN = 16;
/** Ring slot i's record store: keys `xs-ota.h<i>.a`, `xs-ota.h<i>.a.0`, ... */
export const HISTORY_STORE_PREFIX = 'xs-ota.h';
/** Highest seq the backend has acknowledged (decimal). */
export const HISTORY_SENT_KEY = 'xs-ota.h.sent';
export const HISTORY_FORMAT = 'H1';

/**
 * Longest text of each field, characters. Ids and hosts are clipped (an audit line, not a key:
 * delivery is tracked by seq); versions are formatVersion's (<= 24); hashes are full SHA-256 hex.
 * Longer hosts than 64 are rare (and clipped with a trailing `~`).
 */
export const HISTORY_FIELD_MAX = {
  backend: 12,
  actionId: 64,
  version: 32,
  hash: 64,
  host: 64,
  verdict: 16,
  reason: 40,
  keyId: 24,
} as const;

/** Field order of the stored line. */
const FIELDS = [
  'format', 'seq', 'time', 'backend', 'actionId', 'fromVersion', 'toVersion', 'fromHash', 'toHash',
  'host', 'bytes', 'verdict', 'reason', 'keyId', 'securityCounter', 'reverted',
] as const;

/** Longest entry line: every field at its limit, numbers at 16 digits, separators. 507 bytes: 2 parts. */
export const HISTORY_ENTRY_MAX = (() => {
  const f = HISTORY_FIELD_MAX;
  const numbers = 16 * 4; // seq, time, bytes, securityCounter
  return HISTORY_FORMAT.length + numbers + f.backend + f.actionId + 2 * f.version + 2 * f.hash + f.host + f.verdict + f.reason + f.keyId + 1 + (FIELDS.length - 1);
})();

/** Worst-case value bytes of one ring slot: 2 banks, each its entry's parts and a header. */
export const HISTORY_SLOT_MAX_BYTES = 2 * (HISTORY_ENTRY_MAX + HEADER_MAX_LENGTH);
/** The whole history's worst case (value bytes): depth slots and the sent key (16 digits). */
export const HISTORY_STORE_MAX_BYTES = HISTORY_DEPTH * HISTORY_SLOT_MAX_BYTES + 16;

export type HistoryVerdict = 'running' | 'failed' | 'reverted' | 'cancelled' | 'download-only';
const VERDICTS: readonly string[] = ['running', 'failed', 'reverted', 'cancelled', 'download-only'];

export interface HistoryEntry {
  /** Position in the device's sequence of attempts (1, 2, ...; never reused). */
  seq: number;
  /** Wall-clock seconds since 1970 when the attempt ended, if the device knew the time. */
  time?: number;
  /** Backend kind (`hawkbit`, `iotconnect`, `manifest`). */
  backend: string;
  actionId: string;
  fromVersion: string;
  toVersion: string;
  /** SHA-256 (the image's SHA256 TLV) of the image running before, hex. */
  fromHash?: string;
  /** SHA-256 TLV of the offered image, hex, when a whole image reached the slot. */
  toHash?: string;
  /** Host of the artifact URL (the source). */
  host: string;
  /** Bytes received over the link for the attempt. */
  bytes: number;
  verdict: HistoryVerdict;
  /** Why, when not `running`: an OtaReason name. */
  reason?: string;
  /** The A5000 key object that verifies images (`se:0x7b000201`). */
  keyId: string;
  /** SEC_CNT of the offered image, when it was read. */
  securityCounter?: number;
  /** MCUboot went back to the previous image. */
  reverted: boolean;
}

const PRINTABLE = /^[\x20-\x7b\x7d\x7e]*$/; // printable ASCII without `|`

/** Printable ASCII without `|`, at most `max` characters (clipped with `~`). */
function clean(text: string, max: number): string {
  let out = '';
  for (let i = 0; i < text.length && out.length < max; i++) {
    const c = text.charCodeAt(i);
    out += c >= 0x20 && c <= 0x7e && c !== 0x7c ? text[i] : '?';
  }
  return text.length > max ? `${out.slice(0, max - 1)}~` : out;
}

function num(n: number | undefined): string {
  return n === undefined ? '-' : String(n);
}

/** The stored line of an entry; fields cleaned and clipped, so it always fits HISTORY_ENTRY_MAX. */
export function encodeHistoryEntry(e: HistoryEntry): string {
  const f = HISTORY_FIELD_MAX;
  return [
    HISTORY_FORMAT,
    String(e.seq),
    num(e.time),
    clean(e.backend, f.backend),
    clean(e.actionId, f.actionId),
    clean(e.fromVersion, f.version),
    clean(e.toVersion, f.version),
    e.fromHash ?? '-',
    e.toHash ?? '-',
    clean(e.host, f.host),
    String(e.bytes),
    e.verdict,
    e.reason === undefined ? '-' : clean(e.reason, f.reason),
    clean(e.keyId, f.keyId),
    num(e.securityCounter),
    e.reverted ? '1' : '0',
  ].join('|');
}

const NUMBER = /^(0|[1-9][0-9]{0,15})$/;
const HASH = /^[0-9a-f]{64}$/;

/** Parses a stored line; throws `history-invalid` naming the first bad field. */
export function decodeHistoryEntry(text: string): HistoryEntry {
  const bad = (field: string, value: string): never => {
    throw new OtaError('history-invalid', `${field} '${value.slice(0, 40)}'`);
  };
  if (text.length > HISTORY_ENTRY_MAX) bad('length', String(text.length));
  if (!PRINTABLE.test(text.replace(/\|/g, ''))) bad('text', 'not printable ASCII');
  const v = text.split('|');
  if (v.length !== FIELDS.length) bad('field count', String(v.length));
  if (v[0] !== HISTORY_FORMAT) bad('format', v[0]);
  const n = (i: number, optional: boolean): number | undefined => {
    if (optional && v[i] === '-') return undefined;
    if (!NUMBER.test(v[i])) bad(FIELDS[i], v[i]);
    const value = Number(v[i]);
    if (!Number.isSafeInteger(value)) bad(FIELDS[i], v[i]);
    return value;
  };
  const s = (i: number, max: number, optional = false): string | undefined => {
    if (optional && v[i] === '-') return undefined;
    if (v[i].length > max) bad(FIELDS[i], v[i]);
    return v[i];
  };
  const h = (i: number): string | undefined => {
    if (v[i] === '-') return undefined;
    if (!HASH.test(v[i])) bad(FIELDS[i], v[i]);
    return v[i];
  };
  const f = HISTORY_FIELD_MAX;
  if (!VERDICTS.includes(v[11])) bad('verdict', v[11]);
  if (v[15] !== '0' && v[15] !== '1') bad('reverted', v[15]);
  const entry: HistoryEntry = {
    seq: n(1, false)!,
    backend: s(3, f.backend)!,
    actionId: s(4, f.actionId)!,
    fromVersion: s(5, f.version)!,
    toVersion: s(6, f.version)!,
    host: s(9, f.host)!,
    bytes: n(10, false)!,
    verdict: v[11] as HistoryVerdict,
    keyId: s(13, f.keyId)!,
    reverted: v[15] === '1',
  };
  const time = n(2, true);
  if (time !== undefined) entry.time = time;
  const fromHash = h(7);
  if (fromHash !== undefined) entry.fromHash = fromHash;
  const toHash = h(8);
  if (toHash !== undefined) entry.toHash = toHash;
  const reason = s(12, f.reason, true);
  if (reason !== undefined) entry.reason = reason;
  const counter = n(14, true);
  if (counter !== undefined) entry.securityCounter = counter;
  return entry;
}

export interface HistoryLoad {
  /** Entries, oldest first. */
  entries: HistoryEntry[];
  /** Slots that held something unusable, with why (`slot 3: crc mismatch`). */
  discarded: string[];
}

/** The ring in the key-value store. */
export class UpdateHistory {
  readonly depth: number;
  readonly #store: KeyValuePort;
  /** Key writes of the slot saves so far (each save's store is made for it: see #slot). */
  #writes = 0;
  #entries: HistoryEntry[] | undefined;
  #sent = 0;

  constructor(store: KeyValuePort, depth = HISTORY_DEPTH) {
    if (!Number.isInteger(depth) || depth < HISTORY_DEPTH_MIN || depth > 256) {
      throw new OtaError('invalid-argument', `history depth ${depth}: ${HISTORY_DEPTH_MIN}..256`);
    }
    this.depth = depth;
    this.#store = store;
  }

  /**
   * Slot `i`'s record store, made when it is used and dropped after: kept, the ring's stores were
   * `depth` objects of about 200 bytes each in RAM for the agent's life, for state (the bank and
   * sequence number) that a store's save reads again anyway (RecordStore.save scans first).
   */
  #slot(i: number): RecordStore {
    return new RecordStore(this.#store, `${HISTORY_STORE_PREFIX}${i}`, HISTORY_ENTRY_MAX);
  }

  /** Reads every slot (once; later calls return what was read and appended since). */
  load(): HistoryLoad {
    const discarded: string[] = [];
    if (this.#entries) return { entries: this.#entries.slice(), discarded };
    const entries: HistoryEntry[] = [];
    for (let i = 0; i < this.depth; i++) this.#loadSlot(i, entries, discarded);
    entries.sort((a, b) => a.seq - b.seq);
    // A ring read after a change of depth can hold more than `depth` reachable seqs: keep the newest.
    this.#entries = entries.slice(-this.depth);
    const sent = this.#readSent();
    this.#sent = sent;
    return { entries: this.#entries.slice(), discarded };
  }

  #loadSlot(i: number, entries: HistoryEntry[], discarded: string[]): void {
    const loaded = this.#slot(i).load();
    for (const why of loaded.discarded) discarded.push(`slot ${i} ${why}`);
    if (loaded.text === undefined) return;
    try {
      const entry = decodeHistoryEntry(loaded.text);
      if (entry.seq % this.depth !== i) throw new OtaError('history-invalid', `seq ${entry.seq} in slot ${i}`);
      entries.push(entry);
    } catch (error) {
      if (!(error instanceof OtaError)) throw error;
      discarded.push(`slot ${i}: ${error.message}`);
    }
  }

  /** Entries, oldest first. */
  entries(): HistoryEntry[] {
    return this.load().entries;
  }

  /** The newest entry, if any. */
  latest(): HistoryEntry | undefined {
    const e = this.entries();
    return e[e.length - 1];
  }

  /** Highest seq the backend acknowledged. */
  get sentSeq(): number {
    this.load();
    return this.#sent;
  }

  /** Entries not yet acknowledged by the backend, oldest first. */
  unsent(): HistoryEntry[] {
    return this.entries().filter((e) => e.seq > this.#sent);
  }

  /**
   * Appends an entry (its seq is assigned here: one above the newest) into the oldest slot; returns
   * it. A store write that throws propagates: the slot still holds its previous entry.
   */
  append(entry: Omit<HistoryEntry, 'seq'>): HistoryEntry {
    const entries = this.entries();
    const seq = Math.max(this.#sent, entries.length ? entries[entries.length - 1].seq : 0) + 1;
    const full: HistoryEntry = { ...entry, seq };
    const slot = this.#slot(seq % this.depth);
    try {
      slot.save(encodeHistoryEntry(full));
    } finally {
      this.#writes += slot.totalWrites;
    }
    entries.push(full);
    this.#entries = entries.slice(-this.depth);
    return full;
  }

  /** The backend has every entry up to `seq`. */
  markSent(seq: number): void {
    if (seq <= this.sentSeq) return;
    this.#store.write(HISTORY_SENT_KEY, String(seq));
    this.#sent = seq;
  }

  /** Key writes of all slot saves through this instance (for wear figures). */
  get writes(): number {
    return this.#writes;
  }

  #readSent(): number {
    let value: string | undefined;
    try {
      value = this.#store.read(HISTORY_SENT_KEY);
    } catch {
      return 0;
    }
    return value !== undefined && NUMBER.test(value) ? Number(value) : 0;
  }
}
