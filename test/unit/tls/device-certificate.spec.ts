/**
 * The device certificate read at boot (src/tls/device-certificate.ts, startAgent's step before
 * createAgent): from the simulated A5000's certificate object, written as `xs-ota se cert` and the
 * dev kit write it, into a bounded buffer and through parseDerChain, the leaf checked against the
 * device key object. Each failure is typed and names the setting: object missing, garbage, too
 * large, a certificate for another key; one from another CA passes the boot read and is refused
 * by a server requiring client certificates (node:tls), a typed TLS alert.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { DEVICE_CERT_CHAIN_MAX } from '../../../src/se/cert-chain.js';
import { SE05X_READ_CHUNK } from '../../../src/se/se05x.js';
import { TlsClient } from '../../../src/tls/client.js';
import { readDeviceCertificate } from '../../../src/tls/device-certificate.js';
import { SeKeyOps } from '../../../src/tls/se-key-ops.js';
import { ecdsaSign, generateEcKey } from '../../../src/se/se05x-keys.js';
import { buildCsr } from '../../../tools/devkit/pkcs10.js';
import { writeDeviceCertificate } from '../../../tools/devkit/device-cert.js';
import { connectTcp, DEVICE_CERT, DEVICE_KEY, derOf, type Device, options, pki, provisionDevice, rejectsWith, roundTrip } from '../../support/tls-device.js';
import { socketByteStream } from '../../../tools/node/node-byte-stream.js';
import { utf8Encode } from '../../../src/util/bytes.js';

const OTHER_KEY = 0x7b000310;

describe('tls: the device certificate read from the A5000 at boot', function () {
  this.timeout(30_000);
  let dir: string;
  let device: Device;
  let server: tls.Server;
  let port: number;

  /** A certificate for the key in object `key`, issued by the CA in `dir` files `ca`.pem/.key. */
  async function issue(key: number, cn: string, ca = 'ca'): Promise<Uint8Array> {
    writeFileSync(path.join(dir, `${cn}.csr`), await buildCsr(await device.se.readObject(key), `CN=${cn}`, (d) => ecdsaSign(device.se, key, d)));
    execFileSync('openssl', ['x509', '-req', '-inform', 'DER', '-in', `${cn}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2', '-out', `${cn}.pem`], { cwd: dir, stdio: 'pipe' });
    return derOf(readFileSync(path.join(dir, `${cn}.pem`), 'utf8'));
  }
  const read = () => readDeviceCertificate(device.se, { object: DEVICE_CERT }, DEVICE_KEY);

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'xs-ota-device-cert-'));
    device = await provisionDevice(dir);
    server = tls.createServer({ key: pki('server.key'), cert: pki('server.pem'), ca: pki('ca.pem'), requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' }, (s) => {
      s.on('data', (d) => s.write(`echo:${d.toString()}`));
      s.on('error', () => undefined);
    });
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as net.AddressInfo).port;
  });
  after(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the chain (leaf and CA) in ReadSize + chunked ReadObject + the key, and a server takes it', async () => {
    const leaf = derOf(device.certificatePem);
    const ca = derOf(pki('ca.pem'));
    await writeDeviceCertificate(device.se, DEVICE_CERT, new Uint8Array(Buffer.concat([leaf, ca])));
    const before = device.sim.stats.commands;
    const chain = await read();
    assert.deepEqual(chain.map((c) => Buffer.from(c).toString('hex')), [leaf, ca].map((c) => Buffer.from(c).toString('hex')));
    // ReadSize, ceil(size / chunk) ReadObject ranges, and ReadObject of the key: nothing per handshake.
    assert.equal(device.sim.stats.commands - before, 1 + Math.ceil((leaf.length + ca.length) / SE05X_READ_CHUNK) + 1);
    const keys = new SeKeyOps({ se: device.se, deviceKeyId: DEVICE_KEY, certificateChain: chain, ephemeralKeyId: 0x7b000302, peerKeyId: 0x7b000303 });
    const client = await TlsClient.connect(socketByteStream(await connectTcp(port)), options(device, { keys }));
    assert.equal(await roundTrip(client, 'from the object'), 'echo:from the object');
    client.close();
  });

  it('object missing: se-no-object naming otaDeviceCert and the object', async () => {
    await assert.rejects(readDeviceCertificate(device.se, { object: 0x7b000305 }, DEVICE_KEY), rejectsWith('se-no-object', /^se-no-object: otaDeviceCert se:0x7B000305: /));
  });

  it('garbage in the object: config-invalid, nothing presented', async () => {
    await device.se.writeBinary(DEVICE_CERT, new Uint8Array(300).fill(0x5a));
    await assert.rejects(read(), rejectsWith('config-invalid', /otaDeviceCert se:0x7B000304: device certificate: no DER SEQUENCE/));
    // A DER SEQUENCE that is no certificate (no tbsCertificate inside).
    await device.se.writeBinary(DEVICE_CERT, new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]));
    await assert.rejects(read(), rejectsWith('config-invalid', /no tbsCertificate/));
  });

  it(`too large (> DEVICE_CERT_CHAIN_MAX = ${DEVICE_CERT_CHAIN_MAX} bytes): limit-exceeded after ReadSize alone`, async () => {
    await device.se.writeBinary(DEVICE_CERT, new Uint8Array(DEVICE_CERT_CHAIN_MAX + 1).fill(0x30));
    const before = device.sim.stats.commands;
    await assert.rejects(read(), rejectsWith('limit-exceeded', /otaDeviceCert se:0x7B000304: object 0x7B000304 of 2049 bytes > 2048/));
    assert.equal(device.sim.stats.commands - before, 1, 'nothing of it read beyond its size');
  });

  it('a certificate issued for another key: tls-certificate-key-mismatch at boot, not an opaque alert later', async () => {
    await generateEcKey(device.se, OTHER_KEY);
    await writeDeviceCertificate(device.se, DEVICE_CERT, await issue(OTHER_KEY, 'device-other-key'));
    await assert.rejects(read(), rejectsWith('tls-certificate-key-mismatch', /otaDeviceCert se:0x7B000304: .*otaDeviceKeyId 0x7B000301/));
  });

  it('the resource form (PEM) is checked as the object is', async () => {
    const pem = (text: string) => ({ pem: new TextEncoder().encode(text), name: 'device.pem' });
    assert.equal((await readDeviceCertificate(device.se, pem(device.certificatePem), DEVICE_KEY)).length, 1);
    await assert.rejects(readDeviceCertificate(device.se, pem('no pem'), DEVICE_KEY), rejectsWith('config-invalid', /^config-invalid: otaDeviceCert device.pem: /));
    await assert.rejects(readDeviceCertificate(device.se, pem(pki('ca.pem')), DEVICE_KEY), rejectsWith('tls-certificate-key-mismatch'));
    await assert.rejects(readDeviceCertificate(device.se, pem(device.certificatePem.repeat(5)), DEVICE_KEY), rejectsWith('config-invalid', /more than 4 certificates/));
  });

  it('a certificate from another CA passes the boot read (its key is the A5000 key) and the server refuses it: tls-alert', async () => {
    execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'rogue.key'], { cwd: dir, stdio: 'pipe' });
    execFileSync('openssl', ['req', '-x509', '-new', '-key', 'rogue.key', '-subj', '/CN=rogue CA', '-days', '2', '-out', 'rogue.pem'], { cwd: dir, stdio: 'pipe' });
    await writeDeviceCertificate(device.se, DEVICE_CERT, await issue(DEVICE_KEY, 'device-rogue', 'rogue'));
    const keys = new SeKeyOps({ se: device.se, deviceKeyId: DEVICE_KEY, certificateChain: await read(), ephemeralKeyId: 0x7b000302, peerKeyId: 0x7b000303 });
    // openssl s_server, which answers an untrusted client certificate with an alert (node:tls
    // closes the socket without one).
    for (const f of ['server.key', 'server.pem']) writeFileSync(path.join(dir, f), pki(f));
    const sPort = 20000 + Math.floor(Math.random() * 20000);
    const child = spawn('openssl', ['s_server', '-tls1_3', '-accept', String(sPort), '-4', '-key', 'server.key', '-cert', 'server.pem', '-CAfile', 'ca.pem', '-Verify', '1', '-verify_return_error', '-groups', 'P-256', '-rev'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    try {
      for (let i = 0; i < 100 && !/ACCEPT/.test(output); i++) await new Promise((r) => setTimeout(r, 50));
      const client = await TlsClient.connect(socketByteStream(await connectTcp(sPort)), options(device, { keys })).catch((e: unknown) => e);
      let error = client;
      if (client instanceof TlsClient) {
        // TLS 1.3: the client is done after its Finished; the refusal arrives as the next record.
        const closed = new Promise<unknown>((resolve) => client.onClose((e) => resolve(e)));
        await client.write(utf8Encode('x\n')).catch(() => undefined);
        error = await closed;
      }
      assert.ok(rejectsWith('tls-alert', /unknown_ca|bad_certificate|certificate_unknown|decrypt_error/)(error));
    } finally {
      child.kill();
    }
  });
});
