/**
 * The state machine's decisions, with the parts around it reduced to recorded fakes: a backend
 * that offers one deployment, an HTTP client serving one artifact (with injectable failures),
 * and an installer that tracks slot state. The real parts meet in the end-to-end suites.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { PollResult, Report, UpdateBackend, UpdateOffer } from '../../../src/backend/backend.js';
import { resolveConfig } from '../../../src/agent/config.js';
import type { ImageInfo, Installer } from '../../../src/agent/installer.js';
import { UpdateAgent, type StepResult } from '../../../src/agent/machine.js';
import type { HttpBodySink, HttpClient, HttpRequest, HttpResponseHead } from '../../../src/net/http.js';
import { OtaError } from '../../../src/util/errors.js';
import { SimKeyValue } from '../../../tools/devkit/sim-key-value.js';
import { VirtualTime } from '../../../tools/devkit/virtual-time.js';

const ARTIFACT = new Uint8Array(20_000).map((_, i) => (i * 7) & 0xff);

class FakeBackend implements UpdateBackend {
  reports: Report[] = [];
  offer: UpdateOffer | undefined;
  polls = 0;
  failPolls = 0;
  constructor(offer?: Partial<UpdateOffer>) {
    this.offer = offer && { actionId: '7', version: '1.3.0+5', url: 'https://srv/a.bin', download: 'forced', update: 'forced', ...offer };
  }
  async poll(): Promise<PollResult> {
    this.polls++;
    if (this.failPolls > 0) {
      this.failPolls--;
      throw new OtaError('backend-unavailable', 'down');
    }
    return { offer: this.offer, pollIntervalS: 600 };
  }
  async report(report: Report): Promise<void> {
    this.reports.push(report);
    if (report.phase === 'running' || report.phase === 'failed' || report.phase === 'reverted') this.offer = undefined;
  }
  async acknowledgeCancel(): Promise<void> {}
  async refreshOffer(): Promise<UpdateOffer | undefined> {
    return this.offer && { ...this.offer, url: 'https://srv/fresh.bin' };
  }
}

class FakeHttp implements HttpClient {
  requests: HttpRequest[] = [];
  /** Per request: drop the link after this many body bytes. */
  dropAt: (number | undefined)[] = [];
  status: number[] = [];
  async request(request: HttpRequest, sink: HttpBodySink): Promise<HttpResponseHead> {
    this.requests.push(request);
    const status = this.status.shift();
    const start = request.range?.start ?? 0;
    const head: HttpResponseHead =
      status !== undefined
        ? { status, headers: { 'retry-after': '120' } }
        : start > 0
          ? { status: 206, headers: { etag: '"e1"' }, contentLength: ARTIFACT.length - start, range: { start, end: ARTIFACT.length - 1, total: ARTIFACT.length } }
          : { status: 200, headers: { etag: '"e1"' }, contentLength: ARTIFACT.length, range: { start: 0, end: ARTIFACT.length - 1, total: ARTIFACT.length } };
    sink.onHead?.(head);
    const drop = this.dropAt.shift();
    for (let o = start; o < ARTIFACT.length; o += 1000) {
      if (drop !== undefined && o - start >= drop) throw new OtaError('link-lost', `dropped after ${o - start}`);
      await sink.onData(ARTIFACT.subarray(o, Math.min(o + 1000, ARTIFACT.length)));
    }
    return head;
  }
}

class FakeInstaller implements Installer {
  running = '1.2.3+4';
  confirmed = true;
  pending = false;
  slot = new Uint8Array(ARTIFACT.length);
  flushed = 0;
  written = 0;
  imageVersion = '1.3.0+5';
  rejectWith: OtaError | undefined;
  async resume(offset: number): Promise<number> {
    this.flushed = offset - (offset % 4096);
    this.written = this.flushed;
    return this.flushed;
  }
  async write(chunk: Uint8Array): Promise<void> {
    this.slot.set(chunk, this.written);
    this.written += chunk.length;
    this.flushed = this.written - (this.written % 4096);
  }
  seal(): number {
    this.flushed = this.written;
    return this.written;
  }
  async reload(length: number): Promise<void> {
    this.written = length;
    this.flushed = length;
  }
  async finish(): Promise<ImageInfo> {
    if (this.rejectWith) throw this.rejectWith;
    return { version: this.imageVersion, imageSize: this.written, fileSha256: new Uint8Array(createHash('sha256').update(this.slot).digest()) };
  }
  stage(): void {
    this.pending = true;
  }
  abandon(): void {
    this.pending = false;
  }
  runningVersion(): string {
    return this.running;
  }
  runningConfirmed(): boolean {
    return this.confirmed;
  }
  confirmRunning(): void {
    this.confirmed = true;
  }
  /** What MCUboot does at a reset: swap a pending image in (unconfirmed), or revert an unconfirmed one. */
  boot(): void {
    if (this.pending) {
      this.pending = false;
      this.running = this.imageVersion;
      this.confirmed = false;
    } else if (!this.confirmed) {
      this.running = '1.2.3+4';
      this.confirmed = true;
    }
  }
}

function setup(offer?: Partial<UpdateOffer>, config: Record<string, unknown> = {}) {
  const time = new VirtualTime();
  const kv = new SimKeyValue();
  const backend = new FakeBackend(offer ?? {});
  const http = new FakeHttp();
  const installer = new FakeInstaller();
  const logs: string[] = [];
  let reboots = 0;
  let healthy = true;
  const make = () =>
    new UpdateAgent({
      config: resolveConfig({ serverUrl: 'https://srv', deviceId: 'dev1', retryBaseS: 10, ...config }),
      backend,
      http,
      installer,
      keyValue: kv,
      clock: time.clockPort(),
      reboot: { reboot: () => void reboots++ },
      log: { log: (_l, event) => void logs.push(event) },
      healthCheck: async () => healthy,
    });
  return {
    time, kv, backend, http, installer, logs, make,
    get reboots() { return reboots; },
    setHealthy(v: boolean) { healthy = v; },
  };
}

/** Step an agent until it asks for a reboot or goes idle with nothing to do; returns the results. */
async function drive(agent: UpdateAgent, time: VirtualTime, maxSteps = 50): Promise<StepResult[]> {
  const results: StepResult[] = [];
  for (let i = 0; i < maxSteps; i++) {
    const r = await time.runFor(agent.step());
    results.push(r);
    if (r.rebooting || (r.state === 'idle' && i > 0)) break;
    if (r.sleepMs > 0) await time.advance(r.sleepMs);
  }
  return results;
}

describe('agent state machine', () => {
  it('runs a whole update: download, verify, stage, reboot, health check, confirm, report', async () => {
    const s = setup();
    let r = await drive(s.make(), s.time);
    assert.equal(r.at(-1)!.rebooting, true);
    assert.equal(s.installer.pending, true);
    assert.deepEqual(s.installer.slot, ARTIFACT);
    assert.ok(!s.backend.reports.some((x) => x.phase === 'running'), 'no success before the new image ran');
    s.installer.boot();
    r = await drive(s.make(), s.time);
    assert.equal(s.installer.running, '1.3.0+5');
    assert.equal(s.installer.confirmed, true);
    const phases = s.backend.reports.map((x) => x.phase);
    assert.deepEqual(phases, ['accepted', 'downloaded', 'staged', 'running']);
    assert.equal(s.kv.entries()['xs-ota.journal'] !== undefined, true);
  });

  it('resumes after a dropped link from the last flushed sector, with If-Range', async () => {
    const s = setup();
    s.http.dropAt = [9000];
    await drive(s.make(), s.time);
    assert.equal(s.http.requests.length, 2);
    assert.deepEqual(s.http.requests[1].range, { start: 8192, ifRange: '"e1"' });
    assert.deepEqual(s.installer.slot, ARTIFACT);
    // Progress goes out between requests (the modem carries one connection at a time).
    const progress = s.backend.reports.find((r) => r.phase === 'downloading');
    assert.deepEqual(progress?.progress, { done: 5000, total: ARTIFACT.length }); // the last quarter mark passed
  });

  it('resumes after a reset mid-download from the journal', async () => {
    const s = setup({}, { progressEveryBytes: 4096 });
    s.http.dropAt = [13_000];
    const agent = s.make();
    // First attempt drops; instead of the backoff, simulate a reset: a new agent on the same journal.
    await s.time.runFor(agent.step()); // idle → download
    await s.time.runFor(agent.step()); // download fails
    const resumed = await drive(s.make(), s.time);
    assert.equal(resumed.at(-1)!.rebooting, true);
    assert.equal(s.http.requests[1].range?.start, 12_288);
  });

  it('backs off with jitter on 503 and honours Retry-After', async () => {
    const s = setup();
    s.http.status = [503];
    const agent = s.make();
    await s.time.runFor(agent.step());
    const r = await s.time.runFor(agent.step());
    assert.equal(r.state, 'download');
    assert.ok(r.sleepMs >= 120_000, `slept ${r.sleepMs} ms`);
  });

  it('fails with retries-exhausted after maxAttempts, and reports it', async () => {
    const s = setup({}, { maxAttempts: 3 });
    s.http.dropAt = [100, 100, 100, 100];
    await drive(s.make(), s.time);
    const last = s.backend.reports.at(-1)!;
    assert.equal(last.phase, 'failed');
    assert.equal(last.reason, 'retries-exhausted');
    assert.equal(s.installer.pending, false);
  });

  it('refuses a downgrade before downloading', async () => {
    const s = setup({ version: '1.0.0' });
    await drive(s.make(), s.time);
    assert.equal(s.http.requests.length, 0);
    assert.equal(s.backend.reports.at(-1)!.reason, 'downgrade');
  });

  it('refuses an image the installer rejects, never staging it', async () => {
    const s = setup();
    s.installer.rejectWith = new OtaError('bad-signature', 'SE says no');
    await drive(s.make(), s.time);
    assert.equal(s.installer.pending, false);
    assert.equal(s.backend.reports.at(-1)!.reason, 'bad-signature');
    assert.equal(s.reboots, 0);
  });

  it('detects a revert after a failed health check and reports it, not success', async () => {
    const s = setup();
    await drive(s.make(), s.time);
    s.installer.boot();
    s.setHealthy(false);
    const r = await drive(s.make(), s.time);
    assert.equal(r.at(-1)!.rebooting, true);
    s.installer.boot(); // unconfirmed: MCUboot reverts
    await drive(s.make(), s.time);
    const last = s.backend.reports.at(-1)!;
    assert.equal(last.phase, 'reverted');
    assert.equal(last.reason, 'health-check-failed');
    assert.ok(!s.backend.reports.some((x) => x.phase === 'running'));
  });

  it('re-requests an expired URL', async () => {
    const s = setup();
    s.http.status = [403];
    await drive(s.make(), s.time);
    assert.equal(s.http.requests[1].url, 'https://srv/fresh.bin');
  });

  it('an expired URL refreshed to another artifact starts over instead of resuming', async () => {
    const sha = new Uint8Array(createHash('sha256').update(ARTIFACT).digest());
    const s = setup({ sha256: new Uint8Array(32), size: ARTIFACT.length });
    s.http.dropAt = [9000];
    s.http.status = [];
    // First request drops at 9000 bytes; the resume meets 403; the refreshed offer names other bytes.
    const original = s.http.request.bind(s.http);
    let calls = 0;
    s.http.request = async (req, sink) => {
      if (++calls === 2) s.http.status = [403];
      return original(req, sink);
    };
    s.backend.refreshOffer = async () => s.backend.offer && { ...s.backend.offer, url: 'https://srv/fresh.bin', sha256: sha };
    await drive(s.make(), s.time);
    const urls = s.http.requests.map((r) => `${r.url} ${r.range?.start ?? 0}`);
    assert.deepEqual(urls.slice(0, 3), ['https://srv/a.bin 0', 'https://srv/a.bin 8192', 'https://srv/fresh.bin 0'], urls.join(', '));
    assert.ok(s.logs.includes('download.artifact-changed'));
  });

  it('treats a corrupt journal as none and says why', async () => {
    const s = setup();
    s.kv.write('xs-ota.journal', '{"v":1,"state":"stage"}');
    await s.time.runFor(s.make().step());
    assert.ok(s.logs.includes('journal.discarded'));
  });

  it('does not poll while the running image is unconfirmed', async () => {
    const s = setup();
    s.installer.confirmed = false;
    await s.time.runFor(s.make().step());
    assert.equal(s.backend.polls, 0);
  });
});
