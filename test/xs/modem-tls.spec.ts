/**
 * TLS with the driver inside the XS engine: each personality and transport downloads over a real
 * TLS session that the simulated modem verifies against the CA the driver uploaded; a wrong CA or
 * a certificate for another host name ends in `tls-failed`, never in a plaintext download.
 * (Node variant: test/unit/modem/download-tls.spec.ts.)
 */
import assert from 'node:assert/strict';
import { startRangeServer, type RangeServer } from '../../tools/bench/range-server.js';
import type { Model, Transport } from '../../tools/bench/rig.js';
import { runXs } from '../../tools/bench/rig-xs.js';
import { OTHER_CA } from '../../tools/node/test-pki.js';

const CASES: [Model, Transport][] = [
  ['sim7080', 'native'],
  ['sim7080', 'socket'],
  ['sim7080', 'socket-push'],
  ['sim7600', 'native'],
  ['sim7600', 'socket'],
  ['sim7600', 'socket-push'],
];

describe('XS: TLS through the simulated modem', function () {
  this.timeout(300_000);
  let server: RangeServer;
  before(async () => {
    server = await startRangeServer();
  });
  after(() => server.close());

  for (const [model, transport] of CASES) {
    const base = { model, transport, baud: 921_600, size: 20_000 } as const;

    it(`${model} ${transport}: byte-exact over TLS verified against the uploaded CA`, async () => {
      const handshakes = server.tls.handshakes;
      const { out, image } = await runXs({ ...base, server });
      assert.ok(Buffer.from(out.received).equals(Buffer.from(image)), 'byte-exact');
      assert.ok(server.tls.handshakes > handshakes, 'the server saw TLS handshakes');
    });

    it(`${model} ${transport}: a wrong CA, or a certificate for another name, ends in tls-failed`, async () => {
      const served = server.log.length;
      await assert.rejects(runXs({ ...base, server, caCert: OTHER_CA }), (e: unknown) => /tls-failed/.test(String(e)));
      await assert.rejects(runXs({ ...base, server, host: 'updates.example.org' }), (e: unknown) => /tls-failed/.test(String(e)));
      assert.equal(server.log.length, served, 'no request reached the server');
    });
  }
});
