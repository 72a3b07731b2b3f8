/**
 * The agent's journal: one small record in the key-value store that says where the update cycle
 * is, so that after any reset (power cut, watchdog, the reboot into MCUboot) the agent resumes
 * correctly. Written before every side effect (style rule 10), validated field by field on load
 * (rule 11): a record that does not validate counts as no journal, and says why.
 */
import type { KeyValuePort } from '../platform/key-value.js';
import { OtaError, type OtaReason } from '../util/errors.js';

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
export const JOURNAL_KEY = 'xs-ota.journal';

/**
 * Cap on journal writes per deployment. A deployment that keeps rewriting its state is looping
 * (a reset loop, a server that never lets go); past this it is failed with `loop-detected`.
 * 2 MiB at one write per flushed 4 KiB sector is ~512 writes; the cap leaves room for retries.
 */
export const MAX_WRITES_PER_DEPLOYMENT = 2000;

export interface Deployment {
  actionId: string;
  /** Target version as the backend stated it. */
  version: string;
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
  reason?: OtaReason;
  detail?: string;
}

export interface JournalRecord {
  v: number;
  state: State;
  /** Journal writes in this deployment. */
  writes: number;
  /** Virtual/monotonic instant before which the next attempt must not start (backoff). */
  notBefore?: number;
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
  if (r.deployment !== undefined) {
    check(typeof r.deployment === 'object' && r.deployment !== null, 'deployment');
    const d = r.deployment as Record<string, unknown>;
    check(isString(d.actionId) && d.actionId.length > 0, 'deployment.actionId');
    check(isString(d.version), 'deployment.version');
    check(isString(d.url), 'deployment.url');
    check(d.size === undefined || isCount(d.size), 'deployment.size');
    check(d.sha256 === undefined || (isString(d.sha256) && /^[0-9a-f]{64}$/.test(d.sha256)), 'deployment.sha256');
    check(d.validator === undefined || isString(d.validator), 'deployment.validator');
    check(isCount(d.offset), 'deployment.offset');
    check(isCount(d.attempts), 'deployment.attempts');
    check(isCount(d.bytesFetched), 'deployment.bytesFetched');
    check(typeof d.install === 'boolean', 'deployment.install');
    check(isString(d.fromVersion), 'deployment.fromVersion');
    check(d.windowClosed === undefined || typeof d.windowClosed === 'boolean', 'deployment.windowClosed');
    check(d.reuse === undefined || typeof d.reuse === 'boolean', 'deployment.reuse');
  }
  if (r.held !== undefined) {
    check(typeof r.held === 'object' && r.held !== null, 'held');
    const h = r.held as Record<string, unknown>;
    check(isString(h.actionId) && h.actionId.length > 0, 'held.actionId');
    check(isCount(h.size) && (h.size as number) > 0, 'held.size');
    check(isString(h.sha256) && /^[0-9a-f]{64}$/.test(h.sha256), 'held.sha256');
  }
  if (r.outcome !== undefined) {
    check(typeof r.outcome === 'object' && r.outcome !== null, 'outcome');
    const o = r.outcome as Record<string, unknown>;
    check(['running', 'failed', 'reverted', 'cancelled', 'download-only'].includes(o.phase as string), 'outcome.phase');
    check(o.reason === undefined || isString(o.reason), 'outcome.reason');
    check(o.detail === undefined || isString(o.detail), 'outcome.detail');
  }
  const needsDeployment = r.state !== 'idle';
  check(!needsDeployment || r.deployment !== undefined, 'deployment');
  check(r.state !== 'report' || r.outcome !== undefined, 'outcome');
  return r as unknown as JournalRecord;
}

export interface LoadResult {
  record: JournalRecord;
  /** Why a stored record was discarded (reported by the agent), if it was. */
  discarded?: string;
}

export class Journal {
  #store: KeyValuePort;
  #record: JournalRecord = emptyJournal();

  constructor(store: KeyValuePort) {
    this.#store = store;
  }

  get record(): Readonly<JournalRecord> {
    return this.#record;
  }

  /** Read and validate the stored record. A missing record is an idle agent. */
  load(): LoadResult {
    let text: string | undefined;
    try {
      text = this.#store.read(JOURNAL_KEY);
    } catch (error) {
      this.#record = emptyJournal();
      return { record: this.#record, discarded: `unreadable: ${(error as Error).message}` };
    }
    if (text === undefined) {
      this.#record = emptyJournal();
      return { record: this.#record };
    }
    try {
      this.#record = validateJournal(JSON.parse(text));
      return { record: this.#record };
    } catch (error) {
      this.#record = emptyJournal();
      return { record: this.#record, discarded: error instanceof OtaError ? error.message : 'journal-invalid: not JSON' };
    }
  }

  /**
   * Persist `next` (the whole record). Throws OtaError('journal-write-failed') when the store
   * refused it: the caller must not perform the side effect the record announces.
   * Throws OtaError('loop-detected') when the deployment exceeded its write budget.
   */
  save(next: Omit<JournalRecord, 'v' | 'writes'>): JournalRecord {
    const sameDeployment =
      next.deployment !== undefined && this.#record.deployment?.actionId === next.deployment.actionId;
    const writes = sameDeployment ? this.#record.writes + 1 : 1;
    if (writes > MAX_WRITES_PER_DEPLOYMENT && next.state !== 'report' && next.state !== 'idle') {
      throw new OtaError('loop-detected', `${writes} journal writes in deployment ${next.deployment?.actionId}`);
    }
    const record: JournalRecord = { v: JOURNAL_VERSION, writes, ...next };
    const text = JSON.stringify(record);
    if (text.length > this.#store.maxValueLength) {
      throw new OtaError('journal-write-failed', `record is ${text.length} bytes, store limit ${this.#store.maxValueLength}`);
    }
    try {
      this.#store.write(JOURNAL_KEY, text);
    } catch (error) {
      throw new OtaError('journal-write-failed', (error as Error).message, error);
    }
    this.#record = record;
    return record;
  }
}
