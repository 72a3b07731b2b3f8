/**
 * End to end over hawkBit with the DDI control channel's TLS terminated in the agent
 * (otaControlTls agent): the agent bundle in XS on the simulated dev kit; polls, deployment and
 * feedback over the simulated modem's plain socket (SIM7080G AT+CAOPEN without SSL) to the
 * reference server's node:tls listener, which asks every client for a certificate from the test CA
 * and answers 401 to a controller request without one for the controllerId (hawkBit behind a
 * certificate-checking proxy). The device key is generated in the simulated A5000 and every
 * private-key operation runs there; the artifact download keeps the modem's TLS, without a client
 * certificate (docs/tls.md).
 */
import assert from 'node:assert/strict';
import { DEVKIT_DEVICE_ID, runDevkitUpdate, type DevkitSummary } from '../../tools/devkit/devkit.js';
import { makeImage, OLD_IMAGE, trustedKeyPem } from '../support/devkit-update.js';
import { idleAndLoaded } from '../support/under-load.js';

function checkAgentTls(summary: DevkitSummary): void {
  assert.equal(summary.outcome, 'running', `${summary.reason}`);
  const control = summary.controlRequests;
  assert.ok(control.length >= 3, `control requests ${control.length}`);
  for (const r of control) assert.equal(r.clientCertificateCn, DEVKIT_DEVICE_ID, `${r.method} ${r.path} ${r.status}`);
  assert.ok(control.every((r) => r.status !== 401), 'no request refused for want of a certificate');
  assert.ok(summary.reports.some((r) => JSON.stringify(r.body).includes('"success"')), 'success reported over the agent TLS');
  assert.ok(summary.artifactRequests.length > 0 && summary.artifactRequests.every((r) => r.clientCertificateCn === undefined), 'the download rides the modem TLS');
  // One CertificateVerify per DDI connection plus the factory CSR, all in the SE.
  assert.ok(summary.a5000.signatures >= 2, `signatures ${summary.a5000.signatures}`);
  assert.equal(summary.a5000.agreements, summary.a5000.signatures - 1, 'one ECDHE per TLS session, in the SE');
}

describe('e2e: hawkBit DDI over TLS in the agent, key in the A5000', function () {
  this.timeout(180_000);

  for (const tlsVersions of ['1.3', '1.2'] as const) {
    it(`TLS ${tlsVersions}: the update runs; every DDI request carries the device certificate, the download the modem's TLS`, async () => {
      const summary = await runDevkitUpdate({
        backend: 'hawkbit',
        agentTls: true,
        tlsVersions,
        image: makeImage('0.1.0', 24_000),
        baseImage: OLD_IMAGE,
        trustedKeyPem,
        seed: 12,
      });
      checkAgentTls(summary);
      console.log(`      A5000: ${summary.a5000.signatures - 1} TLS ${tlsVersions} sessions signed for ${summary.controlRequests.length} DDI requests; ${(summary.virtualMs / 1000).toFixed(1)} s device time`);
    });
  }

  it('the same virtual figures on a loaded host: every wait of the TLS-in-the-agent DDI sockets ends on the server\'s TLS tap counts, none on real silence or the hang guard (issue 13)', async () => {
    const update = () => runDevkitUpdate({ backend: 'hawkbit', agentTls: true, image: makeImage('0.1.0', 24_000), baseImage: OLD_IMAGE, trustedKeyPem, seed: 12 });
    // As in iotconnect-agent-tls.spec.ts: ECDSA signatures are DER of 70 to 72 bytes, freshly
    // random in every handshake, so TLS byte counts differ by a few bytes between runs whatever
    // the load; instants may move by the UART time of those bytes (about 0.1 ms each at 115200).
    // A wait ended by real time moves them by its whole window (100 ms, 1 s before data) or more.
    // The device clock starts at the real now (the test PKI's validity): the history line's
    // wall-clock stamp is the one field that differs between two runs by design.
    const reports = (s: DevkitSummary) => s.reports.map((r) => JSON.stringify(r.body).replace(/history H1\|(\d+)\|\d+\|/, 'history H1|$1|<epoch>|'));
    const events = (s: DevkitSummary) => JSON.stringify({ reports: reports(s), logs: s.logs.map((e) => `${e.boot} ${e.event}`), control: s.controlRequests.map((r) => `${r.method} ${r.path} ${r.status}`) });
    const { idle, loaded, driftMs: ms } = await idleAndLoaded(update, checkAgentTls);
    assert.equal(events(loaded), events(idle));
    assert.ok(ms < 10, `log instants moved by up to ${ms} ms`);
    console.log(`      idle and loaded: ${idle.logs.length} log lines, largest drift ${ms.toFixed(3)} ms; ${(idle.virtualMs / 1000).toFixed(3)} s / ${(loaded.virtualMs / 1000).toFixed(3)} s device time`);
  });

  it('without the agent TLS the same server refuses every poll (the check can fail)', async () => {
    // The modem's TLS has no client certificate: the server answers 401 and no update starts.
    await assert.rejects(
      runDevkitUpdate({
        backend: 'hawkbit',
        agentTls: false,
        requireClientCertificate: true,
        image: makeImage('0.1.0', 24_000),
        baseImage: OLD_IMAGE,
        trustedKeyPem,
        seed: 12,
        maxVirtualMs: 5 * 60_000,
      }),
      /goal not reached|401/,
    );
  });
});
