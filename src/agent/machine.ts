/**
 * The update cycle as one state machine (style rule 10). States are persisted in the journal
 * BEFORE the side effect they announce, so a reset at any instant resumes correctly:
 *
 *   idle ──poll/decide──► download ──► verify ──► stage ──► reboot ══(MCUboot test swap)══╗
 *     ▲                      │ retry (backoff)                                          ║
 *     │                      ▼                                                          ▼
 *   report ◄──────────── (failed) ◄── confirm ◄── health-check ◄────────── (new image running?)
 *                                                    │ deadline passed: reboot, MCUboot reverts
 *
 * TRANSITIONS names, for each state, where success and failure lead. After any boot the agent
 * compares the running version with the journal: a deployment in `reboot`/`health-check` whose
 * target is not running was reverted by MCUboot, and is reported as such, never as success.
 *
 * Campaign flags (hawkBit DDI, /work/shared/reference/backend-apis.md §3a):
 * - `update: skip` (download only): download and verify, report `download-only`, keep the image
 *   unstaged (the idle record remembers it as `held`); a later offer of the same artifact is
 *   verified again from flash and staged without a download.
 * - `maintenanceWindow: unavailable`: verify, then `wait` (polling at the server's interval) until
 *   the window is available, then stage.
 * - a cancel is looked for at every state boundary and between download segments (CANCEL_RULE).
 */
import type { PollResult, Report, UpdateBackend, UpdateOffer } from '../backend/backend.js';
import type { HttpClient, HttpResponseHead } from '../net/http.js';
import type { ClockPort } from '../platform/clock.js';
import type { LogPort } from '../platform/log.js';
import type { RebootPort } from '../platform/reboot.js';
import type { KeyValuePort } from '../platform/key-value.js';
import { bytesEqual, hex, unhex } from '../util/bytes.js';
import { OtaError, describeError, reasonOf, type OtaReason } from '../util/errors.js';
import { backoffDelayMs, xorshift32 } from './backoff.js';
import type { AgentConfig } from './config.js';
import type { Installer } from './installer.js';
import type { HistoryRecorder } from './history-report.js';
import { Journal, type Deployment, type HeldImage, type Outcome, type State } from './journal.js';
import { checkVersionPolicy, compareVersions, parseVersion, type ImageVersion } from '../image/version.js';

export const TRANSITIONS: Record<State, { ok: State; fail: State }> = {
  idle: { ok: 'download', fail: 'idle' },
  download: { ok: 'verify', fail: 'report' },
  verify: { ok: 'stage', fail: 'report' },
  stage: { ok: 'reboot', fail: 'report' },
  reboot: { ok: 'health-check', fail: 'report' },
  'health-check': { ok: 'confirm', fail: 'reboot' },
  confirm: { ok: 'report', fail: 'report' },
  report: { ok: 'idle', fail: 'report' },
  // Verified and unstaged until the maintenance window opens (verify again after a reset).
  wait: { ok: 'stage', fail: 'report' },
};

/**
 * What a cancel from the backend does in each state. Before the reboot nothing of the deployment
 * has run, so it is honoured: the slot is abandoned (never left pending; a staged trailer is
 * erased before the reboot), the cancel is confirmed and the outcome is `cancelled`. Once the test
 * image booted, stopping would mean a revert the backend did not ask for: the cancel is rejected
 * (DDI `rejected`: "cannot be fulfilled at this point") and the deployment finishes.
 */
export const CANCEL_RULE: Record<State, 'honour' | 'reject' | 'ignore'> = {
  idle: 'ignore', // nothing under way: the idle poll confirms it
  download: 'honour',
  verify: 'honour',
  wait: 'honour',
  stage: 'honour',
  reboot: 'reject',
  'health-check': 'reject',
  confirm: 'reject',
  report: 'ignore', // the outcome is decided; it is being delivered
};

/** A version string, or undefined when it is not imgtool's `major.minor.revision[+build]`. */
function versionOf(text: string): ImageVersion | undefined {
  try {
    return parseVersion(text);
  } catch {
    return undefined;
  }
}

/**
 * Orders two version strings; a side given without "+build" (a backend naming "1.3.0") is
 * compared without build numbers. Unparseable input sorts lowest, so it is never an upgrade.
 */
export function compareVersionText(a: string, b: string): number {
  const va = versionOf(a);
  const vb = versionOf(b);
  if (!va || !vb) return va ? 1 : vb ? -1 : 0;
  return compareVersions(va, vb, a.includes('+') && b.includes('+'));
}

/** Errors worth another attempt: the link, the server's load, the modem. Others end the deployment. */
const RETRYABLE: ReadonlySet<OtaReason> = new Set<OtaReason>([
  'timeout',
  'link-lost',
  'body-truncated',
  'backend-unavailable',
  'at-timeout',
  'at-error',
  'cme-error',
  'modem-unresponsive',
  'modem-reset',
  // Right after a reset the SIM may not answer yet (+CPIN missing): a later attempt finds it ready.
  'sim-not-ready',
  'modem-busy',
  'not-registered',
  'pdp-failed',
  'http-action-error',
  'tls-failed',
  'dns-failed',
  'range-mismatch',
  'range-ignored',
  'range-not-satisfiable',
  'url-expired',
  'se-nack',
  't1-crc',
  't1-protocol',
  'flash-readback',
]);

/** HTTP statuses that are worth a retry (RFC 9110: 408, 429, 5xx). */
function retryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

export interface HealthCheck {
  /** The application's own checks after the new image booted; rejects (or resolves false) when unhealthy. */
  (): Promise<boolean>;
}

export interface AgentDeps {
  config: AgentConfig;
  backend: UpdateBackend;
  http: HttpClient;
  installer: Installer;
  keyValue: KeyValuePort;
  clock: ClockPort;
  reboot: RebootPort;
  log: LogPort;
  /** The application's health check; default: healthy. */
  healthCheck?: HealthCheck;
  /** Seed for retry jitter (the device takes it from the A5000's GetRandom). */
  randomSeed?: number;
  /** Security counter floor (SEC_CNT of the running image); images below it are refused. */
  minSecurityCounter?: number;
  /** Update history (identity helper, src/agent/history-report.ts): records each deployment's end. */
  history?: HistoryRecorder;
}

/** What one `step` did: the caller (run loop, tests) waits `sleepMs` before the next. */
export interface StepResult {
  state: State;
  sleepMs: number;
  /** The agent asked the platform to reboot: do not call `step` again in this boot. */
  rebooting?: boolean;
}

export class UpdateAgent {
  readonly journal: Journal;
  #d: AgentDeps;
  #random: () => number;
  #pollIntervalMs: number;
  /** When idle first found the running image unconfirmed (see #idle). */
  #unconfirmedSince: number | undefined;
  #stopped = false;
  #booted = false;
  /** The deployment whose image verified in this boot: only that one may be staged. */
  #verifiedInBoot: string | undefined;
  /** Failed deliveries of the current outcome report in this boot (for its backoff). */
  #reportFailures = 0;

  constructor(deps: AgentDeps) {
    this.#d = deps;
    this.journal = new Journal(deps.keyValue);
    this.#random = xorshift32(deps.randomSeed ?? 0x5eed);
    this.#pollIntervalMs = deps.config.pollIntervalS * 1000;
  }

  /** Run forever (the device's main loop): one step, then sleep as the step says. */
  async run(): Promise<void> {
    while (!this.#stopped) {
      let result: StepResult;
      try {
        result = await this.step();
      } catch (error) {
        // A step must not kill the agent (a journal write that failed, a flash error in a place
        // without its own handling): log, wait, and re-enter the persisted state.
        this.#log('error', 'step.failed', { state: this.journal.record.state, reason: reasonOf(error), detail: describeError(error) });
        result = { state: this.journal.record.state, sleepMs: this.#d.config.retryBaseS * 1000 };
      }
      if (result.rebooting) return;
      if (result.sleepMs > 0) await this.#sleep(result.sleepMs);
    }
  }

  stop(): void {
    this.#stopped = true;
  }

  /** Perform the work of the current state once. */
  async step(): Promise<StepResult> {
    if (!this.#booted) {
      this.#booted = true;
      const loaded = this.journal.load();
      if (loaded.discarded) this.#log('warn', 'journal.discarded', { why: loaded.discarded });
      // A torn bank (a power cut during a save) while the other bank held the record: expected, but worth a line.
      if (loaded.ignored) this.#log('info', 'journal.bank-ignored', { why: loaded.ignored.join('; ') });
      this.#log('info', 'agent.boot', { state: loaded.record.state, running: this.#d.installer.runningVersion() });
    }
    const record = this.journal.record;
    const now = this.#d.clock.now();
    if (record.notBefore !== undefined && record.notBefore > now && record.state === 'download') {
      return { state: record.state, sleepMs: record.notBefore - now };
    }
    switch (record.state) {
      case 'idle':
        return this.#idle();
      case 'download':
        return this.#download(record.deployment!);
      case 'verify':
        return this.#verify(record.deployment!);
      case 'stage':
        return this.#stage(record.deployment!);
      case 'reboot':
        return this.#afterReboot(record.deployment!);
      case 'health-check':
        return this.#healthCheck(record.deployment!);
      case 'confirm':
        return this.#confirm(record.deployment!);
      case 'report':
        return this.#report(record.deployment!, record.outcome!);
      case 'wait':
        return this.#wait(record.deployment!);
    }
  }

  // ── idle: poll and decide ────────────────────────────────────────────────────────────────

  async #idle(): Promise<StepResult> {
    const running = this.#d.installer.runningVersion();
    if (!this.#d.installer.runningConfirmed()) {
      // Style rule 14: never start a download while the running image may still be reverted.
      // An unconfirmed image with no deployment in the journal (a lost or discarded journal) was
      // never health-checked by this agent: it must not stay, and nothing would ever confirm it,
      // so after the health deadline reset and let MCUboot revert to the confirmed image.
      const now = this.#d.clock.now();
      this.#unconfirmedSince ??= now;
      const deadline = this.#unconfirmedSince + this.#d.config.healthDeadlineS * 1000;
      if (now >= deadline) {
        this.#log('error', 'idle.unconfirmed-revert', { running });
        this.#d.reboot.reboot('unconfirmed image without a deployment: revert');
        return { state: 'idle', sleepMs: 0, rebooting: true };
      }
      this.#log('warn', 'poll.refused', { reason: 'unconfirmed-running' });
      return { state: 'idle', sleepMs: deadline - now };
    }
    let poll: PollResult;
    try {
      poll = await this.#d.backend.poll({ version: running });
    } catch (error) {
      this.#log('warn', 'poll.failed', { reason: reasonOf(error), detail: describeError(error) });
      return { state: 'idle', sleepMs: this.#pollIntervalMs };
    }
    this.#notePollInterval(poll);
    if (poll.cancelActionId !== undefined) {
      // Nothing is under way in idle: acknowledge that the action is stopped.
      await this.#d.backend.acknowledgeCancel(poll.cancelActionId, true).catch((error: unknown) =>
        this.#log('warn', 'cancel.ack-failed', { reason: reasonOf(error) }),
      );
    }
    const offer = poll.offer;
    if (!offer) return { state: 'idle', sleepMs: this.#pollIntervalMs };
    return this.#decide(offer, running);
  }

  #notePollInterval(poll: PollResult): void {
    if (poll.pollIntervalS !== undefined && poll.pollIntervalS > 0) {
      this.#pollIntervalMs = Math.max(60, Math.min(7 * 86400, poll.pollIntervalS)) * 1000;
    }
  }

  async #decide(offer: UpdateOffer, running: string): Promise<StepResult> {
    // hawkBit sends `update: skip` both for a download-only action and while a maintenance window
    // is unavailable (DdiRootController.calculateUpdateType): only the window says which.
    const windowClosed = offer.maintenanceWindow === 'unavailable';
    const deployment: Deployment = {
      actionId: offer.actionId,
      version: offer.version,
      url: offer.url,
      size: offer.size,
      sha256: offer.sha256 ? hex(offer.sha256) : undefined,
      offset: 0,
      attempts: 0,
      bytesFetched: 0,
      install: offer.update !== 'skip' || windowClosed,
      fromVersion: running,
    };
    if (windowClosed) deployment.windowClosed = true;
    const refusal = this.#refusal(offer, running);
    if (refusal) return this.#finish(deployment, { phase: 'failed', reason: refusal.reason, detail: refusal.detail });
    if (offer.download === 'skip') return { state: 'idle', sleepMs: this.#pollIntervalMs };
    const held = this.#heldFor(offer);
    if (held && !deployment.install) {
      // Download only, and the slot already holds it (a backend that keeps offering it): done.
      return { state: 'idle', sleepMs: this.#pollIntervalMs };
    }
    if (held) {
      // The journal only says where to look: verify re-hashes the slot from flash and checks the
      // signature in the A5000 again before anything is staged; if it fails, download from 0.
      deployment.reuse = true;
      deployment.offset = held.size;
      deployment.size = held.size;
      this.journal.save({ state: 'verify', deployment });
      this.#log('info', 'deployment.accepted', { action: offer.actionId, version: offer.version, size: held.size, reuse: true });
      await this.#tryReport(deployment, 'accepted');
      return { state: 'verify', sleepMs: 0 };
    }
    this.journal.save({ state: 'download', deployment });
    this.#log('info', 'deployment.accepted', { action: offer.actionId, version: offer.version, size: offer.size });
    await this.#tryReport(deployment, 'accepted');
    return { state: 'download', sleepMs: 0 };
  }

  /** The held image, when it is the offered artifact (same SHA-256; without one, the same action). */
  #heldFor(offer: UpdateOffer): HeldImage | undefined {
    const held = this.journal.record.held;
    if (!held) return undefined;
    if (offer.size !== undefined && offer.size !== held.size) return undefined;
    const same = offer.sha256 !== undefined ? hex(offer.sha256) === held.sha256 : offer.actionId === held.actionId;
    return same ? held : undefined;
  }

  /** Why an offer is refused before a byte is fetched, or undefined to accept it. */
  #refusal(offer: UpdateOffer, running: string): { reason: OtaReason; detail: string } | undefined {
    const c = this.#d.config;
    const target = versionOf(offer.version);
    if (!target) return { reason: 'backend-protocol', detail: `version '${offer.version}' is not major.minor.revision[+build]` };
    const cmp = compareVersionText(offer.version, running);
    if (cmp < 0 && !c.allowDowngrade) return { reason: 'downgrade', detail: `${offer.version} is older than running ${running}` };
    if (cmp === 0 && !c.allowSameVersion) return { reason: 'same-version', detail: `${offer.version} is already running` };
    if (offer.hardware && offer.hardware.length > 0 && !offer.hardware.includes(c.hardwareId)) {
      return { reason: 'incompatible', detail: `image is for ${offer.hardware.join(', ')}, this device is ${c.hardwareId}` };
    }
    return undefined;
  }

  // ── download ─────────────────────────────────────────────────────────────────────────────

  async #download(deployment: Deployment): Promise<StepResult> {
    const d = { ...deployment, attempts: deployment.attempts + 1 };
    if (d.attempts > this.#d.config.maxAttempts) {
      return this.#finish(d, { phase: 'failed', reason: 'retries-exhausted', detail: `${deployment.attempts} attempts` });
    }
    this.journal.save({ state: 'download', deployment: d });
    let lastSaved = d.offset;
    let retryAfterMs: number | undefined;
    // Progress reports and cancel checks wait until a request ends: the modem carries one
    // connection at a time, and a report sent mid-body would cut the download it reports on.
    // So the artifact is asked for in segments of downloadSegmentBytes (HTTP Range).
    let progress: { done: number; total: number } | undefined;
    // A backend that cannot cancel gains nothing from segments: one request for the rest.
    const cancellable = this.#d.backend.cancellable === true;
    let segment = cancellable ? this.#d.config.downloadSegmentBytes : MAX_SEGMENT_BYTES;
    let cancelled = false;
    try {
      const start = await this.#d.installer.resume(d.offset);
      d.offset = start;
      this.#log('info', start > 0 ? 'download.resume' : 'download.start', { offset: start, attempt: d.attempts });
      let position = start;
      let nextProgress = this.#progressMark(d, start);
      for (;;) {
        const from = position;
        const segmentStartMs = this.#d.clock.now();
        // The rest of the artifact fits in one segment: ask for all of it (no Range at all from 0).
        const end = d.size !== undefined && from + segment >= d.size ? undefined : from + segment - 1;
        let range: { start: number; end?: number; ifRange?: string } | undefined;
        if (from > 0) range = end === undefined ? { start: from, ifRange: d.validator } : { start: from, end, ifRange: d.validator };
        else if (end !== undefined) range = { start: 0, end };
        let whole = false;
        await this.#d.http.request(
          { method: 'GET', url: d.url, headers: this.#d.backend.artifactHeaders?.(d.url), range },
          {
            onHead: (head: HttpResponseHead) => {
              if (head.status === 200 || head.status === 206) {
                const validator = head.headers['etag'] ?? head.headers['last-modified'];
                if (head.status === 200 && from > 0) {
                  // The server ignored or refused our range (resource changed): start over, but
                  // only if it is provably the same artifact we were told about.
                  throw new OtaError('range-ignored', 'server answered 200 to a ranged request: restarting from 0');
                }
                if (validator !== undefined && d.validator !== undefined && validator !== d.validator && from > 0) {
                  throw new OtaError('range-mismatch', 'artifact validator changed');
                }
                d.validator = validator ?? d.validator;
                // A 200 carries the whole artifact (a server without Range support).
                whole = head.status === 200;
                const total = head.range?.total ?? (head.status === 200 && head.contentLength !== undefined ? head.contentLength : undefined);
                if (total !== undefined && d.size !== undefined && total !== d.size) {
                  throw new OtaError('backend-protocol', `server has ${total} bytes, backend said ${d.size}`);
                }
                if (total !== undefined && total > this.#d.config.maxBytesPerDeployment) {
                  throw new OtaError('too-large', `artifact is ${total} bytes`);
                }
                d.size ??= total;
                nextProgress = this.#progressMark(d, position);
                return;
              }
              if (head.status === 403 || head.status === 410) throw new OtaError('url-expired', `artifact answered ${head.status}`);
              if (head.status === 416) throw new OtaError('range-not-satisfiable', `416 at offset ${from}`);
              if (head.status === 429 || head.status === 503) {
                const after = Number(head.headers['retry-after']);
                if (Number.isFinite(after) && after >= 0) retryAfterMs = after * 1000;
              }
              throw new OtaError('http-status', `artifact answered ${head.status}`);
            },
            onData: async (chunk: Uint8Array) => {
              d.bytesFetched += chunk.length;
              if (d.bytesFetched > this.#d.config.maxBytesPerDeployment) {
                throw new OtaError('limit-exceeded', `fetched ${d.bytesFetched} bytes for one deployment`);
              }
              await this.#d.installer.write(chunk);
              position += chunk.length;
              const flushed = this.#d.installer.flushed;
              if (flushed - lastSaved >= this.#d.config.progressEveryBytes) {
                d.offset = flushed;
                lastSaved = flushed;
                this.journal.save({ state: 'download', deployment: d });
              }
              if (d.size !== undefined && position >= nextProgress) {
                nextProgress = this.#progressMark(d, position);
                progress = { done: position, total: d.size };
              }
            },
          },
        );
        if (whole || end === undefined) break;
        if (d.size !== undefined && position >= d.size) break;
        // Without a known total, a segment shorter than asked is the end of the artifact.
        if (d.size === undefined && position <= end) break;
        if (position === from) throw new OtaError('body-truncated', `the segment from ${from} brought no bytes`);
        // Between requests the modem is free: ask whether the deployment still stands. (Progress
        // is not sent here: each report also costs the poll its ETag, and the measured goodput
        // cost of both per segment was 10 % at 256 KiB; docs/benchmarks.md.)
        if (await this.#cancelRequested(d)) {
          cancelled = true;
          break;
        }
        segment = nextSegmentBytes(position - from, this.#d.clock.now() - segmentStartMs, this.#pollIntervalMs, this.#d.config.downloadSegmentBytes, this.#d.config.downloadSegmentMaxBytes);
      }
    } catch (error) {
      if (progress) await this.#tryReport(d, 'downloading', progress);
      return this.#downloadFailed(d, error, retryAfterMs);
    }
    if (cancelled) return this.#cancel({ ...d, offset: this.#d.installer.flushed });
    // The body is complete: everything goes to flash before 'verify' is persisted, so that after a
    // reset the verify step re-hashes exactly these bytes from flash.
    d.offset = this.#d.installer.seal();
    this.journal.save({ state: 'verify', deployment: d });
    this.#log('info', 'download.done', { bytes: d.offset, attempts: d.attempts, fetched: d.bytesFetched });
    if (await this.#cancelRequested(d)) return this.#cancel(d);
    return { state: 'verify', sleepMs: 0 };
  }

  /** The next position at which a progress report is due (every quarter of the image). */
  #progressMark(d: Deployment, position: number): number {
    if (d.size === undefined) return Infinity;
    const quarter = Math.max(1, Math.ceil(d.size / 4));
    return (Math.floor(position / quarter) + 1) * quarter;
  }

  async #downloadFailed(d: Deployment, error: unknown, retryAfterMs: number | undefined): Promise<StepResult> {
    const reason = reasonOf(error);
    const detail = describeError(error);
    const status = /answered (\d{3})/.exec(detail);
    const retryable = RETRYABLE.has(reason) || (reason === 'http-status' && status !== null && retryableStatus(Number(status[1])));
    // Keep what is safely in flash: the next attempt resumes there.
    d.offset = reason === 'range-ignored' || reason === 'range-not-satisfiable' || reason === 'range-mismatch' ? 0 : this.#d.installer.flushed;
    if (reason === 'range-mismatch') d.validator = undefined;
    this.#log('warn', 'download.failed', { reason, detail, offset: d.offset, attempt: d.attempts, retryable });
    if (!retryable) return this.#finish(d, { phase: 'failed', reason, detail });
    if (reason === 'url-expired') {
      const fresh = await this.#d.backend.refreshOffer(d.actionId, { version: this.#d.installer.runningVersion() }).catch(() => undefined);
      if (!fresh) return this.#finish(d, { phase: 'failed', reason: 'url-expired', detail: 'the backend has no fresh URL' });
      // The fresh URL must name the same artifact, or the bytes already in the slot belong to
      // another image: then start over (the validator check would refuse a resume anyway).
      const freshSha = fresh.sha256 ? hex(fresh.sha256) : undefined;
      if ((fresh.size !== undefined && fresh.size !== d.size) || (freshSha !== undefined && freshSha !== d.sha256)) {
        this.#log('warn', 'download.artifact-changed', { size: fresh.size });
        d.size = fresh.size;
        d.sha256 = freshSha;
        d.offset = 0;
        d.validator = undefined;
      }
      d.url = fresh.url;
      this.journal.save({ state: 'download', deployment: d });
      return { state: 'download', sleepMs: 0 };
    }
    if (d.attempts >= this.#d.config.maxAttempts) {
      return this.#finish(d, { phase: 'failed', reason: 'retries-exhausted', detail: `${d.attempts} attempts, last: ${detail}` });
    }
    const delay = backoffDelayMs(
      { baseMs: this.#d.config.retryBaseS * 1000, capMs: this.#d.config.retryCapS * 1000 },
      d.attempts,
      this.#random,
      retryAfterMs,
    );
    this.journal.save({ state: 'download', deployment: d, notBefore: this.#d.clock.now() + delay });
    this.#log('info', 'download.backoff', { delayMs: delay, attempt: d.attempts });
    return { state: 'download', sleepMs: delay };
  }

  // ── verify, stage, reboot ──────────────────────────────────────────────────────────────

  async #verify(d: Deployment): Promise<StepResult> {
    this.#log('info', 'verify.start', { bytes: d.offset });
    try {
      // After a reset in 'verify' the installer re-hashes the sealed image from flash.
      await this.#d.installer.reload(d.offset);
      const info = await this.#d.installer.finish();
      if (d.size !== undefined && info.imageSize > d.size) throw new OtaError('trailing-data', `image is ${info.imageSize} bytes, artifact ${d.size}`);
      // The header is the truth: a backend may name one version and serve another.
      checkVersionPolicy({ version: parseVersion(info.version), securityCounter: info.securityCounter }, parseVersion(d.fromVersion), {
        allowDowngrade: this.#d.config.allowDowngrade,
        allowSameVersion: this.#d.config.allowSameVersion,
        minSecurityCounter: this.#d.minSecurityCounter,
      });
      if (d.sha256 !== undefined && !bytesEqual(info.fileSha256, unhex(d.sha256))) {
        throw new OtaError('hash-mismatch', `artifact SHA-256 ${hex(info.fileSha256)} differs from the backend's ${d.sha256}`);
      }
      // The header's version is the truth from here on (the backend's string may lack +build).
      const verified: Deployment = { ...d, version: info.version };
      delete verified.reuse;
      if (!d.install) {
        // Download only: the final report says so (hawkBit closes a download-only action on
        // DOWNLOADED), so no separate 'downloaded' progress report goes before it.
        const held: HeldImage = { actionId: d.actionId, size: d.offset, sha256: hex(info.fileSha256) };
        this.#log('info', 'download-only.kept', { action: d.actionId, version: info.version, bytes: d.offset });
        return this.#finish(verified, { phase: 'download-only', detail: 'verified and kept in the secondary slot, not installed' }, held);
      }
      await this.#tryReport(verified, 'downloaded');
      if (await this.#cancelRequested(verified)) return this.#cancel(verified);
      this.#verifiedInBoot = d.actionId;
      if (d.windowClosed) {
        this.journal.save({ state: 'wait', deployment: verified });
        this.#log('info', 'window.wait', { action: d.actionId, version: info.version });
        await this.#tryReport(verified, 'waiting');
        return { state: 'wait', sleepMs: this.#pollIntervalMs };
      }
      this.journal.save({ state: 'stage', deployment: verified });
      return { state: 'stage', sleepMs: 0 };
    } catch (error) {
      const reason = reasonOf(error);
      this.#d.installer.abandon();
      if (d.reuse) {
        // The slot no longer holds what the journal said: fetch the artifact after all.
        this.#log('warn', 'reuse.failed', { reason, detail: describeError(error) });
        const fresh: Deployment = { ...d, offset: 0 };
        delete fresh.reuse;
        this.journal.save({ state: 'download', deployment: fresh });
        return { state: 'download', sleepMs: 0 };
      }
      if (RETRYABLE.has(reason) && d.attempts < this.#d.config.maxAttempts) {
        this.journal.save({ state: 'download', deployment: { ...d, offset: 0 } });
        return { state: 'download', sleepMs: 0 };
      }
      return this.#finish(d, { phase: 'failed', reason, detail: describeError(error) });
    }
  }

  async #stage(d: Deployment): Promise<StepResult> {
    // Persisted 'reboot' before marking pending would lose a verified-but-unstaged image after a
    // reset; persisted 'stage' (we are here) means: mark pending (idempotent), then say 'reboot'.
    if (this.#verifiedInBoot !== d.actionId) {
      const running = this.#d.installer.runningVersion();
      if (!this.#d.installer.runningConfirmed() && compareVersionText(running, d.version) === 0) {
        // The reset fell after the slot was marked pending and before 'reboot' was saved (the
        // 'staged' report and the cancel check lie between): MCUboot has swapped the image in.
        // Carry on as after the reboot: health check, then confirm or revert.
        this.#log('warn', 'stage.found-swapped', { version: running });
        this.journal.save({ state: 'reboot', deployment: d });
        return this.#afterReboot(d);
      }
      // A reset came between verify and stage: verify again from flash before marking pending.
      this.journal.save({ state: 'verify', deployment: d });
      return { state: 'verify', sleepMs: 0 };
    }
    this.#log('info', 'stage.start', { version: d.version });
    try {
      this.#d.installer.stage();
    } catch (error) {
      // A torn trailer write (a power cut while marking pending) cannot be programmed over (NOR):
      // clear the trailer and fetch the image again; nothing is pending meanwhile.
      this.#log('warn', 'stage.failed', { reason: reasonOf(error), detail: describeError(error) });
      this.#d.installer.abandon();
      this.#verifiedInBoot = undefined;
      this.journal.save({ state: 'download', deployment: { ...d, offset: 0 } });
      return { state: 'download', sleepMs: 0 };
    }
    await this.#tryReport(d, 'staged');
    if (await this.#cancelRequested(d)) {
      // Pending, but the device has not rebooted: erasing the trailer takes the test-swap request
      // back (MCUboot ignores a slot without trailer magic), so the cancel can be honoured. If
      // the erase fails, the staged, verified image is installed and the cancel rejected.
      let unstaged = false;
      try {
        this.#d.installer.abandon();
        unstaged = true;
      } catch (error) {
        this.#log('warn', 'cancel.unstage-failed', { reason: reasonOf(error), detail: describeError(error) });
      }
      if (unstaged) return this.#cancel(d, true);
      await this.#rejectCancel(d);
    }
    this.journal.save({ state: 'reboot', deployment: d });
    this.#log('info', 'reboot.swap', { version: d.version });
    this.#d.reboot.reboot(`install ${d.version}`);
    return { state: 'reboot', sleepMs: 0, rebooting: true };
  }

  async #afterReboot(d: Deployment): Promise<StepResult> {
    const running = this.#d.installer.runningVersion();
    if (compareVersionText(running, d.version) !== 0) {
      // MCUboot did not boot the new image (it failed validation, or a revert already happened).
      return this.#finish(d, { phase: 'reverted', reason: 'reverted', detail: `running ${running}, expected ${d.version}` });
    }
    this.journal.save({ state: 'health-check', deployment: d });
    return { state: 'health-check', sleepMs: 0 };
  }

  // ── after the new image booted ─────────────────────────────────────────────────────────

  async #healthCheck(d: Deployment): Promise<StepResult> {
    const running = this.#d.installer.runningVersion();
    if (compareVersionText(running, d.version) !== 0) {
      // A reset during the health check: MCUboot reverted the unconfirmed image.
      const outcome = this.journal.record.outcome;
      return this.#finish(d, {
        phase: 'reverted',
        reason: outcome?.reason ?? 'reverted',
        detail: outcome?.detail ?? `running ${running} after a reset during the health check`,
      });
    }
    this.#log('info', 'health.start', { version: d.version });
    const deadline = this.#d.clock.now() + this.#d.config.healthDeadlineS * 1000;
    let failure: { reason: OtaReason; detail: string } | undefined;
    try {
      const healthy = await this.#withDeadline(
        (async () => {
          const appOk = this.#d.healthCheck ? await this.#d.healthCheck() : true;
          if (!appOk) throw new OtaError('health-check-failed', 'the application reported unhealthy');
          // Reaching the backend is part of being healthy: an image that cannot update again must not stay.
          const poll = await this.#d.backend.poll({ version: running });
          // The test image runs: a cancel now cannot be fulfilled without a revert nobody asked for.
          if (poll.cancelActionId === d.actionId) await this.#rejectCancel(d);
          return true;
        })(),
        deadline,
      );
      if (!healthy) failure = { reason: 'health-check-failed', detail: `not healthy within ${this.#d.config.healthDeadlineS} s` };
    } catch (error) {
      failure = { reason: 'health-check-failed', detail: describeError(error) };
    }
    if (failure) {
      // Leave the reason for the next boot, then reset: MCUboot reverts the unconfirmed image.
      this.journal.save({ state: 'health-check', deployment: d, outcome: { phase: 'reverted', ...failure } });
      this.#log('error', 'health.failed', failure);
      this.#d.reboot.reboot('health check failed: revert');
      return { state: 'health-check', sleepMs: 0, rebooting: true };
    }
    this.journal.save({ state: 'confirm', deployment: d });
    return { state: 'confirm', sleepMs: 0 };
  }

  async #confirm(d: Deployment): Promise<StepResult> {
    this.#log('info', 'confirm.start', { version: d.version });
    this.#d.installer.confirmRunning();
    this.#log('info', 'image.confirmed', { version: d.version });
    return this.#finish(d, { phase: 'running' });
  }

  // ── wait for the maintenance window ───────────────────────────────────────────────────────

  /**
   * The image verified; the backend's maintenance window is closed. One poll per step at the
   * server's interval, and no journal write until something changes (the write budget).
   */
  async #wait(d: Deployment): Promise<StepResult> {
    let poll: PollResult;
    try {
      poll = await this.#d.backend.poll({ version: this.#d.installer.runningVersion() });
    } catch (error) {
      this.#log('warn', 'poll.failed', { reason: reasonOf(error), detail: describeError(error) });
      return { state: 'wait', sleepMs: this.#pollIntervalMs };
    }
    this.#notePollInterval(poll);
    if (poll.cancelActionId === d.actionId) {
      this.#log('info', 'cancel.requested', { action: d.actionId, state: 'wait' });
      return this.#cancel(d);
    }
    const offer = poll.offer;
    if (!offer || offer.actionId !== d.actionId) {
      // The action was closed or replaced on the server: nothing to install; idle decides anew.
      this.#log('warn', 'window.withdrawn', { action: d.actionId, offered: offer?.actionId });
      this.#verifiedInBoot = undefined;
      this.journal.save({ state: 'idle' });
      return { state: 'idle', sleepMs: 0 };
    }
    if (offer.maintenanceWindow === 'unavailable' || offer.update === 'skip') return { state: 'wait', sleepMs: this.#pollIntervalMs };
    this.#log('info', 'window.open', { action: d.actionId });
    const open: Deployment = { ...d };
    delete open.windowClosed;
    // 'stage' verifies again first when the image was not verified in this boot.
    this.journal.save({ state: 'stage', deployment: open });
    return { state: 'stage', sleepMs: 0 };
  }

  // ── cancel ─────────────────────────────────────────────────────────────────────────────

  /** Whether the backend asks to cancel this deployment. A failed poll is no cancel (asked again later). */
  async #cancelRequested(d: Deployment): Promise<boolean> {
    if (this.#d.backend.cancellable !== true) return false;
    let poll: PollResult;
    try {
      poll = await this.#d.backend.poll({ version: this.#d.installer.runningVersion() });
    } catch (error) {
      this.#log('warn', 'cancel.check-failed', { reason: reasonOf(error), detail: describeError(error) });
      return false;
    }
    this.#notePollInterval(poll);
    if (poll.cancelActionId !== d.actionId) return false;
    this.#log('info', 'cancel.requested', { action: d.actionId, state: this.journal.record.state });
    return true;
  }

  /**
   * Honour a cancel (CANCEL_RULE): nothing of the deployment stays pending, then the outcome
   * `cancelled` is persisted and reported; the backend takes that report as the confirmation
   * (hawkBit: cancelAction feedback closed/success). After a reset anywhere in here the same
   * steps run again: erasing an erased trailer is harmless, and a repeated confirmation that the
   * server already has answers 410, which counts as delivered.
   */
  async #cancel(d: Deployment, abandoned = false): Promise<StepResult> {
    const state = this.journal.record.state;
    if (!abandoned) this.#d.installer.abandon();
    this.#verifiedInBoot = undefined;
    this.#log('info', 'cancel.accepted', { action: d.actionId, state });
    return this.#finish(d, { phase: 'cancelled', reason: 'cancelled', detail: `cancelled by the backend in ${state}` });
  }

  /** Answer a cancel that cannot be fulfilled (best effort: the backend asks again if it is lost). */
  async #rejectCancel(d: Deployment): Promise<void> {
    this.#log('warn', 'cancel.rejected', { action: d.actionId, state: this.journal.record.state });
    await this.#d.backend.acknowledgeCancel(d.actionId, false).catch((error: unknown) =>
      this.#log('warn', 'cancel.ack-failed', { reason: reasonOf(error), detail: describeError(error) }),
    );
  }

  // ── report ─────────────────────────────────────────────────────────────────────────────

  #finish(d: Deployment, outcome: Outcome, held?: HeldImage): Promise<StepResult> {
    if (outcome.phase !== 'running') this.#log('warn', 'deployment.ended', { phase: outcome.phase, reason: outcome.reason, detail: outcome.detail });
    // Hook (identity): the attempt's history entry, before the outcome is journaled (the recorder de-duplicates a repeat).
    const entry = this.#d.history?.record(d, outcome);
    if (entry instanceof Error) this.#log('warn', 'history.failed', { detail: entry.message });
    this.journal.save({ state: 'report', deployment: d, outcome, ...(held ? { held } : {}) });
    return this.#report(d, outcome);
  }

  async #report(d: Deployment, outcome: Outcome): Promise<StepResult> {
    try {
      await this.#d.backend.report(this.#reportOf(d, outcome.phase, undefined, outcome));
    } catch (error) {
      if (reasonOf(error) === 'backend-gone') {
        // 410: the action is no longer active on the server (a confirmation sent again after a
        // reset, an action closed elsewhere). Nothing more can be delivered: done.
        this.#log('warn', 'report.gone', { action: d.actionId, phase: outcome.phase });
        return this.#reported(d, outcome);
      }
      // The outcome stays in the journal until the backend has it.
      this.#reportFailures++;
      this.#log('warn', 'report.failed', { reason: reasonOf(error), detail: describeError(error), attempt: this.#reportFailures });
      const delay = backoffDelayMs(
        { baseMs: this.#d.config.retryBaseS * 1000, capMs: this.#d.config.retryCapS * 1000 },
        this.#reportFailures,
        this.#random,
      );
      return { state: 'report', sleepMs: Math.max(1000, delay) };
    }
    return this.#reported(d, outcome);
  }

  #reported(d: Deployment, outcome: Outcome): StepResult {
    this.#reportFailures = 0;
    // A download-only image stays in the slot: the idle record remembers it for a later install.
    const held = outcome.phase === 'download-only' ? this.journal.record.held : undefined;
    this.journal.save({ state: 'idle', ...(held ? { held } : {}) });
    this.#log('info', 'deployment.reported', { action: d.actionId, phase: outcome.phase, reason: outcome.reason });
    return { state: 'idle', sleepMs: this.#pollIntervalMs };
  }

  #reportOf(d: Deployment, phase: Report['phase'], progress?: Report['progress'], outcome?: Outcome): Report {
    return {
      actionId: d.actionId,
      phase,
      version: d.version,
      runningVersion: this.#d.installer.runningVersion(),
      progress,
      reason: outcome?.reason,
      detail: outcome?.detail,
    };
  }

  /** Progress reports are best effort: a lost one must not fail the download. */
  async #tryReport(d: Deployment, phase: Report['phase'], progress?: Report['progress']): Promise<void> {
    try {
      await this.#d.backend.report(this.#reportOf(d, phase, progress));
    } catch (error) {
      this.#log('warn', 'report.failed', { phase, reason: reasonOf(error), detail: describeError(error) });
    }
  }

  // ── helpers ────────────────────────────────────────────────────────────────────────────

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.#d.clock.setTimeout(resolve, ms));
  }

  /** Resolves with the work's value, or false when `deadline` (clock ms) passes first. */
  #withDeadline(work: Promise<boolean>, deadline: number): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      const timer = this.#d.clock.setTimeout(() => resolve(false), Math.max(0, deadline - this.#d.clock.now()));
      work.then(
        (v) => {
          this.#d.clock.clearTimeout(timer);
          resolve(v);
        },
        (e: unknown) => {
          this.#d.clock.clearTimeout(timer);
          reject(e);
        },
      );
    });
  }

  #log(level: 'debug' | 'info' | 'warn' | 'error', event: string, fields?: Record<string, string | number | boolean | undefined>): void {
    this.#d.log.log(level, event, fields);
  }
}

/** The largest segment (one request) the agent asks for: a backend that cannot cancel gets one. */
export const MAX_SEGMENT_BYTES = 16 * 1024 * 1024;

/**
 * The next segment's size: about one poll interval of download at the rate the last segment
 * measured, so a cancel is noticed about as soon as the backend expects any change to be seen
 * (hawkBit's polling sleep), at one extra request and poll per interval; never below the
 * configured segment, whole sectors, at most `maxBytes`. (A fixed 256 KiB segment cost 6 % of a
 * 1 MiB update's goodput at 115200 baud; docs/benchmarks.md.)
 */
export function nextSegmentBytes(bytes: number, elapsedMs: number, pollIntervalMs: number, minBytes: number, maxBytes = MAX_SEGMENT_BYTES): number {
  if (!(elapsedMs > 0) || !(bytes > 0)) return minBytes;
  const wanted = Math.floor((bytes * pollIntervalMs) / elapsedMs / 4096) * 4096;
  return Math.max(minBytes, Math.min(maxBytes, wanted));
}
