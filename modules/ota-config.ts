/**
 * The device build's configuration: reads every key of the manifest's `config` that xs-ota
 * uses (mc/config) and the secrets from the key-value store. One name per setting: each agent
 * setting is handed on under its name inside the agent, the manifest key without `ota`
 * (`settingName`: otaKeyId → keyId, docs/agent.md), unchanged, and checked once, by the schema
 * (CONFIG_SCHEMA of src/agent/config.ts), when createAgent resolves it: a bad value stops the
 * start with `config-invalid: otaKeyId: …`. The hardware settings (partition labels, UART, I2C,
 * PWRKEY) never reach the agent: this module checks them with the same schema reader
 * (`readSetting`) and throws ConfigError naming the key; main.ts turns that into
 * OtaError('config-invalid').
 *
 * Its value imports from the bundle are functions (Node tests resolve "xs-ota" to
 * dist/xs-ota.mjs through package.json `exports`). Values may arrive as strings: `mcconfig ...
 * otaPollIntervalS=600` overrides a config value from the command line
 * (documentation/tools/manifest.md, "config"); the schema reader takes decimal or 0x-hex text.
 */

import { configSchema, readSetting, settingKeys, settingName, type ConfigKey, type ConfigSpec, type HardwareKey, type StartConfig } from 'xs-ota';
export type { ConfigKey, ConfigSpec };

export const CONFIG_SCHEMA = configSchema();
const KEYS = settingKeys();

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

/**
 * What main.ts hands to startAgent: every agent setting under its one name, and the secrets
 * (main.ts adds how to load the CA and, with otaControlTls agent, the device certificate).
 */
export type AgentSettings = Omit<StartConfig, 'caPem' | 'deviceCertPem' | 'controlCaPem'>;

/** What main.ts builds the Platform from: the hardware settings, under their names by the same rule. */
export interface HardwareSettings {
  readonly primaryLabel: string;
  readonly secondaryLabel: string;
  /** Large erase unit of the slots' flash, bytes (0: sectors only). */
  readonly flashBlockErase: number;
  readonly modemUart: string;
  readonly modemBaud: number;
  readonly seI2c: string;
  readonly seI2cHz: number;
  /** '': PWRKEY is not wired to the MCU. */
  readonly pwrkeyPort: string;
  readonly pwrkeyPin: number;
  /** '': the modem's STATUS is not wired to the MCU (the driver probes with AT). */
  readonly modemStatusPort: string;
  readonly modemStatusPin: number;
}

export interface DeviceConfig {
  readonly agent: AgentSettings;
  readonly hardware: HardwareSettings;
}

/**
 * Reads `config` (the frozen `mc/config` object) and the secrets. Unknown keys are ignored:
 * mc/config also carries the SDK's own keys. Throws ConfigError for the first bad hardware
 * setting or secret; the agent settings are checked when createAgent resolves them.
 */
export function readDeviceConfig(
  config: Readonly<Record<string, unknown>>,
  readSecret: (key: SecretKey) => string | undefined,
): DeviceConfig {
  const secrets = readSecrets(readSecret);
  const agent: Record<string, unknown> = {};
  for (const key of KEYS.agent) if (config[key] !== undefined) agent[settingName(key)] = config[key];
  // An empty otaDeviceId: the provisioned secret names the device.
  if (agent.deviceId === undefined || agent.deviceId === '') agent.deviceId = secrets.deviceId;
  // otaTokenScheme picks the secret; resolveConfig checks the scheme itself.
  agent.token = config.otaTokenScheme === 'GatewayToken' ? secrets.gatewayToken : secrets.authToken;
  agent.apnUser = secrets.apnUser;
  agent.apnPassword = secrets.apnPassword;

  const hardware: Record<string, unknown> = {};
  for (const key of KEYS.hardware) hardware[settingName(key)] = readHardware(key, config[key]);
  const hw = hardware as unknown as HardwareSettings;
  if (hw.primaryLabel === hw.secondaryLabel) {
    throw new ConfigError('otaSecondaryLabel', `same partition as otaPrimaryLabel (${hw.primaryLabel})`);
  }
  return { agent: agent as AgentSettings, hardware: hw };
}

/** The schema's check of a hardware setting, its error as ConfigError naming the key. */
function readHardware(key: HardwareKey, raw: unknown): unknown {
  try {
    return readSetting(key, raw);
  } catch (error) {
    const detail = (error as { detail?: string }).detail ?? String(error);
    throw new ConfigError(key, detail.startsWith(`${key}: `) ? detail.slice(key.length + 2) : detail);
  }
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
  return out;
}
