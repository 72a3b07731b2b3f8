/**
 * Eclipse hawkBit Direct Device Integration (DDI) API v1, the controller side, over the agent's
 * HttpClient. The device polls; the server answers with links; the device follows them.
 *
 *   GET  {server}/{tenant}/controller/v1/{controllerId}            poll root (ETag / 304)
 *   GET  _links.deploymentBase.href (as given, with its ?c=)        deployment to act on
 *   GET  _links.cancelAction.href                                  {id, cancelAction: {stopId}}
 *   PUT  _links.configData.href                                    {mode: 'merge', data: {...}}
 *   POST .../deploymentBase/{actionId}/feedback                     progress and result
 *   POST .../cancelAction/{actionId}/feedback                       cancel confirmed or rejected
 *
 * Sources: the DDI API reference https://eclipse.dev/hawkbit/apis/ddi_api (state machine mapping,
 * feedback execution types) and its OpenAPI https://eclipse.dev/hawkbit/rest-api/ddi/ (poll
 * root, configData modes, "the action will be kept open until the controller on the device reports
 * a finished (either successful or error) result"); the model classes DdiControllerBase,
 * DdiDeploymentBase, DdiActionFeedback, DdiStatus, DdiResult, DdiCancel in eclipse-hawkbit/hawkbit
 * @67ca1c4 (see /work/shared/reference/backend-apis.md §3a).
 */
import type { HttpClient } from '../net/http.js';
import type { LogPort } from '../platform/log.js';
import { OtaError } from '../util/errors.js';
import type { HandlingType, PollResult, Report, ReportPhase, UpdateBackend, UpdateOffer } from './backend.js';
import {
  arrayField,
  BackendError,
  enumField,
  idField,
  integerField,
  JsonHttp,
  objectField,
  sha256Field,
  statusError,
  stringField,
  urlField,
  urlOrigin,
  type JsonResponse,
} from './json-http.js';

/** Chunks (software modules) per deployment we look through; more: `backend-protocol`. */
export const HAWKBIT_CHUNKS_MAX = 8;
/** Artifacts per chunk we look through; more: `backend-protocol`. */
export const HAWKBIT_ARTIFACTS_MAX = 16;
/** Cap on one feedback `details` string (the report's detail is cut to this, never refused). */
export const HAWKBIT_DETAIL_MAX = 200;
/** Device attributes sent in configData; more is a configuration error at start-up. */
export const HAWKBIT_ATTRIBUTES_MAX = 16;
/** Largest artifact size we accept from a deployment, bytes (no MCU slot is near 1 GiB). */
export const HAWKBIT_ARTIFACT_SIZE_MAX = 1 << 30;

const HANDLING: readonly HandlingType[] = ['skip', 'attempt', 'forced'];

/** DdiStatus.execution values (DdiStatus.ExecutionStatus in hawkBit). */
export type HawkbitExecution = 'closed' | 'proceeding' | 'canceled' | 'scheduled' | 'rejected' | 'resumed' | 'downloaded' | 'download';
/** DdiResult.finished values. */
export type HawkbitFinished = 'success' | 'failure' | 'none';

/**
 * How each step of the agent's cycle is told to hawkBit. Only `closed` ends an action on the server
 * ("closed+failure → ERROR, closed+other → FINISHED", DdiRootController), so only a confirmed,
 * running image is `closed/success`; a failure before or after the reboot is `closed/failure`.
 * `downloaded` maps to the server's DOWNLOADED status ("download finished").
 */
export const HAWKBIT_FEEDBACK: Readonly<Record<ReportPhase, { execution: HawkbitExecution; finished: HawkbitFinished }>> = {
  accepted: { execution: 'proceeding', finished: 'none' },
  downloading: { execution: 'proceeding', finished: 'none' },
  downloaded: { execution: 'downloaded', finished: 'none' },
  // Still open: hawkBit maps any execution but closed/canceled/rejected/download(ed) to RUNNING.
  waiting: { execution: 'scheduled', finished: 'none' },
  // DOWNLOADED on a download-only action closes it on the server
  // (JpaControllerManagement.handleDownloadedActionStatus sets it inactive).
  'download-only': { execution: 'downloaded', finished: 'success' },
  staged: { execution: 'proceeding', finished: 'none' },
  running: { execution: 'closed', finished: 'success' },
  failed: { execution: 'closed', finished: 'failure' },
  reverted: { execution: 'closed', finished: 'failure' },
  // Not sent to deploymentBase: `report` confirms on the cancelAction instead (closed/success).
  cancelled: { execution: 'canceled', finished: 'none' },
};

export interface HawkbitConfig {
  http: HttpClient;
  /** Server base URL, `https://hawkbit.example` (a path prefix is allowed; no trailing slash needed). */
  server: string;
  /** Tenant (default `DEFAULT`, as on a stock server). */
  tenant?: string;
  /** This device's controller id. */
  controllerId: string;
  /** Security token, sent as `Authorization: <tokenScheme> <token>`; absent: anonymous. */
  token?: string;
  /** `TargetToken` (per device, default) or `GatewayToken` (tenant-wide). */
  tokenScheme?: 'TargetToken' | 'GatewayToken';
  /**
   * Filename of the MCUboot artifact: a pattern where `*` matches any run of characters
   * (`zephyr.signed.bin`, `*.signed.bin`). Default: the first artifact whose name ends in `.bin`.
   */
  artifactPattern?: string;
  /** Device attributes for configData (sent with mode `merge` when the server asks, once). */
  attributes?: Record<string, string>;
  /** Take `download-http` before `download` (a modem without TLS). Default false. */
  preferPlainHttp?: boolean;
  /** JSON body cap, bytes (default JSON_BODY_MAX). */
  bodyMax?: number;
  /** Per-request deadline, ms (default: the HttpClient's). */
  timeoutMs?: number;
  log?: LogPort;
}

/**
 * Parse hawkBit's `config.polling.sleep`, documented as `HH:MM:SS` (e.g. "12:00:00"), into seconds.
 * Throws `backend-protocol` for anything else.
 */
export function parsePollingSleep(value: unknown): number {
  const text = stringField(value, 'config.polling.sleep', 8);
  const match = /^([0-9]{2}):([0-5][0-9]):([0-5][0-9])$/.exec(text);
  if (!match) throw new OtaError('backend-protocol', `config.polling.sleep: '${text}' is not HH:MM:SS`);
  return Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3]);
}

/** Whether `name` matches `pattern`, where `*` matches any run of characters and all else is literal. */
export function matchFilename(pattern: string, name: string): boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return name === pattern;
  if (!name.startsWith(parts[0])) return false;
  let at = parts[0].length;
  for (let i = 1; i < parts.length - 1; i++) {
    const found = name.indexOf(parts[i], at);
    if (found < 0) return false;
    at = found + parts[i].length;
  }
  const last = parts[parts.length - 1];
  return name.length - last.length >= at && name.endsWith(last);
}

function linkHref(links: Record<string, unknown>, key: string, prefix: string): string | undefined {
  const link = links[key];
  if (link === undefined) return undefined;
  const object = objectField(link, `${prefix}.${key}`);
  return urlField(object.href, `${prefix}.${key}.href`);
}

function requirePathSegment(value: unknown, key: string): string {
  if (typeof value !== 'string' || !/^[A-Za-z0-9._~:@!$&'()+,;=-]{1,128}$/.test(value)) {
    throw new OtaError('config-invalid', `${key}: '${String(value).slice(0, 32)}' is not a URL path segment`);
  }
  return value;
}

/**
 * hawkBit DDI backend.
 *
 * @example
 * const backend = new HawkbitBackend({ http, server: 'https://hawkbit.example', controllerId: 'dev42', token });
 * const { offer, cancelActionId, pollIntervalS } = await backend.poll({ version: '1.2.0' });
 */
export class HawkbitBackend implements UpdateBackend {
  readonly cancellable = true;
  /** Root URL: {server}/{tenant}/controller/v1/{controllerId}. */
  readonly rootUrl: string;
  #json: JsonHttp;
  #authorization: Record<string, string>;
  /** Origin of the server, lower-case: where the token may be sent. */
  #origin: string;
  #pattern: string | undefined;
  #attributes: Record<string, string> | undefined;
  #preferPlainHttp: boolean;
  #log: LogPort | undefined;
  /** Whether configData should be sent when the server links it (once, until it stops asking). */
  #configPending = true;
  #rootEtag: string | undefined;
  #cached: PollResult | undefined;
  /** deploymentBase href of each action seen, for refreshOffer. */
  #deploymentHref = new Map<string, string>();

  constructor(config: HawkbitConfig) {
    if (!config || typeof config.http?.request !== 'function') throw new OtaError('config-invalid', 'http: an HttpClient is required');
    if (typeof config.server !== 'string' || !/^https?:\/\/[^/\s?#]+(\/[^\s?#]*)?$/i.test(config.server)) {
      throw new OtaError('config-invalid', 'server: an absolute http(s) URL without query');
    }
    const server = config.server.replace(/\/+$/, '');
    this.#origin = urlOrigin(server).toLowerCase();
    const tenant = requirePathSegment(config.tenant ?? 'DEFAULT', 'tenant');
    const controllerId = requirePathSegment(config.controllerId, 'controllerId');
    this.rootUrl = `${server}/${tenant}/controller/v1/${controllerId}`;
    this.#authorization = {};
    if (config.token !== undefined) {
      if (typeof config.token !== 'string' || !/^[\x21-\x7e]{1,256}$/.test(config.token)) throw new OtaError('config-invalid', 'token: 1..256 printable ASCII');
      const scheme = config.tokenScheme ?? 'TargetToken';
      if (scheme !== 'TargetToken' && scheme !== 'GatewayToken') throw new OtaError('config-invalid', `tokenScheme: ${String(scheme)}`);
      // DDI security: "Authorization: TargetToken <token>" or "GatewayToken <token>" (hawkBit security docs).
      this.#authorization = { authorization: `${scheme} ${config.token}` };
    }
    if (config.artifactPattern !== undefined && (typeof config.artifactPattern !== 'string' || config.artifactPattern.length === 0)) {
      throw new OtaError('config-invalid', 'artifactPattern: a non-empty string');
    }
    this.#pattern = config.artifactPattern;
    if (config.attributes !== undefined) {
      const keys = Object.keys(config.attributes);
      if (keys.length > HAWKBIT_ATTRIBUTES_MAX) throw new OtaError('config-invalid', `attributes: ${keys.length} > ${HAWKBIT_ATTRIBUTES_MAX}`);
      for (const key of keys) {
        if (typeof config.attributes[key] !== 'string') throw new OtaError('config-invalid', `attributes.${key}: a string`);
      }
      this.#attributes = { ...config.attributes };
    }
    this.#preferPlainHttp = config.preferPlainHttp === true;
    this.#log = config.log;
    this.#json = new JsonHttp(config.http, { bodyMax: config.bodyMax, timeoutMs: config.timeoutMs });
  }

  async poll(_current: { version: string }): Promise<PollResult> {
    const headers: Record<string, string> = { ...this.#authorization, accept: 'application/hal+json, application/json' };
    // The poll root "supports ETag-based modification checks" (DdiRootControllerRestApi): a 304
    // means nothing changed, so the last answer (links, deployment, cancel) still holds.
    if (this.#rootEtag !== undefined && this.#cached !== undefined) headers['if-none-match'] = this.#rootEtag;
    const response = await this.#json.request({ method: 'GET', url: this.rootUrl, headers });
    if (response.status === 304 && this.#cached !== undefined) return this.#cached;
    const root = this.#body(response, 'poll root');
    const config = objectField(root.config, 'config');
    const polling = objectField(config.polling, 'config.polling');
    const result: PollResult = { pollIntervalS: parsePollingSleep(polling.sleep) };
    const links = root._links === undefined ? {} : objectField(root._links, '_links');
    const deploymentHref = linkHref(links, 'deploymentBase', '_links');
    const cancelHref = linkHref(links, 'cancelAction', '_links');
    const configHref = linkHref(links, 'configData', '_links');

    if (configHref === undefined) this.#configPending = true;
    else if (this.#configPending && this.#attributes !== undefined) await this.#putConfigData(configHref);

    if (cancelHref !== undefined) result.cancelActionId = await this.#fetchCancel(cancelHref);
    if (deploymentHref !== undefined) result.offer = await this.#fetchDeployment(deploymentHref);

    const etag = response.head.headers['etag'];
    this.#rootEtag = etag;
    this.#cached = etag === undefined ? undefined : result;
    return result;
  }

  async report(report: Report): Promise<void> {
    // The agent stopped because the server cancelled: DDI wants that confirmed on the cancel
    // action (closed+success), and a canceled action takes no more deploymentBase feedback.
    if (report.phase === 'cancelled') return this.acknowledgeCancel(report.actionId, true, report.history);
    const mapping = HAWKBIT_FEEDBACK[report.phase];
    if (!mapping) throw new OtaError('invalid-argument', `phase: ${String(report.phase)}`);
    const details = [`${report.phase}: target ${report.version}, running ${report.runningVersion}`];
    if (report.reason !== undefined) details.push(`reason: ${report.reason}`);
    if (report.detail !== undefined) details.push(report.detail.slice(0, HAWKBIT_DETAIL_MAX));
    if (report.progress !== undefined) details.push(`${report.progress.done} of ${report.progress.total} bytes`);
    // Update history (docs/history.md): one details line per entry, the server keeps them with the action.
    for (const line of report.history ?? []) details.push(`history ${line}`);
    const result: Record<string, unknown> = { finished: mapping.finished };
    // DdiProgress {cnt, of}: the schema marks it "currently not supported" on the server, but it
    // is accepted and costs a few bytes; details carry the same in text.
    if (report.progress !== undefined) result.progress = { cnt: report.progress.done, of: report.progress.total };
    const body = { id: report.actionId, status: { execution: mapping.execution, result, details } };
    this.#invalidate();
    await this.#post(`${this.rootUrl}/deploymentBase/${encodeURIComponent(report.actionId)}/feedback`, body, 'deploymentBase feedback');
  }

  async acknowledgeCancel(actionId: string, stopped: boolean, history: string[] = []): Promise<void> {
    // DDI: a cancellation "must be confirmed (closed+success) or rejected"; REJECTED is "send by the
    // target in case an update of a cancellation is rejected, i.e. cannot be fulfilled at this point".
    // A confirmed cancel ends the deployment: it carries the update-history lines (docs/history.md).
    const body = {
      id: actionId,
      status: stopped
        ? { execution: 'closed', result: { finished: 'success' }, details: ['cancelled: update stopped', ...history.map((line) => `history ${line}`)] }
        : { execution: 'rejected', result: { finished: 'none' }, details: ['cancel rejected: the update cannot be stopped now'] },
    };
    this.#invalidate();
    await this.#post(`${this.rootUrl}/cancelAction/${encodeURIComponent(actionId)}/feedback`, body, 'cancelAction feedback');
  }

  async refreshOffer(actionId: string, current: { version: string }): Promise<UpdateOffer | undefined> {
    const href = this.#deploymentHref.get(actionId);
    if (href === undefined) {
      this.#invalidate();
      const result = await this.poll(current);
      return result.offer?.actionId === actionId ? result.offer : undefined;
    }
    try {
      const offer = await this.#fetchDeployment(href);
      return offer.actionId === actionId ? offer : undefined;
    } catch (error) {
      // The action closed or vanished on the server: nothing to refresh.
      if (error instanceof BackendError && (error.reason === 'backend-gone' || error.status === 404)) return undefined;
      throw error;
    }
  }

  /**
   * The token goes only to the configured server's origin: a link is followed as given, but a
   * hostile or misconfigured answer must not make the device hand its credentials to another host.
   */
  artifactHeaders(url: string): Record<string, string> {
    return { ...this.#auth(url) };
  }

  #auth(url: string): Record<string, string> {
    return urlOrigin(url).toLowerCase() === this.#origin ? this.#authorization : {};
  }

  #invalidate(): void {
    this.#rootEtag = undefined;
    this.#cached = undefined;
  }

  #body(response: JsonResponse, what: string): Record<string, unknown> {
    if (response.status !== 200) throw statusError(response.head, what);
    if (response.value === undefined) throw new OtaError('backend-protocol', `${what}: empty body`);
    return objectField(response.value, what);
  }

  async #post(url: string, body: unknown, what: string): Promise<void> {
    const response = await this.#json.request({ method: 'POST', url, headers: this.#authorization }, body);
    if (response.status < 200 || response.status > 299) throw statusError(response.head, what);
  }

  async #putConfigData(href: string): Promise<void> {
    // DdiConfigData: {"mode": "merge"|"replace"|"remove", "data": {...}}; merge keeps attributes
    // the server holds from elsewhere.
    try {
      const response = await this.#json.request({ method: 'PUT', url: href, headers: this.#auth(href) }, { mode: 'merge', data: this.#attributes });
      if (response.status < 200 || response.status > 299) throw statusError(response.head, 'configData');
      this.#configPending = false;
    } catch (error) {
      // Attributes are informative; the update cycle goes on and the next poll tries again.
      this.#log?.log('warn', 'backend.configData.failed', { error: error instanceof Error ? error.message : String(error) });
    }
  }

  async #fetchCancel(href: string): Promise<string> {
    const response = await this.#json.request({ method: 'GET', url: href, headers: this.#auth(href) });
    const body = this.#body(response, 'cancelAction');
    const cancel = objectField(body.cancelAction, 'cancelAction.cancelAction');
    return idField(cancel.stopId, 'cancelAction.cancelAction.stopId');
  }

  async #fetchDeployment(href: string): Promise<UpdateOffer> {
    const response = await this.#json.request({ method: 'GET', url: href, headers: this.#auth(href) });
    const body = this.#body(response, 'deploymentBase');
    const offer = this.#parseDeployment(body);
    this.#deploymentHref.clear(); // only the current action's href is kept (bounded)
    this.#deploymentHref.set(offer.actionId, href);
    return offer;
  }

  #parseDeployment(body: Record<string, unknown>): UpdateOffer {
    const actionId = idField(body.id, 'deploymentBase.id');
    const deployment = objectField(body.deployment, 'deployment');
    const download = enumField(deployment.download, 'deployment.download', HANDLING);
    const update = enumField(deployment.update, 'deployment.update', HANDLING);
    const maintenanceWindow =
      deployment.maintenanceWindow === undefined
        ? undefined
        : enumField(deployment.maintenanceWindow, 'deployment.maintenanceWindow', ['available', 'unavailable'] as const);
    const chunks = arrayField(deployment.chunks, 'deployment.chunks', HAWKBIT_CHUNKS_MAX);
    for (let i = 0; i < chunks.length; i++) {
      const chunkName = `deployment.chunks[${i}]`;
      const chunk = objectField(chunks[i], chunkName);
      const artifacts = arrayField(chunk.artifacts, `${chunkName}.artifacts`, HAWKBIT_ARTIFACTS_MAX);
      for (let j = 0; j < artifacts.length; j++) {
        const name = `${chunkName}.artifacts[${j}]`;
        const artifact = objectField(artifacts[j], name);
        const filename = stringField(artifact.filename, `${name}.filename`);
        const wanted = this.#pattern === undefined ? filename.endsWith('.bin') : matchFilename(this.#pattern, filename);
        if (!wanted) continue;
        const version = stringField(chunk.version, `${chunkName}.version`);
        const size = integerField(artifact.size, `${name}.size`, 0, HAWKBIT_ARTIFACT_SIZE_MAX);
        let sha256: Uint8Array | undefined;
        if (artifact.hashes !== undefined) {
          const hashes = objectField(artifact.hashes, `${name}.hashes`);
          if (hashes.sha256 !== undefined) sha256 = sha256Field(hashes.sha256, `${name}.hashes.sha256`);
        }
        const links = objectField(artifact._links, `${name}._links`);
        const secure = linkHref(links, 'download', `${name}._links`);
        const plain = linkHref(links, 'download-http', `${name}._links`);
        const url = this.#preferPlainHttp ? (plain ?? secure) : (secure ?? plain);
        if (url === undefined) throw new OtaError('backend-protocol', `${name}._links: no download or download-http link`);
        const offer: UpdateOffer = { actionId, version, url, size, download, update };
        // DDI artifact downloads are authenticated like every DDI call; a link to another origin
        // (a CDN, a pre-signed URL) carries its own authorisation and must not see our token.
        const auth = this.#auth(url);
        if (auth.authorization !== undefined) offer.headers = { ...auth };
        if (sha256 !== undefined) offer.sha256 = sha256;
        if (maintenanceWindow !== undefined) offer.maintenanceWindow = maintenanceWindow;
        return offer;
      }
    }
    throw new OtaError('backend-protocol', `deployment.chunks[].artifacts: no artifact matches ${this.#pattern ?? '*.bin'}`);
  }
}
