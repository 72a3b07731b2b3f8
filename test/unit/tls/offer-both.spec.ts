/**
 * otaTlsVersions '1.3,1.2': one ClientHello offering TLS 1.3 and 1.2 (both suites, supported_versions
 * 0x0304 and 0x0303, the key share and the 1.2 extensions), the handshake going on in the version
 * the server picks with the same transcript: against node:tls and `openssl s_server`, each
 * limited to 1.2 and to 1.3, requiring the device certificate. Then RFC 8446 §4.1.3: a TLS 1.2
 * ServerHello whose random ends in the downgrade sentinel ("DOWNGRD" 01, what a TLS 1.3 server
 * writes when it picks 1.2) is refused by the client that offered 1.3, from a test server that
 * crafts it; a client that offered only 1.2 goes on (the sentinel is legitimate for it).
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
import { Reader, Writer } from '../../../src/tls/handshake.js';
import { socketByteStream } from '../../../tools/node/node-byte-stream.js';
import { connectTcp, type Device, helloExtensions, options, pki, provisionDevice, rejectsWith, roundTrip, tapped } from '../../support/tls-device.js';

/** The cipher suites of the ClientHello in our first record. */
function helloSuites(record: Uint8Array): number[] {
  const r = new Reader(record.subarray(5 + 4), 'ClientHello');
  r.u16('version');
  r.bytes(32, 'random');
  r.vector(1, 'session');
  const suites = r.vector(2, 'suites');
  const out: number[] = [];
  while (suites.left > 0) out.push(suites.u16('suite'));
  return out;
}

const DOWNGRD_12 = [0x44, 0x4f, 0x57, 0x4e, 0x47, 0x52, 0x44, 0x01];

/**
 * A server that answers any ClientHello with a bare TLS 1.2 ServerHello (ECDHE-ECDSA-AES128-GCM,
 * no extensions) whose random ends in `tail`, then waits; it records what the client sent.
 */
async function craftedServer(tail: number[]): Promise<{ port: number; received: () => Buffer; close: () => Promise<void> }> {
  let received = Buffer.alloc(0);
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    socket.on('data', (d) => {
      const first = received.length === 0;
      received = Buffer.concat([received, d]);
      if (!first) return;
      const random = new Uint8Array(32).fill(0x5a);
      random.set(tail, 32 - tail.length);
      const body = new Writer(64).u16(0x0303).bytes(random).u8(0).u16(0xc02b).u8(0).done();
      const hs = new Writer(4 + body.length).u8(2).u24(body.length).bytes(body).done();
      socket.write(new Writer(5 + hs.length).u8(22).u16(0x0303).u16(hs.length).bytes(hs).done());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    received: () => received,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('tls: one ClientHello offering TLS 1.3 and 1.2 (otaTlsVersions 1.3,1.2)', function () {
  this.timeout(30_000);
  let dir: string;
  let device: Device;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'xs-ota-tls-both-'));
    device = await provisionDevice(dir);
    writeFileSync(path.join(dir, 'server.key'), pki('server.key'));
    writeFileSync(path.join(dir, 'server.pem'), pki('server.pem'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const version of ['1.3', '1.2'] as const) {
    it(`node:tls limited to TLS ${version} (requestCert): the offer of both goes on in ${version}, mutual, data both ways, one ECDHE key in the A5000`, async () => {
      const v = version === '1.3' ? 'TLSv1.3' : 'TLSv1.2';
      const peers: string[] = [];
      const server = tls.createServer({ key: pki('server.key'), cert: pki('server.pem'), ca: pki('ca.pem'), requestCert: true, rejectUnauthorized: true, minVersion: v, maxVersion: v }, (socket) => {
        peers.push(String(socket.getPeerCertificate().subject?.CN));
        socket.on('data', (d) => socket.write(`echo:${d.toString()}`));
        socket.on('error', () => undefined);
      });
      server.on('tlsClientError', () => undefined);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      try {
        const before = { ...device.sim.stats };
        const tap = tapped(socketByteStream(await connectTcp((server.address() as net.AddressInfo).port)));
        const client = await TlsClient.connect(tap.stream, options(device), true);
        assert.equal(client.version, version);
        const exts = helloExtensions(tap.sent[0]);
        assert.deepEqual([...(exts.get(43) ?? [])], [4, 0x03, 0x04, 0x03, 0x03], 'supported_versions: 1.3 and 1.2');
        assert.deepEqual(helloSuites(tap.sent[0]), [0x1301, 0xc02b]);
        assert.ok(exts.has(51) && exts.has(23) && exts.has(11) && exts.has(0xff01), 'key_share and the 1.2 extensions (EMS, point formats, renegotiation_info)');
        assert.deepEqual([...(exts.get(28) ?? [])], [0x08, 0x00], 'record_size_limit 2^11: read in either version, it fits our buffer');
        assert.equal(await roundTrip(client, 'both'), 'echo:both');
        assert.ok(client.stats.clientAuthenticated);
        assert.deepEqual(peers, ['device-42']);
        // The key share of the hello is the 1.2 ECDHE key too: one generation, one agreement.
        assert.equal(device.sim.stats.keyGenerations - before.keyGenerations, 1);
        assert.equal(device.sim.stats.agreements - before.agreements, 1);
        client.close();
      } finally {
        await new Promise<void>((r) => server.close(() => r()));
      }
    });
  }

  for (const version of ['1.3', '1.2'] as const) {
    it(`openssl s_server -tls${version === '1.3' ? '1_3' : '1_2'} -Verify 1: the offer of both goes on in ${version}; s_server verifies the device certificate`, async () => {
      const port = 20000 + Math.floor(Math.random() * 20000);
      const child: ChildProcess = spawn('openssl', ['s_server', version === '1.3' ? '-tls1_3' : '-tls1_2', '-accept', String(port), '-4', '-key', 'server.key', '-cert', 'server.pem', '-CAfile', 'ca.pem', '-Verify', '1', '-verify_return_error', '-rev'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
      let output = '';
      child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
      try {
        for (let i = 0; i < 100 && !/ACCEPT/.test(output); i++) await new Promise((r) => setTimeout(r, 50));
        assert.match(output, /ACCEPT/, 'openssl s_server started');
        const client = await TlsClient.connect(socketByteStream(await connectTcp(port)), options(device), true);
        assert.equal(client.version, version);
        assert.match(await roundTrip(client, 'device\n'), /ecived/);
        assert.match(output, /CN\s?=\s?device-42/, output);
        client.close();
      } finally {
        child.kill();
      }
    });
  }

  describe('the downgrade sentinel (RFC 8446 §4.1.3) in a crafted TLS 1.2 ServerHello', () => {
    it('offering 1.3 and 1.2: refused with tls-downgrade, and the server is told illegal_parameter', async () => {
      const server = await craftedServer(DOWNGRD_12);
      try {
        await assert.rejects(TlsClient.connect(socketByteStream(await connectTcp(server.port)), options(device), true), rejectsWith('tls-downgrade', /downgrade sentinel/));
        await new Promise((r) => setTimeout(r, 50));
        // After the ClientHello record: our fatal alert illegal_parameter (47), in the clear.
        const all = server.received();
        const alert = all.subarray(5 + all.readUInt16BE(3));
        assert.deepEqual([...alert], [21, 3, 3, 0, 2, 2, 47]);
      } finally {
        await server.close();
      }
    });

    it('the same ServerHello without the sentinel is taken: the client goes on and waits for the Certificate', async () => {
      const server = await craftedServer([0, 0, 0, 0, 0, 0, 0, 0]);
      try {
        const stream = socketByteStream(await connectTcp(server.port));
        const outcome = TlsClient.connect(stream, options(device), true).then(
          () => 'connected',
          (e: unknown) => e,
        );
        await new Promise((r) => setTimeout(r, 300));
        await server.close();
        const error = await outcome;
        assert.ok(error instanceof Error && !/downgrade|unsupported/.test(error.message), String(error));
      } finally {
        await server.close();
      }
    });

    it('a client that offered 1.2 only takes the sentinel (a TLS 1.3 server writes it for every 1.2 client); one that offered 1.3 only refuses 1.2', async () => {
      const server = await craftedServer(DOWNGRD_12);
      try {
        const only12 = Tls12Client.connect(socketByteStream(await connectTcp(server.port)), options(device)).then(
          () => 'connected',
          (e: unknown) => e,
        );
        await new Promise((r) => setTimeout(r, 300));
        await server.close();
        const error = await only12;
        assert.ok(error instanceof Error && !/downgrade|unsupported/.test(error.message), String(error));
      } finally {
        await server.close();
      }
      const again = await craftedServer(DOWNGRD_12);
      try {
        await assert.rejects(TlsClient.connect(socketByteStream(await connectTcp(again.port)), options(device)), rejectsWith('tls-unsupported', /not TLS 1\.3/));
      } finally {
        await again.close();
      }
    });
  });
});
