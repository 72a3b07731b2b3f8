/**
 * Every setting and limit of the agent, each with its default, its range and the trade-off
 * (style rule 16). Start-up rejects a bad value by key: `config-invalid: pollIntervalS`.
 * On the device these come from the manifest's `config` (mc/config) and secrets from the
 * key-value store; in the simulated dev kit, from CLI options.
 */
import { OtaError } from '../util/errors.js';
import { DEFAULT_TRAILER_SIZE } from '../image/image-stream.js';

export type BackendKind = 'hawkbit' | 'manifest' | 'iotconnect';

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
  /** Largest JSON body from a backend, bytes (one buffer of this size). Default 32 KiB (src/backend/json-http.ts JSON_BODY_MAX); range 1 KiB - 256 KiB. */
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
  range(config, 'pollIntervalS', 60, 7 * 86400);
  range(config, 'healthDeadlineS', 30, 3600);
  range(config, 'maxAttempts', 1, 50);
  range(config, 'retryBaseS', 1, 3600);
  range(config, 'retryCapS', config.retryBaseS, 86400);
  range(config, 'maxBytesPerDeployment', 4096, 256 * 1024 * 1024);
  range(config, 'keyObjectId', 1, 0x7ffeffff);
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
  if (config.tokenScheme !== 'TargetToken' && config.tokenScheme !== 'GatewayToken') bad('tokenScheme', `'TargetToken' or 'GatewayToken', not '${String(config.tokenScheme)}'`);
  if (typeof config.artifactPattern !== 'string' || config.artifactPattern.length === 0 || config.artifactPattern.length > 128) bad('artifactPattern', 'must be 1-128 characters');
  if (typeof config.modulePart !== 'string' || config.modulePart.length > 64) bad('modulePart', 'must be at most 64 characters');
  if (typeof config.autoConfirm !== 'boolean') bad('autoConfirm', 'must be true or false');
  if (config.imageLoadAddress !== -1) range(config, 'imageLoadAddress', 0, 0xffffffff);
  range(config, 'backendBodyMax', 1024, 256 * 1024);
  range(config, 'urlMax', 256, 3072);
  range(config, 'maxRedirects', 0, 10);
  if (!Array.isArray(config.redirectCredentialOrigins) || config.redirectCredentialOrigins.some((o) => typeof o !== 'string' || !/^https?:\/\/[^/\s?#]+$/.test(o))) {
    bad('redirectCredentialOrigins', 'must be a list of origins (scheme://host[:port])');
  }
  return config;
}
