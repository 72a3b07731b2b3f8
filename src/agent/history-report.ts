/**
 * Joins the update history (history.ts) to the agent: `HistoryRecorder.record` turns the end of a
 * deployment (the machine's one hook, in `#finish`) into an entry, reading what the journal does
 * not keep (image hashes, SEC_CNT) from the slots with the agent's own readers; and
 * `HistoryReportingBackend` wraps the backend so every final report carries the entries the
 * backend has not acknowledged yet, and marks them sent once the report is delivered. The
 * machine already re-sends a final report until it is delivered (state `report`, persisted), so
 * an entry is re-sent until acknowledged without a second retry loop.
 */
import type { PollResult, Report, UpdateBackend, UpdateOffer } from '../backend/backend.js';
import type { ClockPort } from '../platform/clock.js';
import type { DigestPort } from '../platform/digest.js';
import type { FlashPort } from '../platform/flash.js';
import { readSlotImage, readSlotSummary } from '../slot/slot-reader.js';
import { hex } from '../util/bytes.js';
import { formatVersion } from '../image/version.js';
import { parseUrl } from '../net/http-common.js';
import { encodeHistoryEntry, type HistoryEntry, type UpdateHistory } from './history.js';
import type { Deployment, Outcome } from './journal.js';
import { mayPassAgain } from './retry-policy.js';

export interface HistorySlots {
  primary: FlashPort;
  secondary: FlashPort;
  digest: DigestPort;
  trailerSize?: number;
}

export interface HistoryRecorderOptions {
  history: UpdateHistory;
  clock: ClockPort;
  /** Backend kind, as configured. */
  backend: string;
  /** The A5000 key object that verifies images. */
  keyId: number;
  /** The slots, to read image hashes and SEC_CNT; without them those fields stay empty. */
  slots?: HistorySlots;
}

/** Host of a URL for the record, or `-` when it does not parse (it was refused then anyway). */
function hostOf(url: string): string {
  try {
    return parseUrl(url).host;
  } catch {
    return '-';
  }
}

/** The stored (possibly clipped, `~`-ended) action id names `actionId`. */
function sameAction(stored: string, actionId: string): boolean {
  return stored === actionId || (stored.endsWith('~') && actionId.startsWith(stored.slice(0, -1)));
}

export class HistoryRecorder {
  readonly history: UpdateHistory;
  readonly #o: HistoryRecorderOptions;

  constructor(options: HistoryRecorderOptions) {
    this.#o = options;
    this.history = options.history;
  }

  /**
   * The newest entry when `offer` repeats the action it ended and taking it again would only end
   * the same way; else undefined. A backend that keeps offering what the device already did (a
   * static manifest whose `version` is a label such as v1.1.0 over the header's 1.1.0+0, an
   * IoTConnect command delivered again) would otherwise make every poll download the header
   * again and report a `failed same-version` over the `running` the backend already has.
   * - ended `running`, and the device runs what it installed: already done;
   * - ended otherwise, from the version still running, for a reason that does not pass on its own
   *   (mayPassAgain: the image, the policy, the hardware): the same offer fails the same way.
   * The id decides, not a hash: the entry's toHash is the image's SHA256 TLV, a backend's sha256
   * the file's, and a new file under an old id is no new action (its header decides anyway).
   * Never throws: a store that cannot be read means no memory, and the offer is taken.
   */
  endedBefore(offer: Pick<UpdateOffer, 'actionId'>, running: string): HistoryEntry | undefined {
    let latest: HistoryEntry | undefined;
    try {
      latest = this.history.latest();
    } catch {
      return undefined;
    }
    if (!latest || !sameAction(latest.actionId, offer.actionId)) return undefined;
    if (latest.verdict === 'running') return latest.toVersion === running ? latest : undefined;
    if (latest.verdict === 'download-only') return undefined; // the held image decides (machine #decide)
    return latest.fromVersion === running && !mayPassAgain(latest.reason) ? latest : undefined;
  }

  /**
   * Records the end of deployment `d`. Called before the outcome is persisted in the journal, so
   * a power cut between the two makes the machine end the deployment again: an entry equal to
   * the newest (same action, verdict, target) is then not written twice. Never throws: history
   * must not stop an update from ending (a store failure is returned for the log).
   */
  record(d: Deployment, outcome: Outcome): HistoryEntry | Error {
    try {
      const latest = this.history.latest();
      if (latest && sameAction(latest.actionId, d.actionId) && latest.verdict === outcome.phase && latest.toVersion === d.version) {
        return latest;
      }
      const facts = this.#slotFacts(d, outcome);
      return this.history.append({
        time: this.#o.clock.wallClock(),
        backend: this.#o.backend,
        actionId: d.actionId,
        fromVersion: d.fromVersion,
        toVersion: d.version,
        ...facts,
        host: hostOf(d.url),
        bytes: d.bytesFetched,
        verdict: outcome.phase,
        ...(outcome.reason !== undefined ? { reason: outcome.reason } : {}),
        keyId: `se:0x${this.#o.keyId.toString(16).padStart(8, '0')}`,
        reverted: outcome.phase === 'reverted',
      });
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  }

  /**
   * Which slot holds which image when the deployment ends: after a confirmed swap the new image
   * runs from the primary and the old one sits in the secondary; in every other ending the
   * primary runs the old image and the secondary holds whatever of the new one arrived.
   */
  #slotFacts(d: Deployment, outcome: Outcome): { fromHash?: string; toHash?: string; securityCounter?: number } {
    const s = this.#o.slots;
    if (!s) return {};
    const swapped = outcome.phase === 'running';
    const fromSlot = swapped ? s.secondary : s.primary;
    const toSlot = swapped ? s.primary : s.secondary;
    const out: { fromHash?: string; toHash?: string; securityCounter?: number } = {};
    const from = readSlotSummary(fromSlot, s.trailerSize);
    if (from?.sha256 && formatVersion(from.header.version) === d.fromVersion) out.fromHash = hex(from.sha256);
    const to = readSlotSummary(toSlot, s.trailerSize);
    if (to?.sha256 && formatVersion(to.header.version) === d.version) {
      out.toHash = hex(to.sha256);
      // The whole image only when its header says it is the target: SEC_CNT is in the protected
      // TLVs, after the body. A slot that does not parse leaves the counter unknown.
      try {
        const image = readSlotImage(toSlot, { digest: s.digest, trailerSize: s.trailerSize });
        if (image.securityCounter !== undefined) out.securityCounter = image.securityCounter;
      } catch {
        // structure faults were the deployment's reason; the entry records it without a counter
      }
    }
    return out;
  }
}

const FINAL: ReadonlySet<Report['phase']> = new Set<Report['phase']>(['running', 'failed', 'reverted', 'cancelled', 'download-only']);

/** The most entries one report carries (the oldest unsent first); the rest go with the next. */
export const HISTORY_PER_REPORT = 4;

/**
 * The backend, with history delivery: a final report carries `history` (the stored lines of the
 * unsent entries); when the backend took the report, they are marked sent. A backend that no
 * longer knows the action (`backend-gone`) cannot take them with it: they stay unsent and ride
 * with the next final report.
 */
export class HistoryReportingBackend implements UpdateBackend {
  readonly #inner: UpdateBackend;
  readonly #history: UpdateHistory;

  constructor(inner: UpdateBackend, history: UpdateHistory) {
    this.#inner = inner;
    this.#history = history;
  }

  get cancellable(): boolean {
    return this.#inner.cancellable === true;
  }

  poll(current: { version: string }): Promise<PollResult> {
    return this.#inner.poll(current);
  }

  pollCancel(current: { version: string }): Promise<PollResult> {
    const inner = this.#inner;
    return inner.pollCancel ? inner.pollCancel(current) : inner.poll(current);
  }

  async report(report: Report): Promise<void> {
    if (!FINAL.has(report.phase)) return this.#inner.report(report);
    const unsent = this.#history.unsent().slice(0, HISTORY_PER_REPORT);
    if (unsent.length === 0) return this.#inner.report(report);
    await this.#inner.report({ ...report, history: unsent.map(encodeHistoryEntry) });
    this.#history.markSent(unsent[unsent.length - 1].seq);
  }

  acknowledgeCancel(actionId: string, stopped: boolean): Promise<void> {
    return this.#inner.acknowledgeCancel(actionId, stopped);
  }

  refreshOffer(actionId: string, current: { version: string }): Promise<UpdateOffer | undefined> {
    return this.#inner.refreshOffer(actionId, current);
  }
}
