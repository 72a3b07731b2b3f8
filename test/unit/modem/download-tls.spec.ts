/**
 * TLS through the simulated modem, driven by the agent's drivers (both personalities, every
 * transport): the modem runs real TLS to the loopback server, verified against the CA the driver
 * uploaded, with the URL's host as the name. A wrong CA, a certificate for another name or an
 * expired one end in the modem's own error result and a `tls-failed` from the driver, never in a
 * plaintext fallback.
 */
import assert from 'node:assert/strict';
import { isOtaError, type OtaError } from '../../../src/util/errors.js';
import { startRangeServer, type RangeServer } from '../../../tools/bench/range-server.js';
import { runNode, type Model, type RigOptions, type Transport } from '../../../tools/bench/rig.js';
import { OTHER_CA } from '../../../tools/node/test-pki.js';

const CASES: [Model, Transport][] = [
  ['sim7080', 'native'],
  ['sim7080', 'socket'],
  ['sim7080', 'socket-push'],
  ['sim7600', 'native'],
  ['sim7600', 'socket'],
  ['sim7600', 'socket-push'],
];

type Refusal = 'untrusted' | 'cn-mismatch' | 'expired';

/**
 * What the modem prints when it refuses the server (simcom-at.md): SIM7080 SHCONN answers ERROR
 * (§4.1), CAOPEN 27 / 25 / 24 (§5.1); SIM7600 HTTPACTION 715 handshake failed (§4.2), CCHOPEN 15.
 */
function refusal(model: Model, transport: Transport, why: Refusal): RegExp {
  if (model === 'sim7080' && transport === 'native') return /AT\+SHCONN\n\r\nERROR\r\n/;
  if (model === 'sim7080') return new RegExp(`\\+CAOPEN: 0,${why === 'untrusted' ? 27 : why === 'cn-mismatch' ? 25 : 24}\\r\\n`);
  if (transport === 'native') return /\+HTTPACTION: 0,715,0\r\n/;
  return /\+CCHOPEN: 0,15\r\n/;
}

/** Runs a download expected to fail; returns the error and the modem's side of the UART (AT lines
 * received, each followed by a newline, and everything it sent). */
async function failing(options: RigOptions): Promise<{ error: OtaError; wire: string }> {
  let wire = '';
  const trace = (direction: 'rx' | 'tx', text: string) => (wire += direction === 'rx' ? text + '\n' : text);
  let error: unknown;
  await runNode({ ...options, sim: { ...options.sim, trace } }).then(
    () => assert.fail('the download succeeded'),
    (e: unknown) => (error = e),
  );
  assert.ok(isOtaError(error), `an OtaError, got ${String(error)}`);
  return { error, wire };
}

describe('modem + net: TLS through the simulated modem (Node)', function () {
  this.timeout(120_000);
  let server: RangeServer;
  before(async () => {
    server = await startRangeServer();
  });
  after(() => server.close());

  for (const [model, transport] of CASES) {
    const base = { model, transport, baud: 115_200, size: 20_000 } as const;

    it(`${model} ${transport}: downloads over TLS verified against the uploaded CA`, async () => {
      const handshakes = server.tls.handshakes;
      const run = await runNode({ ...base, server });
      assert.ok(Buffer.from(run.received).equals(Buffer.from(run.image)), 'byte-exact');
      assert.ok(server.tls.handshakes > handshakes, 'the server saw TLS handshakes');
    });

    it(`${model} ${transport}: a wrong CA uploaded is refused by the modem, tls-failed`, async () => {
      const { error, wire } = await failing({ ...base, server, caCert: OTHER_CA });
      assert.match(wire, refusal(model, transport, 'untrusted'));
      assert.ok(isOtaError(error, 'retries-exhausted') && /tls-failed/.test(error.detail ?? ''), String(error));
    });

    it(`${model} ${transport}: a certificate for another host name is refused (CN mismatch), tls-failed`, async () => {
      const { error, wire } = await failing({ ...base, server, host: 'updates.example.org' });
      assert.match(wire, refusal(model, transport, 'cn-mismatch'));
      assert.ok(isOtaError(error, 'retries-exhausted') && /tls-failed/.test(error.detail ?? ''), String(error));
    });

    it(`${model} ${transport}: an expired server certificate is refused, tls-failed`, async () => {
      server.tls.use('expired');
      try {
        const { error, wire } = await failing({ ...base, server });
        assert.match(wire, refusal(model, transport, 'expired'));
        assert.ok(isOtaError(error, 'retries-exhausted') && /tls-failed/.test(error.detail ?? ''), String(error));
      } finally {
        server.tls.use('valid');
      }
    });
  }

  it('sim7080: a CA file that is not a certificate fails at AT+CSSLCFG="convert"', async () => {
    const garbage = new TextEncoder().encode('-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n');
    const { error, wire } = await failing({ model: 'sim7080', transport: 'native', baud: 115_200, size: 4096, server, caCert: garbage });
    assert.match(wire, /AT\+CSSLCFG="convert",2,"ca\.pem"\n\r\nERROR\r\n/);
    assert.ok(!/AT\+SHCONN/.test(wire), 'no connection is tried');
    assert.ok(isOtaError(error), String(error));
  });

  it('sim7600: a CA file that is not a certificate fails the handshake (715), tls-failed', async () => {
    const garbage = new TextEncoder().encode('this is not a certificate');
    const { error, wire } = await failing({ model: 'sim7600', transport: 'native', baud: 115_200, size: 4096, server, caCert: garbage });
    assert.match(wire, /\+HTTPACTION: 0,715,0\r\n/);
    assert.ok(isOtaError(error, 'retries-exhausted') && /tls-failed/.test(error.detail ?? ''), String(error));
  });
});
