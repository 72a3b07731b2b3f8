/**
 * End to end over IoTConnect: the agent bundle in XS on the simulated dev kit (virtual time), its
 * modem's MQTT socket carried to a real mosquitto, discovery and identity from the IoTConnect
 * double over the modem's HTTP, the image from the reference server behind expiring URLs, and the
 * acknowledgements as the double's cloud client recorded them on the broker [IOTC-h]:
 * st 1 rejected, 2 in progress, 3 new firmware running, 4 failed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { sign as cryptoSign } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { runDevkitUpdate, type DevkitOptions, type DevkitSummary } from '../../tools/devkit/devkit.js';
import type { ReferenceServer } from '../../tools/server/index.js';
import { DEVKIT_IOTC_ACK, type PreparedBackend } from '../../tools/devkit/devkit-backends.js';
import type { LogEntry } from '../../tools/devkit/device.js';
import { SimSocket } from '../../tools/devkit/parts/sim-modem/net.js';
import { mosquittoMissing } from '../../tools/node/mosquitto.js';
import type { RecordedAck } from '../../tools/server/iotconnect.js';
import { signImage } from '../../tools/image/imgtool-sign.js';
import { encodeConnect } from '../../src/net/mqtt/codec.js';
import { makeImage, OLD_IMAGE, signingKeyPem, trustedKeyPem } from '../support/devkit-update.js';
import { SMALL_SLOT_LAYOUT } from '../../tools/devkit/parts/sim-flash.js';

const BODY = 48 * 1024;
const NEW_IMAGE = makeImage('0.1.0', BODY);

/**
 * Another MQTT client connects with `clientId`: the broker closes the session that held it (MQTT
 * 3.1.1 §3.1.4, [MQTT-3.1.4-2]), as a real broker drops a device whose id is taken over. Resolves
 * once mosquitto says it closed the old connection and the close had time to reach the modem.
 */
async function takeOverClientId(broker: { plainPort: number; log(): string }, clientId: string): Promise<void> {
  const socket = net.connect(broker.plainPort, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(encodeConnect({ clientId, cleanSession: true, keepAliveS: 0 }));
  const [connack] = (await once(socket, 'data')) as [Buffer];
  assert.deepEqual([connack[0], connack[3]], [0x20, 0], 'CONNACK accepted');
  socket.end(Buffer.from([0xe0, 0x00])); // DISCONNECT
  await once(socket, 'close');
  for (let i = 0; i < 200 && !broker.log().includes(`${clientId} already connected, closing old connection`); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(broker.log().includes('closing old connection'), broker.log().slice(-500));
  // The close travels broker → TLS front → the modem's socket in real time (loopback: well within this).
  await new Promise((r) => setTimeout(r, 200));
}

/** The same image layout, its ECDSA signature's last byte flipped: valid DER, wrong signature. */
function badSignatureImage(): Uint8Array {
  const input = new Uint8Array(0x200 + BODY);
  input.set(NEW_IMAGE.subarray(0x200, 0x200 + BODY), 0x200);
  return signImage(input, {
    keyPem: signingKeyPem,
    version: '0.1.0',
    slotSize: 0x60000,
    signFn: (region, key) => {
      const sig = new Uint8Array(cryptoSign('sha256', region, key));
      sig[sig.length - 1] ^= 0x01;
      return sig;
    },
  });
}

interface Run {
  summary: DevkitSummary;
  acks: RecordedAck[];
  logs: LogEntry[];
  backend: PreparedBackend;
  /** The reference server behind the pre-signed file URLs. */
  server: ReferenceServer;
}

async function run(options: Partial<Pick<DevkitOptions, 'image' | 'faults' | 'modem' | 'iotconnect' | 'policy' | 'until' | 'onBackend' | 'layout'>> = {}): Promise<Run> {
  let backend: PreparedBackend | undefined;
  let server: ReferenceServer | undefined;
  const summary = await runDevkitUpdate({
    backend: 'iotconnect',
    modem: options.modem,
    image: options.image ?? NEW_IMAGE,
    layout: options.layout,
    baseImage: OLD_IMAGE,
    trustedKeyPem,
    faults: options.faults,
    iotconnect: options.iotconnect,
    policy: options.policy,
    until: options.until,
    seed: 7,
    onBackend: (b) => {
      backend = b;
      options.onBackend?.(b);
    },
    onReady: (k) => (server = k.server),
  });
  return { summary, acks: summary.acks ?? [], logs: summary.logs, backend: backend!, server: server! };
}

const events = (logs: LogEntry[], name: string): LogEntry[] => logs.filter((e) => e.event === name);
const ackLogs = (logs: LogEntry[]): LogEntry[] => events(logs, 'iotc.ack');

/** Every ack is for the dev kit's OTA, and no (st, msg) pair was sent twice. */
function assertAcksOnce(acks: RecordedAck[]): void {
  for (const a of acks) assert.equal(a.ack, DEVKIT_IOTC_ACK);
  const keys = acks.map((a) => `${a.st} ${a.msg}`);
  assert.deepEqual(keys, [...new Set(keys)], `an ack was sent twice: ${keys.join(' | ')}`);
}

describe('IoTConnect end to end: agent in XS, modem, mosquitto, IoTConnect double (e2e)', function () {
  this.timeout(240_000);

  before(function () {
    const missing = mosquittoMissing();
    if (missing) {
      console.log(`      skipped: ${missing}`);
      this.skip();
    }
  });

  it('happy path: in progress while downloading, new firmware running (st 3) only after the confirm', async () => {
    const { summary, acks, logs, backend } = await run();
    assert.equal(summary.outcome, 'running');
    assert.equal(summary.versionAfter, '0.1.0+0');
    assertAcksOnce(acks);
    assert.deepEqual(
      acks.map((a) => a.st),
      [2, 2, 2, 3],
    );
    assert.equal(acks[0].msg, 'accepted 0.1.0+0');
    // The final ack names the update-history entry it carries (docs/history.md).
    assert.equal(acks.at(-1)!.msg, 'running 0.1.0+0 [history 1]');
    assert.ok(acks.every((a) => a.type === 1 && typeof a.dt === 'string'));
    // st 3 leaves the device only after the new image confirmed itself, on its second boot.
    const confirmed = events(logs, 'image.confirmed')[0];
    const running = ackLogs(logs).find((e) => e.fields?.st === 3)!;
    assert.ok(confirmed && running && running.at >= confirmed.at && running.boot === 2);
    assert.ok(ackLogs(logs).filter((e) => e.boot === 1).every((e) => e.fields?.st === 2));
    // The device asked for its pending OTA on its own di topic, through identity's topics.
    const di = backend.iotconnect!.double.di(backend.iotconnect!.device.duid);
    assert.ok(di.length >= 1 && di.every((t) => JSON.parse(t).mt === 205));
    // Keep-alive runs on the agent's virtual clock, the broker's on the real one (docs/iotconnect.md §5):
    // the broker never dropped the device for silence.
    assert.doesNotMatch(backend.iotconnect!.broker.log(), /exceeded timeout/);
    // MQTT and HTTPS both ran real TLS in the modem, verified against the dev kit's test CA.
    assert.ok(backend.tlsHandshakes!() >= 1, 'MQTT over TLS');
    assert.ok(summary.tlsHandshakes > backend.tlsHandshakes!(), 'the artifact over TLS');
  });

  it('a command delivered twice (same ack id) is taken once', async () => {
    const { summary, acks, logs } = await run({ faults: [{ kind: 'duplicate-command' }] });
    assert.equal(summary.outcome, 'running');
    assert.ok(events(logs, 'iotc.duplicate').length >= 1, 'the second copy was seen and ignored');
    assert.equal(events(logs, 'deployment.accepted').length, 1);
    assert.equal(events(logs, 'download.start').length, 1);
    assertAcksOnce(acks);
    assert.deepEqual(
      acks.map((a) => a.st),
      [2, 2, 2, 3],
    );
  });

  it('an expired pre-signed URL: 403, asks again with mt 205, downloads from the fresh URL', async () => {
    const { summary, acks, logs, backend } = await run({ faults: [{ kind: 'expired-url' }] });
    assert.equal(summary.outcome, 'running');
    assert.ok(events(logs, 'download.failed').some((e) => e.fields?.reason === 'url-expired'));
    const refresh = events(logs, 'iotc.refresh');
    assert.equal(refresh.length, 1);
    assert.equal(refresh[0].fields?.found, true);
    const sim = backend.iotconnect!;
    assert.ok(sim.double.di(sim.device.duid).filter((t) => JSON.parse(t).mt === 205).length >= 2);
    assertAcksOnce(acks);
    assert.equal(acks.at(-1)!.st, 3);
  });

  it('a rejected image (signature does not verify) is acknowledged as failed (st 4) with its reason', async () => {
    const { summary, acks } = await run({ image: badSignatureImage() });
    assert.equal(summary.outcome, 'failed');
    assert.equal(summary.versionAfter, '0.0.1+0');
    assert.equal(summary.a5000.verifications, 1);
    assertAcksOnce(acks);
    const last = acks.at(-1)!;
    assert.equal(last.st, 4);
    assert.ok(summary.reason && last.msg?.startsWith(`${summary.reason}:`), `${last.msg} names ${summary.reason}`);
    assert.match(summary.reason!, /signature/);
    assert.ok(!acks.some((a) => a.st === 3));
  });

  it('a failed health check: MCUboot reverts, acknowledged as failed (st 4, reverted)', async () => {
    const { summary, acks } = await run({ faults: [{ kind: 'health-fail' }] });
    assert.equal(summary.outcome, 'reverted');
    assert.deepEqual(summary.mcuboot, ['none', 'test-swap', 'revert']);
    assert.equal(summary.versionAfter, '0.0.1+0');
    assertAcksOnce(acks);
    const last = acks.at(-1)!;
    assert.equal(last.st, 4);
    assert.match(last.msg ?? '', /^reverted to 0\.0\.1\+0: health-check-failed/);
    assert.ok(!acks.some((a) => a.st === 3));
  });

  it('a power cut during the download: resumes after the reboot and acknowledges once', async () => {
    // 4 KiB sectors (SMALL_SLOT_LAYOUT, a 4 KiB-sector board): resumes are at sector boundaries, and
    // this image is smaller than one of the named board's 64 KiB sectors (docs/flash-layout.md).
    const { summary, acks, logs } = await run({ faults: [{ kind: 'power-cut', at: 0.4 }], layout: SMALL_SLOT_LAYOUT });
    assert.equal(summary.outcome, 'running');
    assert.equal(summary.versionAfter, '0.1.0+0');
    const resume = events(logs, 'download.resume');
    assert.equal(resume.length, 1);
    assert.ok(Number(resume[0].fields?.offset) > 0);
    assert.equal(events(logs, 'deployment.accepted').length, 1);
    assertAcksOnce(acks);
    assert.equal(acks.filter((a) => a.st === 3).length, 1);
    assert.equal(acks.filter((a) => a.msg?.startsWith('accepted')).length, 1);
  });

  it('the same virtual figures on a loaded host: every MQTT wait of the dev kit ends on counts (the cloud double\'s work), none on real time (issue 15)', async () => {
    const figures = (r: Run) =>
      JSON.stringify({
        virtualMs: r.summary.virtualMs,
        goodput: r.summary.downloadGoodputBps,
        uart: r.summary.uart,
        network: r.summary.network,
        acks: r.acks.map((a) => `${a.st} ${a.msg}`),
        // Every log line's virtual instant: one late MQTT answer would move them all.
        logs: r.logs.map((e) => `${e.boot} ${e.at} ${e.event}`),
      });
    const guards = SimSocket.guardExpiries;
    const idle = figures(await run({ modem: 'sim7600' }));
    // Two CPU burners on this 2-core host: the broker and the double answer late in real time.
    const burners = [0, 1].map(() => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
    let loaded: string;
    try {
      loaded = figures(await run({ modem: 'sim7600' }));
    } finally {
      for (const b of burners) b.kill();
    }
    assert.equal(loaded, idle);
    assert.equal(SimSocket.guardExpiries, guards, 'no wait ended by the real-time hang guard');
  });

  for (const flowControl of ['rts-cts', 'none'] as const) {
    it(`SIM7600 (${flowControl}): the kept session ends with a DISCONNECT before the download takes the modem, each report is its own session, a new one after the reboot`, async () => {
      const summary = await runDevkitUpdate({ backend: 'iotconnect', modem: 'sim7600', flowControl, image: NEW_IMAGE, baseImage: OLD_IMAGE, trustedKeyPem, seed: 7 });
      assert.equal(summary.outcome, 'running');
      assertAcksOnce(summary.acks ?? []);
      assert.deepEqual((summary.acks ?? []).map((a) => a.st), [2, 2, 2, 3]);
      const logs = summary.logs;
      const firstDownload = logs.findIndex((e) => e.event === 'download.start');
      const closedBefore = logs.slice(0, firstDownload).filter((e) => e.event === 'mqtt.closed');
      // The poll's session, closed by the agent (DISCONNECT), not cut by the driver's next socket.
      assert.ok(closedBefore.length >= 1, JSON.stringify(logs.slice(0, firstDownload).map((e) => e.event)));
      assert.ok(closedBefore.every((e) => e.fields?.from === 'disconnecting' && e.level !== 'warn'), JSON.stringify(closedBefore));
      // No session is cut while the download runs or at the reboot: every close is the agent's own.
      const cut = logs.filter((e) => e.event === 'mqtt.closed' && e.fields?.from !== 'disconnecting');
      assert.deepEqual(cut, []);
      assert.ok(logs.filter((e) => e.event === 'mqtt.connected' && e.boot === 2).length >= 1, 'a new session after the reboot');
    });
  }

  it('the kept session over time: PINGREQ every keep-alive (60 s) while idle between polls; the broker drops it (another client takes its id): reopened at the next poll, which takes the command', async () => {
    let prepared: PreparedBackend | undefined;
    const DROP_AT_MS = 400_000;
    const summary = await runDevkitUpdate({
      backend: 'iotconnect',
      image: NEW_IMAGE,
      baseImage: OLD_IMAGE,
      trustedKeyPem,
      seed: 7,
      // Polls five keep-alives apart: the idle session between them lives on PINGREQs alone.
      policy: { pollIntervalS: 300 },
      onBackend: (b) => {
        prepared = b;
        b.iotconnect!.double.faults.ignore205 = true; // nothing pending until the drop
      },
      onReady: (kit) =>
        kit.time.after(DROP_AT_MS, async () => {
          // Virtual time waits for this: the broker closes the device's session, then the OTA starts.
          const sim = prepared!.iotconnect!;
          await takeOverClientId(sim.broker, `${sim.settings.cpid}-${sim.settings.duid}`);
          sim.double.faults.ignore205 = false;
        }),
    });
    assert.equal(summary.outcome, 'running', JSON.stringify(summary.logs.map((e) => `${e.boot} ${Math.round(e.at)} ${e.event}`)));
    assertAcksOnce(summary.acks ?? []);
    assert.deepEqual((summary.acks ?? []).map((a) => a.st), [2, 2, 2, 3]);
    const boot1 = summary.logs.filter((e) => e.boot === 1);
    const polls = boot1.filter((e) => e.event === 'iotc.poll');
    const firstConnect = boot1.find((e) => e.event === 'mqtt.connected')!;
    // Keep-alive: between the first poll and the drop, only PINGREQs, each 60 s after the device's last packet.
    const beforeDrop = summary.mqttSent.filter((p) => p.at > polls[0].at && p.at < DROP_AT_MS);
    const pings = beforeDrop.filter((p) => p.type === 12);
    assert.ok(pings.length >= 4, JSON.stringify(beforeDrop));
    for (const ping of pings) {
      const previous = summary.mqttSent.filter((p) => p.at < ping.at).at(-1)!;
      const gap = ping.at - previous.at;
      // The modem takes each packet off the UART: a few ms of transfer either side of the agent's 60 s.
      assert.ok(Math.abs(gap - 60_000) < 1000, `PINGREQ ${gap} ms after the packet before it`);
    }
    assert.equal(summary.mqttSent.filter((p) => p.at < DROP_AT_MS && p.type === 1).length, 1, 'one CONNECT: both polls before the drop used the kept session');
    assert.ok(firstConnect.at < polls[1].at && polls[1].at < DROP_AT_MS, JSON.stringify(polls.map((p) => p.at)));
    // The drop: the session closed by the broker (not by the agent), seen before the next poll.
    const closed = boot1.filter((e) => e.event === 'mqtt.closed' && e.at >= DROP_AT_MS);
    assert.ok(closed.length >= 1 && closed[0].fields?.from !== 'disconnecting', JSON.stringify(closed));
    // Reopened at the next poll (a new CONNECT, identity kept: not asked again), which took the command.
    const reconnect = summary.mqttSent.find((p) => p.at > DROP_AT_MS && p.type === 1);
    assert.ok(reconnect, JSON.stringify(summary.mqttSent.filter((p) => p.at > DROP_AT_MS).slice(0, 5)));
    assert.equal(boot1.filter((e) => e.event === 'iotc.identity').length, 1);
    const offered = polls.find((p) => p.fields?.ack !== undefined);
    assert.ok(offered && offered.at > reconnect.at, JSON.stringify(polls.map((p) => [p.at, p.fields?.ack])));
  });

  it('SIM7600: a reset while idle with the session kept; after the reboot a new session (same client id) takes the command once', async () => {
    let double: PreparedBackend['iotconnect'] extends infer T ? (T extends { double: infer D } ? D : never) : never;
    let polls = 0;
    const summary = await runDevkitUpdate({
      backend: 'iotconnect',
      modem: 'sim7600',
      image: NEW_IMAGE,
      baseImage: OLD_IMAGE,
      trustedKeyPem,
      seed: 7,
      // The first poll finds nothing (the portal has not started the OTA): the session stays open, idle.
      onBackend: (b) => {
        double = b.iotconnect!.double;
        double.faults.ignore205 = true;
      },
      onLog: (e) => {
        if (e.event !== 'iotc.poll') return;
        polls++;
        if (polls === 1) double.faults.ignore205 = false; // the OTA is pending from now on
      },
      // Power fails right after that empty poll, the session still open on the broker.
      faults: [{ kind: 'power-cut', event: { event: 'iotc.poll' } }],
    });
    assert.equal(summary.outcome, 'running', JSON.stringify(summary.logs.map((e) => `${e.boot} ${e.event}`)));
    assert.ok(summary.resets.length >= 1, 'the device was reset while idle');
    const firstPoll = summary.logs.find((e) => e.event === 'iotc.poll')!;
    assert.equal(firstPoll.fields?.ack, undefined, 'nothing offered before the reset');
    assert.equal(firstPoll.boot, 1);
    assertAcksOnce(summary.acks ?? []);
    assert.deepEqual((summary.acks ?? []).map((a) => a.st), [2, 2, 2, 3]);
    const connected = summary.logs.filter((e) => e.event === 'mqtt.connected');
    assert.ok(connected.some((e) => e.boot === 1) && connected.some((e) => e.boot === 2), 'a session before and after the reset');
    assert.ok(new Set(connected.map((e) => e.fields?.clientId)).size === 1, 'the same client id: the broker hands the session over');
  });

  describe('as the SDKs speak it (issue 13 finding 8), on XS', () => {
    it("discovery with ?pf=aws; the SDK fixture's hw '1' taken with the default settings; three files in urls[]: the image header chooses, the other .bin read for 32 bytes only", async () => {
      const os = new Uint8Array(randomBytes(6000));
      const { summary, acks, backend, server } = await run({ iotconnect: { hw: '1', extraFiles: [{ fileName: 'os.bin', bytes: os }, { fileName: 'app.signature', bytes: new Uint8Array(72) }] } });
      assert.equal(summary.outcome, 'running', summary.reason);
      assert.equal(summary.versionAfter, '0.1.0+0');
      assert.deepEqual(acks.map((a) => a.st), [2, 2, 2, 3]);
      const discovery = backend.iotconnect!.double.requests.filter((r) => r.includes('/dsdk/cpId/'));
      assert.ok(discovery.length >= 1 && discovery.every((r) => r.endsWith('?pf=aws')), JSON.stringify(discovery));
      const osRequests = server.requests().filter((r) => r.path.includes('/os.bin'));
      assert.ok(osRequests.length >= 1 && osRequests.every((r) => r.headers.range === 'bytes=0-31'), JSON.stringify(osRequests.map((r) => r.headers.range)));
      assert.equal(server.requests().filter((r) => r.path.includes('/app.signature')).length, 0, 'not a .bin: never fetched');
    });

    it("discovery's top-level status checked (HTTP 200 carrying status 401 'Incorrect environment'): the poll fails naming it, no session, no ack", async () => {
      const { acks, logs, backend } = await run({
        onBackend: (b) => (b.iotconnect!.double.faults.discoveryBodyStatus = { status: 401, message: 'Incorrect environment' }),
        until: (e) => e.event === 'poll.failed',
      });
      const failed = events(logs, 'poll.failed');
      assert.equal(failed.length, 1);
      assert.match(JSON.stringify(failed[0].fields), /backend-rejected.*discovery status 401 \(Incorrect environment\)/);
      assert.equal(events(logs, 'mqtt.connected').length, 0, 'identity and the broker never reached');
      assert.deepEqual(acks, []);
      assert.ok(!backend.iotconnect!.double.requests.some((r) => r.includes('device-identity')));
    });

    it("hw checked when hardwareVersion is set: a command for other hardware is acked st 1 (not attempted) naming both, nothing downloaded", async () => {
      // A refused command is no deployment: the run ends at its acknowledgement.
      const { acks, logs, server } = await run({ iotconnect: { hw: 'board-a' }, policy: { iotcHardwareVersion: 'board-b' }, until: (e) => e.event === 'iotc.ack' });
      assert.deepEqual(acks.map((a) => a.st), [1]);
      assert.match(acks[0].msg ?? '', /incompatible.*board-a.*board-b|incompatible.*board-b.*board-a/);
      assert.equal(events(logs, 'download.start').length, 0);
      assert.equal(server.requests().filter((r) => r.path.startsWith('/artifacts/')).length, 0);
    });

    it("an older image under a newer sw label ('v9.0-release'): refused at its first 32 bytes as a downgrade, acked st 1 once (after the st 2 accepted), the rest never fetched", async () => {
      const { summary, acks, server } = await run({ image: makeImage('0.0.0', BODY), iotconnect: { sw: 'v9.0-release' } });
      assert.equal(summary.outcome, 'failed');
      assert.equal(summary.reason, 'downgrade');
      // Accepted (st 2) when the command came; refused once the header's first 32 bytes were in.
      assert.deepEqual(acks.map((a) => a.st), [2, 1], JSON.stringify(acks));
      assert.match(acks[0].msg ?? '', /^accepted v9\.0-release/);
      assert.match(acks[1].msg ?? '', /^downgrade: 0\.0\.0\+0 is older than running 0\.0\.1\+0/);
      assert.equal(server.requests().filter((r) => r.path.startsWith('/artifacts/')).length, 1, 'one request, stopped at the header');
      assert.equal(summary.flash.agentImageBytesWritten, 0, 'no byte of the older image reached the slot');
      assert.equal(summary.a5000.verifications, 0, 'never verified: stopped in the download');
    });
  });

  it('runs on the SIM7600 too (MQTT over AT+CCH*)', async () => {
    const { summary, acks } = await run({ modem: 'sim7600' });
    assert.equal(summary.outcome, 'running');
    assert.deepEqual(
      acks.map((a) => a.st),
      [2, 2, 2, 3],
    );
  });
});
