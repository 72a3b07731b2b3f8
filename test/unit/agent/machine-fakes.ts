/**
 * The parts around the state machine reduced to recorded fakes, shared by the machine's specs: a
 * backend that offers one deployment, an HTTP client serving one artifact (with injectable
 * failures), an installer that tracks slot state as MCUboot would, and a key-value store that
 * fails on demand. The real parts meet in the end-to-end suites.
 */
import { useDelta, type DeltaHook } from '../../../src/delta/plan.js';
import { createHash } from 'node:crypto';
import type { PollResult, Report, UpdateBackend, UpdateOffer } from '../../../src/backend/backend.js';
import { resolveConfig } from '../../../src/agent/config.js';
import type { ImageInfo, Installer } from '../../../src/agent/installer.js';
import { UpdateAgent, type LinkBringUp, type StepResult } from '../../../src/agent/machine.js';
import type { HttpBodySink, HttpClient, HttpRequest, HttpResponseHead } from '../../../src/net/http.js';
import type { KeyValuePort } from '../../../src/platform/key-value.js';
import { OtaError } from '../../../src/util/errors.js';
import { SimKeyValue } from '../../../tools/devkit/parts/sim-key-value.js';
import { VirtualTime } from '../../../tools/devkit/parts/virtual-time.js';

export const ARTIFACT = new Uint8Array(20_000).map((_, i) => (i * 7) & 0xff);

export class FakeBackend implements UpdateBackend {
  cancellable = true;
  reports: Report[] = [];
  offer: UpdateOffer | undefined;
  polls = 0;
  failPolls = 0;
  /** hawkBit-like: a pending cancel replaces the deployment in the poll answer. */
  cancelId: string | undefined;
  acks: { actionId: string; stopped: boolean }[] = [];
  /** Called at every report (tests change the server from here). */
  onReport: ((report: Report) => void) | undefined;
  /** Reports that fail with this reason (once each) before they are delivered. */
  failReports: OtaError[] = [];
  constructor(offer?: Partial<UpdateOffer>) {
    this.offer = offer && { actionId: '7', version: '1.3.0+5', url: 'https://srv/a.bin', download: 'forced', update: 'forced', ...offer };
  }
  async poll(): Promise<PollResult> {
    this.polls++;
    if (this.failPolls > 0) {
      this.failPolls--;
      throw new OtaError('backend-unavailable', 'down');
    }
    if (this.cancelId !== undefined) return { cancelActionId: this.cancelId, pollIntervalS: 600 };
    return { offer: this.offer, pollIntervalS: 600 };
  }
  async report(report: Report): Promise<void> {
    const failure = this.failReports.shift();
    if (failure) throw failure;
    this.reports.push(report);
    if (['running', 'failed', 'reverted', 'cancelled', 'download-only'].includes(report.phase)) this.offer = undefined;
    if (report.phase === 'cancelled') this.cancelId = undefined;
    this.onReport?.(report);
  }
  async acknowledgeCancel(actionId: string, stopped: boolean): Promise<void> {
    this.acks.push({ actionId, stopped });
  }
  async refreshOffer(): Promise<UpdateOffer | undefined> {
    return this.offer && { ...this.offer, url: 'https://srv/fresh.bin' };
  }
}

export class FakeHttp implements HttpClient {
  requests: HttpRequest[] = [];
  /** Per request: drop the link after this many body bytes. */
  dropAt: (number | undefined)[] = [];
  /** The reason a drop fails with (the AT engine raises at-garbled on a noise line mid-body). */
  dropReason: OtaError['reason'] = 'link-lost';
  status: number[] = [];
  /** A download link that needs this Authorization header: 401 without it. */
  requireAuthorization: string | undefined;
  bytesServed = 0;
  async request(request: HttpRequest, sink: HttpBodySink): Promise<HttpResponseHead> {
    this.requests.push(request);
    const denied = this.requireAuthorization !== undefined && request.headers?.authorization !== this.requireAuthorization;
    const status = denied ? 401 : this.status.shift();
    const start = request.range?.start ?? 0;
    const last = Math.min(request.range?.end ?? ARTIFACT.length - 1, ARTIFACT.length - 1);
    const head: HttpResponseHead =
      status !== undefined
        ? { status, headers: { 'retry-after': '120' } }
        : request.range
          ? { status: 206, headers: { etag: '"e1"' }, contentLength: last + 1 - start, range: { start, end: last, total: ARTIFACT.length } }
          : { status: 200, headers: { etag: '"e1"' }, contentLength: ARTIFACT.length, range: { start: 0, end: ARTIFACT.length - 1, total: ARTIFACT.length } };
    // As the modem's socket client: the request is out before any answer is read.
    sink.onSent?.();
    sink.onHead?.(head);
    const drop = this.dropAt.shift();
    for (let o = start; o <= last; o += 1000) {
      if (drop !== undefined && o - start >= drop) throw new OtaError(this.dropReason, `dropped after ${o - start}`);
      await sink.onData(ARTIFACT.subarray(o, Math.min(o + 1000, last + 1)));
    }
    this.bytesServed += last + 1 - start;
    return head;
  }
}

export class FakeInstaller implements Installer {
  running = '1.2.3+4';
  confirmed = true;
  pending = false;
  slot = new Uint8Array(ARTIFACT.length);
  flushed = 0;
  written = 0;
  imageVersion = '1.3.0+5';
  rejectWith: OtaError | undefined;
  finishes = 0;
  abandons = 0;
  /** The Installer contract's states (test/support/installer-contract.ts): what the real one refuses, this refuses. */
  #writing = false;
  #sealed = false;
  #verified = false;
  async resume(offset: number): Promise<number> {
    this.flushed = offset - (offset % 4096);
    this.written = this.flushed;
    this.#writing = true;
    this.#sealed = false;
    this.#verified = false;
    return this.flushed;
  }
  async write(chunk: Uint8Array): Promise<void> {
    if (!this.#writing) throw new OtaError('bad-state', 'write before resume or after seal');
    if (this.written + chunk.length > this.slot.length) throw new OtaError('trailing-data', `${this.written + chunk.length - this.slot.length} bytes after the image`);
    this.slot.set(chunk, this.written);
    this.written += chunk.length;
    this.flushed = this.written - (this.written % 4096);
  }
  /** Idle moments the machine offered for an erase ahead (the download's requests in flight). */
  idleCalls = 0;
  eraseAhead(): void {
    this.idleCalls++;
  }
  /** Idle erase units the machine asked for between polls; `idleEraseUnits` of them are left. */
  idleEraseCalls = 0;
  idleEraseUnits = 0;
  eraseIdle(): boolean {
    this.idleEraseCalls++;
    if (this.idleEraseUnits > 0) this.idleEraseUnits--;
    return this.idleEraseUnits > 0;
  }
  seal(): number {
    if (!this.#writing) throw new OtaError('bad-state', 'seal before resume');
    this.#writing = false;
    this.#sealed = true;
    this.flushed = this.written;
    return this.written;
  }
  async reload(length: number): Promise<void> {
    this.written = length;
    this.flushed = length;
    this.#writing = false;
    this.#sealed = true;
    this.#verified = false;
  }
  /** How many finishes fail with rejectWith (undefined: all). */
  rejectTimes: number | undefined;
  /** SEC_CNT of the image in the slot (undefined: no TLV). */
  securityCounter: number | undefined;
  async finish(): Promise<ImageInfo> {
    if (!this.#sealed) throw new OtaError('bad-state', 'finish before seal or reload');
    this.finishes++;
    if (this.rejectWith && (this.rejectTimes === undefined || this.rejectTimes-- > 0)) throw this.rejectWith;
    this.#verified = true;
    return { version: this.imageVersion, securityCounter: this.securityCounter, imageSize: this.written, fileSha256: new Uint8Array(createHash('sha256').update(this.slot).digest()) };
  }
  /** The next stage() fails (a torn trailer write). */
  failStage = false;
  /** confirmRunning() fails (the flash refuses the image_ok write). */
  failConfirm = false;
  stage(): void {
    if (this.failStage) {
      this.failStage = false;
      throw new OtaError('trailer-invalid', 'torn trailer (injected)');
    }
    if (!this.#verified) throw new OtaError('bad-state', 'stage before the image verified');
    this.pending = true;
  }
  abandon(): void {
    this.abandons++;
    this.pending = false;
    this.#verified = false;
  }
  runningVersion(): string {
    return this.running;
  }
  runningConfirmed(): boolean {
    return this.confirmed;
  }
  /** SEC_CNT of the running image. */
  runningCounter: number | undefined;
  runningSecurityCounter(): number | undefined {
    return this.runningCounter;
  }
  /** After a test swap the previous image is in the secondary; a factory test image has none. */
  secondaryHoldsImage = true;
  canRevert(): boolean {
    return this.secondaryHoldsImage;
  }
  confirmRunning(): void {
    if (this.failConfirm) throw new OtaError('flash-readback', 'image_ok did not program (injected)');
    this.confirmed = true;
  }
  oldCounter: number | undefined;
  /** What MCUboot does at a reset: swap a pending image in (unconfirmed), or revert an unconfirmed one. */
  boot(): void {
    if (this.pending) {
      this.pending = false;
      this.oldCounter = this.runningCounter;
      this.running = this.imageVersion;
      this.runningCounter = this.securityCounter;
      this.confirmed = false;
    } else if (!this.confirmed) {
      this.running = '1.2.3+4';
      this.runningCounter = this.oldCounter;
      this.confirmed = true;
    }
  }
}

export function setup(offer?: Partial<UpdateOffer>, config: Record<string, unknown> = {}) {
  const time = new VirtualTime();
  const kv = new SimKeyValue();
  const backend = new FakeBackend(offer ?? {});
  const http = new FakeHttp();
  const installer = new FakeInstaller();
  const logs: string[] = [];
  /** Every edge the machine took, as `from.edge` (from its `edge` log lines). */
  const edges: string[] = [];
  let reboots = 0;
  let healthy = true;
  const make = (options: { clockRestartsAtBoot?: boolean; keyValue?: KeyValuePort; randomSeed?: number; seedSource?: () => Promise<number>; minSecurityCounter?: number; delta?: DeltaHook; link?: LinkBringUp } = {}) =>
    new UpdateAgent({
      config: resolveConfig({ url: 'https://srv', deviceId: 'dev1', retryBaseS: 10, ...config }),
      backend,
      http,
      installer,
      keyValue: options.keyValue ?? kv,
      clock: options.clockRestartsAtBoot ? time.bootClockPort() : time.clockPort(),
      reboot: { reboot: () => void reboots++ },
      log: {
        log: (_l, event, fields) => {
          logs.push(event);
          if (event === 'edge') edges.push(`${fields?.from}.${fields?.edge}`);
        },
      },
      healthCheck: async () => healthy,
      randomSeed: options.randomSeed,
      seedSource: options.seedSource,
      minSecurityCounter: options.minSecurityCounter,
      delta: options.delta,
      link: options.link,
    });
  return {
    time, kv, backend, http, installer, logs, edges, make,
    get reboots() { return reboots; },
    setHealthy(v: boolean) { healthy = v; },
  };
}

/**
 * The machine's side of delta updates (src/delta/plan.ts) without a decoder: takes the offer's
 * first delta as src/delta/delta-installer.ts does when the running image matches.
 */
export const fakeDeltaHook: DeltaHook = {
  plan(deployment, offer) {
    const delta = offer.deltas?.[0];
    if (delta) useDelta(deployment, offer, delta);
    return delta;
  },
  select() {},
};

/** A delta offer for the fakes: the whole ARTIFACT stands in for the delta's bytes. */
export function deltaOffer(): Partial<UpdateOffer> {
  return { size: ARTIFACT.length, deltas: [{ url: 'https://srv/a.from-1.2.3.vcdiff', size: ARTIFACT.length, sha256: new Uint8Array(32).fill(1), fromVersion: '1.2.3+4', fromImageHash: new Uint8Array(32).fill(2) }] };
}

/** Step an agent until it asks for a reboot or goes idle with nothing to do; returns the results. */
export async function drive(agent: UpdateAgent, time: VirtualTime, maxSteps = 50): Promise<StepResult[]> {
  const results: StepResult[] = [];
  for (let i = 0; i < maxSteps; i++) {
    const r = await time.runFor(agent.step());
    results.push(r);
    if (r.rebooting || (r.state === 'idle' && i > 0)) break;
    if (r.sleepMs > 0) await time.advance(r.sleepMs);
  }
  return results;
}

