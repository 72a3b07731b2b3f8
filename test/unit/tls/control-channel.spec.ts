/**
 * The control channel's connector built from the agent's settings (src/tls/control-channel.ts,
 * used by start.ts for IoTConnect when `agentTls` is set): PEM certificates decoded in agent code,
 * typed configuration errors, and a TLS 1.3 session with the key in the simulated A5000.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import type { ByteStreamConnector } from '../../../src/net/byte-stream.js';
import { Se05x } from '../../../src/se/se05x.js';
import { T1Link } from '../../../src/se/t1-link.js';
import { agentTlsControlConnector } from '../../../src/tls/control-channel.js';
import { pemBlocks } from '../../../src/tls/pem.js';
import { hex, utf8Decode, utf8Encode } from '../../../src/util/bytes.js';
import { OtaError, isOtaError } from '../../../src/util/errors.js';
import { readDeviceCertificate } from '../../../src/tls/device-certificate.js';
import { NodeDigest } from '../../../tools/node/node-digest.js';
import { NodeTlsCrypto } from '../../../tools/node/node-tls-crypto.js';
import { socketByteStream } from '../../../tools/node/node-byte-stream.js';
import { realClock } from '../../../tools/node/real-clock.js';
import { SimA5000 } from '../../../tools/devkit/parts/sim-a5000.js';
import { buildCsr } from '../../../tools/devkit/pkcs10.js';
import { ecdsaSign, generateEcKey } from '../../../src/se/se05x-keys.js';

const PKI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'tools', 'node', 'test-pki');
const pki = (f: string) => readFileSync(path.join(PKI, f), 'utf8');
const bytes = (s: string) => new TextEncoder().encode(s);

describe('tls: control channel from the settings (otaControlTls agent)', function () {
  this.timeout(30_000);

  it('decodes PEM certificates as node:crypto does, and refuses what is not PEM', () => {
    const [der] = pemBlocks(bytes(pki('ca.pem')));
    assert.equal(hex(der), new X509Certificate(pki('ca.pem')).raw.toString('hex'));
    assert.equal(pemBlocks(pki('server.pem') + pki('ca.pem')).length, 2);
    assert.throws(() => pemBlocks('no pem here'), (e: unknown) => isOtaError(e, 'config-invalid'));
    assert.throws(() => pemBlocks('-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----'), (e: unknown) => isOtaError(e, 'config-invalid'));
  });

  it('connects with the SE key, and names what is missing in the configuration', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'xs-ota-cc-'));
    const clock = realClock();
    const sim = new SimA5000({ clock });
    const se = new Se05x({ link: new T1Link({ i2c: sim, clock }) });
    const server = tls.createServer({ key: pki('server.key'), cert: pki('server.pem'), ca: pki('ca.pem'), requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' }, (s) => {
      s.on('data', (d) => s.write(`echo:${d.toString()}`));
      s.on('error', () => undefined);
    });
    try {
      await generateEcKey(se, 0x7b000301);
      writeFileSync(path.join(dir, 'd.csr'), await buildCsr(await se.readObject(0x7b000301), 'CN=device-cc', (d) => ecdsaSign(se, 0x7b000301, d)));
      for (const f of ['ca.key', 'ca.pem']) writeFileSync(path.join(dir, f), pki(f));
      execFileSync('openssl', ['x509', '-req', '-inform', 'DER', '-in', 'd.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '30', '-out', 'd.pem'], { cwd: dir, stdio: 'pipe' });
      // The resource form of otaDeviceCert: the PEM read and checked at boot as the object form is.
      const chain = await readDeviceCertificate(se, { pem: bytes(readFileSync(path.join(dir, 'd.pem'), 'utf8')), name: 'd.pem' }, 0x7b000301);
      const settings = { deviceKeyId: 0x7b000301, certificate: { chain } };
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as net.AddressInfo).port;
      const plain: ByteStreamConnector = {
        connect: (t) =>
          new Promise((resolve, reject) => {
            assert.equal(t.tls, false, 'the modem opens a plain socket');
            const s = net.connect(t.port, '127.0.0.1', () => resolve(socketByteStream(s)));
            s.once('error', reject);
          }),
      };
      let opened = 0;
      const counted: ByteStreamConnector = { connect: (t) => (opened++, plain.connect(t)) };
      const parts = { plain: counted, se, clock, digest: new NodeDigest(), crypto: new NodeTlsCrypto(), caPem: bytes(pki('ca.pem')) };
      assert.throws(() => agentTlsControlConnector(settings, { ...parts, crypto: undefined }), (e: unknown) => isOtaError(e, 'config-invalid') && /TlsCryptoPort/.test(e.message));
      assert.throws(() => agentTlsControlConnector(settings, { ...parts, caPem: undefined }), (e: unknown) => isOtaError(e, 'config-invalid') && /otaCaCert is required/.test(e.message));
      const stream = await agentTlsControlConnector(settings, parts).connect({ host: 'updates.example.com', port, tls: true });
      const reply = new Promise<string>((resolve) => stream.onData((c) => resolve(utf8Decode(c))));
      await stream.write(utf8Encode('cc'));
      assert.equal(await reply, 'echo:cc');
      stream.close();
      assert.equal(opened, 1);
      // No chain at boot: every connect fails with the boot read's typed error, before any socket or A5000 command.
      const bootError = new OtaError('se-no-object', 'otaDeviceCert se:0x7B000304: ReadSize 0x7B000304: SW 6985');
      const commands = sim.stats.commands;
      await assert.rejects(agentTlsControlConnector({ deviceKeyId: 0x7b000301, certificate: { error: bootError } }, parts).connect({ host: 'updates.example.com', port, tls: true }), (e: unknown) => e === bootError);
      assert.equal(opened, 1, 'no socket opened');
      assert.equal(sim.stats.commands, commands, 'no A5000 command');
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
