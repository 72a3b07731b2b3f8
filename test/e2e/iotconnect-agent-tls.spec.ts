/**
 * End to end over IoTConnect with TLS terminated in the agent: the agent bundle in XS on the
 * simulated dev kit, its MQTT sessions over the simulated modem's plain sockets (SIM7080G
 * AT+CAOPEN without SSL) straight to mosquitto's TLS listener (`require_certificate true`), the
 * device key generated in the simulated A5000 and every private-key operation there. The modem's
 * TLS still carries discovery and the image download (docs/tls.md).
 */
import assert from 'node:assert/strict';
import { runDevkitUpdate } from '../../tools/devkit/devkit.js';
import type { PreparedBackend } from '../../tools/devkit/devkit-backends.js';
import { mosquittoMissing } from '../../tools/node/mosquitto.js';
import { makeImage, OLD_IMAGE, trustedKeyPem } from '../support/devkit-update.js';

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
});
