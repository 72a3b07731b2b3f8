/**
 * RFC 8449 record_size_limit against a server that sends it and enforces it: GnuTLS's
 * `gnutls-serv` (OpenSSL and so node:tls have none). It answers our ClientHello with its own
 * limit (TLS 1.3 in EncryptedExtensions, TLS 1.2 in the ServerHello) and refuses a record above
 * it with record_overflow, so an echo of a long write passes only if the agent fragments within
 * the server's limit. With --recordsize 512, below our 2^11, every record we send must shrink.
 * Skipped, with one line, where gnutls-serv is not installed (.ci/run installs gnutls-bin).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TlsClient } from '../../../src/tls/client.js';
import { Tls12Client } from '../../../src/tls/tls12.js';
import { TLS_LIMITS } from '../../../src/tls/limits.js';
import { utf8Decode, utf8Encode } from '../../../src/util/bytes.js';
import { socketByteStream } from '../../../tools/node/node-byte-stream.js';
import { connectTcp, type Device, options, pki, provisionDevice, recordLengths, serverHelloExtensions, tapped } from '../../support/tls-device.js';

const GNUTLS = spawnSync('gnutls-serv', ['--version'], { stdio: 'ignore' }).status === 0;

/** gnutls-serv --echo requiring our certificate, one version, advertising `recordSize` (undefined: its default). */
async function gnutlsServer(dir: string, version: '1.3' | '1.2', recordSize: number | undefined): Promise<{ port: number; child: ChildProcess; output: () => string }> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const args = ['--echo', '-p', String(port), '--x509keyfile', 'server.key', '--x509certfile', 'server.pem', '--x509cafile', 'ca.pem', '--require-client-cert', '--verify-client-cert', '--priority', `NORMAL:-VERS-ALL:+VERS-TLS${version}`];
  if (recordSize !== undefined) args.push('--recordsize', String(recordSize));
  const child = spawn('gnutls-serv', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  for (let i = 0; i < 100 && !/listening|Echo Server ready/i.test(output); i++) await new Promise((r) => setTimeout(r, 50));
  if (!/listening|Echo Server ready/i.test(output)) throw new Error(`gnutls-serv did not start: ${output}`);
  return { port, child, output: () => output };
}

/**
 * Writes `n` bytes, resolves with everything echoed back once all of it has come; rejects when the
 * server ends the connection first (gnutls-serv's record_overflow for a record above its limit).
 */
async function echo(client: TlsClient | Tls12Client, n: number): Promise<string> {
  let got = '';
  const all = new Promise<string>((resolve, reject) => {
    client.onData((c) => (got += utf8Decode(c)).length >= n && resolve(got));
    client.onClose((error) => reject(error ?? new Error(`the server closed after ${got.length} of ${n} bytes`)));
  });
  await client.write(utf8Encode('e'.repeat(n - 1) + '\n'));
  return all;
}

(GNUTLS ? describe : describe.skip)('tls: record_size_limit against gnutls-serv, which sends and enforces it', function () {
  this.timeout(30_000);
  let dir: string;
  let device: Device;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'xs-ota-gnutls-'));
    device = await provisionDevice(dir);
    writeFileSync(path.join(dir, 'server.key'), pki('server.key'));
    writeFileSync(path.join(dir, 'server.pem'), pki('server.pem'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const version of ['1.3', '1.2'] as const) {
    const connect = (stream: Parameters<typeof TlsClient.connect>[0]) => (version === '1.3' ? TlsClient.connect(stream, options(device)) : Tls12Client.connect(stream, options(device)));
    // Each protected record's overhead beyond its plaintext: 1.3 the content type and the tag; 1.2 the explicit nonce and the tag.
    const overhead = version === '1.3' ? 1 + 16 : 8 + 16;

    it(`TLS ${version}: its default limit (above ours) leaves our 2^11 records; a 5000-byte echo comes back whole`, async () => {
      const server = await gnutlsServer(dir, version, undefined);
      try {
        const tap = tapped(socketByteStream(await connectTcp(server.port)));
        const client = await connect(tap.stream);
        if (version === '1.2') assert.ok(serverHelloExtensions(tap.received).has(28), 'the TLS 1.2 ServerHello carries record_size_limit');
        assert.equal(client.recordFragmentMax, TLS_LIMITS.maxFragment);
        assert.equal((await echo(client, 5000)).length, 5000);
        client.close();
      } finally {
        server.child.kill();
      }
    });

    it(`TLS ${version}: a limit of 512 (below our 2^11; gnutls-serv takes no less): every record we send keeps to it, handshake and data, and the server takes them`, async () => {
      const server = await gnutlsServer(dir, version, 512);
      try {
        const tap = tapped(socketByteStream(await connectTcp(server.port)));
        const client = await connect(tap.stream);
        if (version === '1.2') {
          const limit = serverHelloExtensions(tap.received).get(28);
          assert.deepEqual(limit && [...limit], [0x02, 0x00], 'the TLS 1.2 ServerHello says 512');
        }
        assert.equal(client.recordFragmentMax, 512);
        const sentBefore = tap.sent.length;
        const back = await echo(client, 3000);
        assert.equal(back, 'e'.repeat(2999) + '\n');
        const data = recordLengths(tap.sent.slice(sentBefore));
        assert.ok(data.length >= Math.ceil(3000 / 512), `3000 bytes in ${data.length} records`);
        // The ClientHello is plaintext, before any limit; every record after it keeps to 512.
        const protectedRecords = recordLengths(tap.sent.slice(1)).filter((n) => n > 1);
        assert.ok(Math.max(...protectedRecords) <= 512 + overhead, `records sent ${protectedRecords.join(',')}`);
        client.close();
      } finally {
        server.child.kill();
      }
    });

    it(`the offer of 1.3 and 1.2 to a TLS ${version}-only gnutls-serv with a limit of 512: ${version} is spoken, the limit read as ${version} counts it`, async () => {
      const server = await gnutlsServer(dir, version, 512);
      try {
        const tap = tapped(socketByteStream(await connectTcp(server.port)));
        const client = await TlsClient.connect(tap.stream, options(device), true);
        assert.equal(client.version, version);
        assert.equal(client.recordFragmentMax, 512);
        const sentBefore = tap.sent.length;
        assert.equal((await echo(client, 3000)).length, 3000);
        assert.ok(Math.max(...recordLengths(tap.sent.slice(sentBefore))) <= 512 + overhead);
        client.close();
      } finally {
        server.child.kill();
      }
    });
  }
});
if (!GNUTLS) console.log('      (gnutls-serv not installed: the record_size_limit tests against it are skipped; apt-get install gnutls-bin)');
