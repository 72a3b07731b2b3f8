/**
 * The composition root's modem choice (src/agent/start.ts): the board's UART wiring reaches the
 * driver, push mode follows RTS/CTS, and the HTTP client follows the driver (src/net/modem-http.ts).
 */
import assert from 'node:assert/strict';
import { readSetting, settingKeys, settingName } from '../../../src/agent/config.js';
import { createAgent, readBootInputs, type StartConfig } from '../../../src/agent/start.js';
import { provisionDeviceIdentity } from '../../../tools/devkit/device-identity.js';
import { issueFromTestCa } from '../../../tools/devkit/devkit-backends.js';
import { nonDefault } from '../../support/settings.js';
import { buildOnlyPlatform as platform } from '../../support/build-only-platform.js';
import { NativeHttpClient, SocketHttpClient } from '../../../src/net/modem-http.js';
import { isOtaError } from '../../../src/util/errors.js';
import { SimA5000 } from '../../../tools/devkit/parts/sim-a5000.js';
import { VirtualTime } from '../../../tools/devkit/parts/virtual-time.js';
import { TEST_CA, TEST_CA_PEM } from '../../../tools/node/test-pki.js';

const derBase64 = (pem: Uint8Array) => new TextDecoder().decode(pem).replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');


/** A certificate chain as PEM text (any certificate: only its decoding is needed here). */
const DEVICE_CERT = TEST_CA;

const settings = (more: Partial<StartConfig>): StartConfig => ({
  backend: 'hawkbit',
  url: 'https://hawkbit.example.com',
  deviceId: 'dev-1',
  token: 'tok',
  caPem: TEST_CA,
  // Read only with otaControlTls agent (the naming-rule test below sets every setting once).
  deviceCertPem: DEVICE_CERT,
  ...more,
});

describe('agent/start: modem transport from the board wiring', () => {
  for (const model of ['sim7080', 'sim7600'] as const) {
    it(`${model}: rts-cts -> pushed socket data over the socket client`, () => {
      const parts = createAgent(platform(), settings({ modem: model, uartFlowControl: 'rts-cts' }));
      assert.equal((parts.modem as unknown as { push: boolean }).push, true);
      assert.equal((parts.modem as unknown as { flowControl: string }).flowControl, 'rts-cts');
      assert.ok(parts.http instanceof SocketHttpClient);
    });

    it(`${model}: none (the default) -> no push; ${model === 'sim7600' ? 'built-in HTTP' : 'socket with AT+CARECV reads'}`, () => {
      for (const uartFlowControl of ['none', undefined] as const) {
        const parts = createAgent(platform(), settings({ modem: model, uartFlowControl }));
        assert.equal((parts.modem as unknown as { push: boolean }).push, false);
        assert.ok(parts.http instanceof (model === 'sim7600' ? NativeHttpClient : SocketHttpClient));
      }
    });
  }

  it('refuses an unknown wiring with config-invalid', () => {
    assert.throws(() => createAgent(platform(), settings({ uartFlowControl: 'xon-xoff' })), (e: unknown) => isOtaError(e, 'config-invalid'));
  });
});

describe('agent/start: safety inputs', () => {
  it('the jitter seed is drawn from the A5000 (GetRandom, 4 bytes) at the first step of a boot', async () => {
    const time = new VirtualTime();
    const asked: number[] = [];
    const a5000 = new SimA5000({ clock: time.clockPort(), random: (n) => (asked.push(n), new Uint8Array(n).fill(0xa5)) });
    const parts = createAgent(platform(time, a5000), settings({}));
    // The dev kit flash holds no image: the boot stops at reading the running version, after the seed.
    await time.runFor(parts.agent.step()).catch(() => undefined);
    assert.deepEqual(asked, [4]);
  });
});

describe('agent/start: one name per setting, from StartConfig into the parts', () => {
  it('every device setting the agent takes passes createAgent under its AgentConfig name (the manifest key without `ota`)', () => {
    for (const key of settingKeys().agent) {
      const name = settingName(key);
      const value = nonDefault(key);
      // controlTls agent presents the chain the boot read gives (any chain: not used here).
      const parts = createAgent(platform(), settings({ iotcEnv: 'qa', [name]: value }), {}, { deviceCertificate: { chain: [] } });
      assert.deepEqual(parts.config[name], readSetting(key, value), `${key} → ${name}`);
    }
  });

  it('the CA is loaded by the resolved otaCaCert name; a bad key id is refused by its manifest key', () => {
    const asked: string[] = [];
    const parts = createAgent(platform(), settings({ caCert: 'fleet-ca.pem', keyId: 0x7b000202, caPem: (name) => (asked.push(name), new TextEncoder().encode('-----BEGIN CERTIFICATE-----\n')) }));
    assert.deepEqual(asked, ['fleet-ca.pem']);
    assert.equal(parts.config.keyId, 0x7b000202);
    assert.throws(() => createAgent(platform(), settings({ keyId: 0x7fff0000 })), (e: unknown) => isOtaError(e, 'config-invalid') && /^config-invalid: otaKeyId: /.test((e as Error).message));
  });

  it('otaControlTls agent, resource form: the PEM is loaded by the resolved otaDeviceCert name at boot, only then; a missing one or the image key object is refused', async () => {
    const asked: string[] = [];
    const load = (name: string) => (asked.push(name), DEVICE_CERT);
    const time = new VirtualTime();
    const a5000 = new SimA5000({ clock: time.clockPort() });
    const boot = (more: Partial<StartConfig>) => time.runFor(readBootInputs(platform(time, a5000), settings(more)));
    assert.equal((await boot({ deviceCert: 'dev-42.pem', deviceCertPem: load })).deviceCertificate, undefined);
    assert.deepEqual(asked, [], 'the modem TLS (default) reads no device certificate');
    for (const backend of ['hawkbit', 'iotconnect'] as const) {
      const more = { backend, iotcEnv: 'qa', controlTls: 'agent', deviceCert: 'dev-42.pem', deviceCertPem: load } as const;
      const reads = await boot(more);
      // TEST_CA's key is not the device key (here: no key object at all): typed, and the agent is still built.
      assert.ok(reads.deviceCertificate && 'error' in reads.deviceCertificate && isOtaError(reads.deviceCertificate.error, 'se-no-object'));
      assert.match(reads.deviceCertificate.error.message, /otaDeviceCert dev-42.pem: ReadObject 0x7B000301/);
      assert.equal(createAgent(platform(), settings(more), {}, reads).config.controlTls, 'agent');
    }
    assert.deepEqual(asked, ['dev-42.pem', 'dev-42.pem']);
    const refused = async (more: Partial<StartConfig>, pattern: RegExp) =>
      assert.rejects(boot({ controlTls: 'agent', deviceCert: 'device.pem', ...more }), (e: unknown) => isOtaError(e, 'config-invalid') && pattern.test((e as Error).message));
    await refused({ deviceCertPem: undefined }, /^config-invalid: otaDeviceCert: /);
    await refused({ deviceCertPem: () => new Uint8Array(0) }, /^config-invalid: otaDeviceCert: /);
    await refused({ deviceKeyId: 0x7b000201 }, /^config-invalid: otaDeviceKeyId: .*otaKeyId/);
    await refused({ tlsVersions: '1.1' }, /^config-invalid: otaTlsVersions: /);
    // createAgent alone has no boot read to present.
    assert.throws(() => createAgent(platform(), settings({ controlTls: 'agent' })), (e: unknown) => isOtaError(e, 'config-invalid') && /^config-invalid: otaDeviceCert: 'se:0x7B000304' is read at boot/.test((e as Error).message));
  });

  it('otaControlTls agent, A5000 form (the default se:0x7B000304): the chain read from the object at boot; a missing object is typed and the agent is still built', async () => {
    const time = new VirtualTime(Math.floor(Date.now() / 1000));
    const a5000 = new SimA5000({ clock: time.clockPort() });
    const identity = await provisionDeviceIdentity(time, a5000, { caPem: TEST_CA_PEM, issue: (csr) => issueFromTestCa(csr, 'device-start') }, 'CN=device-start');
    const more = { controlTls: 'agent', deviceCertPem: undefined } as const;
    const reads = await time.runFor(readBootInputs(platform(time, a5000), settings(more)));
    assert.ok(reads.deviceCertificate && 'chain' in reads.deviceCertificate, JSON.stringify(reads.deviceCertificate));
    assert.deepEqual(reads.deviceCertificate.chain.map((c) => Buffer.from(c).toString('base64')), [derBase64(identity.certificatePem)]);
    const parts = createAgent(platform(time, a5000), settings(more), {}, reads);
    assert.equal(parts.se, reads.se, 'one A5000 session for the boot read and the agent');
    const missing = await time.runFor(readBootInputs(platform(time, a5000), settings({ ...more, deviceCert: 'se:0x7B000305' })));
    assert.ok(missing.deviceCertificate && 'error' in missing.deviceCertificate && isOtaError(missing.deviceCertificate.error, 'se-no-object'));
    assert.match(missing.deviceCertificate.error.message, /^se-no-object: otaDeviceCert se:0x7B000305: ReadSize 0x7B000305/);
    createAgent(platform(time, a5000), settings({ ...more, deviceCert: 'se:0x7B000305' }), {}, missing);
  });
});
