/**
 * The device configuration as the device takes it: modules/ota-config.ts reads mc/config and the
 * secrets and hands every agent setting on under its one name (the manifest key without `ota`),
 * resolveConfig checks it once by the schema (as createAgent does). Every key has a default or
 * fails at start-up naming the manifest key, every integer is held to its range at both edges,
 * command-line overrides arrive as text, and secrets never appear in an error.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  CONFIG_SCHEMA,
  ConfigError,
  SECRET_KEYS,
  SECRET_MAX_LENGTH,
  readDeviceConfig,
  type ConfigKey,
  type SecretKey,
} from '../../../modules/ota-config.js';
import { DEFAULT_CONFIG, resolveConfig } from '../../../src/agent/config.js';
import { isOtaError } from '../../../src/util/errors.js';

const URL = 'https://hawkbit.example:8443';
const noSecrets = (): undefined => undefined;
/** The provisioned device id, unless a test gives the secrets. */
const DEVICE = { deviceId: 'dev-1' };

/** What the device starts with: the reader's output, the agent part resolved as createAgent resolves it. */
function read(config: Record<string, unknown>, secrets: Partial<Record<SecretKey, string>> = DEVICE) {
  const device = readDeviceConfig({ otaUrl: URL, ...config }, (key) => secrets[key]);
  return { agent: resolveConfig(device.agent), hardware: device.hardware, read: device.agent };
}

/** The manifest key an error names: ConfigError's key (hardware, secrets) or the resolved setting's. */
function keyOf(error: unknown): string | undefined {
  if (error instanceof ConfigError) return error.key;
  if (isOtaError(error, 'config-invalid')) return /^config-invalid: ([^:]+): /.exec(error.message)?.[1];
  return undefined;
}

function rejects(config: Record<string, unknown>, key: string, secrets: Partial<Record<SecretKey, string>> = DEVICE): Error {
  try {
    read(config, secrets);
  } catch (error) {
    assert.equal(keyOf(error), key, String(error));
    return error as Error;
  }
  assert.fail(`accepted ${JSON.stringify(config)}`);
}

describe('device configuration (modules/ota-config.ts)', () => {
  it('fills every key but otaUrl with its default', () => {
    const { agent, hardware } = read({});
    assert.deepEqual(agent, { ...DEFAULT_CONFIG, url: URL, deviceId: 'dev-1' });
    assert.deepEqual(hardware, {
      primaryLabel: 'image-0',
      secondaryLabel: 'image-1',
      flashBlockErase: 0,
      modemUart: 'uart1',
      modemBaud: 115200,
      seI2c: 'i2c0',
      seI2cHz: 400000,
      pwrkeyPort: '',
      pwrkeyPin: 0,
      modemStatusPort: '',
      modemStatusPin: 0,
    });
  });

  it('hands each agent setting on unchanged under its name (the manifest key without `ota`), reads nothing else', () => {
    const config = { otaKeyId: '0x7B000202', otaBodyMax: '65536', otaAutoConfirm: false, otaPrimaryLabel: 'image-0', sdkKey: 1 };
    assert.deepEqual(readDeviceConfig({ otaUrl: URL, ...config }, noSecrets).agent, { url: URL, keyId: '0x7B000202', bodyMax: '65536', autoConfirm: false, deviceId: undefined, token: undefined, apnUser: undefined, apnPassword: undefined });
  });

  it('refuses to start without a backend URL, or with one that is not http(s)', () => {
    assert.throws(() => resolveConfig(readDeviceConfig({}, noSecrets).agent), (e: unknown) => keyOf(e) === 'otaUrl');
    for (const bad of ['ftp://x', 'https://', 'hawkbit.example', 'https:// spaced', 'https://h\u00e9']) rejects({ otaUrl: bad }, 'otaUrl');
    assert.equal(read({ otaUrl: 'http://10.0.0.2:8080/base' }).agent.url, 'http://10.0.0.2:8080/base');
  });

  for (const [key, spec] of Object.entries(CONFIG_SCHEMA)) {
    if (spec.type !== 'int') continue;
    it(`holds ${key} to ${spec.min}..${spec.max} at both edges`, () => {
      read({ [key]: spec.min });
      read({ [key]: spec.max });
      read({ [key]: String(spec.max) }); // mcconfig command-line override: text
      rejects({ [key]: spec.min - 1 }, key);
      rejects({ [key]: spec.max + 1 }, key);
      rejects({ [key]: spec.min + 0.5 }, key);
      rejects({ [key]: `${spec.min}s` }, key);
      rejects({ [key]: true }, key);
    });
  }

  it('takes a key id as 0x-hex text, as a firmware engineer writes it', () => {
    assert.equal(read({ otaKeyId: '0x7B000202' }).agent.keyId, 0x7b000202);
    rejects({ otaKeyId: '0x7FFF0000' }, 'otaKeyId'); // the applet's reserved range
  });

  it('accepts only the known backends', () => {
    for (const kind of ['hawkbit', 'iotconnect', 'manifest']) assert.equal(read({ otaBackend: kind, otaIotcEnv: 'qa' }).agent.backend, kind);
    rejects({ otaBackend: 'HawkBit' }, 'otaBackend');
    rejects({ otaBackend: 3 }, 'otaBackend');
  });

  it('takes the modem UART flow control as none or rts-cts only', () => {
    assert.equal(read({ otaUartFlowControl: 'rts-cts' }).agent.uartFlowControl, 'rts-cts');
    assert.equal(read({ otaUartFlowControl: 'none' }).agent.uartFlowControl, 'none');
    rejects({ otaUartFlowControl: 'RTS/CTS' }, 'otaUartFlowControl');
    rejects({ otaUartFlowControl: 'xon-xoff' }, 'otaUartFlowControl'); // never with binary data (simcom-at.md §3.6)
    rejects({ otaUartFlowControl: true }, 'otaUartFlowControl');
  });

  it('checks text values for length, characters and presence', () => {
    rejects({ otaTenant: '' }, 'otaTenant');
    rejects({ otaTenant: 'a/b' }, 'otaTenant');
    rejects({ otaApn: 'x'.repeat(101) }, 'otaApn');
    assert.equal(read({ otaApn: 'x'.repeat(100) }).agent.apn.length, 100);
    rejects({ otaCaCert: '../etc/ca' }, 'otaCaCert');
    rejects({ otaModemUart: 7 }, 'otaModemUart');
    rejects({ otaSecondaryLabel: 'image-0' }, 'otaSecondaryLabel');
  });

  it('wires PWRKEY only when its GPIO controller is named', () => {
    const { pwrkeyPort, pwrkeyPin } = read({ otaPwrkeyPort: 'gpio0', otaPwrkeyPin: '17' }).hardware;
    assert.deepEqual({ pwrkeyPort, pwrkeyPin }, { pwrkeyPort: 'gpio0', pwrkeyPin: 17 });
    assert.equal(read({ otaPwrkeyPin: 17 }).hardware.pwrkeyPort, ''); // main.ts: no PWRKEY
    rejects({ otaPwrkeyPin: 32 }, 'otaPwrkeyPin'); // checked even when unused: a wrong value is a build mistake
    const { modemStatusPort, modemStatusPin } = read({ otaModemStatusPort: 'gpio0', otaModemStatusPin: '15' }).hardware;
    assert.deepEqual({ modemStatusPort, modemStatusPin }, { modemStatusPort: 'gpio0', modemStatusPin: 15 });
    rejects({ otaModemStatusPin: 32 }, 'otaModemStatusPin');
  });

  it('takes secrets from the key-value store and never repeats them in an error', () => {
    const secrets = { authToken: 'tok-123', apnUser: 'u', apnPassword: 'p', deviceId: 'dev-7' };
    const { agent } = read({}, secrets);
    assert.equal(agent.token, 'tok-123');
    assert.equal(agent.deviceId, 'dev-7');
    assert.equal(read({ otaDeviceId: 'from-config' }, secrets).agent.deviceId, 'from-config');
    assert.equal(read({}, { ...DEVICE, authToken: '' }).agent.token, '');
    const long = 'S'.repeat(SECRET_MAX_LENGTH + 1);
    const error = rejects({}, 'secret authToken', { authToken: long });
    assert.ok(!error.message.includes('SSSS'));
    assert.deepEqual([...SECRET_KEYS].sort(), ['apnPassword', 'apnUser', 'authToken', 'deviceId', 'gatewayToken']);
  });

  it('takes the backend policy settings into the settings the agent resolves, with the agent defaults', () => {
    const { agent } = read({
      otaTokenScheme: 'GatewayToken',
      otaArtifactPattern: 'app-*.signed.bin',
      otaModulePart: 'bApp',
      otaAutoConfirm: 'false',
      otaBodyMax: '65536',
      otaUrlMax: 3072,
      otaMaxRedirects: 0,
      otaRedirectCredentialOrigins: 'https://cdn.example,http://10.0.0.2:8080',
    });
    const { tokenScheme, artifactPattern, modulePart, autoConfirm, bodyMax, urlMax, maxRedirects, redirectCredentialOrigins } = agent;
    assert.deepEqual(
      { tokenScheme, artifactPattern, modulePart, autoConfirm, bodyMax, urlMax, maxRedirects, redirectCredentialOrigins },
      {
        tokenScheme: 'GatewayToken',
        artifactPattern: 'app-*.signed.bin',
        modulePart: 'bApp',
        autoConfirm: false,
        bodyMax: 65536,
        urlMax: 3072,
        maxRedirects: 0,
        redirectCredentialOrigins: ['https://cdn.example', 'http://10.0.0.2:8080'],
      },
    );
    assert.equal(read({ otaAutoConfirm: false }).agent.autoConfirm, false); // a JSON boolean in the manifest
  });

  it('refuses a bad backend policy value, naming the key', () => {
    rejects({ otaTokenScheme: 'Bearer' }, 'otaTokenScheme');
    rejects({ otaTokenScheme: 'targettoken' }, 'otaTokenScheme');
    rejects({ otaArtifactPattern: '' }, 'otaArtifactPattern');
    rejects({ otaArtifactPattern: 'a b.bin' }, 'otaArtifactPattern');
    rejects({ otaArtifactPattern: 'x'.repeat(129) }, 'otaArtifactPattern');
    rejects({ otaModulePart: 'b/App' }, 'otaModulePart');
    rejects({ otaAutoConfirm: 'yes' }, 'otaAutoConfirm');
    rejects({ otaAutoConfirm: 1 }, 'otaAutoConfirm');
    rejects({ otaBodyMax: 512 }, 'otaBodyMax');
    rejects({ otaUrlMax: 4096 }, 'otaUrlMax');
    rejects({ otaMaxRedirects: 11 }, 'otaMaxRedirects');
    for (const bad of ['cdn.example', 'https://cdn.example/path', 'https://a.example,', 'https://a.example,,https://b.example', 'ftp://x']) {
      rejects({ otaRedirectCredentialOrigins: bad }, 'otaRedirectCredentialOrigins');
    }
  });

  it('sends the secret the token scheme names: authToken (TargetToken) or gatewayToken (GatewayToken)', () => {
    const secrets = { authToken: 'target-1', gatewayToken: 'gateway-1' };
    assert.equal(read({}, { ...DEVICE, ...secrets }).agent.token, 'target-1');
    assert.equal(read({ otaTokenScheme: 'GatewayToken' }, { ...DEVICE, ...secrets }).agent.token, 'gateway-1');
    assert.equal(read({ otaTokenScheme: 'GatewayToken' }, { ...DEVICE, authToken: 'target-1' }).agent.token, '');
    assert.equal(read({}, { ...DEVICE, gatewayToken: 'gateway-1' }).agent.token, '');
    const error = rejects({ otaTokenScheme: 'GatewayToken' }, 'secret gatewayToken', { ...DEVICE, gatewayToken: 'G'.repeat(SECRET_MAX_LENGTH + 1) });
    assert.ok(!error.message.includes('GGGG'));
  });

  it('takes the IoTConnect settings, with the backend defaults, and checks them whatever the backend', () => {
    const iotc = { otaBackend: 'iotconnect', otaTenant: 'cpid1', otaIotcEnv: 'poc' };
    const iotcOf = (config: Record<string, unknown>) => {
      const { tenant, iotcEnv, iotcPlatform, iotcHardwareVersion, iotcSession, iotcSuccessSt } = read(config).agent;
      return { tenant, iotcEnv, iotcPlatform, iotcHardwareVersion, iotcSession, iotcSuccessSt };
    };
    assert.deepEqual(iotcOf(iotc), { tenant: 'cpid1', iotcEnv: 'poc', iotcPlatform: 'aws', iotcHardwareVersion: '', iotcSession: 'kept', iotcSuccessSt: 3 });
    assert.deepEqual(iotcOf({ ...iotc, otaIotcPlatform: '', otaIotcHardwareVersion: '1', otaIotcSession: 'per-call', otaIotcSuccessSt: '0' }), {
      tenant: 'cpid1',
      iotcEnv: 'poc',
      iotcPlatform: '',
      iotcHardwareVersion: '1',
      iotcSession: 'per-call',
      iotcSuccessSt: 0,
    });
    assert.equal(iotcOf({ ...iotc, otaIotcPlatform: 'az', otaIotcSuccessSt: 0 }).iotcSuccessSt, 0);
    assert.equal(iotcOf({ ...iotc, otaIotcPlatform: 'az' }).iotcPlatform, 'az');
    rejects({ ...iotc, otaIotcEnv: '' }, 'otaIotcEnv');
    rejects({ ...iotc, otaIotcPlatform: 'gcp' }, 'otaIotcPlatform');
    rejects({ ...iotc, otaIotcHardwareVersion: 'rev 1' }, 'otaIotcHardwareVersion');
    rejects({ ...iotc, otaIotcSession: 'keep' }, 'otaIotcSession');
    rejects({ ...iotc, otaIotcSuccessSt: 4 }, 'otaIotcSuccessSt');
    rejects({ otaIotcSuccessSt: '1' }, 'otaIotcSuccessSt'); // hawkbit build: still a build mistake
  });

  it('selects the TLS of the control channel: the modem by default; the agent with the device key, its certificate and the version', () => {
    assert.deepEqual(
      (({ controlTls, tlsVersions, deviceKeyId, deviceCert }) => ({ controlTls, tlsVersions, deviceKeyId, deviceCert }))(read({}).agent),
      { controlTls: 'modem', tlsVersions: '1.3,1.2', deviceKeyId: 0x7b000301, deviceCert: 'se:0x7B000304' },
    );
    const agent = read({ otaControlTls: 'agent', otaTlsVersions: '1.2', otaDeviceKeyId: '0x7B000310', otaDeviceCert: 'dev-42.pem' }).agent;
    assert.deepEqual([agent.controlTls, agent.tlsVersions, agent.deviceKeyId, agent.deviceCert], ['agent', '1.2', 0x7b000310, 'dev-42.pem']);
    rejects({ otaControlTls: 'on' }, 'otaControlTls');
    rejects({ otaControlTls: 'agent', otaTlsVersions: '1.1' }, 'otaTlsVersions');
    rejects({ otaTlsVersions: 'tls1.3' }, 'otaTlsVersions'); // modem TLS: still a build mistake
    rejects({ otaControlTls: 'agent', otaDeviceKeyId: 0x7fff0001 }, 'otaDeviceKeyId');
    rejects({ otaControlTls: 'agent', otaDeviceCert: 'certs/dev.pem' }, 'otaDeviceCert');
    rejects({ otaControlTls: 'agent', otaDeviceCert: '' }, 'otaDeviceCert');
    // An A5000 object (se:0x…) or a resource name; a malformed object id, a ':' in a resource
    // name, or an object the agent uses for keys is refused, naming the setting.
    assert.equal(read({ otaControlTls: 'agent', otaDeviceCert: 'se:0x7B000310' }).agent.deviceCert, 'se:0x7B000310');
    for (const bad of ['se:7B000310', 'se:0x', 'se:0x7FFF0001', 'se:0x123456789', 'se:0x0', 'hsm:0x7B000310', 'dev:42.pem']) rejects({ otaControlTls: 'agent', otaDeviceCert: bad }, 'otaDeviceCert');
    for (const taken of ['se:0x7B000301', 'se:0x7B000201', 'se:0x7B000302', 'se:0x7B000303']) rejects({ otaControlTls: 'agent', otaDeviceCert: taken }, 'otaDeviceCert');
  });

  it('keeps its table frozen (preloaded into flash on the device)', () => {
    assert.ok(Object.isFrozen(CONFIG_SCHEMA) && Object.isFrozen(SECRET_KEYS));
    for (const spec of Object.values(CONFIG_SCHEMA)) assert.ok(Object.isFrozen(spec));
    assert.ok(Object.isFrozen(CONFIG_SCHEMA.otaBackend.choices));
  });

  it('either accepts a config or names a key, whatever the values (seeded fuzz)', () => {
    const keys = Object.keys(CONFIG_SCHEMA) as ConfigKey[];
    const anyValue = fc.oneof(fc.string({ maxLength: 120 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(undefined), fc.constant(null));
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...keys), anyValue), (config) => {
        try {
          read(config);
        } catch (error) {
          return (keys as string[]).includes(keyOf(error) ?? '');
        }
        return true;
      }),
      { seed: 0x0ca, numRuns: 2000 },
    );
  });
});
