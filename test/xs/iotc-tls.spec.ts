/**
 * IoTConnect inside XS with TLS terminated in the agent: the device's MQTT sessions to a real
 * mosquitto (require_certificate, IoTConnect ACLs) run TlsClient over plain host sockets; the
 * client certificate was issued by the broker's CA for a key generated in the simulated A5000, and
 * every private-key operation is the SE's. No key material outside the SE: the host's socket
 * connector refuses to do TLS itself.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { ByteStreamConnector } from '../../src/net/byte-stream.js';
import { Se05x } from '../../src/se/se05x.js';
import { T1Link } from '../../src/se/t1-link.js';
import { socketByteStream } from '../../tools/node/node-byte-stream.js';
import { realClock } from '../../tools/node/real-clock.js';
import { SimA5000 } from '../../tools/devkit/parts/sim-a5000.js';
import { buildCsr } from '../../tools/devkit/pkcs10.js';
import { serveHttp, serveRealClock, serveSockets, type SocketBridge } from '../../tools/xs/serve-socket.js';
import { XsSession } from '../../tools/xs/session.js';
import { requireMosquitto, startIotConnectCloud, type IotConnectCloud } from '../support/broker.js';
import { NodeHttpClient } from '../../tools/node/node-http-client.js';
import { serveTlsHost } from '../support/xs-tls-host.js';
import { ecdsaSign, generateEcKey } from '../../src/se/se05x-keys.js';
import { writeDeviceCertificate } from '../../tools/devkit/device-cert.js';

const derOf = (pem: string) => new Uint8Array(Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64'));
const DEVICE_KEY = 0x7b000301;
const DEVICE_CERT = 0x7b000304;
const DUID = 'xs-se-device-1';

describe('IoTConnect in XS over TLS in the agent, key in the simulated A5000, real mosquitto', function () {
  this.timeout(60_000);
  let cloud: IotConnectCloud | undefined;
  let session: XsSession;
  let sockets: SocketBridge;
  let clock: { clear(): void };
  let sim: SimA5000;
  let certificate: Uint8Array;
  const errors: unknown[] = [];
  const targets: string[] = [];

  before(async function () {
    requireMosquitto(this);
    cloud = await startIotConnectCloud();
    cloud.double.addDevice(DUID);
    cloud.double.addFile('fw.bin', new Uint8Array(100));
    // The key pair is born in the SE; the broker's CA issues the certificate (CN = duid) for its CSR.
    const hostClock = realClock();
    sim = new SimA5000({ clock: hostClock });
    const se = new Se05x({ link: new T1Link({ i2c: sim, clock: hostClock }) });
    await generateEcKey(se, DEVICE_KEY);
    const dir = cloud.pki.dir;
    writeFileSync(path.join(dir, 'se.csr'), await buildCsr(await se.readObject(DEVICE_KEY), `CN=${DUID}`, (d) => ecdsaSign(se, DEVICE_KEY, d)));
    writeFileSync(path.join(dir, 'se.ext'), 'extendedKeyUsage=clientAuth\n');
    execFileSync('openssl', ['x509', '-req', '-inform', 'DER', '-in', 'se.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'se.ext', '-out', 'se.crt'], { cwd: dir, stdio: 'pipe' });
    certificate = derOf(readFileSync(path.join(dir, 'se.crt'), 'utf8'));
    // The factory's step: the chain into the A5000's certificate object, which the guest reads at its start.
    await writeDeviceCertificate(se, DEVICE_CERT, certificate);
    await se.close();

    session = await XsSession.start({ bundle: 'iotc-tls' });
    const plain: ByteStreamConnector = {
      connect: (t) =>
        new Promise((resolve, reject) => {
          targets.push(`${t.host}:${t.port}${t.tls ? ' tls' : ''}`);
          if (t.tls) return reject(new Error('the guest asked the host for TLS: it must terminate TLS itself'));
          const s = net.connect(t.port, '127.0.0.1', () => resolve(socketByteStream(s)));
          s.once('error', reject);
        }),
    };
    sockets = serveSockets(session, plain, (e) => errors.push(e));
    clock = serveRealClock(session, (e) => errors.push(e));
    serveHttp(session, new NodeHttpClient(), (e) => errors.push(e));
    serveTlsHost(session, sim);
  });
  after(async () => {
    sockets?.closeAll();
    clock?.clear();
    await session?.close();
    await cloud?.close();
  });

  it('poll takes the OTA command and the running report is acknowledged (st 3), each session a TLS handshake with the SE', async () => {
    const { double, pki, broker } = cloud!;
    const ack = 'b0b0b0b0-0000-4000-8000-000000000001';
    await double.startOta(DUID, { ack, sw: '2.0.0', hw: 'xs-ota-devkit', files: [{ fileName: 'fw.bin' }] });
    await session.call('create', { discoveryUrl: double.discoveryUrl, cpid: 'XSOTA', env: 'qa', duid: DUID, ca: derOf(pki.caPem), certObject: DEVICE_CERT, deviceKeyId: DEVICE_KEY });
    const signaturesBefore = sim.stats.signatures;
    const result = await session.call<{ offer?: { actionId: string; version: string } }>('poll', { version: '1.0.0' });
    assert.equal(result.offer?.actionId, ack);
    assert.equal(result.offer?.version, '2.0.0');
    await session.call('report', { actionId: ack, phase: 'running', version: '2.0.0', runningVersion: '2.0.0', history: ['H1|1|-|iotconnect|x|1.0.0+0|2.0.0+0|-|-|h|100|running|-|se:0x7b000301|-|0'] });
    await double.until(() => double.acks(DUID).some((a) => a.st === 3));
    assert.deepEqual(double.acks(DUID).map((a) => [a.ack, a.st, a.msg]), [[ack, 3, 'running 2.0.0 [history 1]']]);
    // Two MQTT sessions (poll, report), each a TLS 1.3 handshake whose CertificateVerify the SE signed.
    assert.equal(sim.stats.signatures - signaturesBefore, 2);
    assert.ok(targets.filter((t) => t.endsWith(`:${broker.tlsPort}`)).length >= 2, targets.join(', '));
    assert.ok(targets.every((t) => !t.endsWith(' tls')));
    assert.match(broker.log(), new RegExp(DUID));
    assert.deepEqual(errors, []);
    console.log(`      A5000 commands so far: ${await session.call('seCommands')}`);
  });
});
