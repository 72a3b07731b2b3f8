/**
 * Static manifest backend: the device GETs one small JSON document (docs/manifest-schema.md) that
 * names the image to run; any web server or CDN bucket can host it. Reports go as JSON POSTs to a
 * report URL (from the configuration, else from the manifest), or only to the log when neither
 * names one. There is no cancel: withdrawing the manifest (404) withdraws the offer.
 */
import type { HttpClient } from '../net/http.js';
import type { LogPort } from '../platform/log.js';
import { OtaError } from '../util/errors.js';
import type { HandlingType, PollResult, Report, UpdateBackend, UpdateOffer } from './backend.js';
import type { DeltaOffer } from '../delta/plan.js';
import { parseDeltas } from '../delta/offer-fields.js';
import {
  arrayField,
  enumField,
  ID_MAX,
  integerField,
  JsonHttp,
  objectField,
  sha256Field,
  statusError,
  stringField,
  urlField,
  urlOrigin,
  URL_MAX,
} from './json-http.js';

/** The one manifest schema this agent reads; another number is refused (`backend-protocol`). */
export const MANIFEST_SCHEMA = 1;
/** Hardware ids a manifest may list; more: `backend-protocol`. */
export const MANIFEST_HARDWARE_MAX = 8;
/** Largest image size a manifest may state, bytes. */
export const MANIFEST_SIZE_MAX = 1 << 30;
/** Bounds on a manifest's pollIntervalS: under a minute hammers the server, over a week strands the device. */
export const MANIFEST_POLL_MIN_S = 60;
export const MANIFEST_POLL_MAX_S = 7 * 24 * 3600;
/** Cap on a report's free-text detail, characters (cut, never refused). */
export const MANIFEST_DETAIL_MAX = 200;

const HANDLING: readonly HandlingType[] = ['skip', 'attempt', 'forced'];

/** A manifest after validation. */
export interface Manifest {
  schema: 1;
  version: string;
  size: number;
  sha256: Uint8Array;
  url: string;
  hardware?: string[];
  securityCounter?: number;
  download: HandlingType;
  update: HandlingType;
  reportUrl?: string;
  pollIntervalS?: number;
  /** Deltas to this image from older ones (docs/delta.md). */
  deltas?: DeltaOffer[];
}

export interface ManifestConfig {
  http: HttpClient;
  /** Absolute URL of the manifest document. */
  url: string;
  /** Where reports are POSTed; overrides the manifest's `reportUrl`. Neither: reports are logged only. */
  reportUrl?: string;
  /** Sent in reports as `deviceId` (so one report URL can serve a fleet). */
  deviceId?: string;
  /** Extra request headers for the manifest and reports (e.g. `authorization`). */
  headers?: Record<string, string>;
  /** JSON body cap, bytes (default JSON_BODY_MAX). */
  bodyMax?: number;
  /** Per-request deadline, ms (default: the HttpClient's). */
  timeoutMs?: number;
  log?: LogPort;
}

/**
 * A URL in a manifest: absolute, or origin-relative (`/fw/1.3.0.bin`) to the manifest's own origin,
 * so one manifest can move between hosts.
 */
function manifestUrl(value: unknown, name: string, base: string): string {
  if (typeof value === 'string' && value.startsWith('/') && !value.startsWith('//')) {
    stringField(value, name, URL_MAX);
    return urlField(urlOrigin(base) + value, name);
  }
  return urlField(value, name);
}

/** Validate a manifest document (already parsed JSON) fetched from `base`. Throws `backend-protocol` naming the field. */
export function parseManifest(value: unknown, base: string): Manifest {
  const doc = objectField(value, 'manifest');
  if (doc.schema !== MANIFEST_SCHEMA) {
    throw new OtaError('backend-protocol', `schema: expected ${MANIFEST_SCHEMA}, got ${JSON.stringify(doc.schema)?.slice(0, 16)}`);
  }
  const manifest: Manifest = {
    schema: 1,
    version: stringField(doc.version, 'version', ID_MAX),
    size: integerField(doc.size, 'size', 1, MANIFEST_SIZE_MAX),
    sha256: sha256Field(doc.sha256, 'sha256'),
    url: manifestUrl(doc.url, 'url', base),
    download: doc.download === undefined ? 'forced' : enumField(doc.download, 'download', HANDLING),
    update: doc.update === undefined ? 'forced' : enumField(doc.update, 'update', HANDLING),
  };
  if (doc.hardware !== undefined) {
    const list = arrayField(doc.hardware, 'hardware', MANIFEST_HARDWARE_MAX);
    manifest.hardware = list.map((item, i) => stringField(item, `hardware[${i}]`, ID_MAX));
  }
  if (doc.securityCounter !== undefined) manifest.securityCounter = integerField(doc.securityCounter, 'securityCounter', 0, 0xffffffff);
  if (doc.deltas !== undefined) manifest.deltas = parseDeltas(doc.deltas, 'deltas', (v, n) => manifestUrl(v, n, base));
  if (doc.reportUrl !== undefined) manifest.reportUrl = manifestUrl(doc.reportUrl, 'reportUrl', base);
  if (doc.pollIntervalS !== undefined) {
    manifest.pollIntervalS = integerField(doc.pollIntervalS, 'pollIntervalS', MANIFEST_POLL_MIN_S, MANIFEST_POLL_MAX_S);
  }
  return manifest;
}

/**
 * Static manifest backend.
 *
 * @example
 * const backend = new ManifestBackend({ http, url: 'https://updates.example/fleet-a/manifest.json', deviceId: 'dev42' });
 * const { offer } = await backend.poll({ version: '1.2.0' });
 */
export class ManifestBackend implements UpdateBackend {
  readonly url: string;
  #json: JsonHttp;
  #headers: Record<string, string>;
  #reportUrl: string | undefined;
  /** The last body that failed to parse (for its reportUrl and version), and the problem already reported. */
  #raw: unknown;
  #unusableReported: string | undefined;
  #deviceId: string | undefined;
  #log: LogPort | undefined;
  #etag: string | undefined;
  #manifest: Manifest | undefined;

  constructor(config: ManifestConfig) {
    if (!config || typeof config.http?.request !== 'function') throw new OtaError('config-invalid', 'http: an HttpClient is required');
    this.url = configUrl(config.url, 'url');
    this.#reportUrl = config.reportUrl === undefined ? undefined : configUrl(config.reportUrl, 'reportUrl');
    if (config.deviceId !== undefined && (typeof config.deviceId !== 'string' || config.deviceId.length === 0 || config.deviceId.length > ID_MAX)) {
      throw new OtaError('config-invalid', `deviceId: 1..${ID_MAX} characters`);
    }
    this.#deviceId = config.deviceId;
    this.#headers = { ...config.headers };
    this.#log = config.log;
    this.#json = new JsonHttp(config.http, { bodyMax: config.bodyMax, timeoutMs: config.timeoutMs });
  }

  /** The last manifest read (undefined before the first poll or after a 404). */
  get manifest(): Manifest | undefined {
    return this.#manifest;
  }

  async poll(current: { version: string }): Promise<PollResult> {
    let manifest: Manifest | undefined;
    try {
      manifest = await this.#fetch();
    } catch (error) {
      if (!(error instanceof OtaError) || (error.reason !== 'backend-protocol' && error.reason !== 'body-too-large')) throw error;
      await this.#unusable(error);
      return {};
    }
    const result: PollResult = {};
    if (manifest === undefined) return result;
    if (manifest.pollIntervalS !== undefined) result.pollIntervalS = manifest.pollIntervalS;
    // The manifest always names the image to run; offering it again to a device already running
    // it would start a useless cycle. Which version is newer is the agent's decision (image header).
    if (manifest.version !== current.version) result.offer = offerOf(manifest);
    return result;
  }

  async report(report: Report): Promise<void> {
    // core, issue 17.3: a report made before the first poll of a boot (a revert found at boot)
    // must not be only logged because the manifest naming the report URL was not read yet.
    if (this.#reportUrl === undefined && this.#manifest === undefined) await this.#fetch();
    const url = this.#reportUrl ?? this.#manifest?.reportUrl;
    const body: Record<string, unknown> = {
      schema: MANIFEST_SCHEMA,
      actionId: report.actionId,
      phase: report.phase,
      version: report.version,
      runningVersion: report.runningVersion,
    };
    // The manifest's own version string when the image header named another (a label such as
    // 2.0.0-rc1 for an image 2.0.0+0): the operator finds the report by what was published.
    if (report.label !== undefined && report.label !== report.version) body.label = report.label;
    if (this.#deviceId !== undefined) body.deviceId = this.#deviceId;
    if (report.progress !== undefined) body.progress = { done: report.progress.done, total: report.progress.total };
    if (report.reason !== undefined) body.reason = report.reason;
    if (report.detail !== undefined) body.detail = report.detail.slice(0, MANIFEST_DETAIL_MAX);
    // Update history lines (docs/history.md), final reports only.
    if (report.history !== undefined) body.history = report.history;
    if (url === undefined) {
      this.#log?.log('info', 'backend.report', {
        actionId: report.actionId,
        phase: report.phase,
        version: report.version,
        label: body.label as string | undefined,
        runningVersion: report.runningVersion,
        reason: report.reason,
        detail: body.detail as string | undefined,
      });
      return;
    }
    const response = await this.#json.request({ method: 'POST', url, headers: this.#headers }, body);
    if (response.status < 200 || response.status > 299) throw statusError(response.head, 'report');
  }

  async acknowledgeCancel(actionId: string, stopped: boolean): Promise<void> {
    // A static manifest never cancels; nothing to answer.
    this.#log?.log('info', 'backend.cancel.ignored', { actionId, stopped });
  }

  async refreshOffer(actionId: string, current: { version: string }): Promise<UpdateOffer | undefined> {
    this.#etag = undefined;
    const result = await this.poll(current);
    return result.offer?.actionId === actionId ? result.offer : undefined;
  }

  /**
   * A manifest that cannot be used is reported (phase failed, the reason naming the field) to the
   * report URL, once per distinct problem, and logged: never a silent poll failure for ever. The
   * report URL is the configured one, else the document's own when it is still a valid URL.
   */
  async #unusable(error: OtaError): Promise<void> {
    const detail = (error.detail ?? error.reason).slice(0, MANIFEST_DETAIL_MAX);
    const key = `${error.reason}:${detail}`;
    if (this.#unusableReported === key) return;
    this.#log?.log('error', 'manifest.unusable', { reason: error.reason, detail });
    const raw = this.#raw;
    let url = this.#reportUrl;
    let actionId = 'manifest';
    if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
      const doc = raw as Record<string, unknown>;
      if (url === undefined && doc.reportUrl !== undefined) {
        try {
          url = manifestUrl(doc.reportUrl, 'reportUrl', this.url);
        } catch {
          url = undefined;
        }
      }
      if (typeof doc.version === 'string' && doc.version.length > 0 && doc.version.length <= ID_MAX) actionId = doc.version;
    }
    if (url !== undefined) {
      const body: Record<string, unknown> = { schema: MANIFEST_SCHEMA, actionId, phase: 'failed', version: actionId, reason: error.reason, detail: `manifest not usable: ${detail}` };
      if (this.#deviceId !== undefined) body.deviceId = this.#deviceId;
      const response = await this.#json.request({ method: 'POST', url, headers: this.#headers }, body);
      if (response.status < 200 || response.status > 299) throw statusError(response.head, 'report');
    }
    this.#unusableReported = key;
  }

  async #fetch(): Promise<Manifest | undefined> {
    const headers: Record<string, string> = { ...this.#headers };
    if (this.#etag !== undefined && this.#manifest !== undefined) headers['if-none-match'] = this.#etag;
    const response = await this.#json.request({ method: 'GET', url: this.url, headers });
    if (response.status === 304 && this.#manifest !== undefined) return this.#manifest;
    // 404/204: nothing published for this device (as Memfault's 204 "no update").
    if (response.status === 404 || response.status === 204) {
      this.#manifest = undefined;
      this.#etag = undefined;
      return undefined;
    }
    if (response.status !== 200) throw statusError(response.head, 'manifest');
    if (response.value === undefined) throw new OtaError('backend-protocol', 'manifest: empty body');
    this.#raw = response.value;
    const manifest = parseManifest(response.value, this.url);
    this.#raw = undefined;
    this.#unusableReported = undefined;
    this.#manifest = manifest;
    this.#etag = response.head.headers['etag'];
    return manifest;
  }
}

function configUrl(value: unknown, key: string): string {
  try {
    return urlField(value, key);
  } catch {
    throw new OtaError('config-invalid', `${key}: an absolute http(s) URL`);
  }
}

function offerOf(manifest: Manifest): UpdateOffer {
  const offer: UpdateOffer = {
    actionId: manifest.version,
    version: manifest.version,
    url: manifest.url,
    size: manifest.size,
    sha256: manifest.sha256,
    download: manifest.download,
    update: manifest.update,
  };
  if (manifest.hardware !== undefined) offer.hardware = manifest.hardware;
  if (manifest.securityCounter !== undefined) offer.securityCounter = manifest.securityCounter;
  if (manifest.deltas !== undefined) offer.deltas = manifest.deltas;
  return offer;
}
