/**
 * The device build's configuration: every key of the manifest's `config` that xs-ota reads with
 * `mc/config`, its default, its range and what it means (docs/device-build.md renders the same
 * table), and the secrets read from the key-value store. `readDeviceConfig` checks every value
 * and throws ConfigError naming the key; main.ts turns that into OtaError('config-invalid').
 *
 * This module imports nothing, so Node tests load it as it is (test/unit/moddable). Values may
 * arrive as strings: `mcconfig ... otaPollIntervalS=600` overrides a config value from the command
 * line (documentation/tools/manifest.md, "config"), so numbers are accepted in decimal or 0x-hex
 * text too.
 */

import type { BackendKind, StartConfig } from 'xs-ota';

interface IntSpec {
  readonly type: 'int';
  readonly default: number;
  readonly min: number;
  readonly max: number;
  readonly meaning: string;
}

interface TextSpec {
  readonly type: 'text';
  readonly default: string;
  /** Longest accepted value (characters). */
  readonly maxLength: number;
  /** Every character code must pass (checked per character, so no backtracking on long input). */
  readonly charset: (code: number) => boolean;
  /** An empty value is a start-up error (there is no safe default). */
  readonly required: boolean;
  readonly meaning: string;
}

interface ChoiceSpec {
  readonly type: 'choice';
  readonly default: string;
  readonly choices: readonly string[];
  readonly meaning: string;
}

export type ConfigSpec = IntSpec | TextSpec | ChoiceSpec;

// Character classes as functions, not RegExp objects: this module is preloaded into flash, and
// plain functions and numbers are what XS preload stores best (documentation/xs/preload.md).
const isAlnum = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
/** A-Z a-z 0-9 _ . - */
const LABEL = (c: number): boolean => isAlnum(c) || c === 0x5f || c === 0x2e || c === 0x2d;
/** LABEL and ':' */
const ID = (c: number): boolean => LABEL(c) || c === 0x3a;
/** Printable ASCII without space. */
const PRINTABLE = (c: number): boolean => c >= 0x21 && c <= 0x7e;

/** Every `config` key xs-ota reads. manifest.json's `config` holds exactly these, with these defaults. */
export const CONFIG_SCHEMA = {
  otaBackend: {
    type: 'choice',
    default: 'hawkbit',
    choices: ['hawkbit', 'iotconnect', 'manifest'],
    meaning: 'Update backend protocol: Eclipse hawkBit DDI, Avnet IoTConnect, or a static manifest file.',
  },
  otaUrl: {
    type: 'text',
    default: '',
    maxLength: 200,
    charset: PRINTABLE,
    required: true,
    meaning: 'Backend base URL, https:// (http:// only for a lab server). No default: the build must set it.',
  },
  otaTenant: {
    type: 'text',
    default: 'DEFAULT',
    maxLength: 64,
    charset: LABEL,
    required: true,
    meaning: 'hawkBit tenant (DEFAULT on a stock server); IoTConnect company id.',
  },
  otaDeviceId: {
    type: 'text',
    default: '',
    maxLength: 64,
    charset: ID,
    required: false,
    meaning: 'Device id at the backend. Empty: the key-value secret deviceId, else the modem IMEI.',
  },
  otaApn: {
    type: 'text',
    default: '',
    maxLength: 100, // 3GPP TS 23.003 9.1: an APN is at most 100 octets
    charset: LABEL,
    required: false,
    meaning: 'APN of the PDP context. Empty: the network assigns it.',
  },
  otaCaCert: {
    type: 'text',
    default: 'ca.pem',
    maxLength: 64,
    charset: LABEL,
    required: true,
    meaning: "CA certificate file name in the modem's file system, used to verify the HTTPS server.",
  },
  otaModem: {
    type: 'choice',
    default: 'sim7080',
    choices: ['sim7080', 'sim7600'],
    meaning: 'Fitted SIMCom modem: SIM7080G (Cat-M/NB-IoT) or SIM7600 (Cat-1/Cat-4).',
  },
  otaUartFlowControl: {
    type: 'choice',
    default: 'none',
    choices: ['none', 'rts-cts'],
    meaning: 'Modem UART flow control: rts-cts only where RTS/CTS are wired and the UART binding runs them (the stock Moddable Zephyr binding does not); the agent then takes socket data pushed by the modem.',
  },
  otaIotcEnv: {
    type: 'text',
    default: '',
    maxLength: 64,
    charset: LABEL,
    required: false,
    meaning: 'IoTConnect environment name (otaBackend iotconnect; otaTenant holds the CPID).',
  },
  otaKeyId: {
    type: 'int',
    default: 0x7b000201,
    min: 0x00000001,
    max: 0x7ffeffff, // 0x7FFF0000..0x7FFFFFFF is reserved for the SE05x applet
    meaning: 'A5000 object id of the ECDSA P-256 update-signing public key.',
  },
  otaPollIntervalS: {
    type: 'int',
    default: 3600,
    min: 60,
    max: 7 * 24 * 3600,
    meaning: 'Seconds between polls when the backend does not say. Shorter costs data and battery.',
  },
  otaHealthDeadlineS: {
    type: 'int',
    default: 300,
    min: 30,
    max: 3600,
    meaning: 'Seconds a new image has to pass its health check; unconfirmed, MCUboot reverts at the next reset.',
  },
  otaPrimaryLabel: {
    type: 'text',
    default: 'image-0',
    maxLength: 31,
    charset: LABEL,
    required: true,
    meaning: 'Devicetree `label` property of the MCUboot primary slot (node slot0_partition).',
  },
  otaSecondaryLabel: {
    type: 'text',
    default: 'image-1',
    maxLength: 31,
    charset: LABEL,
    required: true,
    meaning: 'Devicetree `label` property of the MCUboot secondary slot (node slot1_partition).',
  },
  otaModemUart: {
    type: 'text',
    default: 'uart1',
    maxLength: 31,
    charset: LABEL,
    required: true,
    meaning: 'Devicetree label of the UART wired to the modem.',
  },
  otaModemBaud: {
    type: 'int',
    default: 115200,
    min: 9600,
    max: 921600,
    meaning: 'Modem UART rate at start-up (SIMCom default 115200).',
  },
  otaSeI2c: {
    type: 'text',
    default: 'i2c0',
    maxLength: 31,
    charset: LABEL,
    required: true,
    meaning: 'Devicetree label of the I2C controller wired to the A5000 (address 0x48).',
  },
  otaSeI2cHz: {
    type: 'int',
    default: 400000,
    min: 100000,
    max: 1000000,
    meaning: 'A5000 I2C clock in Hz (100 kHz standard, 400 kHz fast, 1 MHz fast-plus).',
  },
  otaPwrkeyPort: {
    type: 'text',
    default: '',
    maxLength: 31,
    charset: LABEL,
    required: false,
    meaning: 'Devicetree label of the GPIO controller driving the modem PWRKEY. Empty: not wired.',
  },
  otaPwrkeyPin: {
    type: 'int',
    default: 0,
    min: 0,
    max: 31,
    meaning: 'Pin number of PWRKEY on that controller (1 at the MCU pin presses the key).',
  },
} as const satisfies Record<string, ConfigSpec>;
// Frozen, so XS keeps the preloaded table in flash without a RAM pointer per object.
for (const spec of Object.values(CONFIG_SCHEMA) as ConfigSpec[]) {
  if (spec.type === 'choice') Object.freeze(spec.choices);
  Object.freeze(spec);
}
Object.freeze(CONFIG_SCHEMA);

export type ConfigKey = keyof typeof CONFIG_SCHEMA;

/** Secrets the device reads from the key-value store (domain SECRETS_DOMAIN), never from the manifest. */
export const SECRET_KEYS = Object.freeze(['authToken', 'deviceId', 'apnUser', 'apnPassword'] as const);
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
    // Not `this.name = ...`: built-ins are frozen after preload, Error.prototype.name is read-only.
    Object.defineProperty(this, 'name', { value: 'ConfigError', writable: true, enumerable: false, configurable: true });
    this.key = key;
    this.detail = detail;
  }
}

/** What main.ts hands to startAgent: the bundle's StartConfig less what main.ts adds (the CA bytes). */
export type AgentSettings = Omit<StartConfig, 'caCert' | 'policy'>;
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

  const agent: AgentSettings = {
    backendKind,
    backendUrl,
    tenant: text('otaTenant'),
    deviceId: configuredId !== '' ? configuredId : secrets.deviceId,
    authToken: secrets.authToken,
    apn: text('otaApn'),
    apnUser: secrets.apnUser,
    apnPassword: secrets.apnPassword,
    caCertName: text('otaCaCert'),
    modemModel: readChoice('otaModem', config.otaModem) as 'sim7080' | 'sim7600',
    uartFlowControl: readChoice('otaUartFlowControl', config.otaUartFlowControl) as 'none' | 'rts-cts',
    iotconnect: backendKind === 'iotconnect' ? { cpid: text('otaTenant'), env: text('otaIotcEnv') } : undefined,
    seKeyId: int('otaKeyId'),
    pollIntervalS: int('otaPollIntervalS'),
    healthCheckDeadlineS: int('otaHealthDeadlineS'),
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
  if (out.deviceId !== undefined) checkChars('secret deviceId', out.deviceId, ID, 64, false);
  return out;
}

function readChoice(key: ConfigKey, raw: unknown): string {
  const spec = CONFIG_SCHEMA[key] as ConfigSpec;
  if (spec.type !== 'choice') throw new ConfigError(key, 'schema is not a choice');
  if (raw === undefined) return spec.default;
  if (typeof raw !== 'string' || !spec.choices.includes(raw)) {
    throw new ConfigError(key, `${JSON.stringify(raw)} is not one of ${spec.choices.join(', ')}`);
  }
  return raw;
}

function readText(key: ConfigKey, raw: unknown): string {
  const spec = CONFIG_SCHEMA[key] as ConfigSpec;
  if (spec.type !== 'text') throw new ConfigError(key, 'schema is not text');
  const value = raw === undefined ? spec.default : raw;
  if (typeof value !== 'string') throw new ConfigError(key, `expected a string, got ${typeof value}`);
  checkChars(key, value, spec.charset, spec.maxLength, spec.required);
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
