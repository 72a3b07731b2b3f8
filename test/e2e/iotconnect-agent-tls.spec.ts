/**
 * End to end over IoTConnect with TLS terminated in the agent: the agent bundle in XS on the
 * simulated dev kit, its MQTT sessions over the simulated modem's plain sockets (SIM7080G
 * AT+CAOPEN without SSL) to the broker's TLS listener as the dev kit's tap terminates it (the
 * broker's certificate, key and CA, a client certificate required: tools/devkit/parts/mqtt-tls-tap.ts),
 * the device key generated in the simulated A5000 and every private-key operation there. The
 * modem's TLS still carries discovery and the image download (docs/tls.md). The tap reads the MQTT
 * inside, so every wait of those sockets ends on counts, never on real silence. Against mosquitto's
 * own TLS listener the sockets read the records with the device's key share instead
 * (tools/devkit/parts/tls13-observer.ts), and end their waits on the same counts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runDevkitUpdate, type DevkitSummary } from '../../tools/devkit/devkit.js';
import { SimSocket } from '../../tools/devkit/parts/sim-modem/net.js';
import type { PreparedBackend } from '../../tools/devkit/devkit-backends.js';
import { mosquittoMissing } from '../../tools/node/mosquitto.js';
import { makeImage, OLD_IMAGE, trustedKeyPem } from '../support/devkit-update.js';
import { idleAndLoaded } from '../support/under-load.js';

/** The DER certificate with one byte of its subject public key's point changed (a key the A5000 does not hold). */
function flipKeyByte(der: Uint8Array): Uint8Array {
  const out = der.slice();
  // The uncompressed point: BIT STRING 03 42 00 04 <X 32> <Y 32>.
  for (let i = 0; i + 4 < out.length; i++) {
    if (out[i] === 0x03 && out[i + 1] === 0x42 && out[i + 2] === 0x00 && out[i + 3] === 0x04) {
      out[i + 10] ^= 0x01;
      return out;
    }
  }
  throw new Error('no P-256 point in the certificate');
}

/** A certificate for the same public key as `issued`, from a CA made here (not the broker's). */
function fromOtherCa(issued: Uint8Array): Uint8Array {
  const dir = mkdtempSync(path.join(tmpdir(), 'xs-ota-other-ca-'));
  try {
    const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    writeFileSync(path.join(dir, 'issued.der'), issued);
    writeFileSync(path.join(dir, 'pub.pem'), run(['x509', '-inform', 'DER', '-in', 'issued.der', '-noout', '-pubkey']));
    run(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'other.key']);
    run(['req', '-x509', '-new', '-key', 'other.key', '-subj', '/CN=other CA', '-days', '2', '-out', 'other.pem']);
    run(['x509', '-new', '-subj', '/CN=device-other-ca', '-force_pubkey', 'pub.pem', '-CA', 'other.pem', '-CAkey', 'other.key', '-days', '2', '-outform', 'DER', '-out', 'leaf.der']);
    return new Uint8Array(readFileSync(path.join(dir, 'leaf.der')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const events = (s: DevkitSummary) => JSON.stringify({ acks: (s.acks ?? []).map((a) => `${a.st} ${a.msg}`), logs: s.logs.map((e) => `${e.boot} ${e.event}`) });

/** One update over the agent's TLS to mosquitto's own TLS listener. */
function mosquittoUpdate(onBackend?: (b: PreparedBackend) => void): Promise<DevkitSummary> {
  return runDevkitUpdate({ backend: 'iotconnect', agentTls: true, mqttTlsListener: 'mosquitto', image: makeImage('0.1.0', 24_000), baseImage: OLD_IMAGE, trustedKeyPem, seed: 11, onBackend });
}

describe('e2e: IoTConnect over TLS in the agent, key in the A5000', function () {
  this.timeout(120_000);
  before(function () {
    const missing = mosquittoMissing();
    if (missing && process.env.CI !== 'true') {
      console.log(`      skipped: ${missing}`);
      this.skip();
    }
  });

  it('the update runs: every MQTT session a TLS 1.3 handshake in XS with the SE signing, none by the modem', async () => {
    let prepared: PreparedBackend | undefined;
    const summary = await runDevkitUpdate({
      backend: 'iotconnect',
      agentTls: true,
      image: makeImage('0.1.0', 24_000),
      baseImage: OLD_IMAGE,
      trustedKeyPem,
      seed: 11,
      onBackend: (b) => (prepared = b),
    });
    assert.equal(summary.outcome, 'running', `${summary.reason}`);
    assert.deepEqual((summary.acks ?? []).map((a) => a.st).slice(-1), [3]);
    assert.equal(prepared!.tlsHandshakes?.() ?? 0, 0, 'no MQTT TLS by the modem (the TLS front is unused)');
    // One CertificateVerify per MQTT session (poll, reports) plus the factory CSR, all in the SE.
    assert.ok(summary.a5000.signatures >= 3, `signatures ${summary.a5000.signatures}`);
    assert.equal(summary.a5000.agreements, summary.a5000.signatures - 1, 'one ECDHE per session, in the SE');
    console.log(`      A5000: ${summary.a5000.signatures - 1} TLS sessions signed, ${summary.a5000.verifications} verifications; ${(summary.virtualMs / 1000).toFixed(1)} s device time`);
  });

  it("against mosquitto's own TLS listener (require_certificate true, CA made with openssl for the run): the whole update completes on XS, every wait ending on counts read with the device's key", async () => {
    let prepared: PreparedBackend | undefined;
    const quiet = SimSocket.quietSettles;
    const guards = SimSocket.guardExpiries;
    const failures = SimSocket.observerFailures;
    const observed = SimSocket.observedSettles;
    const summary = await mosquittoUpdate((b) => (prepared = b));
    assert.equal(summary.outcome, 'running', `${summary.reason}`);
    assert.equal(summary.versionAfter, '0.1.0+0');
    assert.deepEqual((summary.acks ?? []).map((a) => a.st).slice(-1), [3]);
    assert.equal(prepared!.tlsTaps, undefined, 'no dev kit tap in the way');
    assert.equal(prepared!.tlsHandshakes?.() ?? 0, 0, 'no MQTT TLS by the modem (the TLS front is unused)');
    // mosquitto verified the device certificate (the A5000's key, issued by the run's CA): with
    // use_identity_as_username its CN is the session's user name, on the TLS listener only.
    const duid = prepared!.iotconnect!.device.duid;
    const sessions = prepared!.iotconnect!.broker.log().split('\n').filter((l) => l.includes('New client connected') && l.includes(`u'${duid}'`));
    assert.ok(sessions.length >= 2, `mosquitto's TLS sessions for ${duid}: ${sessions.length}`);
    assert.equal(summary.a5000.agreements, summary.a5000.signatures - 1, 'one ECDHE per session, in the SE');
    // mosquitto's records, opened with the device's key share (tools/devkit/parts/tls13-observer.ts):
    // every wait ended on the handshake flight, the tickets and the MQTT inside, none on real silence.
    assert.equal(SimSocket.observerFailures, failures, 'every session was read');
    assert.ok(SimSocket.observedSettles - observed >= sessions.length * 3, `${SimSocket.observedSettles - observed} waits ended on the observer's counts`);
    assert.equal(SimSocket.quietSettles, quiet, 'no wait ended by a window of real silence');
    assert.equal(SimSocket.guardExpiries, guards, 'no wait ended by the real-time hang guard');
    console.log(`      mosquitto TLS: ${sessions.length} sessions as ${duid}, ${SimSocket.observedSettles - observed} waits ended on counts; ${(summary.virtualMs / 1000).toFixed(1)} s device time`);
  });

  it("mosquitto's own TLS listener on a loaded host: the same events at the same virtual instants (issue 13: counts, not quiet windows)", async () => {
    const { idle, loaded, driftMs: ms } = await idleAndLoaded(() => mosquittoUpdate(), (s) => assert.equal(s.outcome, 'running', `${s.reason}`));
    assert.equal(events(loaded), events(idle));
    // As for the tap: only the random DER lengths of the ECDSA signatures move instants (UART time).
    assert.ok(ms < 10, `log instants moved by up to ${ms} ms`);
  });

  it('the same virtual figures on a loaded host: every wait of the TLS-in-the-agent sockets ends on the tap\'s counts, none on real silence or the hang guard (issue 15)', async () => {
    const update = () => runDevkitUpdate({ backend: 'iotconnect', agentTls: true, image: makeImage('0.1.0', 24_000), baseImage: OLD_IMAGE, trustedKeyPem, seed: 11 });
    // ECDSA signatures are DER of 70 to 72 bytes, freshly random in every handshake (the SE's and
    // the tap's), and the test PKI is new per run: TLS byte counts differ by a few bytes between
    // runs whatever the load, so instants may move by the UART time of those bytes (about 0.1 ms
    // each at 115200). A wait ended by real time moves them by its whole window or more.
    // Two CPU burners on this 2-core host: the broker, the double and the tap answer late in real time.
    const { idle, loaded, driftMs: ms } = await idleAndLoaded(update, (s) => assert.equal(s.outcome, 'running', `${s.reason}`));
    assert.equal(events(loaded), events(idle));
    assert.ok(ms < 10, `log instants moved by up to ${ms} ms`);
  });

  // The factory step writes something else into the A5000's certificate object: the agent still
  // boots and runs, logs what is wrong once, and every poll fails with that reason (no handshake
  // is tried); the image is untouched, the device bootable. The issued leaf's key is the A5000's,
  // so a wrong key is made by flipping a byte of its public point.
  const faults: { name: string; certificate: (issued: Uint8Array) => Uint8Array | null; reason: string; detail: RegExp }[] = [
    { name: 'no certificate object', certificate: () => null, reason: 'se-no-object', detail: /otaDeviceCert se:0x7B000304: ReadSize 0x7B000304/ },
    { name: 'garbage in the object', certificate: () => new Uint8Array(200).fill(0xee), reason: 'config-invalid', detail: /otaDeviceCert se:0x7B000304: device certificate: no DER SEQUENCE/ },
    { name: 'an object over DEVICE_CERT_CHAIN_MAX', certificate: () => new Uint8Array(3000).fill(0x30), reason: 'limit-exceeded', detail: /3000 bytes > 2048/ },
    { name: 'a certificate for another key', certificate: (issued) => flipKeyByte(issued), reason: 'tls-certificate-key-mismatch', detail: /otaDeviceKeyId 0x7B000301/ },
  ];
  for (const fault of faults) {
    it(`${fault.name}: typed at boot (${fault.reason}), the agent runs on and every poll fails with it`, async () => {
      // Stop at the second failed poll (the predicate sees the log from its start on every call).
      const failed = new Set<unknown>();
      const summary = await runDevkitUpdate({
        backend: 'iotconnect',
        agentTls: true,
        deviceCertificate: fault.certificate,
        image: makeImage('0.1.0', 24_000),
        baseImage: OLD_IMAGE,
        trustedKeyPem,
        seed: 11,
        until: (e) => e.event === 'poll.failed' && (failed.add(e), failed.size >= 2),
      });
      const boot = summary.logs.filter((e) => e.event === 'agent.device-cert-invalid');
      assert.equal(boot.length, 1, 'logged once, at boot');
      assert.equal(boot[0].fields?.reason, fault.reason);
      assert.match(String(boot[0].fields?.detail), fault.detail);
      const polls = summary.logs.filter((e) => e.event === 'poll.failed');
      assert.ok(polls.length >= 2 && polls.every((e) => e.fields?.reason === fault.reason), JSON.stringify(polls.map((e) => e.fields)));
      assert.equal(summary.logs.filter((e) => e.event === 'agent.config-invalid').length, 0, 'not a start-up failure');
      assert.equal(summary.versionAfter, summary.versionBefore, 'the running image untouched');
      assert.equal(summary.a5000.signatures, 1, 'the factory CSR only: no handshake signed');
    });
  }

  it("a certificate from another CA in the object (the A5000's key, so the boot read takes it): mosquitto refuses the session, the poll fails with tls-alert", async () => {
    const summary = await runDevkitUpdate({
      backend: 'iotconnect',
      agentTls: true,
      mqttTlsListener: 'mosquitto',
      deviceCertificate: fromOtherCa,
      image: makeImage('0.1.0', 24_000),
      baseImage: OLD_IMAGE,
      trustedKeyPem,
      seed: 11,
      until: (e) => e.event === 'poll.failed',
    });
    assert.equal(summary.logs.filter((e) => e.event === 'agent.device-cert-invalid').length, 0, 'a well-formed chain for the right key');
    const polls = summary.logs.filter((e) => e.event === 'poll.failed');
    assert.equal(polls[0].fields?.reason, 'tls-alert', JSON.stringify(polls[0].fields));
    assert.match(String(polls[0].fields?.detail), /unknown_ca|bad_certificate|certificate_unknown|decrypt_error/);
    assert.equal(summary.versionAfter, summary.versionBefore, 'the running image untouched');
  });
});
