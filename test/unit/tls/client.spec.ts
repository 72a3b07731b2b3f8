/**
 * The agent's TLS 1.3 client (src/tls/client.ts) with every private-key operation in the
 * simulated A5000 (src/tls/se-key-ops.ts over the agent's SE05x driver and T=1), over a plain TCP
 * socket, against two independent implementations that require a client certificate:
 * node:tls (`requestCert`, `rejectUnauthorized`) and `openssl s_server -tls1_3 -Verify 1`.
 * The device certificate is issued by the dev kit's test CA for a CSR signed in the SE.
 * Then the failures: a wrong CA, an expired server certificate, a wrong host name, a server that
 * only speaks another group, a server that refuses our certificate: each a typed error.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { TlsClient } from '../../../src/tls/client.js';
import { Tls12Client } from '../../../src/tls/tls12.js';
import { parseEncryptedExtensions, Writer } from '../../../src/tls/handshake.js';
import { TLS_LIMITS } from '../../../src/tls/limits.js';
import { utf8Decode, utf8Encode } from '../../../src/util/bytes.js';
import { isOtaError } from '../../../src/util/errors.js';
import { socketByteStream } from '../../../tools/node/node-byte-stream.js';
import { SeKeyOps } from '../../../src/tls/se-key-ops.js';
import { connectTcp, DEVICE_KEY, derOf, type Device, helloExtensions, options, pki, provisionDevice, recordLengths, rejectsWith, roundTrip, tapped } from '../../support/tls-device.js';

describe('tls: TLS 1.3 client with the key in the A5000', function () {
  this.timeout(30_000);
  let dir: string;
  let device: Device;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'xs-ota-tls-'));
    device = await provisionDevice(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('against node:tls with requestCert', () => {
    let server: tls.Server;
    let port: number;
    const peers: string[] = [];
    before(async () => {
      server = tls.createServer({ key: pki('server.key'), cert: pki('server.pem'), ca: pki('ca.pem'), requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' }, (socket) => {
        peers.push(String(socket.getPeerCertificate().subject?.CN));
        socket.on('data', (d) => socket.write(`echo:${d.toString()}`));
        socket.on('error', () => undefined);
      });
      server.on('tlsClientError', () => undefined);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      port = (server.address() as net.AddressInfo).port;
    });
    after(() => new Promise<void>((r) => server.close(() => r())));

    it('completes the handshake with a client certificate signed in the SE, and carries data both ways', async () => {
      const ops = options(device);
      const before = { ...device.sim.stats };
      const client = await TlsClient.connect(socketByteStream(await connectTcp(port)), ops);
      assert.equal(await roundTrip(client, 'hello from the device'), 'echo:hello from the device');
      assert.ok(client.stats.clientAuthenticated);
      assert.deepEqual(peers.slice(-1), ['device-42'], 'the server saw the certificate issued for the SE key');
      // Every private-key operation ran in the SE: ECDHE key generated and used there, CertificateVerify signed there.
      assert.equal(device.sim.stats.keyGenerations - before.keyGenerations, 1);
      assert.equal(device.sim.stats.agreements - before.agreements, 1);
      assert.equal(device.sim.stats.signatures - before.signatures, 1);
      assert.equal(device.sim.stats.verifications - before.verifications, 2, 'server leaf under the CA + its CertificateVerify');
      assert.deepEqual(client.stats.keyOps, { random: 1, ephemeral: 1, agree: 1, sign: 1, verify: 2 });
      // A larger message goes out in several records, each within max_fragment_length.
      const big = 'x'.repeat(5000);
      const got: string[] = [];
      const all = new Promise<void>((resolve) =>
        client.onData((c) => {
          got.push(utf8Decode(c));
          if (got.join('').length >= big.length + 5 * 3) resolve();
        }),
      );
      await client.write(utf8Encode(big));
      await all;
      assert.ok(got.join('').includes('x'.repeat(2000)));
      client.close();
    });

    it('a wrong CA provisioned: tls-certificate-untrusted', async () => {
      const bad = options(device, { trustAnchors: [derOf(pki('other-ca.pem'))] });
      await assert.rejects(TlsClient.connect(socketByteStream(await connectTcp(port)), bad), rejectsWith('tls-certificate-untrusted'));
    });

    it('a host name the certificate does not name: tls-host-mismatch', async () => {
      await assert.rejects(TlsClient.connect(socketByteStream(await connectTcp(port)), options(device, { host: 'mqtt.other.org' })), rejectsWith('tls-host-mismatch', /not mqtt\.other\.org/));
    });

    it('no wall-clock time: tls-no-time, before anything is sent', async () => {
      await assert.rejects(TlsClient.connect(socketByteStream(await connectTcp(port)), options(device, { now: () => undefined })), rejectsWith('tls-no-time'));
    });

    it('a device without a certificate: the server refuses (tls-alert certificate_required)', async () => {
      const noCert = new SeKeyOps({ se: device.se, deviceKeyId: DEVICE_KEY, certificateChain: [], ephemeralKeyId: 0x7b000302, peerKeyId: 0x7b000303 });
      const client = await TlsClient.connect(socketByteStream(await connectTcp(port)), options(device, { keys: noCert })).catch((e: unknown) => e);
      if (client instanceof TlsClient) {
        // TLS 1.3: the client is done after its Finished; the refusal arrives as the next record.
        const closed = new Promise<unknown>((resolve) => client.onClose((e) => resolve(e)));
        await client.write(utf8Encode('x')).catch(() => undefined);
        const error = await closed;
        assert.ok(isOtaError(error, 'tls-alert'), String(error));
        assert.match((error as Error).message, /certificate_required|handshake_failure|bad_certificate/);
      } else assert.ok(isOtaError(client, 'tls-alert'), String(client));
    });
  });

  it('an expired server certificate: tls-certificate-expired', async () => {
    const server = tls.createServer({ key: pki('server.key'), cert: pki('expired.pem'), minVersion: 'TLSv1.3' }, (s) => s.on('error', () => undefined));
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as net.AddressInfo).port;
      await assert.rejects(TlsClient.connect(socketByteStream(await connectTcp(port)), options(device)), rejectsWith('tls-certificate-expired'));
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('a server that only takes X25519: tls-unsupported-group', async () => {
    const server = tls.createServer({ key: pki('server.key'), cert: pki('server.pem'), minVersion: 'TLSv1.3', ecdhCurve: 'X25519' }, (s) => s.on('error', () => undefined));
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as net.AddressInfo).port;
      // OpenSSL answers a share it cannot use with a HelloRetryRequest naming X25519, or, with no
      // common group at all, a handshake_failure alert: either way a typed refusal.
      await assert.rejects(TlsClient.connect(socketByteStream(await connectTcp(port)), options(device)), (e: unknown) => {
        assert.ok(isOtaError(e, 'tls-unsupported-group', 'tls-alert'), String(e));
        return true;
      });
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  describe('record_size_limit (RFC 8449) beside max_fragment_length', () => {
    const ee = (limit?: number) => {
      const w = new Writer(16);
      w.vector(2, (x) => {
        x.u16(1).vector(2, (e) => e.u8(3)); // the max_fragment_length echo changes nothing
        if (limit !== undefined) x.u16(28).vector(2, (e) => e.u16(limit));
      });
      return w.done();
    };

    it("the server's limit bounds our records: TLS 1.3 counts the content type, never above our own 2^11", () => {
      assert.equal(parseEncryptedExtensions(ee()).fragmentMax, TLS_LIMITS.maxFragment);
      assert.equal(parseEncryptedExtensions(ee(2049)).fragmentMax, 2048);
      assert.equal(parseEncryptedExtensions(ee(513)).fragmentMax, 512);
      assert.equal(parseEncryptedExtensions(ee(64)).fragmentMax, 63);
      assert.equal(parseEncryptedExtensions(ee(16385)).fragmentMax, 2048);
      assert.throws(() => parseEncryptedExtensions(ee(63)), rejectsWith('tls-protocol', /record_size_limit 63 is below 64/));
    });

    for (const version of ['1.3', '1.2'] as const) {
      it(`TLS ${version} against node:tls: the ClientHello carries both (record_size_limit ${version === '1.3' ? 2049 : 2048}, max_fragment_length 2^11); the server's records keep to 2^11`, async () => {
        const server = tls.createServer({ key: pki('server.key'), cert: pki('server.pem'), minVersion: version === '1.3' ? 'TLSv1.3' : 'TLSv1.2', maxVersion: version === '1.3' ? 'TLSv1.3' : 'TLSv1.2' }, (socket) => {
          socket.on('data', () => socket.write('y'.repeat(6000)));
          socket.on('error', () => undefined);
        });
        server.on('tlsClientError', () => undefined);
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
        try {
          const tap = tapped(socketByteStream(await connectTcp((server.address() as net.AddressInfo).port)));
          const client = version === '1.3' ? await TlsClient.connect(tap.stream, options(device)) : await Tls12Client.connect(tap.stream, options(device));
          const exts = helloExtensions(tap.sent[0]);
          assert.deepEqual([...(exts.get(28) ?? [])], version === '1.3' ? [0x08, 0x01] : [0x08, 0x00], 'record_size_limit');
          assert.deepEqual([...(exts.get(1) ?? [])], [3], 'max_fragment_length 2^11');
          let got = 0;
          const all = new Promise<void>((resolve) => client.onData((c) => (got += c.length) >= 6000 && resolve()));
          await client.write(utf8Encode('go'));
          await all;
          const lengths = recordLengths(tap.received);
          assert.ok(Math.max(...lengths) <= 2048 + 256, `server records ${lengths.join(',')}`);
          assert.ok(lengths.length >= 4, 'the 6000 bytes came in several records');
          client.close();
        } finally {
          await new Promise<void>((r) => server.close(() => r()));
        }
      });
    }
  });

  describe('against openssl s_server -tls1_3 -Verify 1', () => {
    let child: ChildProcess;
    let port: number;
    let output = '';
    before(async function () {
      port = 20000 + Math.floor(Math.random() * 20000);
      writeFileSync(path.join(dir, 'server.key'), pki('server.key'));
      writeFileSync(path.join(dir, 'server.pem'), pki('server.pem'));
      child = spawn('openssl', ['s_server', '-tls1_3', '-accept', String(port), '-4', '-key', 'server.key', '-cert', 'server.pem', '-CAfile', 'ca.pem', '-Verify', '1', '-verify_return_error', '-groups', 'P-256', '-rev'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
      child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
      for (let i = 0; i < 100 && !/ACCEPT/.test(output); i++) await new Promise((r) => setTimeout(r, 50));
      if (!/ACCEPT/.test(output)) throw new Error(`openssl s_server did not start: ${output}`);
    });
    after(() => {
      child.kill();
    });

    it('handshakes with the SE-held key; s_server verifies the client certificate and answers (reversed text, -rev)', async () => {
      const client = await TlsClient.connect(socketByteStream(await connectTcp(port)), options(device));
      const reply = await roundTrip(client, 'device\n');
      assert.match(reply, /ecived/);
      assert.match(output, /CN\s?=\s?device-42/, output);
      client.close();
    });

    it('takes a ClientHello with record_size_limit and max_fragment_length; its records keep to 2^11', async () => {
      const tap = tapped(socketByteStream(await connectTcp(port)));
      const client = await TlsClient.connect(tap.stream, options(device));
      assert.ok(helloExtensions(tap.sent[0]).has(28));
      // -rev answers each line reversed: a 5000-byte line comes back in records within the limit.
      let got = 0;
      const all = new Promise<void>((resolve) => client.onData((c) => (got += c.length) >= 5000 && resolve()));
      await client.write(utf8Encode(`${'z'.repeat(5000)}\n`));
      await all;
      const lengths = recordLengths(tap.received);
      assert.ok(lengths.length >= 3 && Math.max(...lengths) <= 2048 + 256, `s_server records ${lengths.join(',')}`);
      client.close();
    });
  });
});
