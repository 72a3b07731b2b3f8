/**
 * MQTT over TLS terminated in the agent (src/tls/connector.ts), against a real mosquitto with
 * `require_certificate true` (tools/node/mosquitto.ts): the device certificate is issued by the
 * broker's CA for a key generated in the simulated A5000, every private-key operation is the
 * SE's, and the broker takes the certificate's CN as the MQTT user. A device certificate from
 * another CA is refused.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { MqttClient } from '../../../src/net/mqtt/client.js';
import { Se05x } from '../../../src/se/se05x.js';
import { T1Link } from '../../../src/se/t1-link.js';
import { agentTlsConnector } from '../../../src/tls/connector.js';
import { SeKeyOps } from '../../../src/tls/se-key-ops.js';
import { utf8Decode, utf8Encode } from '../../../src/util/bytes.js';
import { isOtaError } from '../../../src/util/errors.js';
import { startBroker, type Broker } from '../../../tools/node/mosquitto.js';
import { NodeDigest } from '../../../tools/node/node-digest.js';
import { NodeTlsCrypto } from '../../../tools/node/node-tls-crypto.js';
import { socketByteStream } from '../../../tools/node/node-byte-stream.js';
import { realClock } from '../../../tools/node/real-clock.js';
import { SimA5000 } from '../../../tools/devkit/parts/sim-a5000.js';
import { buildCsr } from '../../../tools/devkit/pkcs10.js';
import { requireMosquitto, waitFor } from '../../support/broker.js';
import type { ByteStreamConnector } from '../../../src/net/byte-stream.js';
import { ecdsaSign, generateEcKey } from '../../../src/se/se05x-keys.js';
import { viaCertificateObject } from '../../support/tls-device.js';

const derOf = (pem: string) => new Uint8Array(Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64'));
const DEVICE_KEY = 0x7b000301;

const plainTcp: ByteStreamConnector = {
  connect: (t) =>
    new Promise((resolve, reject) => {
      if (t.tls) return reject(new Error('the agent asked the transport for TLS'));
      const s = net.connect(t.port, '127.0.0.1', () => resolve(socketByteStream(s)));
      s.once('error', reject);
    }),
};

describe('tls: MQTT to mosquitto (require_certificate) over TLS in the agent, key in the A5000', function () {
  this.timeout(30_000);
  let broker: Broker;
  const clock = realClock();
  const sim = new SimA5000({ clock });
  const se = new Se05x({ link: new T1Link({ i2c: sim, clock }) });

  before(async function () {
    requireMosquitto(this);
    broker = await startBroker();
    await generateEcKey(se, DEVICE_KEY);
  });
  after(async () => broker?.stop());

  /** A certificate for the SE's key, CN `cn`, issued by `ca` (the broker's or another). */
  async function issue(cn: string, ca: 'ca' | 'rogue-ca'): Promise<Uint8Array> {
    const dir = broker.pki.dir;
    if (ca === 'rogue-ca') broker.pki.rogueClient('make-the-rogue-ca');
    const csr = await buildCsr(await se.readObject(DEVICE_KEY), `CN=${cn}`, (d) => ecdsaSign(se, DEVICE_KEY, d));
    writeFileSync(path.join(dir, `${cn}.csr`), csr);
    writeFileSync(path.join(dir, `${cn}.ext`), 'extendedKeyUsage=clientAuth\n');
    execFileSync('openssl', ['x509', '-req', '-inform', 'DER', '-in', `${cn}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2', '-extfile', `${cn}.ext`, '-out', `${cn}.se.crt`], { cwd: dir, stdio: 'pipe' });
    return derOf(readFileSync(path.join(dir, `${cn}.se.crt`), 'utf8'));
  }

  /** The connector as the agent builds it, the chain read back from the A5000's certificate object. */
  async function connector(certificate: Uint8Array): Promise<ByteStreamConnector> {
    const certificateChain = await viaCertificateObject(se, [certificate]);
    const keys = new SeKeyOps({ se, deviceKeyId: DEVICE_KEY, certificateChain, ephemeralKeyId: 0x7b000302, peerKeyId: 0x7b000303 });
    return agentTlsConnector(plainTcp, { trustAnchors: [derOf(broker.pki.caPem)], keys, crypto: new NodeTlsCrypto(), digest: new NodeDigest(), now: () => Math.floor(Date.now() / 1000) });
  }

  it('connects, subscribes and receives its own publish; the broker names the device by its certificate', async () => {
    const stream = await (await connector(await issue('device-se-42', 'ca'))).connect({ host: 'localhost', port: broker.tlsPort, tls: true });
    const inbox: string[] = [];
    const client = await MqttClient.connect({ stream, clock, clientId: 'device-se-42', keepAliveS: 30, onMessage: (m) => inbox.push(utf8Decode(m.payload)) });
    await client.subscribe([{ filter: 'devices/device-se-42/c2d', qos: 1 }]);
    await client.publish('devices/device-se-42/c2d', utf8Encode('{"ota":1}'), { qos: 1 });
    await waitFor(() => inbox.length > 0);
    assert.deepEqual(inbox, ['{"ota":1}']);
    await client.disconnect();
    assert.match(broker.log(), /as device-se-42|u'device-se-42'|device-se-42/);
    assert.ok(sim.stats.signatures >= 2, 'CSR + CertificateVerify signed in the SE');
  });

  it('a certificate from another CA in the certificate object: the broker refuses the handshake (typed failure)', async () => {
    const rogue = await issue('device-rogue', 'rogue-ca');
    const outcome = await (await connector(rogue))
      .connect({ host: 'localhost', port: broker.tlsPort, tls: true })
      .then(async (stream) => MqttClient.connect({ stream, clock, clientId: 'device-rogue', keepAliveS: 30 }))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(outcome !== undefined, 'the broker let a certificate from another CA in');
    // OpenSSL in mosquitto answers an untrusted client certificate with an alert (unknown_ca) after
    // our Finished; the client sees it as soon as it reads (the MQTT CONNECT's answer).
    assert.ok(isOtaError(outcome, 'tls-alert'), String(outcome));
    assert.match((outcome as Error).message, /unknown_ca|bad_certificate|certificate_unknown|decrypt_error/);
  });
});
