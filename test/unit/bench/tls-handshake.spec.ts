/**
 * The bench's TLS handshake figure (tools/bench/tls-handshake.ts): the agent's own connector over
 * the simulated modem's plain socket, counted in virtual time and in A5000 commands. The A5000
 * counts are exact (they are the design: every private-key operation in the SE); bytes and time
 * move only with the DER length of signatures.
 */
import assert from 'node:assert/strict';
import { benchHandshake } from '../../../tools/bench/tls-handshake.js';

describe('bench: one TLS handshake in the agent (key in the A5000)', function () {
  this.timeout(120_000);

  const cases = [
    { version: '1.3', server: '1.3' },
    { version: '1.2', server: '1.2' },
    // The offer of both: the hello's key share is the 1.2 ECDHE key too, so the SE's count stays 13.
    { version: '1.3,1.2', server: '1.3' },
    { version: '1.3,1.2', server: '1.2' },
  ] as const;
  for (const { version, server } of cases) {
    it(`TLS ${version} offered to a TLS ${server} server on SIM7080 at 115200: one key pair, one ECDH, one signature and two verifications in the SE; seconds of virtual time`, async () => {
      const f = await benchHandshake({ version, server, modem: 'sim7080', baud: 115_200 });
      assert.equal(f.spoken, server);
      assert.deepEqual(
        [f.a5000KeyGenerations, f.a5000Agreements, f.a5000Signatures, f.a5000Verifications, f.a5000Commands],
        [1, 1, 1, 2, 13],
        JSON.stringify(f),
      );
      // A client certificate chain of one (about 400 bytes) goes out; the server's (about 600) comes in.
      assert.ok(f.tlsBytesOut > 500 && f.tlsBytesOut < 1200, `out ${f.tlsBytesOut}`);
      assert.ok(f.tlsBytesIn > 900 && f.tlsBytesIn < 2000, `in ${f.tlsBytesIn}`);
      assert.ok(f.uartToModem > f.tlsBytesOut && f.uartFromModem > f.tlsBytesIn, 'the AT dialogue carries the records');
      assert.ok(f.handshakeS > 0.5 && f.handshakeS < 10, `handshake ${f.handshakeS} s`);
    });
  }
});
