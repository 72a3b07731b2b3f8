/**
 * The agent's TLS 1.3 client on the device's engine (xsnap): a handshake with a node:tls server
 * that requires a client certificate, the certificate's key generated in the simulated A5000 and
 * every private-key operation there, over a plain host socket. Prints the XS figures: live heap
 * slots held by the session, compute, A5000 commands per handshake.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { Se05x } from '../../src/se/se05x.js';
import { T1Link } from '../../src/se/t1-link.js';
import { connectNode } from '../../tools/node/node-byte-stream.js';
import { realClock } from '../../tools/node/real-clock.js';
import { SimA5000 } from '../../tools/devkit/parts/sim-a5000.js';
import { buildCsr } from '../../tools/devkit/pkcs10.js';
import { serveRealClock, serveSockets } from '../../tools/xs/serve-socket.js';
import { XsSession } from '../../tools/xs/session.js';
import { serveTlsHost } from '../support/xs-tls-host.js';
import { ecdsaSign, generateEcKey } from '../../src/se/se05x-keys.js';
import { writeDeviceCertificate } from '../../tools/devkit/device-cert.js';
import { DEVICE_CERT_CHAIN_MAX } from '../../src/se/cert-chain.js';

const PKI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'tools', 'node', 'test-pki');
const pki = (f: string) => readFileSync(path.join(PKI, f), 'utf8');
const derOf = (pem: string) => new Uint8Array(Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64'));
const DEVICE_KEY = 0x7b000301;
const DEVICE_CERT = 0x7b000304;

describe('tls on XS (xsnap): TLS 1.3 with the key in the simulated A5000', function () {
  this.timeout(60_000);
  let session: XsSession;
  let server: tls.Server;
  let dir: string;
  let sim: SimA5000;
  let certificate: Uint8Array;
  let hostSe: Se05x;
  const peers: string[] = [];
  const errors: unknown[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'xs-ota-xs-tls-'));
    const clock = realClock();
    sim = new SimA5000({ clock });
    const se = new Se05x({ link: new T1Link({ i2c: sim, clock }) });
    await generateEcKey(se, DEVICE_KEY);
    const csr = await buildCsr(await se.readObject(DEVICE_KEY), 'CN=device-xs', (d) => ecdsaSign(se, DEVICE_KEY, d));
    writeFileSync(path.join(dir, 'd.csr'), csr);
    writeFileSync(path.join(dir, 'ca.key'), pki('ca.key'));
    writeFileSync(path.join(dir, 'ca.pem'), pki('ca.pem'));
    execFileSync('openssl', ['x509', '-req', '-inform', 'DER', '-in', 'd.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '30', '-out', 'd.pem'], { cwd: dir, stdio: 'pipe' });
    certificate = derOf(readFileSync(path.join(dir, 'd.pem'), 'utf8'));
    hostSe = se;
    // The factory's step: the chain into the A5000's certificate object (as xs-ota se cert); the
    // guest reads it from there, as startAgent does at boot.
    await writeDeviceCertificate(se, DEVICE_CERT, certificate);
    await se.close();
    server = tls.createServer({ key: pki('server.key'), cert: pki('server.pem'), ca: pki('ca.pem'), requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' }, (s) => {
      peers.push(String(s.getPeerCertificate().subject?.CN));
      s.on('data', (d) => s.write(`echo:${d.toString()}`));
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));

    session = await XsSession.start({ bundle: 'tls' });
    serveRealClock(session, (e) => errors.push(e));
    serveSockets(session, { connect: (t) => connectNode(t) }, (e) => errors.push(e));
    serveTlsHost(session, sim);
  });
  after(async () => {
    await session?.close();
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('handshakes (client certificate verified by the server), carries data, and reports its figures', async () => {
    const port = (server.address() as net.AddressInfo).port;
    const before = await session.liveHeapCount();
    const r = await session.call<{ error?: string; message?: string; stats?: { keyOps: Record<string, number>; clientAuthenticated: boolean; bytesIn: number; bytesOut: number }; seCommands?: number }>('connect', {
      host: '127.0.0.1', port, serverName: 'updates.example.com', ca: derOf(pki('ca.pem')), certObject: DEVICE_CERT, deviceKeyId: DEVICE_KEY,
    });
    assert.equal(r.error, undefined, r.message);
    const during = await session.liveHeapCount();
    assert.equal(await session.call('send', { text: 'from XS' }), true);
    let got = '';
    for (let i = 0; i < 100 && !got; i++) {
      await new Promise((res) => setTimeout(res, 20));
      got = await session.call<string>('received');
    }
    assert.equal(got, 'echo:from XS');
    assert.deepEqual(peers, ['device-xs']);
    assert.ok(r.stats!.clientAuthenticated);
    assert.equal(errors.length, 0, String(errors[0]));
    // Figures (32-bit XS: a slot is 16 bytes): live slots the open session holds beyond the idle guest.
    console.log(`      XS: TLS session holds ${during - before} live heap slots (${(during - before) * 16} bytes of slots) after the handshake; A5000 commands per handshake: ${r.seCommands}; key operations ${JSON.stringify(r.stats!.keyOps)}; bytes in/out ${r.stats!.bytesIn}/${r.stats!.bytesOut}`);
    assert.equal(await session.call('close'), true);
  });

  it('otaTlsVersions 1.3,1.2: one hello offering both, to a node:tls server that speaks only 1.2, goes on in 1.2 (client certificate verified)', async () => {
    const server12 = tls.createServer({ key: pki('server.key'), cert: pki('server.pem'), ca: pki('ca.pem'), requestCert: true, rejectUnauthorized: true, maxVersion: 'TLSv1.2' }, (s) => {
      peers.push(`1.2:${String(s.getPeerCertificate().subject?.CN)}`);
      s.on('data', (d) => s.write(`echo12:${d.toString()}`));
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => server12.listen(0, '127.0.0.1', r));
    try {
      const r = await session.call<{ error?: string; message?: string; version?: string; stats?: { keyOps: Record<string, number>; clientAuthenticated: boolean; bytesIn: number; bytesOut: number }; seCommands?: number }>('connect', {
        host: '127.0.0.1', port: (server12.address() as net.AddressInfo).port, serverName: 'updates.example.com', ca: derOf(pki('ca.pem')), certObject: DEVICE_CERT, deviceKeyId: DEVICE_KEY, alsoTls12: true,
      });
      assert.equal(r.error, undefined, r.message);
      assert.equal(r.version, '1.2');
      assert.equal(await session.call('send', { text: 'both' }), true);
      let got = '';
      for (let i = 0; i < 100 && !got; i++) {
        await new Promise((res) => setTimeout(res, 20));
        got = await session.call<string>('received');
      }
      assert.equal(got, 'echo12:both');
      assert.equal(peers.at(-1), '1.2:device-xs');
      assert.equal(errors.length, 0, String(errors[0]));
      // (Its live slots are not printed: the first test's session, closed, is collected meanwhile.)
      console.log(`      XS: offer of 1.3 and 1.2, 1.2 spoken: A5000 commands per handshake: ${r.seCommands}; key operations ${JSON.stringify(r.stats!.keyOps)}; bytes in/out ${r.stats!.bytesIn}/${r.stats!.bytesOut}`);
      assert.equal(await session.call('close'), true);
    } finally {
      await new Promise<void>((r) => server12.close(() => r()));
    }
  });

  it('the boot read on the 32-bit engine: the chain from the A5000 object, and a missing or too large object typed', async () => {
    const ok = await session.call<{ chain?: Uint8Array[]; error?: string; message?: string }>('readCertificate', { object: DEVICE_CERT, deviceKeyId: DEVICE_KEY });
    assert.equal(ok.error, undefined, ok.message);
    assert.deepEqual(ok.chain!.map((c) => Buffer.from(c).toString('hex')), [Buffer.from(certificate).toString('hex')]);
    const missing = await session.call<{ error?: string; message?: string }>('readCertificate', { object: 0x7b000305, deviceKeyId: DEVICE_KEY });
    assert.equal(missing.error, 'se-no-object', missing.message);
    assert.match(missing.message!, /otaDeviceCert se:0x7B000305/);
    await hostSe.writeBinary(0x7b000306, new Uint8Array(DEVICE_CERT_CHAIN_MAX + 1).fill(0x30));
    await hostSe.close();
    const large = await session.call<{ error?: string; message?: string }>('readCertificate', { object: 0x7b000306, deviceKeyId: DEVICE_KEY });
    assert.equal(large.error, 'limit-exceeded', large.message);
    assert.equal(errors.length, 0, String(errors[0]));
  });
});
