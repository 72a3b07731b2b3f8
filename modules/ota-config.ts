/**
 * The device build's configuration: reads every key of the manifest's `config` that xs-ota
 * uses (mc/config) and the secrets from the key-value store, and type-checks each against the
 * one schema, CONFIG_SCHEMA of src/agent/config.ts (keyed by the manifest's names; defaults,
 * ranges, meanings). `readDeviceConfig` throws ConfigError naming the key; main.ts turns that
 * into OtaError('config-invalid').
 *
 * Its one value import from the bundle is `configSchema` (Node tests resolve "xs-ota" to
 * dist/xs-ota.mjs through package.json `exports`). Values may
 * arrive as strings: `mcconfig ... otaPollIntervalS=600` overrides a config value from the command
 * line (documentation/tools/manifest.md, "config"), so numbers are accepted in decimal or 0x-hex
 * text too.
 */

import { configSchema, type BackendKind, type ConfigKey, type ConfigSpec, type StartConfig } from 'xs-ota';
export type { ConfigKey, ConfigSpec };

// The schema is the agent's (src/agent/config.ts), keyed by these manifest names: this module
// reads mc/config and the secrets and checks each value against it.
export const CONFIG_SCHEMA = configSchema();

/**
 * Secrets the device reads from the key-value store (domain SECRETS_DOMAIN), never from the manifest.
 * authToken is the hawkBit TargetToken, gatewayToken the tenant's GatewayToken: otaTokenScheme
 * picks which one is sent (and how the Authorization header names it).
 */
export const SECRET_KEYS = Object.freeze(['authToken', 'gatewayToken', 'deviceId', 'apnUser', 'apnPassword'] as const);
export type SecretKey = (typeof SECRET_KEYS)[number];
/** A secret is one Zephyr settings value: 255 bytes (modules/ota-key-value.ts). */
export const SECRET_MAX_LENGTH = 255;

/** Key-value domains (Zephyr settings subtrees). */
export const JOURNAL_DOMAIN = 'xs-ota';
export const SECRETS_DOMAIN = 'xs-ota-secret';

export class ConfigError extends Error {
  readonly key: string;
  readonly detail: string;

  constructor(key: string, detail: string) {
    super(`${key}: ${detail}`);
    // An own property, not an assignment: built-ins are frozen after preload, Error.prototype.name is read-only.
    Object.defineProperty(this, 'name', { value: 'ConfigError', writable: true, enumerable: false, configurable: true });
    this.key = key;
    this.detail = detail;
  }
}

/** What main.ts hands to startAgent: the bundle's StartConfig less what main.ts adds (the CA bytes). */
export type AgentSettings = Omit<StartConfig, 'caCert'>;
export type { BackendKind };

/** What main.ts needs to build the Platform. */
export interface HardwareSettings {
  readonly primaryLabel: string;
  readonly secondaryLabel: string;
  readonly modemUart: string;
  readonly modemBaud: number;
  readonly seI2c: string;
  readonly seI2cHz: number;
  /** undefined: PWRKEY is not wired to the MCU. */
  readonly powerKey: { readonly port: string; readonly pin: number } | undefined;
}

export interface DeviceConfig {
  readonly agent: AgentSettings;
  readonly hardware: HardwareSettings;
}

/**
 * Validates `config` (the frozen `mc/config` object) and the secrets. Unknown keys are ignored:
 * mc/config also carries the SDK's own keys. Throws ConfigError for the first bad value.
 */
export function readDeviceConfig(
  config: Readonly<Record<string, unknown>>,
  readSecret: (key: SecretKey) => string | undefined,
): DeviceConfig {
  const text = (key: ConfigKey): string => readText(key, config[key]);
  const int = (key: ConfigKey): number => readInt(key, config[key]);

  const backendKind = readChoice('otaBackend', config.otaBackend) as BackendKind;
  const backendUrl = text('otaUrl');
  const scheme = /^https?:\/\/[^/?#\s]+/.exec(backendUrl);
  if (scheme === null) throw new ConfigError('otaUrl', `not an http(s) URL with a host: ${JSON.stringify(backendUrl)}`);

  const secrets = readSecrets(readSecret);
  const configuredId = text('otaDeviceId');
  const pwrkeyPort = text('otaPwrkeyPort');
  const pwrkeyPin = int('otaPwrkeyPin'); // checked even when unused: a wrong value is a build mistake
  const tokenScheme = readChoice('otaTokenScheme', config.otaTokenScheme) as 'TargetToken' | 'GatewayToken';
  const origins = text('otaRedirectCredentialOrigins');
  // The IoTConnect settings are checked whatever the backend, like PWRKEY: a wrong value is a build mistake.
  const iotcPlatform = readChoice('otaIotcPlatform', config.otaIotcPlatform) as 'aws' | 'az' | '';
  const iotcHardwareVersion = text('otaIotcHardwareVersion');
  const iotcSession = readChoice('otaIotcSession', config.otaIotcSession) as 'kept' | 'per-call';
  const iotcSuccessSt = readChoice('otaIotcSuccessSt', config.otaIotcSuccessSt) === '0' ? 0 : 3;

  const agent: AgentSettings = {
    backendKind,
    backendUrl,
    tenant: text('otaTenant'),
    deviceId: configuredId !== '' ? configuredId : secrets.deviceId,
    authToken: tokenScheme === 'GatewayToken' ? secrets.gatewayToken : secrets.authToken,
    apn: text('otaApn'),
    apnUser: secrets.apnUser,
    apnPassword: secrets.apnPassword,
    caCertName: text('otaCaCert'),
    modemModel: readChoice('otaModem', config.otaModem) as 'sim7080' | 'sim7600',
    uartFlowControl: readChoice('otaUartFlowControl', config.otaUartFlowControl) as 'none' | 'rts-cts',
    iotconnect:
      backendKind === 'iotconnect'
        ? {
            cpid: text('otaTenant'),
            env: text('otaIotcEnv'),
            platform: iotcPlatform,
            hardwareVersion: iotcHardwareVersion === '' ? undefined : iotcHardwareVersion,
            session: iotcSession,
            successSt: iotcSuccessSt,
          }
        : undefined,
    seKeyId: int('otaKeyId'),
    pollIntervalS: int('otaPollIntervalS'),
    healthCheckDeadlineS: int('otaHealthDeadlineS'),
    // Backend policy (issue 13): resolveConfig (src/agent/config.ts) checks these again, by the same schema.
    policy: {
      tokenScheme,
      artifactPattern: text('otaArtifactPattern'),
      modulePart: text('otaModulePart'),
      autoConfirm: readChoice('otaAutoConfirm', config.otaAutoConfirm) === 'true',
      backendBodyMax: int('otaBodyMax'),
      urlMax: int('otaUrlMax'),
      maxRedirects: int('otaMaxRedirects'),
      redirectCredentialOrigins: origins === '' ? [] : origins.split(','),
    },
  };
  const hardware: HardwareSettings = {
    primaryLabel: text('otaPrimaryLabel'),
    secondaryLabel: text('otaSecondaryLabel'),
    modemUart: text('otaModemUart'),
    modemBaud: int('otaModemBaud'),
    seI2c: text('otaSeI2c'),
    seI2cHz: int('otaSeI2cHz'),
    powerKey: pwrkeyPort === '' ? undefined : { port: pwrkeyPort, pin: pwrkeyPin },
  };
  if (hardware.primaryLabel === hardware.secondaryLabel) {
    throw new ConfigError('otaSecondaryLabel', `same partition as otaPrimaryLabel (${hardware.primaryLabel})`);
  }
  return { agent, hardware };
}

function readSecrets(readSecret: (key: SecretKey) => string | undefined): Record<SecretKey, string | undefined> {
  const out = {} as Record<SecretKey, string | undefined>;
  for (const key of SECRET_KEYS) {
    const value = readSecret(key);
    if (value !== undefined && typeof value !== 'string') throw new ConfigError(`secret ${key}`, 'not a string');
    if (value !== undefined && value.length > SECRET_MAX_LENGTH) {
      throw new ConfigError(`secret ${key}`, `${value.length} characters > ${SECRET_MAX_LENGTH}`);
    }
    // Never echo a secret's value into an error or a log.
    out[key] = value === '' ? undefined : value;
  }
  if (out.deviceId !== undefined) checkChars('secret deviceId', out.deviceId, CONFIG_SCHEMA.otaDeviceId.charset, CONFIG_SCHEMA.otaDeviceId.maxLength, false);
  return out;
}

function readChoice(key: ConfigKey, raw: unknown): string {
  const spec = CONFIG_SCHEMA[key] as ConfigSpec;
  if (spec.type !== 'choice') throw new ConfigError(key, 'schema is not a choice');
  if (raw === undefined) return spec.default;
  // A manifest may write otaAutoConfirm as false or otaIotcSuccessSt as 0; the choices are their text.
  const value = typeof raw === 'boolean' || typeof raw === 'number' ? String(raw) : raw;
  if (typeof value !== 'string' || !spec.choices.includes(value)) {
    throw new ConfigError(key, `${JSON.stringify(raw)} is not one of ${spec.choices.join(', ')}`);
  }
  return value;
}

function readText(key: ConfigKey, raw: unknown): string {
  const spec = CONFIG_SCHEMA[key] as ConfigSpec;
  if (spec.type !== 'text') throw new ConfigError(key, 'schema is not text');
  const value = raw === undefined ? spec.default : raw;
  if (typeof value !== 'string') throw new ConfigError(key, `expected a string, got ${typeof value}`);
  checkChars(key, value, spec.charset, spec.maxLength, spec.required);
  const problem = value === '' || spec.check === undefined ? undefined : spec.check(value);
  if (problem !== undefined) throw new ConfigError(key, problem);
  return value;
}

function checkChars(key: string, value: string, charset: (code: number) => boolean, maxLength: number, required: boolean): void {
  if (value.length === 0) {
    if (required) throw new ConfigError(key, 'required, no default');
    return;
  }
  if (value.length > maxLength) throw new ConfigError(key, `${value.length} characters > ${maxLength}`);
  for (let i = 0; i < value.length; i++) {
    if (!charset(value.charCodeAt(i))) throw new ConfigError(key, `character ${JSON.stringify(value[i])} at ${i} not allowed`);
  }
}

function readInt(key: ConfigKey, raw: unknown): number {
  const spec = CONFIG_SCHEMA[key] as ConfigSpec;
  if (spec.type !== 'int') throw new ConfigError(key, 'schema is not an integer');
  let value: number;
  if (raw === undefined) value = spec.default;
  else if (typeof raw === 'number') value = raw;
  else if (typeof raw === 'string' && /^(0x[0-9a-fA-F]{1,8}|[0-9]{1,10})$/.test(raw)) value = Number(raw);
  else throw new ConfigError(key, `expected an integer, got ${JSON.stringify(raw)}`);
  if (!Number.isInteger(value) || value < spec.min || value > spec.max) {
    throw new ConfigError(key, `${value} outside ${spec.min}..${spec.max}`);
  }
  return value;
}
