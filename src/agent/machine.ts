/**
 * The update cycle as one state machine (style rule 10), read from its table: every handler does
 * the work of its state and returns a named edge; `#take` is the one place that looks the edge up
 * in TRANSITIONS, applies CANCEL_RULE, persists the next state in the journal, and only then acts
 * (mark pending, reboot, report). A reset at any instant therefore resumes from a state whose
 * side effect either has not happened or is idempotent. docs/agent.md draws the same table.
 *
 *   idle ──accept──► download ──done──► verify ──verified──► stage ──staged──► reboot ══(MCUboot)══╗
 *     ▲                 │ retry/restart/refresh-url    │ window-closed ► wait ──open──┘             ║
 *     │                 ▼                                                                          ▼
 *   report ◄──────── fail/cancel ◄──── confirm ◄──healthy── health-check ◄──booted──── (new image?)
 *                                         │ reverted           │ unhealthy: reset, MCUboot reverts
 *
 * After any boot the agent compares the running version with the journal: a deployment in
 * `reboot`/`health-check`/`confirm` whose target is not running was reverted by MCUboot, and is
 * reported as such, never as success. Every terminal error (a journal that cannot be written, the
 * write budget spent, an unexpected exception) takes the state's `fail` edge: a reported failure.
 *
 * Campaign flags (hawkBit DDI, /work/shared/reference/backend-apis.md §3a):
 * - `update: skip` (download only): download and verify, report `download-only`, keep the image
 *   unstaged (the idle record remembers it as `held`); a later offer of the same artifact is
 *   verified again from flash and staged without a download.
 * - `maintenanceWindow: unavailable`: verify, then `wait` (polling at the server's interval) until
 *   the window is available, then stage.
 * - a cancel is looked for on the edges marked `cancelCheck`, in every poll a state makes, and
 *   between download segments; CANCEL_RULE says what it does in each state.
 */
import { startAsJob } from '../util/stack.js';
import type { PollResult, Report, UpdateBackend, UpdateOffer } from '../backend/backend.js';
import type { HttpClient } from '../net/http.js';
import { downloadAttempt, type AttemptProgress } from '../net/download.js';
import type { ClockPort } from '../platform/clock.js';
import type { LogPort } from '../platform/log.js';
import type { RebootPort } from '../platform/reboot.js';
import type { KeyValuePort } from '../platform/key-value.js';
import { bytesEqual, hex, unhex } from '../util/bytes.js';
import { OtaError, describeError, reasonOf, type Reason } from '../util/errors.js';
import { xorshift32 } from './backoff.js';
import type { AgentConfig } from './config.js';
import type { Installer } from './installer.js';
import type { HistoryRecorder } from './history-report.js';
import { JOURNAL_FIELD_MAX, Journal, journalLabel, type Deployment, type HeldImage, type JournalRecord, type Outcome, type State } from './journal.js';
import { RetryPolicy, retryAction } from './retry-policy.js';
import { SecurityFloor } from './security-floor.js';
import type { ImageHeader } from '../image/header.js';
import { checkVersionPolicy, compareVersions, parseVersion, type ImageVersion } from '../image/version.js';
import { labelOrder } from '../backend/version-label.js';
import { deliveryNote, fallBackToFull, type DeltaHook } from '../delta/plan.js';

/** An edge of the state table. */
export interface Edge {
  /** The state it leads to. */
  readonly to: State;
  /** false: a self-loop that writes nothing (a poll that found nothing: the journal's write budget). */
  readonly persist?: false;
  /** Ask the backend for a cancel before taking it (what a cancel does: CANCEL_RULE of the state left). */
  readonly cancelCheck?: true;
}

/**
 * Every edge the machine can take, by state and name. `#take` refuses a name not in here
 * (`bad-state`), and the handlers' return types only allow the names of their own state.
 * Every state but idle and report has `fail` (a terminal error: reported) and, where a cancel is
 * honoured, `cancel` (slot abandoned, `cancelled` reported).
 */
export const TRANSITIONS = {
  idle: {
    /** The poll found nothing to do (or failed, or the offer needs nothing): poll again later. */
    nothing: { to: 'idle', persist: false },
    /** The running image is unconfirmed with no deployment: wait out the health deadline. */
    'unconfirmed-wait': { to: 'idle', persist: false },
    /** ... then reset, so MCUboot reverts to the confirmed image in the secondary slot. */
    'unconfirmed-revert': { to: 'idle', persist: false },
    /** ... or, with nothing to revert to, it passed the health check and was confirmed (issue 13.3). */
    'unconfirmed-adopted': { to: 'idle', persist: false },
    /** ... or it failed the health check: left running (a reset cannot revert it), checked again later. */
    'unconfirmed-unhealthy': { to: 'idle', persist: false },
    accept: { to: 'download' },
    /** A download-only deployment left this artifact in the slot: verify it from flash, no download. */
    reuse: { to: 'verify' },
    /** Refused before a byte was fetched (downgrade, same version, hardware): reported. */
    refuse: { to: 'report' },
    fail: { to: 'report' },
  },
  download: {
    done: { to: 'verify', cancelCheck: true },
    /** A stream fault (retry policy `resume`): the next attempt starts at the flushed prefix. */
    retry: { to: 'download' },
    /** The server voided what we have (retry policy `restart`): from byte 0. */
    restart: { to: 'download' },
    /** The URL expired (403/410): the backend gave a fresh one. */
    'refresh-url': { to: 'download' },
    /** The offered delta cannot be had (src/delta): the full image, in the same deployment, once. */
    'delta-fallback': { to: 'download' },
    cancel: { to: 'report' },
    fail: { to: 'report' },
  },
  verify: {
    verified: { to: 'stage', cancelCheck: true },
    'window-closed': { to: 'wait', cancelCheck: true },
    'download-only': { to: 'report' },
    /** The held image no longer verifies: download it after all. */
    'reuse-failed': { to: 'download' },
    /** A transient fault while verifying (the A5000's link, a flash read): download again from 0. */
    retry: { to: 'download' },
    /** The delta did not rebuild a verifiable image (src/delta): the full image, once. */
    'delta-fallback': { to: 'download' },
    cancel: { to: 'report' },
    fail: { to: 'report' },
  },
  wait: {
    closed: { to: 'wait', persist: false },
    open: { to: 'stage' },
    /** The action was closed or replaced on the server: nothing to install. */
    withdrawn: { to: 'idle' },
    cancel: { to: 'report' },
    fail: { to: 'report' },
  },
  stage: {
    staged: { to: 'reboot', cancelCheck: true },
    /** Not verified in this boot (a reset between verify and stage): verify again from flash. */
    reverify: { to: 'verify' },
    /** A reset after the slot was marked pending, before `reboot` was saved: MCUboot swapped it in. */
    'found-swapped': { to: 'reboot' },
    /** Marking pending failed (a torn trailer cannot be programmed over): clear it, download again. */
    'stage-failed': { to: 'download' },
    cancel: { to: 'report' },
    fail: { to: 'report' },
  },
  reboot: {
    booted: { to: 'health-check' },
    reverted: { to: 'report' },
    fail: { to: 'report' },
  },
  'health-check': {
    healthy: { to: 'confirm' },
    /** Keep the reason for the next boot, then reset: MCUboot reverts the unconfirmed image. */
    unhealthy: { to: 'health-check' },
    reverted: { to: 'report' },
    fail: { to: 'report' },
  },
  confirm: {
    confirmed: { to: 'report' },
    /** A reset after the health check and before image_ok was programmed: MCUboot reverted (17.1). */
    reverted: { to: 'report' },
    fail: { to: 'report' },
  },
  report: {
    delivered: { to: 'idle' },
    /** Not delivered: the outcome stays in the journal; again after a backoff. */
    retry: { to: 'report', persist: false },
  },
} as const satisfies Record<State, Record<string, Edge>>;

/** The edge names of state S (of any state, for a union). */
export type EdgeName<S extends State> = S extends State ? keyof (typeof TRANSITIONS)[S] & string : never;

/** Every edge of the table as `[from, name, edge]` (tests generate one case per entry). */
export function tableEdges(): [State, string, Edge][] {
  const out: [State, string, Edge][] = [];
  for (const from of Object.keys(TRANSITIONS) as State[]) {
    const edges = TRANSITIONS[from] as Record<string, Edge>;
    for (const name of Object.keys(edges)) out.push([from, name, edges[name]]);
  }
  return out;
}

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

/** The journal record as each state has it (journal.ts validates these shapes on load). */
type View =
  | { state: 'idle'; held?: HeldImage }
  | { state: 'report'; deployment: Deployment; outcome: Outcome; held?: HeldImage }
  | { state: Exclude<State, 'idle' | 'report'>; deployment: Deployment; outcome?: Outcome };

function viewOf(r: Readonly<JournalRecord>): View {
  if (r.state === 'idle') return r.held ? { state: 'idle', held: r.held } : { state: 'idle' };
  if (!r.deployment) throw new OtaError('journal-invalid', `state ${r.state} without a deployment`);
  if (r.state === 'report') {
    if (!r.outcome) throw new OtaError('journal-invalid', 'state report without an outcome');
    return { state: 'report', deployment: r.deployment, outcome: r.outcome, ...(r.held ? { held: r.held } : {}) };
  }
  return { state: r.state, deployment: r.deployment, ...(r.outcome ? { outcome: r.outcome } : {}) };
}

/** What a handler decided: the edge, the record after it, and what to do once it is persisted. */
interface Move<S extends State = State> {
  edge: EdgeName<S>;
  /** The deployment as the next state's record holds it (every state but idle has one). */
  deployment?: Deployment;
  outcome?: Outcome;
  held?: HeldImage;
  /** A download backoff: persisted as the whole delay (a reboot restarts the device clock at 0). */
  retryDelayMs?: number;
  sleepMs?: number;
  /** The handler polled: CANCEL_RULE applies to this answer (no second poll). */
  polled?: PollResult;
  /** After persisting: the side effect the new state announces (reports, logs). */
  act?: () => void | Promise<void>;
  /** After persisting and `act`: reboot with this reason. */
  reboot?: string;
  /** A `cancel` whose slot was already abandoned (by the cancel rule in #take). */
  abandoned?: true;
}

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
  /**
   * Random bits for the retry jitter, asked once per boot (createAgent: the A5000's GetRandom,
   * so every device and every boot draws its own instants: a fleet that lost the server together
   * does not come back together). Mixed with `randomSeed`.
   */
  seedSource?: () => Promise<number>;
  /** A fixed part of the jitter seed (tests, the dev kit); alone when there is no seedSource. */
  randomSeed?: number;
  /**
   * A configured security-counter floor. The agent's floor is the highest of this, the running
   * image's SEC_CNT and the highest counter it confirmed (security-floor.ts); images below it are
   * refused.
   */
  minSecurityCounter?: number;
  /** Delta updates (src/delta/delta-installer.ts, the same object as `installer`); absent: full images only. */
  delta?: DeltaHook;
  /** Update history (identity helper, src/agent/history-report.ts): records each deployment's end. */
  history?: HistoryRecorder;
  /**
   * The link's bring-up (createAgent: the modem's), which the first poll would otherwise do
   * inside its request. Given, the first idle step of a boot awaits it first and erases the
   * secondary slot ahead in its quiet waits (#eraseWhileLinkUp).
   */
  link?: LinkBringUp;
}

export interface LinkBringUp {
  /** Bring the link up (Modem.ready: power, registration, bearer); cheap when it is up. */
  up(): Promise<void>;
  /** The clock instant until which the bring-up waits needing nothing of the MCU, 0 outside such a wait (Modem.quietUntil). */
  quietUntil(): number;
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
  #retry: RetryPolicy;
  #securityFloor: SecurityFloor;
  /** This boot's anti-rollback floor (SecurityFloor.floor). */
  #minSecurityCounter = 0;
  #pollIntervalMs: number;
  /** When idle first found the running image unconfirmed (see #unconfirmed). */
  #unconfirmedSince: number | undefined;
  /**
   * The headers each artifact link of the current action needs, from its offer (UpdateOffer.headers,
   * DeltaOffer.headers): RAM only, so no credential is written to the journal. After a reset the
   * map is empty and a deployment whose offer had headers (`linkHeaders`) fetches its offer again.
   */
  #links: { actionId: string; headers: Map<string, Record<string, string>> } | undefined;
  /** The re-offered, already ended action last logged (deployment.already-ended once per action per boot). */
  #endedNoted: string | undefined;
  #stopped = false;
  #booted = false;
  /** The deployment whose image verified in this boot: only that one may be staged. */
  #verifiedInBoot: string | undefined;
  /** Failed deliveries of the current outcome report in this boot (for its backoff). */
  #reportFailures = 0;
  /** This boot's clock instant before which the next download attempt must not start. */
  #notBefore: number | undefined;
  /**
   * A report or idle record the journal refused to store (journal-write-failed): held in memory
   * so that the failure is still delivered in this boot (a reset loses it; the store is broken).
   */
  #unsaved: View | undefined;
  /**
   * Between a poll that offered nothing (no deployment, no held image, the running image
   * confirmed) and the next step: the secondary slot may be erased ahead (#eraseWhileIdle).
   */
  #idleWindow = false;
  /** The idle erase's timer chain is running. */
  #erasing = false;
  /** This boot's first idle step has not polled yet (the link-up erase is still to come). */
  #firstPoll = true;
  /** During the link-up erase: until when the bring-up waits for nothing (LinkBringUp.quietUntil). */
  #eraseQuietUntil: (() => number) | undefined;
  /** The longest erase unit measured in this boot, ms (0 until one ran). */
  #eraseUnitMs = 0;

  constructor(deps: AgentDeps) {
    this.#d = deps;
    this.journal = new Journal(deps.keyValue);
    const c = deps.config;
    this.#retry = this.#retryPolicy(deps.randomSeed ?? 0x5eed);
    this.#securityFloor = new SecurityFloor(deps.keyValue);
    this.#pollIntervalMs = c.pollIntervalS * 1000;
  }

  /** Run forever (the device's main loop): one step, then sleep as the step says. */
  async run(): Promise<void> {
    while (!this.#stopped) {
      let result: StepResult;
      try {
        result = await this.step();
      } catch (error) {
        // `step` turns a handler's failure into the state's `fail` edge; only a failure of that
        // (the report itself throwing) lands here: wait, and re-enter the persisted state.
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
    // Boot and each state's work start as jobs (src/util/stack.ts): their call chains (SE,
    // installer, modem, backend) then begin at the job queue, not below run() and its caller.
    if (!this.#booted) await startAsJob(() => this.#boot());
    // Whatever this step does (a poll may start a download), the slot is no longer the idle erase's.
    this.#idleWindow = false;
    const view = this.#unsaved ?? viewOf(this.journal.record);
    // The link-up erase is for a boot that starts idle; any other state brings the link up itself.
    if (view.state !== 'idle') this.#firstPoll = false;
    const now = this.#d.clock.now();
    if (view.state === 'download' && this.#notBefore !== undefined && this.#notBefore > now) {
      return { state: view.state, sleepMs: this.#notBefore - now };
    }
    try {
      return await startAsJob(() => this.#dispatch(view));
    } catch (error) {
      this.#log('error', 'step.failed', { state: view.state, reason: reasonOf(error), detail: describeError(error) });
      if (view.state === 'idle' || view.state === 'report') return { state: view.state, sleepMs: this.#d.config.retryBaseS * 1000 };
      return this.#take(view.state, { edge: 'fail', deployment: view.deployment, outcome: { phase: 'failed', reason: reasonOf(error), detail: describeError(error) } });
    }
  }

  #retryPolicy(seed: number): RetryPolicy {
    const c = this.#d.config;
    return new RetryPolicy({ maxAttempts: c.maxAttempts, baseMs: c.retryBaseS * 1000, capMs: c.retryCapS * 1000 }, xorshift32(seed));
  }

  async #boot(): Promise<void> {
    this.#booted = true;
    if (this.#d.seedSource) {
      try {
        // Its own job: the SE's GetRandom (driver, open, T=1 link) does not stack on the boot.
        const seedSource = this.#d.seedSource;
        this.#retry = this.#retryPolicy(((await startAsJob(() => seedSource())) ^ (this.#d.randomSeed ?? 0)) >>> 0);
      } catch (error) {
        // Jitter still works from the fixed seed; only its spread over the fleet suffers.
        this.#log('warn', 'agent.seed-failed', { reason: reasonOf(error), detail: describeError(error) });
      }
    }
    let runningCounter: number | undefined;
    try {
      runningCounter = this.#d.installer.runningSecurityCounter();
    } catch (error) {
      this.#log('warn', 'security-floor.running-unreadable', { reason: reasonOf(error), detail: describeError(error) });
    }
    try {
      this.#minSecurityCounter = this.#securityFloor.floor(runningCounter, this.#d.minSecurityCounter);
    } catch (error) {
      // A stored floor that does not read back: keep what the running image and the configuration say.
      this.#log('warn', 'security-floor.unreadable', { reason: reasonOf(error), detail: describeError(error) });
      this.#minSecurityCounter = Math.max(runningCounter ?? 0, this.#d.minSecurityCounter ?? 0);
    }
    const loaded = this.journal.load();
    if (loaded.discarded) this.#log('warn', 'journal.discarded', { why: loaded.discarded });
    // A torn bank (a power cut during a save) while the other bank held the record: expected, but worth a line.
    if (loaded.ignored) this.#log('info', 'journal.bank-ignored', { why: loaded.ignored.join('; ') });
    const r = loaded.record;
    // The device clock restarts at 0 every boot (modules/ota-clock.ts): a backoff is resumed as
    // its whole delay from this boot, never as an instant of the previous boot's clock (17.2).
    const now = this.#d.clock.now();
    if (r.retryDelayMs !== undefined) this.#notBefore = now + r.retryDelayMs;
    else if (r.notBefore !== undefined) this.#notBefore = now + Math.min(Math.max(0, r.notBefore - now), this.#d.config.retryCapS * 1000);
    this.#log('info', 'agent.boot', { state: r.state, running: this.#d.installer.runningVersion() });
  }

  #dispatch(view: View): Promise<StepResult> {
    switch (view.state) {
      case 'idle':
        return this.#idle(view.held);
      case 'report':
        return this.#report(view.deployment, view.outcome, view.held);
      case 'download':
        return this.#run('download', this.#download(view.deployment));
      case 'verify':
        return this.#run('verify', this.#verify(view.deployment));
      case 'stage':
        return this.#run('stage', this.#stage(view.deployment));
      case 'reboot':
        return this.#run('reboot', this.#afterReboot(view.deployment));
      case 'health-check':
        return this.#run('health-check', this.#healthCheck(view.deployment, view.outcome));
      case 'confirm':
        return this.#run('confirm', this.#confirm(view.deployment));
      case 'wait':
        return this.#run('wait', this.#wait(view.deployment));
    }
  }

  async #run<S extends State>(from: S, move: Promise<Move<S>>): Promise<StepResult> {
    return this.#take(from, await move);
  }

  // ── the one place that moves: table, cancel rule, persist, act ─────────────────────────

  async #take<S extends State>(from: S, input: Move<S>): Promise<StepResult> {
    // Handlers can only name their own state's edges (Move<S>); from here on any edge is data.
    let move = input as unknown as Move;
    let edge = this.#edge(from, move.edge);
    const d = move.deployment;
    if (d && move.edge !== 'cancel' && move.edge !== 'fail' && edge.to !== 'idle') {
      const rule = CANCEL_RULE[from];
      let asked = false;
      if (move.polled) asked = move.polled.cancelActionId === d.actionId;
      else if (edge.cancelCheck && rule === 'honour') asked = await this.#cancelRequested(d);
      if (asked && move.polled) this.#log('info', 'cancel.requested', { action: d.actionId, state: from });
      if (asked && rule === 'honour') {
        // Nothing of the deployment may stay pending: erasing the trailer takes a test-swap
        // request back (MCUboot ignores a slot without trailer magic). If the erase fails, the
        // cancel cannot be fulfilled: it is rejected and the deployment goes on.
        try {
          this.#d.installer.abandon();
          move = this.#cancelMove(from, d);
          edge = this.#edge(from, 'cancel');
        } catch (error) {
          this.#log('warn', 'cancel.unstage-failed', { reason: reasonOf(error), detail: describeError(error) });
          await this.#rejectCancel(d, from);
        }
      } else if (asked && rule === 'reject') {
        await this.#rejectCancel(d, from);
      }
    }
    if (move.edge === 'cancel' && !move.abandoned && d) {
      // A handler's own cancel (seen between download segments): nothing may stay pending.
      this.#d.installer.abandon();
      move = this.#cancelMove(from, d);
    }
    const next = this.#recordOf(edge.to, move);
    this.#log('debug', 'edge', { from, edge: move.edge, to: edge.to });
    if (edge.to === 'report' && from !== 'report' && move.outcome && move.outcome.phase !== 'running') {
      this.#log('warn', 'deployment.ended', { phase: move.outcome.phase, reason: move.outcome.reason, detail: move.outcome.detail });
    }
    if (edge.to === 'report' && from !== 'report' && move.outcome && d) {
      // Update history (src/agent/history-report.ts): the attempt's entry, before the outcome is
      // journaled (after a reset the recorder recognises the repeat and writes nothing).
      // Its own job: the recorder re-reads the slot's image (slot reader, image parser, TLVs)
      // synchronously, which does not then stack on this step's chain.
      const history = this.#d.history;
      const outcome = move.outcome;
      const entry = history ? await startAsJob(() => history.record(d, outcome)) : undefined;
      if (entry instanceof Error) this.#log('warn', 'history.failed', { detail: entry.message });
    }
    if (edge.persist !== false) {
      try {
        this.#persist(next, move.retryDelayMs);
      } catch (error) {
        // The next state could not be announced, so its side effect must not happen: the
        // deployment ends here, reported (a report record is stored past the write budget, and
        // held in memory when the store refuses it).
        this.#log('error', 'journal.save-failed', { state: edge.to, reason: reasonOf(error), detail: describeError(error) });
        if (!d || move.edge === 'fail' || from === 'report') throw error;
        return this.#take<State>(from, { edge: 'fail', deployment: d, outcome: { phase: 'failed', reason: reasonOf(error), detail: describeError(error) } });
      }
    }
    if (edge.to === 'download') this.#notBefore = move.retryDelayMs === undefined ? undefined : this.#d.clock.now() + move.retryDelayMs;
    // Observers of every move (history, backend feedback) hook in here: the edge is taken and
    // persisted, its side effect not yet performed.
    if (move.act) await move.act();
    if (move.reboot !== undefined) {
      this.#d.reboot.reboot(move.reboot);
      return { state: edge.to, sleepMs: 0, rebooting: true };
    }
    // Entering `report` delivers at once (a reset before it is delivered again from the journal).
    if (next.state === 'report' && from !== 'report') return this.#report(next.deployment, next.outcome, next.held);
    return { state: edge.to, sleepMs: move.sleepMs ?? 0 };
  }

  /** The table's edge, or `bad-state`: the code took an edge the table lacks. */
  #edge(from: State, name: string): Edge {
    const edge = (TRANSITIONS[from] as Record<string, Edge>)[name];
    if (!edge) throw new OtaError('bad-state', `no edge '${name}' from ${from} in TRANSITIONS`);
    return edge;
  }

  /** The record the next state holds, typed per state; `bad-state` when the move lacks what it needs. */
  #recordOf(to: State, move: Move): View {
    const held = move.held ? { held: move.held } : {};
    if (to === 'idle') return { state: 'idle', ...held };
    const d = move.deployment;
    if (!d) throw new OtaError('bad-state', `edge ${move.edge} to ${to} without a deployment`);
    if (to !== 'report') return { state: to, deployment: d, ...(move.outcome ? { outcome: move.outcome } : {}) };
    if (!move.outcome) throw new OtaError('bad-state', `edge ${move.edge} to report without an outcome`);
    return { state: 'report', deployment: d, outcome: move.outcome, ...held };
  }

  #persist(view: View, retryDelayMs: number | undefined): void {
    try {
      this.journal.save(retryDelayMs === undefined ? view : { ...view, retryDelayMs });
      this.#unsaved = undefined;
    } catch (error) {
      if (view.state !== 'report' && view.state !== 'idle') throw error;
      // The outcome must still reach the backend in this boot; the store is broken.
      this.#unsaved = view;
      this.#log('error', 'journal.unsaved', { state: view.state, reason: reasonOf(error), detail: describeError(error) });
    }
  }

  /** The `cancel` edge's move, once the slot was abandoned (CANCEL_RULE `honour`). */
  #cancelMove(from: State, d: Deployment): Move {
    this.#verifiedInBoot = undefined;
    this.#log('info', 'cancel.accepted', { action: d.actionId, state: from });
    return { edge: 'cancel', deployment: d, outcome: { phase: 'cancelled', reason: 'cancelled', detail: `cancelled by the backend in ${from}` }, abandoned: true };
  }

  // ── idle: poll and decide ────────────────────────────────────────────────────────────────

  async #idle(held: HeldImage | undefined): Promise<StepResult> {
    const running = this.#d.installer.runningVersion();
    if (!this.#d.installer.runningConfirmed()) return this.#take('idle', await this.#unconfirmed(running));
    let poll: PollResult;
    try {
      if (this.#firstPoll) {
        this.#firstPoll = false;
        await this.#eraseWhileLinkUp(held);
      }
      poll = await this.#d.backend.poll({ version: running });
    } catch (error) {
      this.#log('warn', 'poll.failed', { reason: reasonOf(error), detail: describeError(error) });
      return this.#take('idle', { edge: 'nothing', sleepMs: this.#pollIntervalMs });
    }
    this.#notePollInterval(poll);
    if (poll.cancelActionId !== undefined) {
      // Nothing is under way in idle: acknowledge that the action is stopped.
      await this.#d.backend.acknowledgeCancel(poll.cancelActionId, true).catch((error: unknown) =>
        this.#log('warn', 'cancel.ack-failed', { reason: reasonOf(error) }),
      );
    }
    const offer = poll.offer;
    if (!offer) {
      if (!held) this.#eraseWhileIdle();
      return this.#take('idle', { edge: 'nothing', sleepMs: this.#pollIntervalMs });
    }
    // The decision reads the history (record store, key-value port) synchronously: its own job.
    return this.#take('idle', await startAsJob(() => this.#decide(offer, running, held)));
  }

  /**
   * Nothing to do until the next poll: erase the secondary slot ahead, one unit per timer tick
   * (Installer.eraseIdle), so the next download does not erase in series with reception
   * (issue 15; src/slot/erased-ahead.ts). Each unit blocks the MCU for one sector or block erase
   * (W25Q64JV: 45 ms / 150 ms typical); the gap between units lets timers and URCs run. Stops at
   * the next step, whatever it does; the slot writer then starts from what is already erased.
   */
  #eraseWhileIdle(): void {
    this.#idleWindow = true;
    this.#eraseQuietUntil = undefined;
    this.#startEraseChain();
  }

  /**
   * The first poll of a boot (a cold start): the link comes up first (modem power-up, boot,
   * registration, bearer: 12 s or more, most of it spent waiting on the modem), and the secondary
   * slot is erased ahead meanwhile, on the same timer chain and under the same rules as the idle
   * erase (reached only in idle with the running image confirmed; not with a held image; the
   * installer refuses a slot it is writing, a sealed image or a pending trailer, and
   * ErasedAheadSlot's mark protocol covers a power cut). A journal in any other state (a
   * resumable download, a staged or swapped image) never gets here.
   *
   * A unit runs only inside the driver's quiet waits (LinkBringUp.quietUntil: a registration
   * poll's pause, a busy SIM) and only when the longest unit seen so far ends before the wait
   * does, so the bring-up is never slowed by more than the one first unit (whose length is not
   * known yet): an erase during an AT exchange would stretch every command's round trip, and
   * during the probes before the power key every probe's timeout. The erase stops when the link
   * is up; the download that may follow starts from what is erased, and what is left is erased
   * after an empty poll or by the slot writer. A link-up failure throws as the poll would have
   * (the poll's own failure path).
   */
  async #eraseWhileLinkUp(held: HeldImage | undefined): Promise<void> {
    const link = this.#d.link;
    if (!link) return;
    if (!held) {
      this.#log('info', 'slot.erase-at-link-up', {});
      this.#idleWindow = true;
      this.#eraseQuietUntil = () => link.quietUntil();
      this.#startEraseChain();
    }
    try {
      await link.up();
    } finally {
      this.#idleWindow = false;
    }
  }

  /**
   * The erase chain of #eraseWhileIdle/#eraseWhileLinkUp: one unit per tick while `#idleWindow`
   * is open, and with `#eraseQuietUntil` only when the longest unit so far fits before it.
   */
  #startEraseChain(): void {
    if (this.#erasing) return;
    this.#erasing = true;
    let units = 0;
    const clock = this.#d.clock;
    const tick = (): void => {
      let more = false;
      let gap = IDLE_ERASE_GAP_MS;
      const quietUntil = this.#eraseQuietUntil;
      if (!this.#stopped && this.#idleWindow && quietUntil && clock.now() + this.#eraseUnitMs > quietUntil()) {
        more = true; // not now: look again shortly
        gap = QUIET_LOOK_MS;
      } else if (!this.#stopped && this.#idleWindow) {
        try {
          const began = clock.now();
          more = this.#d.installer.eraseIdle();
          // The clock moved on while the erase blocked the MCU (the device's own time).
          this.#eraseUnitMs = Math.max(this.#eraseUnitMs, clock.now() - began);
          units++;
          if (!more && units > 1) this.#log('info', 'slot.erased-ahead', { steps: units });
        } catch (error) {
          // Not fatal: the next download erases as it goes. Not retried in this boot.
          this.#log('warn', 'slot.erase-ahead-failed', { reason: reasonOf(error), detail: describeError(error) });
        }
      }
      if (more) clock.setTimeout(tick, gap);
      else this.#erasing = false;
    };
    clock.setTimeout(tick, IDLE_ERASE_GAP_MS);
  }

  /**
   * Style rule 14: never start a download while the running image may still be reverted. An
   * unconfirmed image with no deployment in the journal (a lost or discarded journal, a factory
   * image flashed with a test trailer) was never health-checked by this agent.
   * - With a confirmed image in the secondary slot to go back to, it must not stay: after the
   *   health deadline, reset and let MCUboot revert.
   * - With nothing to revert to, a reset boots the same image again, for ever (issue 13.3): run
   *   the health check instead; confirm it when it passes, else say so and leave it running.
   */
  async #unconfirmed(running: string): Promise<Move<'idle'>> {
    const now = this.#d.clock.now();
    this.#unconfirmedSince ??= now;
    const deadlineS = this.#d.config.healthDeadlineS;
    if (!this.#d.installer.canRevert()) {
      const failure = await this.#checkHealth(running, undefined);
      if (!failure) {
        this.#d.installer.confirmRunning();
        this.#log('warn', 'idle.unconfirmed-confirmed', { running, why: 'unconfirmed with nothing to revert to; the health check passed' });
        return { edge: 'unconfirmed-adopted', sleepMs: 0 };
      }
      this.#log('error', 'idle.unconfirmed-unhealthy', { running, detail: failure.detail, why: 'nothing to revert to: left running unconfirmed, checked again after the health deadline' });
      return { edge: 'unconfirmed-unhealthy', sleepMs: deadlineS * 1000 };
    }
    const deadline = this.#unconfirmedSince + deadlineS * 1000;
    if (now >= deadline) {
      this.#log('error', 'idle.unconfirmed-revert', { running });
      return { edge: 'unconfirmed-revert', reboot: 'unconfirmed image without a deployment: revert' };
    }
    this.#log('warn', 'poll.refused', { reason: 'unconfirmed-running' });
    return { edge: 'unconfirmed-wait', sleepMs: deadline - now };
  }

  #notePollInterval(poll: PollResult): void {
    if (poll.pollIntervalS !== undefined && poll.pollIntervalS > 0) {
      this.#pollIntervalMs = Math.max(60, Math.min(7 * 86400, poll.pollIntervalS)) * 1000;
    }
  }

  #decide(offer: UpdateOffer, running: string, held: HeldImage | undefined): Move<'idle'> {
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
    if (this.#noteLinks(offer)) deployment.linkHeaders = true;
    // An action this device already ended, offered again, would end the same way (and its report
    // would overwrite the one the backend has): not taken again (HistoryRecorder.endedBefore).
    const ended = this.#d.history?.endedBefore(offer, running);
    if (ended) {
      if (this.#endedNoted !== offer.actionId) this.#log('info', 'deployment.already-ended', { action: offer.actionId, verdict: ended.verdict, ...(ended.reason !== undefined ? { reason: ended.reason } : {}), seq: ended.seq });
      this.#endedNoted = offer.actionId;
      return { edge: 'nothing', sleepMs: this.#pollIntervalMs };
    }
    const refusal = this.#refusal(offer, running);
    if (refusal) return { edge: 'refuse', deployment, outcome: { phase: 'failed', reason: refusal.reason, detail: refusal.detail } };
    if (offer.download === 'skip') return { edge: 'nothing', sleepMs: this.#pollIntervalMs };
    const kept = held && this.#sameArtifact(offer, held) ? held : undefined;
    // Download only, and the slot already holds it (a backend that keeps offering it): done.
    if (kept && !deployment.install) return { edge: 'nothing', sleepMs: this.#pollIntervalMs };
    const accepted = (size: number | undefined, reuse: boolean, delta?: number) => async () => {
      this.#log('info', 'deployment.accepted', { action: offer.actionId, version: offer.version, size, ...(reuse ? { reuse } : {}), ...(delta !== undefined ? { delta } : {}) });
      await this.#tryReport(deployment, 'accepted');
    };
    if (kept) {
      // The journal only says where to look: verify re-hashes the slot from flash and checks the
      // signature in the A5000 again before anything is staged; if it fails, download from 0.
      deployment.reuse = true;
      deployment.offset = kept.size;
      deployment.size = kept.size;
      return { edge: 'reuse', deployment, act: accepted(kept.size, true) };
    }
    // Delta hook: download the offer's delta instead when it was made from the running image.
    const delta = this.#d.delta?.plan(deployment, offer);
    return { edge: 'accept', deployment, act: accepted(offer.size, false, delta?.size) };
  }

  /** Whether the held image is the offered artifact (same SHA-256; without one, the same action). */
  #sameArtifact(offer: UpdateOffer, held: HeldImage): boolean {
    if (offer.size !== undefined && offer.size !== held.size) return false;
    return offer.sha256 !== undefined ? hex(offer.sha256) === held.sha256 : offer.actionId === held.actionId;
  }

  /** Why an offer is refused before a byte is fetched, or undefined to accept it. */
  #refusal(offer: UpdateOffer, running: string): { reason: Reason; detail: string } | undefined {
    const c = this.#d.config;
    // backend hook (issue 13): the backend's version is a label (v1.1.0, 1.1.0-rc.1, v1.5-release);
    // the header's version when the backend read it, else what the label names; neither: verify decides.
    const { cmp, exact } = labelOrder(offer.imageVersion ?? offer.version, running);
    if (cmp !== undefined && cmp < 0 && !c.allowDowngrade) return { reason: 'downgrade', detail: `${offer.version} is older than running ${running}` };
    if (cmp === 0 && (exact || offer.imageVersion !== undefined) && !c.allowSameVersion) return { reason: 'same-version', detail: `${offer.version} is already running` };
    if (offer.hardware && offer.hardware.length > 0 && !offer.hardware.includes(c.hardwareId)) {
      return { reason: 'incompatible', detail: `image is for ${offer.hardware.join(', ')}, this device is ${c.hardwareId}` };
    }
    // A backend that states the image's SEC_CNT lets a rollback be refused before the download;
    // the image's own TLV still decides at verify.
    if (offer.securityCounter !== undefined && offer.securityCounter < this.#minSecurityCounter) {
      return { reason: 'security-counter-rollback', detail: `the backend states SEC_CNT ${offer.securityCounter} < floor ${this.#minSecurityCounter}` };
    }
    return undefined;
  }

  // ── download: policy around the engine (src/net/download.ts) ─────────────────────────────

  /**
   * One attempt of the engine, from the flushed prefix. The machine keeps the policy: the
   * attempt count (retry policy), the byte budget, progress in the journal, cancel checks between
   * segments. Progress reports wait until a request ends: the modem carries one connection at a
   * time, and a report sent mid-body would cut the download it reports on.
   */
  async #download(deployment: Deployment): Promise<Move<'download'>> {
    const c = this.#d.config;
    const d: Deployment = { ...deployment };
    this.#d.delta?.select(d); // delta hook: the installer stages a delta's bytes
    const checkHeader = (header: ImageHeader) => this.#checkHeaderVersion(header, d);
    // Its own job: the resume re-hashes flash and erases the first unit (installer, slot writer,
    // flash port) below this step's frame otherwise.
    const start = await startAsJob(() => this.#d.installer.resume(d.offset, d.size, checkHeader));
    d.offset = start;
    this.#log('info', start > 0 ? 'download.resume' : 'download.start', { offset: start, attempt: d.attempts + 1 });
    // DDI `resumed` feedback (issue 13), once per resumed attempt (bounded by the retry policy).
    if (start > 0 && d.size !== undefined) await this.#tryReport(d, 'resumed', { done: start, total: d.size });
    const progress: AttemptProgress = { position: start, size: d.size, validator: d.validator, requests: 0, restarts: 0 };
    let lastSaved = start;
    let budgetSpent = false;
    let nextMark = this.#progressMark(d.size, start);
    let report: { done: number; total: number } | undefined;
    // A backend that cannot cancel gains nothing from segments: one request for the rest.
    const cancellable = this.#d.backend.cancellable === true;
    // perf (issue 15): when the deployment was last asked about (the poll that offered it, or a
    // boundary's cancel check). A boundary in the first half of a poll interval after it asks
    // nothing and sends nothing (at 921600 baud the first 256 KiB segment ends 3 s after the
    // poll: its check and progress report cost 0.6 s of a 12 s download); the segment after it is
    // sized to end one interval after that last check instead, so a cancel is still seen within
    // about one poll interval at the measured rate, and no segment is shorter than half of one.
    const clock = this.#d.clock;
    let checkedAt = clock.now();
    let end;
    try {
      end = await downloadAttempt({
        client: this.#d.http,
        clock: this.#d.clock,
        url: d.url,
        headers: await this.#linkHeaders(d),
        progress,
        segmentBytes: (last) =>
          !cancellable
            ? undefined
            : last
              ? nextSegmentBytes(last.bytes, last.ms, checkedAt + this.#pollIntervalMs - clock.now(), c.downloadSegmentBytes, c.downloadSegmentMaxBytes)
              : c.downloadSegmentBytes,
        // Between requests the modem is free: ask whether the deployment still stands, and send
        // progress when a quarter of the image has passed since the last (issue 13: at most four
        // per image, since each report also costs the poll its ETag; docs/benchmarks.md) -- once
        // half a poll interval has passed since the last check (see checkedAt).
        between: async () => {
          if (clock.now() - checkedAt < this.#pollIntervalMs / 2) return true;
          checkedAt = clock.now();
          if (await this.#cancelRequested(d)) return false;
          if (report) {
            await this.#tryReport(d, 'downloading', report);
            report = undefined;
          }
          return true;
        },
        // perf (issue 15): the request's round trip is idle link time; the next erase unit of the
        // slot is erased then instead of in series with the bytes that follow.
        idle: () => this.#d.installer.eraseAhead(),
        checkTotal: (total) => {
          if (total > c.maxBytesPerDeployment) throw new OtaError('too-large', `artifact is ${total} bytes`);
          if (d.size === undefined) nextMark = this.#progressMark(total, progress.position);
        },
        sink: {
          write: async (_offset, chunk) => {
            d.bytesFetched += chunk.length;
            if (d.bytesFetched > c.maxBytesPerDeployment) {
              budgetSpent = true;
              throw new OtaError('limit-exceeded', `fetched ${d.bytesFetched} bytes for one deployment`);
            }
            // The installer's work (image parser, TLVs, digest, slot writer, erases) runs as a job
            // of its own: on top of the socket read, the HTTP parser and this sink it was the
            // deepest JS stack of a download (docs/device-build.md, "Memory"). Flow control is
            // unchanged: this promise, which the parser and the socket wait for before they read on
            // or reuse the chunk's buffer, settles only once the installer has taken the chunk.
            await startAsJob(() => this.#d.installer.write(chunk));
            const flushed = this.#d.installer.flushed;
            if (flushed - lastSaved >= c.progressEveryBytes) {
              d.offset = flushed;
              d.size = progress.size;
              d.validator = progress.validator;
              lastSaved = flushed;
              this.journal.save({ state: 'download', deployment: d });
            }
            if (progress.size !== undefined && progress.position >= nextMark) {
              nextMark = this.#progressMark(progress.size, progress.position);
              report = { done: progress.position, total: progress.size };
            }
          },
          restart: async (why) => {
            // A 200 to a ranged request, a 416, a changed validator: the bytes in the slot are void.
            this.#log('warn', 'download.restart', { why, offset: progress.position });
            await this.#d.installer.resume(0, progress.size, checkHeader);
            d.offset = 0;
            lastSaved = 0;
            nextMark = this.#progressMark(progress.size, 0);
          },
        },
      });
    } catch (error) {
      if (report) await this.#tryReport(d, 'downloading', report);
      return this.#downloadFailed(d, start, progress, error, budgetSpent);
    }
    d.size = progress.size;
    d.validator = progress.validator;
    if (end === 'stopped') return { edge: 'cancel', deployment: { ...d, offset: this.#d.installer.flushed } };
    // The body is complete: everything goes to flash before 'verify' is persisted, so that after a
    // reset the verify step re-hashes exactly these bytes from flash.
    d.offset = this.#d.installer.seal();
    d.attempts = 0;
    this.#log('info', 'download.done', { bytes: d.offset, requests: progress.requests, fetched: d.bytesFetched });
    return { edge: 'done', deployment: d };
  }

  /**
   * The version policy on the image header, as soon as its 32 bytes are in: a single-file
   * deployment whose label did not show a downgrade (a free-form label, a backend that names one
   * version and serves another) stops there, not after the whole image. SEC_CNT is a TLV after
   * the body: verify checks it, and this check again, on the whole image.
   */
  #checkHeaderVersion(header: ImageHeader, d: Deployment): void {
    checkVersionPolicy({ version: header.version }, parseVersion(d.fromVersion), {
      allowDowngrade: this.#d.config.allowDowngrade,
      allowSameVersion: this.#d.config.allowSameVersion,
    });
  }

  /** Keeps the headers of `offer`'s artifact links for its action; true when any link has some. */
  #noteLinks(offer: UpdateOffer): boolean {
    const headers = new Map<string, Record<string, string>>();
    if (offer.headers !== undefined) headers.set(offer.url, offer.headers);
    for (const delta of offer.deltas ?? []) if (delta.headers !== undefined) headers.set(delta.url, delta.headers);
    this.#links = { actionId: offer.actionId, headers };
    return headers.size > 0;
  }

  /**
   * The headers of `d`'s link, from its offer. After a reset they are gone with the RAM: the
   * offer is fetched again for them. A failure here goes to the retry policy like the request's
   * own: a gone offer or a changed link is `url-expired` (refresh-url, or the delta fallback).
   */
  async #linkHeaders(d: Deployment): Promise<Record<string, string> | undefined> {
    if (this.#links?.actionId !== d.actionId) {
      if (d.linkHeaders !== true) return undefined;
      const fresh = await this.#d.backend.refreshOffer(d.actionId, { version: this.#d.installer.runningVersion() });
      if (fresh === undefined) throw new OtaError('url-expired', `action ${d.actionId} is no longer offered`);
      this.#noteLinks(fresh);
    }
    const headers = this.#links!.headers.get(d.url);
    if (headers === undefined && d.linkHeaders === true) throw new OtaError('url-expired', 'the offer no longer names this link');
    return headers;
  }

  /** The next position at which a progress report is due (every quarter of the image). */
  #progressMark(size: number | undefined, position: number): number {
    if (size === undefined) return Infinity;
    const quarter = Math.max(1, Math.ceil(size / 4));
    return (Math.floor(position / quarter) + 1) * quarter;
  }

  async #downloadFailed(d: Deployment, start: number, progress: AttemptProgress, error: unknown, budgetSpent: boolean): Promise<Move<'download'>> {
    const reason = reasonOf(error);
    const detail = describeError(error);
    d.size = progress.size;
    d.validator = progress.validator;
    // Keep what is safely in flash: the next attempt resumes there.
    d.offset = this.#d.installer.flushed;
    if (budgetSpent) return { edge: 'fail', deployment: d, outcome: { phase: 'failed', reason, detail } };
    const decision = this.#retry.decide(error, d.attempts, d.offset > start);
    d.attempts = decision.failures;
    this.#log('warn', 'download.failed', { reason, detail, offset: d.offset, attempt: d.attempts, action: decision.action });
    // Delta hook: a delta that cannot be had is replaced by the full image in this deployment; an
    // expired link is asked for again first (the delta's bytes in flash stay good for it).
    if (d.delta && !decision.exhausted && decision.action === 'refresh-url') return this.#refreshDeltaUrl(d, reason, detail);
    if (d.delta && (decision.exhausted || decision.action === 'fail')) return this.#deltaFallback('download', d, reason, detail);
    if (decision.exhausted) return { edge: 'fail', deployment: d, outcome: { phase: 'failed', reason: 'retries-exhausted', detail: decision.exhausted.detail } };
    switch (decision.action) {
      case 'fail':
        return { edge: 'fail', deployment: d, outcome: { phase: 'failed', reason, detail } };
      case 'restart':
        return { edge: 'restart', deployment: { ...d, offset: 0, validator: undefined } };
      case 'refresh-url':
        return this.#refreshUrl(d);
      case 'resume':
        this.#log('info', 'download.backoff', { delayMs: decision.delayMs, attempt: d.attempts });
        return { edge: 'retry', deployment: d, retryDelayMs: decision.delayMs, sleepMs: decision.delayMs };
    }
  }

  async #refreshUrl(d: Deployment): Promise<Move<'download'>> {
    const fresh = await this.#d.backend.refreshOffer(d.actionId, { version: this.#d.installer.runningVersion() }).catch(() => undefined);
    if (!fresh) {
      // An offer that is gone may be one the backend is cancelling (hawkBit then offers
      // cancelAction instead of deploymentBase, e.g. after a reset that lost the offer's headers):
      // that is a cancel to honour and confirm, not a failed download.
      if (await this.#cancelRequested(d)) return { edge: 'cancel', deployment: { ...d, offset: this.#d.installer.flushed } };
      return { edge: 'fail', deployment: d, outcome: { phase: 'failed', reason: 'url-expired', detail: 'the backend has no fresh URL' } };
    }
    // The fresh URL must name the same artifact, or the bytes already in the slot belong to
    // another image: then start over (the validator check would refuse a resume anyway).
    const freshSha = fresh.sha256 ? hex(fresh.sha256) : undefined;
    const next: Deployment = { ...d, url: fresh.url };
    if (this.#noteLinks(fresh)) next.linkHeaders = true;
    else delete next.linkHeaders;
    if ((fresh.size !== undefined && fresh.size !== d.size) || (freshSha !== undefined && freshSha !== d.sha256)) {
      this.#log('warn', 'download.artifact-changed', { size: fresh.size });
      next.size = fresh.size;
      next.sha256 = freshSha;
      next.offset = 0;
      next.validator = undefined;
    }
    return { edge: 'refresh-url', deployment: next };
  }

  /**
   * A delta's pre-signed URL expired: the fresh offer's delta with the same SHA-256 gives the new
   * URL, and the download resumes where it was (the same bytes; If-Range still guards them). The
   * full image's URL is refreshed with it, for a later fallback. No such delta in the fresh
   * offer, or no offer: the full image, as for any other delta failure.
   */
  async #refreshDeltaUrl(d: Deployment, reason: Reason, detail: string): Promise<Move<'download'>> {
    const delta = d.delta!;
    const fresh = await this.#d.backend.refreshOffer(d.actionId, { version: this.#d.installer.runningVersion() }).catch(() => undefined);
    // The journal keeps both URLs within one budget (plan() took the delta on the same rule).
    const same = fresh?.deltas?.find((x) => hex(x.sha256) === delta.sha256 && x.size === d.size && x.url.length + fresh.url.length <= JOURNAL_FIELD_MAX.url);
    if (!fresh || !same) return this.#deltaFallback('download', d, reason, fresh ? `${detail}; the fresh offer has no such delta` : `${detail}; the backend has no fresh URL`);
    const next: Deployment = { ...d, url: same.url, delta: { ...delta, fullUrl: fresh.url } };
    if (this.#noteLinks(fresh)) next.linkHeaders = true;
    else delete next.linkHeaders;
    this.#log('info', 'delta.url-refreshed', { offset: d.offset });
    return { edge: 'refresh-url', deployment: next };
  }

  // ── verify, stage, reboot ──────────────────────────────────────────────────────────────

  async #verify(d: Deployment): Promise<Move<'verify'>> {
    this.#log('info', 'verify.start', { bytes: d.offset });
    try {
      this.#d.delta?.select(d); // delta hook: reload decodes a staged delta into the slot
      // After a reset in 'verify' the installer re-hashes the sealed image from flash.
      await this.#d.installer.reload(d.offset);
      const info = await this.#d.installer.finish();
      const artifactSize = d.delta ? d.delta.fullSize : d.size;
      if (artifactSize !== undefined && info.imageSize > artifactSize) throw new OtaError('trailing-data', `image is ${info.imageSize} bytes, artifact ${d.size}`);
      // The header is the truth: a backend may name one version and serve another.
      checkVersionPolicy({ version: parseVersion(info.version), securityCounter: info.securityCounter }, parseVersion(d.fromVersion), {
        allowDowngrade: this.#d.config.allowDowngrade,
        allowSameVersion: this.#d.config.allowSameVersion,
        minSecurityCounter: this.#minSecurityCounter,
      });
      if (d.sha256 !== undefined && !bytesEqual(info.fileSha256, unhex(d.sha256))) {
        throw new OtaError('hash-mismatch', `artifact SHA-256 ${hex(info.fileSha256)} differs from the backend's ${d.sha256}`);
      }
      // The header's version is the truth from here on (the backend's string may lack +build);
      // the backend's label stays beside it, persisted, so reports after the reboot name it too.
      const verified: Deployment = { ...d, version: info.version };
      if (d.label === undefined && d.version !== info.version) verified.label = journalLabel(d.version);
      delete verified.reuse;
      if (!d.install) {
        // Download only: the final report says so (hawkBit closes a download-only action on
        // DOWNLOADED), so no separate 'downloaded' progress report goes before it.
        const held: HeldImage = { actionId: d.actionId, size: d.delta ? info.imageSize : d.offset, sha256: hex(info.fileSha256) };
        this.#log('info', 'download-only.kept', { action: d.actionId, version: info.version, bytes: d.offset });
        return { edge: 'download-only', deployment: verified, outcome: { phase: 'download-only', detail: 'verified and kept in the secondary slot, not installed' }, held };
      }
      await this.#tryReport(verified, 'downloaded');
      this.#verifiedInBoot = d.actionId;
      if (d.windowClosed) {
        return {
          edge: 'window-closed',
          deployment: verified,
          sleepMs: this.#pollIntervalMs,
          act: async () => {
            this.#log('info', 'window.wait', { action: d.actionId, version: info.version });
            await this.#tryReport(verified, 'waiting');
          },
        };
      }
      return { edge: 'verified', deployment: verified };
    } catch (error) {
      this.#d.installer.abandon();
      if (d.delta) return this.#deltaFallback('verify', d, reasonOf(error), describeError(error));
      if (d.reuse) {
        // The slot no longer holds what the journal said: fetch the artifact after all.
        this.#log('warn', 'reuse.failed', { reason: reasonOf(error), detail: describeError(error) });
        const fresh: Deployment = { ...d, offset: 0 };
        delete fresh.reuse;
        return { edge: 'reuse-failed', deployment: fresh };
      }
      const decision = this.#retry.decide(error, d.attempts, false);
      if (decision.action === 'resume' && !decision.exhausted) return { edge: 'retry', deployment: { ...d, offset: 0, attempts: decision.failures } };
      const reason = decision.exhausted ? 'retries-exhausted' : reasonOf(error);
      return { edge: 'fail', deployment: d, outcome: { phase: 'failed', reason, detail: describeError(error) } };
    }
  }

  async #stage(d: Deployment): Promise<Move<'stage'>> {
    // Persisted 'reboot' before marking pending would lose a verified-but-unstaged image after a
    // reset; persisted 'stage' (we are here) means: mark pending (idempotent), then say 'reboot'.
    if (this.#verifiedInBoot !== d.actionId) {
      const running = this.#d.installer.runningVersion();
      if (!this.#d.installer.runningConfirmed() && compareVersionText(running, d.version) === 0) {
        // The reset fell after the slot was marked pending and before 'reboot' was saved (the
        // 'staged' report and the cancel check lie between): MCUboot has swapped the image in.
        // Carry on as after the reboot: health check, then confirm or revert.
        this.#log('warn', 'stage.found-swapped', { version: running });
        return { edge: 'found-swapped', deployment: d };
      }
      // A reset came between verify and stage: verify again from flash before marking pending.
      return { edge: 'reverify', deployment: d };
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
      return { edge: 'stage-failed', deployment: { ...d, offset: 0 } };
    }
    await this.#tryReport(d, 'staged');
    return { edge: 'staged', deployment: d, act: () => this.#log('info', 'reboot.swap', { version: d.version }), reboot: `install ${d.version}` };
  }

  async #afterReboot(d: Deployment): Promise<Move<'reboot'>> {
    const running = this.#d.installer.runningVersion();
    if (compareVersionText(running, d.version) !== 0) {
      // MCUboot did not boot the new image (it failed validation, or a revert already happened).
      return { edge: 'reverted', deployment: d, outcome: { phase: 'reverted', reason: 'reverted', detail: `running ${running}, expected ${d.version}` } };
    }
    return { edge: 'booted', deployment: d };
  }

  // ── after the new image booted ─────────────────────────────────────────────────────────

  async #healthCheck(d: Deployment, pending: Outcome | undefined): Promise<Move<'health-check'>> {
    const running = this.#d.installer.runningVersion();
    if (compareVersionText(running, d.version) !== 0) {
      // A reset during the health check: MCUboot reverted the unconfirmed image.
      return {
        edge: 'reverted',
        deployment: d,
        outcome: { phase: 'reverted', reason: pending?.reason ?? 'reverted', detail: pending?.detail ?? `running ${running} after a reset during the health check` },
      };
    }
    this.#log('info', 'health.start', { version: d.version });
    let polled: PollResult | undefined;
    const failure = await this.#checkHealth(running, (poll) => (polled = poll));
    if (failure) {
      // Leave the reason for the next boot, then reset: MCUboot reverts the unconfirmed image.
      return {
        edge: 'unhealthy',
        deployment: d,
        outcome: { phase: 'reverted', ...failure },
        act: () => this.#log('error', 'health.failed', failure),
        reboot: 'health check failed: revert',
      };
    }
    return { edge: 'healthy', deployment: d, ...(polled ? { polled } : {}) };
  }

  /**
   * The health check of a running image: the application's own check, then reaching the backend
   * (an image that cannot update again must not stay), within the health deadline. A freshly
   * booted modem answers its first requests with transient errors (SIM7600: ERROR while the
   * bearer settles): those are retried with the retry policy's backoff until the deadline.
   */
  async #checkHealth(running: string, onPoll: ((poll: PollResult) => void) | undefined): Promise<{ reason: Reason; detail: string } | undefined> {
    const deadlineS = this.#d.config.healthDeadlineS;
    const deadline = this.#d.clock.now() + deadlineS * 1000;
    try {
      const healthy = await this.#withDeadline(
        (async () => {
          const appOk = this.#d.healthCheck ? await this.#d.healthCheck() : true;
          if (!appOk) throw new OtaError('health-check-failed', 'the application reported unhealthy');
          for (let attempt = 1; ; attempt++) {
            try {
              const poll = await this.#d.backend.poll({ version: running });
              this.#notePollInterval(poll);
              onPoll?.(poll);
              return true;
            } catch (error) {
              const wait = this.#retry.delayMs(attempt, error);
              if (retryAction(error) !== 'resume' || this.#d.clock.now() + wait >= deadline) throw error;
              this.#log('warn', 'health.poll-retry', { reason: reasonOf(error), attempt, delayMs: wait });
              await this.#sleep(wait);
            }
          }
        })(),
        deadline,
      );
      if (!healthy) return { reason: 'health-check-failed', detail: `not healthy within ${deadlineS} s` };
      return undefined;
    } catch (error) {
      return { reason: 'health-check-failed', detail: describeError(error) };
    }
  }

  /**
   * Confirm only the image the deployment installed: a reset after the health check passed and
   * before image_ok was programmed boots MCUboot's revert, and the agent comes back here on the
   * old image. That is a revert, never a success (issue 17.1), as #healthCheck also decides.
   */
  async #confirm(d: Deployment): Promise<Move<'confirm'>> {
    const running = this.#d.installer.runningVersion();
    if (compareVersionText(running, d.version) !== 0) {
      return {
        edge: 'reverted',
        deployment: d,
        outcome: { phase: 'reverted', reason: 'reverted', detail: `running ${running} after a reset before ${d.version} was confirmed: MCUboot reverted it` },
      };
    }
    this.#log('info', 'confirm.start', { version: d.version });
    this.#d.installer.confirmRunning();
    this.#log('info', 'image.confirmed', { version: d.version });
    try {
      this.#securityFloor.raise(this.#d.installer.runningSecurityCounter());
    } catch (error) {
      // The running image's own SEC_CNT still holds the floor at the next boot.
      this.#log('warn', 'security-floor.write-failed', { reason: reasonOf(error), detail: describeError(error) });
    }
    const note = deliveryNote(d);
    return { edge: 'confirmed', deployment: d, outcome: note === undefined ? { phase: 'running' } : { phase: 'running', detail: note } };
  }

  /** Delta updates: any failure of the delta falls back to the full image, in the same deployment (once). */
  #deltaFallback<S extends 'download' | 'verify'>(from: S, d: Deployment, reason: Reason, detail: string): Move<S> {
    this.#log('warn', 'delta.failed', { from, reason, detail, fallback: 'full' });
    return { edge: 'delta-fallback' as EdgeName<S>, deployment: fallBackToFull(d, reason) };
  }

  // ── wait for the maintenance window ───────────────────────────────────────────────────────

  /**
   * The image verified; the backend's maintenance window is closed. One poll per step at the
   * server's interval, and no journal write until something changes (the write budget).
   */
  async #wait(d: Deployment): Promise<Move<'wait'>> {
    let poll: PollResult;
    try {
      poll = await this.#d.backend.poll({ version: this.#d.installer.runningVersion() });
    } catch (error) {
      this.#log('warn', 'poll.failed', { reason: reasonOf(error), detail: describeError(error) });
      return { edge: 'closed', deployment: d, sleepMs: this.#pollIntervalMs };
    }
    this.#notePollInterval(poll);
    const offer = poll.offer;
    if (poll.cancelActionId !== d.actionId && (!offer || offer.actionId !== d.actionId)) {
      // The action was closed or replaced on the server: nothing to install; idle decides anew.
      this.#log('warn', 'window.withdrawn', { action: d.actionId, offered: offer?.actionId });
      this.#verifiedInBoot = undefined;
      return { edge: 'withdrawn', deployment: d };
    }
    if (!offer || offer.maintenanceWindow === 'unavailable' || offer.update === 'skip') return { edge: 'closed', deployment: d, sleepMs: this.#pollIntervalMs, polled: poll };
    this.#log('info', 'window.open', { action: d.actionId });
    const open: Deployment = { ...d };
    delete open.windowClosed;
    // 'stage' verifies again first when the image was not verified in this boot.
    return { edge: 'open', deployment: open, polled: poll };
  }

  // ── cancel ─────────────────────────────────────────────────────────────────────────────

  /** Whether the backend asks to cancel this deployment. A failed poll is no cancel (asked again later). */
  async #cancelRequested(d: Deployment): Promise<boolean> {
    if (this.#d.backend.cancellable !== true) return false;
    let poll: PollResult;
    try {
      const backend = this.#d.backend;
      const current = { version: this.#d.installer.runningVersion() };
      poll = await (backend.pollCancel ? backend.pollCancel(current) : backend.poll(current));
    } catch (error) {
      this.#log('warn', 'cancel.check-failed', { reason: reasonOf(error), detail: describeError(error) });
      return false;
    }
    this.#notePollInterval(poll);
    if (poll.cancelActionId !== d.actionId) return false;
    this.#log('info', 'cancel.requested', { action: d.actionId, state: this.journal.record.state });
    return true;
  }

  /** Answer a cancel that cannot be fulfilled (best effort: the backend asks again if it is lost). */
  async #rejectCancel(d: Deployment, state: State): Promise<void> {
    this.#log('warn', 'cancel.rejected', { action: d.actionId, state });
    await this.#d.backend.acknowledgeCancel(d.actionId, false).catch((error: unknown) =>
      this.#log('warn', 'cancel.ack-failed', { reason: reasonOf(error), detail: describeError(error) }),
    );
  }

  // ── report ─────────────────────────────────────────────────────────────────────────────

  /**
   * Deliver the outcome. A cancel's `cancelled` report is the backend's confirmation (hawkBit:
   * cancelAction feedback closed/success); a repeated one after a reset answers 410, which counts
   * as delivered.
   */
  async #report(d: Deployment, outcome: Outcome, held: HeldImage | undefined): Promise<StepResult> {
    try {
      // Its own job, as #tryReport's: the backend's layers (history, JSON request, client) start from the job queue.
      await startAsJob(() => this.#d.backend.report(this.#reportOf(d, outcome.phase, undefined, outcome)));
    } catch (error) {
      if (reasonOf(error) !== 'backend-gone') {
        // The outcome stays in the journal until the backend has it.
        this.#reportFailures++;
        this.#log('warn', 'report.failed', { reason: reasonOf(error), detail: describeError(error), attempt: this.#reportFailures });
        return this.#take('report', { edge: 'retry', deployment: d, outcome, sleepMs: Math.max(1000, this.#retry.delayMs(this.#reportFailures, error)) });
      }
      // 410: the action is no longer active on the server (a confirmation sent again after a
      // reset, an action closed elsewhere). Nothing more can be delivered: done.
      this.#log('warn', 'report.gone', { action: d.actionId, phase: outcome.phase });
    }
    this.#reportFailures = 0;
    // A download-only image stays in the slot: the idle record remembers it for a later install.
    const keep = outcome.phase === 'download-only' ? held : undefined;
    return this.#take('report', {
      edge: 'delivered',
      ...(keep ? { held: keep } : {}),
      sleepMs: this.#pollIntervalMs,
      act: () => this.#log('info', 'deployment.reported', { action: d.actionId, phase: outcome.phase, reason: outcome.reason }),
    });
  }

  #reportOf(d: Deployment, phase: Report['phase'], progress?: Report['progress'], outcome?: Outcome): Report {
    return {
      actionId: d.actionId,
      phase,
      version: d.version,
      label: d.label,
      runningVersion: this.#d.installer.runningVersion(),
      progress,
      reason: outcome?.reason,
      detail: outcome?.detail,
    };
  }

  /** Progress reports are best effort: a lost one must not fail the download. */
  async #tryReport(d: Deployment, phase: Report['phase'], progress?: Report['progress']): Promise<void> {
    try {
      // As a job (src/util/stack.ts): a report is called from deep in a state's work (a download
      // segment, a verify), and its own chain (history, backend, JSON over HTTP, the modem) was
      // the deepest JS stack of an update on top of that.
      await startAsJob(() => this.#d.backend.report(this.#reportOf(d, phase, progress)));
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

/** Between two units of the idle erase, ms: timers, the UART and the modem's URCs run in between. */
const IDLE_ERASE_GAP_MS = 5;
/** How often the link-up erase looks for a quiet wait of the bring-up, ms (a timer, not a unit: nothing blocks). */
const QUIET_LOOK_MS = 50;

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
