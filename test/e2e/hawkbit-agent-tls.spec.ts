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
