/**
 * Every setting and limit of the agent, each with its default, its range and the trade-off
 * (style rule 16). On the device the settings come from the manifest's `config` (mc/config) and
 * secrets from the key-value store; in the simulated dev kit, from CLI options.
 *
 * One name per setting: a device setting is named by its manifest key (CONFIG_SCHEMA) on the
 * device and by that key without `ota`, first letter lower case (`settingName`), everywhere inside
 * the agent: otaKeyId is `keyId` in modules/ota-config.ts, StartConfig, AgentConfig and the parts.
 * It is validated once, here (resolveConfig, by the schema); a bad value is
 * `config-invalid: otaKeyId: …` (the name a field engineer set).
 */
import { OtaError } from '../util/errors.js';
import { DEFAULT_TRAILER_SIZE } from '../image/image-stream.js';
import { LABEL, ID, PRINTABLE, type ConfigSpec, type TextSpec } from './setting-spec.js';
import { HAWKBIT_SETTINGS } from './settings-hawkbit.js';
import { IOTCONNECT_SETTINGS } from './settings-iotconnect.js';
import { TLS_SETTINGS, checkTlsSettings } from './settings-tls.js';

export type { IntSpec, TextSpec, ChoiceSpec, ConfigSpec } from './setting-spec.js';
export { deviceCertObject } from '../se/objects.js';

export type BackendKind = 'hawkbit' | 'manifest' | 'iotconnect';

// ── the manifest's settings (mc/config on the device) ───────────────────────────────────


/** `scheme://host[:port]`, nothing after: an origin that may receive the token after a redirect. */
export function isOrigin(value: string): boolean {
  return /^https?:\/\/[^/\s?#]+$/.test(value);
}

/** otaUrl: `http(s)://host…`. */
function checkHttpUrl(value: string): string | undefined {
  return /^https?:\/\/[^/?#\s]+/.test(value) ? undefined : 'not an http(s) URL with a host';
}

/** otaRedirectCredentialOrigins: comma-separated origins, each checked. */
function checkOriginList(value: string): string | undefined {
  const items = value.split(',');
  for (let i = 0; i < items.length; i++) {
    if (!isOrigin(items[i])) return `item ${i + 1} is not an origin (scheme://host[:port])`;
  }
  return undefined;
}

/**
 * Every `config` key of the manifest that xs-ota reads, keyed by its manifest name: its type,
 * default and range; what it means is the comment above it (a comment, not a string: no code
 * reads it, and a string would be carried in the preloaded flash). manifest.json's `config` holds exactly these, with these defaults;
 * docs/device-build.md renders the same table. readSetting below is its one check: resolveConfig
 * applies it to every setting the agent takes (under the setting's name, `settingName`),
 * modules/ota-config.ts to the hardware settings (HARDWARE_KEYS) only.
 *
 * Per build: the settings only one backend or one optional part reads are declared beside it
 * (src/agent/settings-hawkbit.ts, -iotconnect.ts, -tls.ts) and are in this table only in a bundle
 * that carries that backend or part (rollup.config.mjs resolves each to its `.absent` sibling
 * otherwise). A build does not read a setting it leaves out: the manifest's value is ignored
 * (modules/ota-config.ts reads this table's keys), a StartConfig field naming it is an unknown
 * setting. The settings that choose a backend, a modem or agent TLS (otaBackend, otaModem,
 * otaControlTls) are in every build, so that asking for one the build lacks still stops the
 * start-up naming the build option.
 */
const DEVICE_SETTINGS = {
  /** Update backend protocol: Eclipse hawkBit DDI, Avnet IoTConnect, or a static manifest file. */
  otaBackend: {
    type: 'choice',
    default: 'hawkbit',
    choices: ['hawkbit', 'iotconnect', 'manifest'],
  },
  /** Backend base URL, https:// (http:// only for a lab server). No default: the build must set it. */
  otaUrl: {
    type: 'text',
    default: '',
    maxLength: 200,
    charset: PRINTABLE,
    required: true,
    check: checkHttpUrl,
  },
  /** hawkBit tenant (DEFAULT on a stock server); IoTConnect company id. */
  otaTenant: {
    type: 'text',
    default: 'DEFAULT',
    maxLength: 64,
    charset: LABEL,
    required: true,
  },
  /** Device id at the backend. Empty: the key-value secret deviceId, else the modem IMEI. */
  otaDeviceId: {
    type: 'text',
    default: '',
    maxLength: 64,
    charset: ID,
    required: false,
  },
  /** APN of the PDP context. Empty: the network assigns it. */
  otaApn: {
    type: 'text',
    default: '',
    maxLength: 100, // 3GPP TS 23.003 9.1: an APN is at most 100 octets
    charset: LABEL,
    required: false,
  },
  /** CA certificate file name in the modem's file system, used to verify the HTTPS server. */
  otaCaCert: {
    type: 'text',
    default: 'ca.pem',
    maxLength: 64,
    charset: LABEL,
    required: true,
  },
  /** Fitted SIMCom modem: SIM7080G (Cat-M/NB-IoT) or SIM7600 (Cat-1/Cat-4). */
  otaModem: {
    type: 'choice',
    default: 'sim7080',
    choices: ['sim7080', 'sim7600'],
  },
  /**
   * Modem UART flow control: rts-cts only where RTS/CTS are wired and the UART binding runs them
   * (the stock Moddable Zephyr binding does not); the agent then takes socket data pushed by the
   * modem.
   */
  otaUartFlowControl: {
    type: 'choice',
    default: 'none',
    choices: ['none', 'rts-cts'],
  },
  /** A5000 object id of the ECDSA P-256 update-signing public key. */
  otaKeyId: {
    type: 'int',
    default: 0x7b000201,
    min: 0x00000001,
    max: 0x7ffeffff, // 0x7FFF0000..0x7FFFFFFF is reserved for the SE05x applet
  },
  /** Seconds between polls when the backend does not say. Shorter costs data and battery. */
  otaPollIntervalS: {
    type: 'int',
    default: 3600,
    min: 60,
    max: 7 * 24 * 3600,
  },
  /**
   * Seconds a new image has to pass its health check; unconfirmed, MCUboot reverts at the next
   * reset.
   */
  otaHealthDeadlineS: {
    type: 'int',
    default: 300,
    min: 30,
    max: 3600,
  },
  /** Devicetree `label` property of the MCUboot primary slot (node slot0_partition). */
  otaPrimaryLabel: {
    type: 'text',
    default: 'image-0',
    maxLength: 31,
    charset: LABEL,
    required: true,
  },
  /** Devicetree `label` property of the MCUboot secondary slot (node slot1_partition). */
  otaSecondaryLabel: {
    type: 'text',
    default: 'image-1',
    maxLength: 31,
    charset: LABEL,
    required: true,
  },
  /**
   * Bytes the slots' flash erases in one operation at an aligned offset, faster than its sectors one
   * by one (a SPI NOR driver's 64 KiB block erase: 65536); the slot writer then erases such blocks
   * where the image needs them. 0: sector by sector. Both slots must start on a multiple of it.
   */
  otaFlashBlockErase: {
    type: 'int',
    default: 0,
    min: 0,
    max: 65536,
  },
  /** Devicetree label of the UART wired to the modem. */
  otaModemUart: {
    type: 'text',
    default: 'uart1',
    maxLength: 31,
    charset: LABEL,
    required: true,
  },
  /** Modem UART rate at start-up (SIMCom default 115200). */
  otaModemBaud: {
    type: 'int',
    default: 115200,
    min: 9600,
    max: 921600,
  },
  /** Devicetree label of the I2C controller wired to the A5000 (address 0x48). */
  otaSeI2c: {
    type: 'text',
    default: 'i2c0',
    maxLength: 31,
    charset: LABEL,
    required: true,
  },
  /** A5000 I2C clock in Hz (100 kHz standard, 400 kHz fast, 1 MHz fast-plus). */
  otaSeI2cHz: {
    type: 'int',
    default: 400000,
    min: 100000,
    max: 1000000,
  },
  /** Devicetree label of the GPIO controller driving the modem PWRKEY. Empty: not wired. */
  otaPwrkeyPort: {
    type: 'text',
    default: '',
    maxLength: 31,
    charset: LABEL,
    required: false,
  },
  /** Pin number of PWRKEY on that controller (1 at the MCU pin presses the key). */
  otaPwrkeyPin: {
    type: 'int',
    default: 0,
    min: 0,
    max: 31,
  },
  /** Devicetree label of the GPIO controller reading the modem STATUS output (1 = on). Empty: not wired, the driver probes with AT. */
  otaModemStatusPort: {
    type: 'text',
    default: '',
    maxLength: 31,
    charset: LABEL,
    required: false,
  },
  /** Pin number of STATUS on that controller (an input; level-shift a 1.8 V STATUS to the MCU's I/O voltage). */
  otaModemStatusPin: {
    type: 'int',
    default: 0,
    min: 0,
    max: 31,
  },
  // ── backend policy (issue 13; docs/update-server.md, docs/iotconnect.md) ──
  /** File name pattern of this device's image (`*` any run), hawkBit and IoTConnect. */
  otaArtifactPattern: {
    type: 'text',
    default: '*.bin',
    maxLength: 128,
    charset: PRINTABLE,
    required: true,
  },
  /**
   * Largest JSON body taken from a backend, bytes (one buffer of this size); a larger one is a
   * reported failure.
   */
  otaBodyMax: {
    type: 'int',
    default: 32 * 1024,
    min: 1024,
    max: 256 * 1024,
  },
  /**
   * Longest URL a backend or a redirect may hand the agent, characters (pre-signed links run to 1.3
   * KiB).
   */
  otaUrlMax: {
    type: 'int',
    default: 2048,
    min: 256,
    max: 3072, // the socket client's request head
  },
  /** HTTP redirects (301/302/303/307/308) followed per request; 0: none. */
  otaMaxRedirects: {
    type: 'int',
    default: 5,
    min: 0,
    max: 10,
  },
  /**
   * Comma-separated origins (https://host[:port]) that may receive the token after a redirect to
   * them. Empty: same origin only.
   */
  otaRedirectCredentialOrigins: {
    type: 'text',
    default: '',
    maxLength: 512,
    charset: PRINTABLE,
    required: false,
    check: checkOriginList,
  },
  // ── TLS of the control channel (issue 16; docs/tls.md, "Which channel uses which TLS") ──
  /**
   * TLS of the control channel (hawkBit DDI, IoTConnect MQTT): the modem's, or the agent's with
   * the device key kept in the A5000 (otaDeviceKeyId, otaDeviceCert). The firmware download keeps
   * the modem's TLS.
   */
  otaControlTls: {
    type: 'choice',
    default: 'modem',
    choices: ['modem', 'agent'],
  },
} as const satisfies Record<string, ConfigSpec>;

/** The type names every setting of every part; at run time a bundle has only those it carries (above). */
export const CONFIG_SCHEMA: typeof DEVICE_SETTINGS & typeof HAWKBIT_SETTINGS & typeof IOTCONNECT_SETTINGS & typeof TLS_SETTINGS = {
  ...DEVICE_SETTINGS,
  ...HAWKBIT_SETTINGS,
  ...IOTCONNECT_SETTINGS,
  ...TLS_SETTINGS,
};
// Frozen, so XS keeps the preloaded table in flash without a RAM pointer per object.
for (const spec of Object.values(CONFIG_SCHEMA) as ConfigSpec[]) {
  if (spec.type === 'choice') Object.freeze(spec.choices);
  Object.freeze(spec);
}
Object.freeze(CONFIG_SCHEMA);

export type ConfigKey = keyof typeof CONFIG_SCHEMA;

/** The schema, for modules that import values from the bundle as functions (modules/ota-config.ts). */
export function configSchema(): typeof CONFIG_SCHEMA {
  return CONFIG_SCHEMA;
}

/** Device settings main.ts builds the Platform from (ports, partitions): read on the device, not the agent's. */
export const HARDWARE_KEYS = Object.freeze(['otaPrimaryLabel', 'otaSecondaryLabel', 'otaFlashBlockErase', 'otaModemUart', 'otaModemBaud', 'otaSeI2c', 'otaSeI2cHz', 'otaPwrkeyPort', 'otaPwrkeyPin', 'otaModemStatusPort', 'otaModemStatusPin'] as const);
export type HardwareKey = (typeof HARDWARE_KEYS)[number];
/** The device settings the agent takes: every other schema key. */
export type AgentSettingKey = Exclude<ConfigKey, HardwareKey>;
export const AGENT_SETTING_KEYS: readonly AgentSettingKey[] = Object.freeze(
  (Object.keys(CONFIG_SCHEMA) as ConfigKey[]).filter((k): k is AgentSettingKey => !(HARDWARE_KEYS as readonly string[]).includes(k)),
);

/** The two kinds of device setting, for modules that import values from the bundle as functions (modules/ota-config.ts). */
export function settingKeys(): { readonly agent: readonly AgentSettingKey[]; readonly hardware: readonly HardwareKey[] } {
  return { agent: AGENT_SETTING_KEYS, hardware: HARDWARE_KEYS };
}

/** The naming rule: a device setting's name inside the agent is its manifest key without `ota`, first letter lower case. */
export type SettingName<K extends string> = K extends `ota${infer Rest}` ? Uncapitalize<Rest> : never;

export function settingName<K extends ConfigKey>(key: K): SettingName<K> {
  return (key.charAt(3).toLowerCase() + key.slice(4)) as SettingName<K>;
}

export interface AgentConfig {
  // ── device settings: CONFIG_SCHEMA's keys by the naming rule (otaKeyId → keyId), ranges there ──
  /** otaBackend: which update source, 'hawkbit' (DDI v1), 'manifest' (static JSON), 'iotconnect'. */
  backend: BackendKind;
  /** otaUrl: backend base URL (hawkBit server root, manifest URL, IoTConnect discovery host). */
  url: string;
  /** otaTenant: hawkBit tenant ('DEFAULT' on a stock server); the IoTConnect CPID. */
  tenant: string;
  /** otaDeviceId (else the secret deviceId): hawkBit controllerId, IoTConnect unique id. */
  deviceId: string;
  /** otaApn: APN of the PDP context; '' lets the network assign it. */
  apn: string;
  /** otaCaCert: name of the CA certificate (the build's resource, the modem's file). */
  caCert: string;
  /** otaModem: which SIMCom modem is fitted. */
  modem: 'sim7080' | 'sim7600';
  /**
   * otaUartFlowControl: whether RTS/CTS are wired between MCU and modem. 'rts-cts': the driver
   * sends `AT+IFC=2,2` after every boot and takes socket data pushed by the modem (the fastest
   * transport, docs/benchmarks.md); 'none': reads per command, which cannot overrun the UART.
   */
  uartFlowControl: 'none' | 'rts-cts';
  /** otaIotcEnv: IoTConnect environment name. */
  iotcEnv: string;
  /** otaKeyId: A5000 object id of the image-signing public key. */
  keyId: number;
  /** otaPollIntervalS: poll interval when the server names none. */
  pollIntervalS: number;
  /** otaHealthDeadlineS: how long the new image has to pass its health check (incl. reaching the backend) before the agent lets MCUboot revert. */
  healthDeadlineS: number;
  /** otaTokenScheme: how `token` is sent to hawkBit, 'TargetToken' (per device) or 'GatewayToken' (tenant-wide). */
  tokenScheme: 'TargetToken' | 'GatewayToken';
  /** otaArtifactPattern: file name pattern of this device's image (`*` any run), hawkBit and IoTConnect. */
  artifactPattern: string;
  /** otaModulePart: hawkBit chunk `part` of this device's image (`bApp`, `os`); '': any, the header chooses. */
  modulePart: string;
  /** otaAutoConfirm: hawkBit confirmationBase (user consent) when the application gives no hook: confirm (true) or deny. */
  autoConfirm: boolean;
  /** otaBodyMax: largest JSON body from a backend, bytes read (streamed: no buffer of this size, src/backend/json-reader.ts). */
  bodyMax: number;
  /** otaUrlMax: longest URL a backend or a redirect may hand the agent, characters. */
  urlMax: number;
  /** otaMaxRedirects: redirects followed per request (src/net/redirect.ts). */
  maxRedirects: number;
  /** otaRedirectCredentialOrigins: origins (`https://host[:port]`) that may receive the token after a redirect to them. */
  redirectCredentialOrigins: string[];
  /** otaIotcPlatform: IoTConnect discovery `pf`; '' leaves it out. */
  iotcPlatform: 'aws' | 'az' | '';
  /** otaIotcHardwareVersion: matched against a command's `hw`; '': not checked. */
  iotcHardwareVersion: string;
  /** otaIotcSession: IoTConnect MQTT session kept between polls, or per call. */
  iotcSession: 'kept' | 'per-call';
  /** otaIotcSuccessSt: st of IoTConnect's final success ack. */
  iotcSuccessSt: 0 | 3;
  /** otaControlTls: the control channel's TLS: the modem's, or the agent's with the device key in the A5000 (docs/tls.md). */
  controlTls: 'modem' | 'agent';
  /** otaTlsVersions: the TLS versions the agent offers with controlTls 'agent'. */
  tlsVersions: '1.3,1.2' | '1.3' | '1.2';
  /** otaDeviceKeyId: A5000 object of the device key pair (client authentication with controlTls 'agent'). */
  deviceKeyId: number;
  /** otaDeviceCert: where the device certificate chain is: `se:0x…` an A5000 object (deviceCertObject), else a build resource's name; read only with controlTls 'agent'. */
  deviceCert: string;
  // ── secrets (key-value store xs-ota-secret, modules/ota-config.ts SECRET_KEYS) ──
  /** The backend credential: the secret authToken or gatewayToken, as tokenScheme names. */
  token: string;
  apnUser: string;
  apnPassword: string;
  // ── agent policy, no device setting ──
  /** Download attempts per deployment before it fails with `retries-exhausted`. Range 1–50. */
  maxAttempts: number;
  /** First retry delay; doubles per attempt with full jitter. Range 1 s – 1 h. */
  retryBaseS: number;
  /** Longest retry delay. Range retryBaseS – 24 h. */
  retryCapS: number;
  /** Bytes fetched per deployment before it fails (a server that keeps restarting us from 0). Default 4× the slot. */
  maxBytesPerDeployment: number;
  /** Allow installing an older image (downgrade). Off by default: the CRA asks for rollback protection. */
  allowDowngrade: boolean;
  /** Allow re-installing the running version. */
  allowSameVersion: boolean;
  /** Hardware id compared with a backend's compatibility list. */
  hardwareId: string;
  /**
   * MCUboot trailer size of this board's MCUboot build: trailerSize(MCUBOOT_MAX_IMG_SECTORS, write
   * alignment) (src/image/trailer.ts), 3120 for 128 sectors at 8 bytes (docs/flash-layout.md).
   * The agent keeps images below it and erases it before writing. Too small: an image that
   * overlaps MCUboot's swap status is accepted, then rejected at boot. Too large: images that
   * would fit are refused (`too-large`). Range 48 B – 64 KiB, a multiple of 8.
   */
  trailerSize: number;
  /** Persist the download offset every this many bytes (a multiple of the flash sector). Smaller loses less after a power cut, but wears the journal store. */
  progressEveryBytes: number;
  /**
   * Bytes asked for per artifact request (HTTP Range). The modem carries one connection at a time,
   * so the agent can only ask the backend whether the deployment was cancelled (and send progress)
   * between requests: smaller segments notice a cancel sooner, but each costs one more request and
   * one poll (goodput, data). This is the first segment and the smallest; later ones are sized to
   * last about one poll interval at the measured rate (`nextSegmentBytes` in machine.ts). Only a
   * backend that can cancel (hawkBit) is asked in segments. Default 256 KiB; range 4 KiB – 16 MiB,
   * a multiple of 4096.
   */
  downloadSegmentBytes: number;
  /** The largest segment (bytes): caps how long a cancel can go unnoticed. Default and at most 16 MiB, a multiple of 4096, at least `downloadSegmentBytes`. */
  downloadSegmentMaxBytes: number;
  /** MCUboot ih_load_addr this board's images carry, checked before download when several files are offered; -1 (default): not checked. */
  imageLoadAddress: number;
}

/** Compile time: every device setting the agent takes has its AgentConfig field under the rule's name. */
type Assert<T extends true> = T;
export type NamingRuleHolds = Assert<[Exclude<SettingName<AgentSettingKey>, keyof AgentConfig>] extends [never] ? true : false>;

/** Settings as handed in (StartConfig, the dev kit, modules/ota-config.ts): any subset, each value checked by resolveConfig. */
export type SettingsInput = { readonly [K in keyof AgentConfig]?: unknown };

/** The agent's value of a device setting whose manifest form is text (a choice, a list). */
const AGENT_VALUE: { readonly [K in AgentSettingKey]?: (text: string) => unknown } = Object.freeze({
  otaAutoConfirm: (text: string) => text === 'true',
  otaIotcSuccessSt: (text: string) => Number(text),
  otaRedirectCredentialOrigins: (text: string) => (text === '' ? [] : text.split(',')),
});

function invalid(key: string, why: string): never {
  throw new OtaError('config-invalid', `${key}: ${why}`);
}

/**
 * The schema's check of one device setting: `raw` in the manifest's form (text for a choice or
 * a list, decimal or 0x-hex text for a number, as an mcconfig command-line override gives it) or
 * the agent's (a boolean, a number, a list). Returns the agent's value; throws
 * OtaError('config-invalid', '<manifest key>: …'), never repeating a long value.
 */
export function readSetting(key: ConfigKey, raw: unknown): unknown {
  const spec = CONFIG_SCHEMA[key] as ConfigSpec | undefined;
  if (spec === undefined) invalid(key, 'not a setting of this firmware (a part its build leaves out)');
  const value = raw === undefined ? spec.default : raw;
  if (spec.type === 'int') {
    let n: number;
    if (typeof value === 'number') n = value;
    else if (typeof value === 'string' && /^(0x[0-9a-fA-F]{1,8}|[0-9]{1,10})$/.test(value)) n = Number(value);
    else invalid(key, `expected an integer, got ${typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : typeof value}`);
    if (!Number.isInteger(n) || n < spec.min || n > spec.max) invalid(key, `${n} outside ${spec.min}..${spec.max}`);
    return n;
  }
  let text: unknown = value;
  if (Array.isArray(value) && key === 'otaRedirectCredentialOrigins') text = value.length === 0 ? '' : value.join(',');
  if (spec.type === 'choice') {
    // A manifest may write otaAutoConfirm as false or otaIotcSuccessSt as 0; the choices are their text.
    if (typeof text === 'boolean' || typeof text === 'number') text = String(text);
    if (typeof text !== 'string' || !spec.choices.includes(text)) invalid(key, `${typeof text === 'string' ? JSON.stringify(text.slice(0, 40)) : typeof text} is not one of ${spec.choices.join(', ')}`);
  } else {
    if (typeof text !== 'string') invalid(key, `expected a string, got ${typeof text}`);
    checkText(key, text, spec);
  }
  const toAgent = AGENT_VALUE[key as AgentSettingKey];
  return toAgent === undefined ? text : toAgent(text);
}

function checkText(key: string, value: string, spec: TextSpec): void {
  if (value.length === 0) {
    if (spec.required) invalid(key, 'required, no default');
    return;
  }
  if (value.length > spec.maxLength) invalid(key, `${value.length} characters > ${spec.maxLength}`);
  for (let i = 0; i < value.length; i++) {
    if (!spec.charset(value.charCodeAt(i))) invalid(key, `character ${JSON.stringify(value[i])} at ${i} not allowed`);
  }
  const problem = spec.check?.(value);
  if (problem !== undefined) invalid(key, problem);
}

/** The defaults of the agent's policy settings (the device settings' defaults are the schema's). */
const POLICY_DEFAULTS = {
  token: '',
  apnUser: '',
  apnPassword: '',
  maxAttempts: 8,
  retryBaseS: 30,
  retryCapS: 6 * 3600,
  maxBytesPerDeployment: 4 * 0x60000,
  allowDowngrade: false,
  allowSameVersion: false,
  hardwareId: 'xs-ota-devkit',
  progressEveryBytes: 4096,
  downloadSegmentBytes: 256 * 1024,
  downloadSegmentMaxBytes: 16 * 1024 * 1024,
  trailerSize: DEFAULT_TRAILER_SIZE,
  imageLoadAddress: -1,
} satisfies Omit<AgentConfig, SettingName<AgentSettingKey>>;

/** Every default: the schema's for the device settings (by the naming rule), POLICY_DEFAULTS for the rest. */
export const DEFAULT_CONFIG: AgentConfig = (() => {
  const out: Record<string, unknown> = {};
  for (const key of AGENT_SETTING_KEYS) out[settingName(key)] = readDefault(key);
  return { ...(out as unknown as AgentConfig), ...POLICY_DEFAULTS };
})();

function readDefault(key: AgentSettingKey): unknown {
  const spec = CONFIG_SCHEMA[key] as ConfigSpec;
  const toAgent = AGENT_VALUE[key];
  return spec.type === 'int' || toAgent === undefined ? spec.default : toAgent(spec.default);
}

function bad(key: keyof AgentConfig, why: string): never {
  throw new OtaError('config-invalid', `${key}: ${why}`);
}

function range(config: AgentConfig, key: keyof AgentConfig, min: number, max: number): void {
  const v = config[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) bad(key, `must be a number in [${min}, ${max}], got ${String(v)}`);
}

/**
 * Defaults filled in, every value checked, once: each device setting by the schema (readSetting,
 * the error names its manifest key), the policy settings by their ranges here. Throws
 * OtaError('config-invalid', '<key>: …').
 */
export function resolveConfig(input: SettingsInput): AgentConfig {
  const given: Record<string, unknown> = {};
  for (const key of Object.keys(input) as (keyof AgentConfig)[]) {
    if (!(key in DEFAULT_CONFIG)) bad(key, 'unknown setting');
    if (input[key] !== undefined) given[key] = input[key];
  }
  const config = { ...POLICY_DEFAULTS } as Record<string, unknown>;
  for (const key of AGENT_SETTING_KEYS) {
    const name = settingName(key);
    config[name] = readSetting(key, given[name]);
  }
  for (const key of Object.keys(POLICY_DEFAULTS)) if (given[key] !== undefined) config[key] = given[key];
  const c = config as unknown as AgentConfig;
  if (c.backend !== 'manifest' && c.deviceId === '') invalid('otaDeviceId', `required for ${c.backend} (or the secret deviceId)`);
  if (c.backend === 'iotconnect' && c.iotcEnv === '') invalid('otaIotcEnv', 'required for iotconnect');
  for (const secret of ['token', 'apnUser', 'apnPassword'] as const) {
    // Never echo a secret's value.
    if (typeof c[secret] !== 'string' || c[secret].length > 255) bad(secret, 'must be a string of at most 255 characters');
  }
  range(c, 'maxAttempts', 1, 50);
  range(c, 'retryBaseS', 1, 3600);
  range(c, 'retryCapS', c.retryBaseS, 86400);
  range(c, 'maxBytesPerDeployment', 4096, 256 * 1024 * 1024);
  range(c, 'progressEveryBytes', 4096, 1024 * 1024);
  range(c, 'trailerSize', 48, 64 * 1024);
  range(c, 'downloadSegmentBytes', 4096, 16 * 1024 * 1024);
  if (c.downloadSegmentBytes % 4096 !== 0) bad('downloadSegmentBytes', 'must be a multiple of 4096 (the flash sector)');
  range(c, 'downloadSegmentMaxBytes', c.downloadSegmentBytes, 16 * 1024 * 1024);
  if (c.downloadSegmentMaxBytes % 4096 !== 0) bad('downloadSegmentMaxBytes', 'must be a multiple of 4096 (the flash sector)');
  if (c.trailerSize % 8 !== 0) bad('trailerSize', 'must be a multiple of 8 (MCUboot trailer fields are write-aligned)');
  if (c.progressEveryBytes % 4096 !== 0) bad('progressEveryBytes', 'must be a multiple of 4096 (the flash sector)');
  if (typeof c.allowDowngrade !== 'boolean') bad('allowDowngrade', 'must be true or false');
  if (typeof c.allowSameVersion !== 'boolean') bad('allowSameVersion', 'must be true or false');
  if (typeof c.hardwareId !== 'string' || !/^[\x21-\x7e]{1,64}$/.test(c.hardwareId)) bad('hardwareId', 'must be 1-64 printable characters');
  if (c.imageLoadAddress !== -1) range(c, 'imageLoadAddress', 0, 0xffffffff);
  checkTlsSettings(c);
  return c;
}
