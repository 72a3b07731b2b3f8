/**
 * The device configuration reader (modules/ota-config.ts): every key has a default or fails at
 * start-up naming the key, every integer is held to its range at both edges, command-line
 * overrides arrive as text, and secrets never appear in an error.
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

const URL = 'https://hawkbit.example:8443';
const noSecrets = (): undefined => undefined;

function read(config: Record<string, unknown>, secrets: Partial<Record<SecretKey, string>> = {}) {
  return readDeviceConfig({ otaUrl: URL, ...config }, (key) => secrets[key]);
}

function rejects(config: Record<string, unknown>, key: string, secrets: Partial<Record<SecretKey, string>> = {}): ConfigError {
  try {
    read(config, secrets);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `not a ConfigError: ${String(error)}`);
    assert.equal(error.key, key);
    return error;
  }
  assert.fail(`accepted ${JSON.stringify(config)}`);
}

describe('device configuration (modules/ota-config.ts)', () => {
  it('fills every key but otaUrl with its default', () => {
    const { agent, hardware } = read({});
    assert.deepEqual(agent, {
      backendKind: 'hawkbit',
      backendUrl: URL,
      tenant: 'DEFAULT',
      deviceId: undefined,
      authToken: undefined,
      apn: '',
      apnUser: undefined,
      apnPassword: undefined,
      caCertName: 'ca.pem',
      modemModel: 'sim7080',
      uartFlowControl: 'none',
      iotconnect: undefined,
      seKeyId: 0x7b000201,
      pollIntervalS: 3600,
      healthCheckDeadlineS: 300,
      policy: {
        tokenScheme: 'TargetToken',
        artifactPattern: '*.bin',
        modulePart: '',
        autoConfirm: true,
        backendBodyMax: 32 * 1024,
        urlMax: 2048,
        maxRedirects: 5,
        redirectCredentialOrigins: [],
      },
    });
    assert.deepEqual(hardware, {
      primaryLabel: 'image-0',
      secondaryLabel: 'image-1',
      modemUart: 'uart1',
      modemBaud: 115200,
      seI2c: 'i2c0',
      seI2cHz: 400000,
      powerKey: undefined,
    });
  });

  it('refuses to start without a backend URL, or with one that is not http(s)', () => {
    assert.throws(() => readDeviceConfig({}, noSecrets), (e: unknown) => e instanceof ConfigError && e.key === 'otaUrl');
    for (const bad of ['ftp://x', 'https://', 'hawkbit.example', 'https:// spaced', 'https://h\u00e9']) rejects({ otaUrl: bad }, 'otaUrl');
    assert.equal(read({ otaUrl: 'http://10.0.0.2:8080/base' }).agent.backendUrl, 'http://10.0.0.2:8080/base');
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
    assert.equal(read({ otaKeyId: '0x7B000202' }).agent.seKeyId, 0x7b000202);
    rejects({ otaKeyId: '0x7FFF0000' }, 'otaKeyId'); // the applet's reserved range
  });

  it('accepts only the known backends', () => {
    for (const kind of ['hawkbit', 'iotconnect', 'manifest']) assert.equal(read({ otaBackend: kind }).agent.backendKind, kind);
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
    assert.deepEqual(read({ otaPwrkeyPort: 'gpio0', otaPwrkeyPin: '17' }).hardware.powerKey, { port: 'gpio0', pin: 17 });
    assert.equal(read({ otaPwrkeyPin: 17 }).hardware.powerKey, undefined);
  });

  it('takes secrets from the key-value store and never repeats them in an error', () => {
    const secrets = { authToken: 'tok-123', apnUser: 'u', apnPassword: 'p', deviceId: 'dev-7' };
    const { agent } = read({}, secrets);
    assert.equal(agent.authToken, 'tok-123');
    assert.equal(agent.deviceId, 'dev-7');
    assert.equal(read({ otaDeviceId: 'from-config' }, secrets).agent.deviceId, 'from-config');
    assert.equal(read({}, { authToken: '' }).agent.authToken, undefined);
    const long = 'S'.repeat(SECRET_MAX_LENGTH + 1);
    const error = rejects({}, 'secret authToken', { authToken: long });
    assert.ok(!error.message.includes('SSSS'));
    assert.deepEqual([...SECRET_KEYS].sort(), ['apnPassword', 'apnUser', 'authToken', 'deviceId', 'gatewayToken']);
  });

  it('takes the backend policy settings into the policy the agent resolves, with the agent defaults', () => {
    const policy = read({
      otaTokenScheme: 'GatewayToken',
      otaArtifactPattern: 'app-*.signed.bin',
      otaModulePart: 'bApp',
      otaAutoConfirm: 'false',
      otaBodyMax: '65536',
      otaUrlMax: 3072,
      otaMaxRedirects: 0,
      otaRedirectCredentialOrigins: 'https://cdn.example,http://10.0.0.2:8080',
    }).agent.policy;
    assert.deepEqual(policy, {
      tokenScheme: 'GatewayToken',
      artifactPattern: 'app-*.signed.bin',
      modulePart: 'bApp',
      autoConfirm: false,
      backendBodyMax: 65536,
      urlMax: 3072,
      maxRedirects: 0,
      redirectCredentialOrigins: ['https://cdn.example', 'http://10.0.0.2:8080'],
    });
    // The device defaults are the agent's: resolveConfig keeps every one unchanged.
    const defaults = read({}).agent.policy!;
    const resolved = resolveConfig({ serverUrl: URL, deviceId: 'd1', ...defaults });
    for (const key of Object.keys(defaults) as (keyof typeof defaults)[]) assert.deepEqual(resolved[key], DEFAULT_CONFIG[key], key);
    assert.equal(read({ otaAutoConfirm: false }).agent.policy!.autoConfirm, false); // a JSON boolean in the manifest
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
    assert.equal(read({}, secrets).agent.authToken, 'target-1');
    assert.equal(read({ otaTokenScheme: 'GatewayToken' }, secrets).agent.authToken, 'gateway-1');
    assert.equal(read({ otaTokenScheme: 'GatewayToken' }, { authToken: 'target-1' }).agent.authToken, undefined);
    assert.equal(read({}, { gatewayToken: 'gateway-1' }).agent.authToken, undefined);
    const error = rejects({ otaTokenScheme: 'GatewayToken' }, 'secret gatewayToken', { gatewayToken: 'G'.repeat(SECRET_MAX_LENGTH + 1) });
    assert.ok(!error.message.includes('GGGG'));
  });

  it('takes the IoTConnect settings, with the backend defaults, and checks them whatever the backend', () => {
    const iotc = { otaBackend: 'iotconnect', otaTenant: 'cpid1', otaIotcEnv: 'poc' };
    assert.deepEqual(read(iotc).agent.iotconnect, { cpid: 'cpid1', env: 'poc', platform: 'aws', hardwareVersion: undefined, session: 'kept', successSt: 3 });
    assert.deepEqual(read({ ...iotc, otaIotcPlatform: '', otaIotcHardwareVersion: '1', otaIotcSession: 'per-call', otaIotcSuccessSt: '0' }).agent.iotconnect, {
      cpid: 'cpid1',
      env: 'poc',
      platform: '',
      hardwareVersion: '1',
      session: 'per-call',
      successSt: 0,
    });
    assert.equal(read({ ...iotc, otaIotcPlatform: 'az', otaIotcSuccessSt: 0 }).agent.iotconnect!.successSt, 0);
    assert.equal(read({ ...iotc, otaIotcPlatform: 'az' }).agent.iotconnect!.platform, 'az');
    rejects({ ...iotc, otaIotcPlatform: 'gcp' }, 'otaIotcPlatform');
    rejects({ ...iotc, otaIotcHardwareVersion: 'rev 1' }, 'otaIotcHardwareVersion');
    rejects({ ...iotc, otaIotcSession: 'keep' }, 'otaIotcSession');
    rejects({ ...iotc, otaIotcSuccessSt: 4 }, 'otaIotcSuccessSt');
    rejects({ otaIotcSuccessSt: '1' }, 'otaIotcSuccessSt'); // hawkbit build: still a build mistake
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
          return error instanceof ConfigError && (keys as string[]).includes(error.key);
        }
        return true;
      }),
      { seed: 0x0ca, numRuns: 2000 },
    );
  });
});
