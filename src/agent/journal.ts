/**
 * The agent's journal: one record in the key-value store that says where the update cycle is, so
 * that after any reset (power cut, watchdog, the reboot into MCUboot) the agent resumes correctly.
 * Written before every side effect (style rule 10), validated field by field on load (rule 11): a
 * record that does not validate counts as no journal, and says why.
 *
 * Stored through a RecordStore (record-store.ts): a record with a deployment (up to
 * JOURNAL_TEXT_MAX bytes: a pre-signed URL alone runs to 1-3 KB) does not fit one value of the
 * device's store (255 bytes), so it is split into parts, in two banks, so a power cut in the
 * middle of a save leaves the previous record. The text is JSON with every non-ASCII character
 * escaped, so its bytes are its characters (the store's limit is in UTF-8 bytes).
 */
import type { KeyValuePort } from '../platform/key-value.js';
import { OtaError, type Reason } from '../util/errors.js';
import { RecordStore } from './record-store.js';
import { validateDeltaField, type DeltaDeployment } from '../delta/plan.js';

/** Persisted state names: stable strings, never renumbered (they live in flash across updates). */
export const STATES = [
  'idle',
  'download',
  'verify',
  'stage',
  'reboot',
  'health-check',
  'confirm',
  'report',
  // Appended (never renumbered): the verified image waits unstaged for the maintenance window.
  'wait',
] as const;
export type State = (typeof STATES)[number];

export const JOURNAL_VERSION = 1;
/** Name of the journal's record store: keys `xs-ota.jr.a`, `xs-ota.jr.a.0`, ... (record-store.ts). */
export const JOURNAL_STORE_NAME = 'xs-ota.jr';
/**
 * Where agents before the record store kept the journal, as one value. Still read when neither
 * bank holds a valid record, so a device updated from such an agent (possibly in the middle of a
 * deployment: the new image runs `reboot`/`health-check` from that record) resumes instead of
 * forgetting its state; deleted after the first save into the banks, so a later corrupt bank can
 * never fall back to an old state.
 */
export const LEGACY_JOURNAL_KEY = 'xs-ota.journal';

/**
 * Longest string each journal field may hold, characters; validated on save and on load.
 * url: the longest URL a backend accepts (hawkBit and the static manifest: json-http URL_MAX 2048;
 * IoTConnect: IOTC_LIMITS.urlMax 3072). Ids and versions: json-http ID_MAX 128 (IoTConnect's are
 * shorter). validator: net LIMITS.httpHeaderValueMax 256. fromVersion: formatVersion's output is
 * at most 24. detail: free text, clipped and made printable ASCII on save (error messages can
 * quote a whole URL or server text); reason: an OtaReason name.
 */
export const JOURNAL_FIELD_MAX = {
  url: 3072,
  id: 128,
  validator: 256,
  fromVersion: 64,
  /**
   * The backend's version label kept beside the header's version (hawkBit's software module
   * version is at most 64 characters, NamedVersionedEntity VERSION_MAX_SIZE). Stored as printable
   * ASCII without `"` or `\\` (journalLabel), so it costs its length in the text.
   */
  label: 64,
  detail: 256,
  reason: 64,
} as const;

/**
 * Longest journal text (bytes), derived from the field limits: the JSON of a record with every
 * optional field present, every number at Number.MAX_SAFE_INTEGER and the longest state and phase
 * names (`skeleton`, strings empty), plus each string's content at its limit in its worst encoding.
 * The URL is printable ASCII without `"` or `\\` (validated), so it costs its length; detail is
 * printable ASCII (made so on save), at most 2 per character (`"` and `\\` escaped); reason is
 * [a-z0-9-]; the ids, versions and the validator may hold anything: 6 per character (`\\uXXXX`).
 * 8871 bytes (with a delta deployment's fields): 35 parts of 255 bytes; a typical record with a 1.5 KB URL needs 8, one without 2.
 */
export const JOURNAL_TEXT_MAX = (() => {
  const n = Number.MAX_SAFE_INTEGER;
  const skeleton = {
    v: JOURNAL_VERSION, state: 'health-check', writes: n, notBefore: n, retryDelayMs: n,
    deployment: { actionId: '', version: '', label: '', url: '', size: n, sha256: '', validator: '', offset: n, attempts: n, bytesFetched: n, install: false, fromVersion: '', windowClosed: false, reuse: false, linkHeaders: false,
      delta: { fullUrl: '', fullSize: n, sha256: '', source: '' }, deltaFailed: '' },
    outcome: { phase: 'download-only', reason: '', detail: '' },
    held: { actionId: '', size: n, sha256: '' },
  };
  const f = JOURNAL_FIELD_MAX;
  const sha256Hex = 64;
  // The delta's fields (src/delta/plan.ts): two hashes and a reason; its full-image URL shares
  // the url budget with the delta's URL (validated: the two together at most f.url).
  const delta = 2 * sha256Hex + f.reason;
  return JSON.stringify(skeleton).length + delta + f.url + f.label + 2 * f.detail + f.reason + 2 * sha256Hex + 6 * (3 * f.id + f.validator + f.fromVersion);
})();

/**
 * Cap on journal writes per deployment. A deployment that keeps rewriting its state is looping
 * (a reset loop, a server that never lets go); past this it is failed with `loop-detected`.
 * 2 MiB at one write per flushed 4 KiB sector is ~512 writes; the cap leaves room for retries.
 */
export const MAX_WRITES_PER_DEPLOYMENT = 2000;

export interface Deployment {
  actionId: string;
  /** Target version as the backend stated it; from verify on, the image header's. */
  version: string;
  /**
   * The backend's label for the target (e.g. hawkBit's "v1.3.0-rc1") once `version` is the
   * header's and differs from it: the reports after a reset still name it as given
   * (journalLabel: at most JOURNAL_FIELD_MAX.label printable characters).
   */
  label?: string;
  url: string;
  size?: number;
  /** Hex SHA-256 of the artifact, when the backend gave it. */
  sha256?: string;
  /** ETag or Last-Modified of the artifact at the first response: resume only on the same one. */
  validator?: string;
  /** Bytes of the image known written and read back in the secondary slot. */
  offset: number;
  /** Download attempts so far (each failed attempt counts). */
  attempts: number;
  /** Bytes received over the link for this deployment (cap: LIMITS.maxBytesPerDeployment). */
  bytesFetched: number;
  /** 'update' handling: whether to install after downloading. */
  install: boolean;
  /** Version running when the deployment began (to tell a revert after the reboot). */
  fromVersion: string;
  /** The maintenance window was 'unavailable': after verify, wait (state 'wait') instead of staging. */
  windowClosed?: boolean;
  /**
   * The secondary slot is believed to hold this artifact already (a download-only deployment
   * kept it): verify re-hashes it from flash and, if it does not verify, downloads from 0.
   */
  reuse?: boolean;
  /**
   * The offer gave headers for its artifact links (a token): they are kept in RAM only, so after
   * a reset the offer is fetched again before the download resumes. Never the headers themselves.
   */
  linkHeaders?: boolean;
  /** Downloading a delta (url/size are the delta's): src/delta/plan.ts. */
  delta?: DeltaDeployment;
  /** A delta was tried and failed (its reason): this deployment now downloads the full image. */
  deltaFailed?: string;
}

/**
 * An image a download-only deployment verified and left unstaged in the secondary slot, kept in
 * the idle record so that a later offer of the same artifact installs without downloading again.
 * Only a hint: the slot is re-hashed and verified again before it is staged. Kept small (no
 * version: the image header says it): the record must fit the key-value store's value limit.
 */
export interface HeldImage {
  actionId: string;
  /** Bytes of the artifact in the slot. */
  size: number;
  /** Hex SHA-256 of the artifact file, as hashed when it was verified. */
  sha256: string;
}

export interface Outcome {
  /** 'download-only': the image verified and stays unstaged in the slot (not a failure). */
  phase: 'running' | 'failed' | 'reverted' | 'cancelled' | 'download-only';
  reason?: Reason;
  detail?: string;
}

export interface JournalRecord {
  v: number;
  state: State;
  /** Journal writes in this deployment. */
  writes: number;
  /** Virtual/monotonic instant before which the next attempt must not start (backoff). */
  notBefore?: number;
  /**
   * The whole backoff delay that `notBefore` ends (core, issue 17.2): the device clock restarts at
   * 0 every boot, so after a reset the agent waits this long from its boot, never `notBefore`.
   */
  retryDelayMs?: number;
  deployment?: Deployment;
  /** What to report in state 'report'. */
  outcome?: Outcome;
  /** Idle only: what a download-only deployment left in the secondary slot. */
  held?: HeldImage;
}

export function emptyJournal(): JournalRecord {
  return { v: JOURNAL_VERSION, state: 'idle', writes: 0 };
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isText = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max;
/** A URL as the journal keeps it: printable ASCII without `"` or `\\` (RFC 3986 §2 has neither). */
const URL_CHARS = /^[\x21\x23-\x5b\x5d-\x7e]*$/;
/** Characters of a kept label: printable ASCII without the two JSON escapes (`"`, `\\`). */
const LABEL_CHARS = /^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/;
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function check(ok: boolean, field: string): void {
  if (!ok) throw new OtaError('journal-invalid', field);
}

/** Validates a parsed journal value; throws OtaError('journal-invalid', field) naming the bad field. */
export function validateJournal(value: unknown): JournalRecord {
  check(typeof value === 'object' && value !== null, 'record');
  const r = value as Record<string, unknown>;
  check(r.v === JOURNAL_VERSION, 'v');
  check(STATES.includes(r.state as State), 'state');
  check(isCount(r.writes), 'writes');
  check(r.notBefore === undefined || isCount(r.notBefore), 'notBefore');
  check(r.retryDelayMs === undefined || isCount(r.retryDelayMs), 'retryDelayMs');
  if (r.deployment !== undefined) {
    check(typeof r.deployment === 'object' && r.deployment !== null, 'deployment');
    const d = r.deployment as Record<string, unknown>;
    const max = JOURNAL_FIELD_MAX;
    check(isText(d.actionId, max.id) && d.actionId.length > 0, 'deployment.actionId');
    check(isText(d.version, max.id), 'deployment.version');
    check(d.label === undefined || (isText(d.label, max.label) && LABEL_CHARS.test(d.label)), 'deployment.label');
    check(isText(d.url, max.url) && URL_CHARS.test(d.url), 'deployment.url');
    check(d.size === undefined || isCount(d.size), 'deployment.size');
    check(d.sha256 === undefined || (isString(d.sha256) && /^[0-9a-f]{64}$/.test(d.sha256)), 'deployment.sha256');
    check(d.validator === undefined || isText(d.validator, max.validator), 'deployment.validator');
    check(isCount(d.offset), 'deployment.offset');
    check(isCount(d.attempts), 'deployment.attempts');
    check(isCount(d.bytesFetched), 'deployment.bytesFetched');
    check(typeof d.install === 'boolean', 'deployment.install');
    check(isText(d.fromVersion, max.fromVersion), 'deployment.fromVersion');
    check(d.windowClosed === undefined || typeof d.windowClosed === 'boolean', 'deployment.windowClosed');
    check(d.reuse === undefined || typeof d.reuse === 'boolean', 'deployment.reuse');
    check(d.linkHeaders === undefined || typeof d.linkHeaders === 'boolean', 'deployment.linkHeaders');
    if (d.delta !== undefined) {
      validateDeltaField(d.delta, (u) => isText(u, max.url) && URL_CHARS.test(u));
      check((d.url as string).length + (d.delta as { fullUrl: string }).fullUrl.length <= max.url, 'deployment.delta.fullUrl');
    }
    check(d.deltaFailed === undefined || (isText(d.deltaFailed, max.reason) && /^[a-z0-9-]*$/.test(d.deltaFailed)), 'deployment.deltaFailed');
  }
  if (r.held !== undefined) {
    check(typeof r.held === 'object' && r.held !== null, 'held');
    const h = r.held as Record<string, unknown>;
    check(isText(h.actionId, JOURNAL_FIELD_MAX.id) && h.actionId.length > 0, 'held.actionId');
    check(isCount(h.size) && (h.size as number) > 0, 'held.size');
    check(isString(h.sha256) && /^[0-9a-f]{64}$/.test(h.sha256), 'held.sha256');
  }
  if (r.outcome !== undefined) {
    check(typeof r.outcome === 'object' && r.outcome !== null, 'outcome');
    const o = r.outcome as Record<string, unknown>;
    check(['running', 'failed', 'reverted', 'cancelled', 'download-only'].includes(o.phase as string), 'outcome.phase');
    check(o.reason === undefined || (isText(o.reason, JOURNAL_FIELD_MAX.reason) && /^[a-z0-9-]*$/.test(o.reason)), 'outcome.reason');
    check(o.detail === undefined || (isText(o.detail, JOURNAL_FIELD_MAX.detail) && /^[\x20-\x7e]*$/.test(o.detail)), 'outcome.detail');
  }
  const needsDeployment = r.state !== 'idle';
  check(!needsDeployment || r.deployment !== undefined, 'deployment');
  check(r.state !== 'report' || r.outcome !== undefined, 'outcome');
  return r as unknown as JournalRecord;
}

/**
 * JSON with every character above 0x7e escaped as `\\uXXXX`: ASCII, so the store's byte limit is
 * its length (and a lone surrogate, which UTF-8 cannot encode, survives).
 */
export function journalText(record: JournalRecord): string {
  return JSON.stringify(storageOrder(record)).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * The record with its fields in storage order: what stays the same during a deployment first (the
 * URL), what changes at every progress save last (offset, bytesFetched, writes). The record store
 * does not rewrite a part that is unchanged, so a progress save rewrites the last part or two and
 * the header, not the URL's parts. Fields not in the record type are dropped.
 */
function storageOrder(r: JournalRecord): JournalRecord {
  const d = r.deployment;
  return {
    v: r.v,
    state: r.state,
    deployment: d && {
      actionId: d.actionId, version: d.version, label: d.label, url: d.url, size: d.size, sha256: d.sha256, install: d.install,
      fromVersion: d.fromVersion, windowClosed: d.windowClosed, reuse: d.reuse, linkHeaders: d.linkHeaders, delta: d.delta, deltaFailed: d.deltaFailed, validator: d.validator,
      attempts: d.attempts, offset: d.offset, bytesFetched: d.bytesFetched,
    },
    held: r.held,
    outcome: r.outcome,
    notBefore: r.notBefore,
    retryDelayMs: r.retryDelayMs,
    writes: r.writes,
  };
}

/** A backend's version label as the journal keeps it: printable ASCII without `"`/`\\` (others become `?`), clipped. */
export function journalLabel(label: string): string {
  const clipped = label.length > JOURNAL_FIELD_MAX.label ? `${label.slice(0, JOURNAL_FIELD_MAX.label - 3)}...` : label;
  return clipped.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, '?');
}

/** An outcome detail as the journal keeps it: printable ASCII (others become `?`), clipped. */
export function journalDetail(detail: string): string {
  const clipped = detail.length > JOURNAL_FIELD_MAX.detail ? `${detail.slice(0, JOURNAL_FIELD_MAX.detail - 3)}...` : detail;
  return clipped.replace(/[^\x20-\x7e]/g, '?');
}

export interface LoadResult {
  record: JournalRecord;
  /** Why a stored record was discarded (reported by the agent), if it was. */
  discarded?: string;
  /**
   * Banks ignored although a valid record was loaded from the other one, with the reason: what a
   * power cut in the middle of a save leaves (the record is the previous one, as designed).
   */
  ignored?: string[];
}

export class Journal {
  #store: KeyValuePort;
  #records: RecordStore;
  #record: JournalRecord = emptyJournal();
  /** The legacy single-value record may still exist: delete it after the next successful save. */
  #legacyMayExist = true;

  constructor(store: KeyValuePort) {
    this.#store = store;
    this.#records = new RecordStore(store, JOURNAL_STORE_NAME, JOURNAL_TEXT_MAX);
  }

  get record(): Readonly<JournalRecord> {
    return this.#record;
  }

  /** Key writes of the last save (data parts + header), and of all saves (wear figures). */
  get writeCounts(): { lastSave: number; total: number } {
    return { lastSave: this.#records.lastSaveWrites, total: this.#records.totalWrites };
  }

  /**
   * Read and validate the stored record: the newest valid bank, else the legacy single value. A
   * missing record is an idle agent. `discarded` says why anything stored was not used.
   */
  load(): LoadResult {
    const why: string[] = [];
    let text: string | undefined;
    let legacy = false;
    let ignored: string[] = [];
    try {
      const loaded = this.#records.load();
      if (loaded.text === undefined) why.push(...loaded.discarded);
      else ignored = loaded.discarded;
      text = loaded.text;
    } catch (error) {
      why.push(`unreadable: ${(error as Error).message}`);
    }
    // Read even when a bank is valid (reads cost no wear): the save that follows deletes it then.
    try {
      const legacyText = this.#store.read(LEGACY_JOURNAL_KEY);
      this.#legacyMayExist = legacyText !== undefined;
      if (text === undefined && legacyText !== undefined) {
        text = legacyText;
        legacy = true;
      }
    } catch (error) {
      this.#legacyMayExist = true;
      if (text === undefined) why.push(`legacy unreadable: ${(error as Error).message}`);
    }
    this.#record = emptyJournal();
    if (text !== undefined) {
      try {
        this.#record = validateJournal(JSON.parse(text));
      } catch (error) {
        why.push(`${legacy ? 'legacy ' : ''}${error instanceof OtaError ? error.message : 'journal-invalid: not JSON'}`);
      }
    }
    const result: LoadResult = { record: this.#record };
    if (why.length > 0) result.discarded = why.join('; ');
    if (ignored.length > 0) result.ignored = ignored;
    return result;
  }

  /**
   * Persist `next` (the whole record). Throws OtaError('journal-write-failed') when the record
   * cannot be stored (too large: before any write) or the store refused a write: the caller must not
   * perform the side effect the record announces; the previous record is still the stored one.
   * Throws OtaError('journal-invalid') naming the field for a record that would not load back, and
   * OtaError('loop-detected') when the deployment exceeded its write budget.
   */
  save(next: Omit<JournalRecord, 'v' | 'writes'>): JournalRecord {
    const sameDeployment =
      next.deployment !== undefined && this.#record.deployment?.actionId === next.deployment.actionId;
    const writes = sameDeployment ? this.#record.writes + 1 : 1;
    if (writes > MAX_WRITES_PER_DEPLOYMENT && next.state !== 'report' && next.state !== 'idle') {
      throw new OtaError('loop-detected', `${writes} journal writes in deployment ${next.deployment?.actionId}`);
    }
    const record: JournalRecord = { v: JOURNAL_VERSION, writes, ...next };
    if (record.outcome?.detail !== undefined) record.outcome = { ...record.outcome, detail: journalDetail(record.outcome.detail) };
    // A clock with sub-millisecond resolution (the dev kit's virtual time) gives fractional
    // instants; load accepts whole milliseconds only, so round up (the wait is never shortened).
    if (record.notBefore !== undefined) record.notBefore = Math.ceil(record.notBefore);
    if (record.retryDelayMs !== undefined) record.retryDelayMs = Math.ceil(record.retryDelayMs);
    validateJournal(record);
    const text = journalText(record);
    try {
      this.#records.save(text);
    } catch (error) {
      throw new OtaError('journal-write-failed', (error as Error).message, error);
    }
    this.#record = record;
    if (this.#legacyMayExist) {
      try {
        this.#store.delete(LEGACY_JOURNAL_KEY);
        this.#legacyMayExist = false;
      } catch {
        // Harmless while the banks hold a valid record (they take precedence); tried again next save.
      }
    }
    return record;
  }
}
