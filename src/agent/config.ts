/**
 * Every setting and limit of the agent, each with its default, its range and the trade-off
 * (style rule 16). Start-up rejects a bad value by key: `config-invalid: pollIntervalS`.
 * On the device these come from the manifest's `config` (mc/config) and secrets from the
 * key-value store; in the simulated dev kit, from CLI options.
 */
import { OtaError } from '../util/errors.js';
import { DEFAULT_TRAILER_SIZE } from '../image/image-stream.js';

export type BackendKind = 'hawkbit' | 'manifest' | 'iotconnect';

// ── the manifest's settings (mc/config on the device) ───────────────────────────────────

export interface IntSpec {
  readonly type: 'int';
  readonly default: number;
  readonly min: number;
  readonly max: number;
  readonly meaning: string;
}

export interface TextSpec {
  readonly type: 'text';
  readonly default: string;
  /** Longest accepted value (characters). */
  readonly maxLength: number;
  /** Every character code must pass (checked per character, so no backtracking on long input). */
  readonly charset: (code: number) => boolean;
  /** An empty value is a start-up error (there is no safe default). */
  readonly required: boolean;
  /** A check of the whole value beyond its characters (e.g. a list of origins): what is wrong, or undefined. */
  readonly check?: (value: string) => string | undefined;
  readonly meaning: string;
}

export interface ChoiceSpec {
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

/** `scheme://host[:port]`, nothing after: an origin that may receive the token after a redirect. */
export function isOrigin(value: string): boolean {
  return /^https?:\/\/[^/\s?#]+$/.test(value);
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
 * default, range and meaning. manifest.json's `config` holds exactly these, with these defaults;
 * docs/device-build.md renders the same table; modules/ota-config.ts reads and type-checks the
 * device's values against it, and resolveConfig below takes the ranges of the settings the agent
 * shares with it from here (`MANIFEST_KEY`), so each range is written once.
 */
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
  // ── backend policy (issue 13; docs/update-server.md, docs/iotconnect.md) ──
  otaTokenScheme: {
    type: 'choice',
    default: 'TargetToken',
    choices: ['TargetToken', 'GatewayToken'],
    meaning: 'hawkBit Authorization scheme, and which secret is sent: TargetToken (per device, secret authToken) or GatewayToken (tenant-wide, secret gatewayToken).',
  },
  otaArtifactPattern: {
    type: 'text',
    default: '*.bin',
    maxLength: 128,
    charset: PRINTABLE,
    required: true,
    meaning: "File name pattern of this device's image (`*` any run), hawkBit and IoTConnect.",
  },
  otaModulePart: {
    type: 'text',
    default: '',
    maxLength: 64,
    charset: LABEL,
    required: false,
    meaning: "hawkBit chunk `part` of this device's image (e.g. bApp). Empty: any part, the image header chooses.",
  },
  otaAutoConfirm: {
    type: 'choice',
    default: 'true',
    choices: ['true', 'false'],
    meaning: 'hawkBit confirmationBase (user consent): true confirms without the application hook; false asks it (no hook: denied).',
  },
  otaBodyMax: {
    type: 'int',
    default: 32 * 1024,
    min: 1024,
    max: 256 * 1024,
    meaning: 'Largest JSON body taken from a backend, bytes (one buffer of this size); a larger one is a reported failure.',
  },
  otaUrlMax: {
    type: 'int',
    default: 2048,
    min: 256,
    max: 3072, // the socket client's request head
    meaning: 'Longest URL a backend or a redirect may hand the agent, characters (pre-signed links run to 1.3 KiB).',
  },
  otaMaxRedirects: {
    type: 'int',
    default: 5,
    min: 0,
    max: 10,
    meaning: 'HTTP redirects (301/302/303/307/308) followed per request; 0: none.',
  },
  otaRedirectCredentialOrigins: {
    type: 'text',
    default: '',
    maxLength: 512,
    charset: PRINTABLE,
    required: false,
    check: checkOriginList,
    meaning: 'Comma-separated origins (https://host[:port]) that may receive the token after a redirect to them. Empty: same origin only.',
  },
  otaIotcPlatform: {
    type: 'choice',
    default: 'aws',
    choices: ['aws', 'az', ''],
    meaning: 'IoTConnect discovery `pf` (the global discovery host needs aws or az); empty: left out (a platform-specific discovery host).',
  },
  otaIotcHardwareVersion: {
    type: 'text',
    default: '',
    maxLength: 32,
    charset: LABEL,
    required: false,
    meaning: "IoTConnect template hardware version matched against a command's `hw` (trimmed, any case). Empty: `hw` not checked, the image header decides.",
  },
  otaIotcSession: {
    type: 'choice',
    default: 'kept',
    choices: ['kept', 'per-call'],
    meaning: 'IoTConnect MQTT session: kept open between polls with keep-alive (as the SDKs), or per-call for a duty-cycled modem.',
  },
  otaIotcSuccessSt: {
    type: 'choice',
    default: '3',
    choices: ['3', '0'],
    meaning: "IoTConnect st of the final success ack: 3 (OTA_DOWNLOAD_DONE, the SDKs' OTA samples) or 0 (iotc-c-lib IOTCL_C2D_EVT_OTA_SUCCESS).",
  },
} as const satisfies Record<string, ConfigSpec>;
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

/** The manifest key of each agent setting that comes from the manifest (its range is the schema's). */
export const MANIFEST_KEY = Object.freeze({
  backend: 'otaBackend',
  serverUrl: 'otaUrl',
  tenant: 'otaTenant',
  deviceId: 'otaDeviceId',
  keyObjectId: 'otaKeyId',
  pollIntervalS: 'otaPollIntervalS',
  healthDeadlineS: 'otaHealthDeadlineS',
  tokenScheme: 'otaTokenScheme',
  artifactPattern: 'otaArtifactPattern',
  modulePart: 'otaModulePart',
  autoConfirm: 'otaAutoConfirm',
  backendBodyMax: 'otaBodyMax',
  urlMax: 'otaUrlMax',
  maxRedirects: 'otaMaxRedirects',
  redirectCredentialOrigins: 'otaRedirectCredentialOrigins',
} as const satisfies Partial<Record<keyof AgentConfig, ConfigKey>>);



export interface AgentConfig {
  /** Which update source: 'hawkbit' (DDI v1), 'manifest' (static JSON), 'iotconnect'. */
  backend: BackendKind;
  /** Backend base URL (hawkBit server root, manifest URL, IoTConnect discovery host). */
  serverUrl: string;
  /** hawkBit tenant. Default 'DEFAULT' (a stock server's). */
  tenant: string;
  /** Device id at the backend (hawkBit controllerId, IoTConnect unique id). */
  deviceId: string;
  /** Secret token (hawkBit TargetToken); from the key-value store on the device. */
  token: string;
  /** Poll interval when the server names none. Range 60 s – 7 days; shorter drains battery and data. */
  pollIntervalS: number;
  /** How long the new image has to pass its health check (incl. reaching the backend) before the agent gives up and lets MCUboot revert. Range 30 s – 1 h. */
  healthDeadlineS: number;
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
  /** A5000 key object holding the image-signing public key. */
  keyObjectId: number;
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
  // ── backend settings (issue 13; docs/update-server.md) ──
  /** hawkBit: how `token` is sent: 'TargetToken' (per device, default) or 'GatewayToken' (tenant-wide). */
  tokenScheme: 'TargetToken' | 'GatewayToken';
  /** File name pattern of this device's image (`*` any run), hawkBit and IoTConnect. Default `*.bin`. */
  artifactPattern: string;
  /** hawkBit chunk `part` of this device's image (`bApp`, `os`); '' (default): any, the header chooses. */
  modulePart: string;
  /** hawkBit confirmationBase (user consent): confirm without the application hook. Default true. */
  autoConfirm: boolean;
  /** MCUboot ih_load_addr this board's images carry, checked before download when several files are offered; -1 (default): not checked. */
  imageLoadAddress: number;
  /** Largest JSON body from a backend, bytes read (streamed: no buffer of this size, src/backend/json-reader.ts). Default 32 KiB (src/backend/json-http.ts JSON_BODY_MAX); range 1 KiB - 256 KiB. */
  backendBodyMax: number;
  /** Longest URL a backend or a redirect may hand the agent, characters. Default 2048; range 256 - 3072 (the socket client's request head). */
  urlMax: number;
  /** Redirects followed per request (src/net/redirect.ts). Default 5; range 0 - 10. */
  maxRedirects: number;
  /** Origins (`https://host[:port]`) that may receive the token after a redirect to them; default none (same origin only). */
  redirectCredentialOrigins: string[];
}

export const DEFAULT_CONFIG: AgentConfig = {
  backend: 'hawkbit',
  serverUrl: '',
  tenant: 'DEFAULT',
  deviceId: '',
  token: '',
  pollIntervalS: 3600,
  healthDeadlineS: 300,
  maxAttempts: 8,
  retryBaseS: 30,
  retryCapS: 6 * 3600,
  maxBytesPerDeployment: 4 * 0x60000,
  allowDowngrade: false,
  allowSameVersion: false,
  hardwareId: 'xs-ota-devkit',
  keyObjectId: 0x7b000201,
  progressEveryBytes: 4096,
  downloadSegmentBytes: 256 * 1024,
  downloadSegmentMaxBytes: 16 * 1024 * 1024,
  trailerSize: DEFAULT_TRAILER_SIZE,
  tokenScheme: 'TargetToken',
  artifactPattern: '*.bin',
  modulePart: '',
  autoConfirm: true,
  imageLoadAddress: -1,
  backendBodyMax: 32 * 1024,
  urlMax: 2048,
  maxRedirects: 5,
  redirectCredentialOrigins: [],
};

function bad(key: keyof AgentConfig, why: string): never {
  throw new OtaError('config-invalid', `${key}: ${why}`);
}

function range(config: AgentConfig, key: keyof AgentConfig, min: number, max: number): void {
  const v = config[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) bad(key, `must be a number in [${min}, ${max}], got ${String(v)}`);
}

/** The range of a setting the manifest also carries: the schema's, named by both keys in an error. */
function manifestRange(config: AgentConfig, key: keyof typeof MANIFEST_KEY): void {
  const spec = CONFIG_SCHEMA[MANIFEST_KEY[key]] as ConfigSpec;
  if (spec.type !== 'int') throw new OtaError('bad-state', `${MANIFEST_KEY[key]} is not an integer setting`);
  const v = config[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < spec.min || v > spec.max) {
    throw new OtaError('config-invalid', `${key} (${MANIFEST_KEY[key]}): must be an integer in [${spec.min}, ${spec.max}], got ${String(v)}`);
  }
}

/** A text setting the manifest also carries: the schema's length and characters (each list item for a list). */
function manifestText(config: AgentConfig, key: 'artifactPattern' | 'modulePart'): void {
  const spec = CONFIG_SCHEMA[MANIFEST_KEY[key]] as ConfigSpec;
  if (spec.type !== 'text') throw new OtaError('bad-state', `${MANIFEST_KEY[key]} is not a text setting`);
  const v = config[key];
  let ok = typeof v === 'string' && v.length <= spec.maxLength && (v.length > 0 || !spec.required);
  for (let i = 0; ok && i < v.length; i++) ok = spec.charset(v.charCodeAt(i));
  if (!ok) throw new OtaError('config-invalid', `${key} (${MANIFEST_KEY[key]}): must be ${spec.required ? 1 : 0}-${spec.maxLength} characters of its set, got ${JSON.stringify(v)}`);
}

/** A choice the manifest also carries: one of the schema's choices. */
function manifestChoice(config: AgentConfig, key: 'tokenScheme'): void {
  const spec = CONFIG_SCHEMA[MANIFEST_KEY[key]] as ConfigSpec;
  if (spec.type !== 'choice') throw new OtaError('bad-state', `${MANIFEST_KEY[key]} is not a choice`);
  const v: unknown = config[key];
  if (typeof v !== 'string' || !spec.choices.includes(v)) throw new OtaError('config-invalid', `${key} (${MANIFEST_KEY[key]}): one of ${spec.choices.join(', ')}, got ${String(v)}`);
}

/** Defaults filled in, every value checked. Throws OtaError('config-invalid', '<key>: …'). */
export function resolveConfig(input: Partial<AgentConfig>): AgentConfig {
  const config: AgentConfig = { ...DEFAULT_CONFIG };
  for (const key of Object.keys(input) as (keyof AgentConfig)[]) {
    if (!(key in DEFAULT_CONFIG)) bad(key, 'unknown setting');
    if (input[key] !== undefined) (config as unknown as Record<string, unknown>)[key] = input[key];
  }
  if (!['hawkbit', 'manifest', 'iotconnect'].includes(config.backend)) bad('backend', `unknown kind '${config.backend}'`);
  if (!/^https?:\/\/[^\s/]+/.test(config.serverUrl)) bad('serverUrl', 'must be an http(s) URL');
  if (config.backend !== 'manifest' && !/^[A-Za-z0-9._:-]{1,64}$/.test(config.deviceId)) bad('deviceId', 'must be 1-64 characters [A-Za-z0-9._:-]');
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(config.tenant)) bad('tenant', 'must be 1-64 characters [A-Za-z0-9._-]');
  manifestRange(config, 'pollIntervalS');
  manifestRange(config, 'healthDeadlineS');
  range(config, 'maxAttempts', 1, 50);
  range(config, 'retryBaseS', 1, 3600);
  range(config, 'retryCapS', config.retryBaseS, 86400);
  range(config, 'maxBytesPerDeployment', 4096, 256 * 1024 * 1024);
  manifestRange(config, 'keyObjectId');
  range(config, 'progressEveryBytes', 4096, 1024 * 1024);
  range(config, 'trailerSize', 48, 64 * 1024);
  range(config, 'downloadSegmentBytes', 4096, 16 * 1024 * 1024);
  if (config.downloadSegmentBytes % 4096 !== 0) bad('downloadSegmentBytes', 'must be a multiple of 4096 (the flash sector)');
  range(config, 'downloadSegmentMaxBytes', config.downloadSegmentBytes, 16 * 1024 * 1024);
  if (config.downloadSegmentMaxBytes % 4096 !== 0) bad('downloadSegmentMaxBytes', 'must be a multiple of 4096 (the flash sector)');
  if (config.trailerSize % 8 !== 0) bad('trailerSize', 'must be a multiple of 8 (MCUboot trailer fields are write-aligned)');
  if (config.progressEveryBytes % 4096 !== 0) bad('progressEveryBytes', 'must be a multiple of 4096 (the flash sector)');
  if (typeof config.allowDowngrade !== 'boolean') bad('allowDowngrade', 'must be true or false');
  if (typeof config.allowSameVersion !== 'boolean') bad('allowSameVersion', 'must be true or false');
  manifestChoice(config, 'tokenScheme');
  manifestText(config, 'artifactPattern');
  manifestText(config, 'modulePart');
  // otaAutoConfirm's choices are 'true' and 'false': the device reader turns them into this boolean.
  if (typeof config.autoConfirm !== 'boolean') bad('autoConfirm', 'must be true or false');
  if (config.imageLoadAddress !== -1) range(config, 'imageLoadAddress', 0, 0xffffffff);
  manifestRange(config, 'backendBodyMax');
  manifestRange(config, 'urlMax');
  manifestRange(config, 'maxRedirects');
  if (!Array.isArray(config.redirectCredentialOrigins) || config.redirectCredentialOrigins.some((o) => typeof o !== 'string' || !isOrigin(o))) {
    bad('redirectCredentialOrigins', 'must be a list of origins (scheme://host[:port])');
  }
  return config;
}
