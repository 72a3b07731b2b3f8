/**
 * TLS 1.2 (ECDHE-ECDSA-AES128-GCM-SHA256) for brokers without TLS 1.3, keys in the simulated
 * A5000: against node:tls limited to TLSv1.2 with requestCert, and `openssl s_server -tls1_2
 * -Verify 1`; the PRF against RFC 5246's P_SHA256 as node:crypto computes it.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { Se05x } from '../../../src/se/se05x.js';
import { T1Link } from '../../../src/se/t1-link.js';
import { SeKeyOps } from '../../../src/tls/se-key-ops.js';
import { prf12, Tls12Client } from '../../../src/tls/tls12.js';
import type { TlsClientOptions } from '../../../src/tls/client.js';
import { hex, utf8Decode, utf8Encode } from '../../../src/util/bytes.js';
import { isOtaError } from '../../../src/util/errors.js';
import { NodeDigest } from '../../../tools/node/node-digest.js';
import { NodeTlsCrypto } from '../../../tools/node/node-tls-crypto.js';
import { socketByteStream } from '../../../tools/node/node-byte-stream.js';
import { realClock } from '../../../tools/node/real-clock.js';
import { SimA5000 } from '../../../tools/devkit/parts/sim-a5000.js';
import { buildCsr } from '../../../tools/devkit/pkcs10.js';
import { ecdsaSign, generateEcKey } from '../../../src/se/se05x-keys.js';
import { viaCertificateObject } from '../../support/tls-device.js';

const PKI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'tools', 'node', 'test-pki');
const pki = (f: string) => readFileSync(path.join(PKI, f), 'utf8');
const derOf = (pem: string) => new Uint8Array(Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64'));
const DEVICE_KEY = 0x7b000301;

function connectTcp(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

describe('tls: TLS 1.2 ECDHE-ECDSA-AES128-GCM-SHA256 with the key in the A5000', function () {
  this.timeout(30_000);
  let dir: string;
  let options: () => TlsClientOptions;
  let sim: SimA5000;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'xs-ota-tls12-'));
    const clock = realClock();
    sim = new SimA5000({ clock });
    const se = new Se05x({ link: new T1Link({ i2c: sim, clock }) });
    await generateEcKey(se, DEVICE_KEY);
    writeFileSync(path.join(dir, 'd.csr'), await buildCsr(await se.readObject(DEVICE_KEY), 'CN=device-12', (d) => ecdsaSign(se, DEVICE_KEY, d)));
    for (const f of ['ca.key', 'ca.pem', 'server.key', 'server.pem']) writeFileSync(path.join(dir, f), pki(f));
    execFileSync('openssl', ['x509', '-req', '-inform', 'DER', '-in', 'd.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '30', '-out', 'd.pem'], { cwd: dir, stdio: 'pipe' });
    // Presented as the agent presents it: read back from the A5000's certificate object.
    const chain = await viaCertificateObject(se, [derOf(readFileSync(path.join(dir, 'd.pem'), 'utf8'))]);
    options = () => ({
      host: 'updates.example.com',
      trustAnchors: [derOf(pki('ca.pem'))],
      keys: new SeKeyOps({ se, deviceKeyId: DEVICE_KEY, certificateChain: chain, ephemeralKeyId: 0x7b000302, peerKeyId: 0x7b000303 }),
      crypto: new NodeTlsCrypto(),
      digest: new NodeDigest(),
      now: () => Math.floor(Date.now() / 1000),
    });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('the PRF is P_SHA256 (RFC 5246 §5)', () => {
    const secret = new Uint8Array(48).fill(0x0b);
    const seed = new Uint8Array(64).map((_, i) => i);
    const labelSeed = Buffer.concat([Buffer.from('key expansion'), seed]);
    const h = (data: Buffer) => createHmac('sha256', secret).update(data).digest();
    const a1 = h(labelSeed);
    const a2 = h(a1);
    const expected = Buffer.concat([h(Buffer.concat([a1, labelSeed])), h(Buffer.concat([a2, labelSeed]))]).subarray(0, 40);
    assert.equal(hex(prf12(new NodeTlsCrypto(), secret, 'key expansion', seed, 40)), expected.toString('hex'));
  });

  it('against node:tls (TLSv1.2 only, requestCert): mutual authentication, data both ways', async () => {
    const peers: string[] = [];
    const server = tls.createServer({ key: pki('server.key'), cert: pki('server.pem'), ca: pki('ca.pem'), requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }, (s) => {
      peers.push(`${String(s.getPeerCertificate().subject?.CN)} ${s.getProtocol()} ${s.getCipher().name}`);
      s.on('data', (d) => s.write(`echo:${d.toString()}`));
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as net.AddressInfo).port;
      const client = await Tls12Client.connect(socketByteStream(await connectTcp(port)), options());
      const reply = new Promise<string>((resolve) => client.onData((c) => resolve(utf8Decode(c))));
      await client.write(utf8Encode('hello 1.2'));
      assert.equal(await reply, 'echo:hello 1.2');
      assert.deepEqual(peers, ['device-12 TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256']);
      assert.deepEqual(client.stats.keyOps, { random: 1, ephemeral: 1, agree: 1, sign: 1, verify: 2 });
      client.close();
      // A wrong host is refused as in TLS 1.3.
      await assert.rejects(Tls12Client.connect(socketByteStream(await connectTcp(port)), { ...options(), host: 'other.org' }), (e: unknown) => isOtaError(e, 'tls-host-mismatch'));
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('against openssl s_server -tls1_2 -Verify 1', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    let output = '';
    const child: ChildProcess = spawn('openssl', ['s_server', '-tls1_2', '-accept', String(port), '-4', '-key', 'server.key', '-cert', 'server.pem', '-CAfile', 'ca.pem', '-Verify', '1', '-verify_return_error', '-rev'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    try {
      for (let i = 0; i < 100 && !/ACCEPT/.test(output); i++) await new Promise((r) => setTimeout(r, 50));
      const client = await Tls12Client.connect(socketByteStream(await connectTcp(port)), options());
      const reply = new Promise<string>((resolve) => client.onData((c) => resolve(utf8Decode(c))));
      await client.write(utf8Encode('device\n'));
      assert.match(await reply, /ecived/);
      assert.match(output, /CN\s?=\s?device-12/, output);
      client.close();
    } finally {
      child.kill();
    }
  });
});
