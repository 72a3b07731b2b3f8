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
import { chooseArtifact, matchFilename, type ArtifactCandidate, type ImageExpectation } from './artifact-select.js';
import type { DeltaOffer } from '../delta/plan.js';
import { deltaSourceFromFilename } from '../delta/offer-fields.js';
import { startAsJob } from '../util/stack.js';
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
  URL_MAX,
  urlField,
  urlOrigin,
  type JsonKeep,
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
/** Action ids whose unusable deployment was answered closed/failure (each once); oldest dropped past this. */
export const HAWKBIT_REFUSED_MAX = 8;
/** Default artifact name pattern when none is configured. */
export const HAWKBIT_DEFAULT_PATTERN = '*.bin';

const HANDLING: readonly HandlingType[] = ['skip', 'attempt', 'forced'];

// What the backend reads of each DDI body (src/backend/json-reader.ts builds only these): a
// deploymentBase with pre-signed links is 12-36 KB, of which these fields are a few hundred bytes.
const LINK: JsonKeep = { href: true };
const ROOT_KEEP: JsonKeep = {
  config: { polling: { sleep: true } },
  _links: { deploymentBase: LINK, cancelAction: LINK, configData: LINK, confirmationBase: LINK },
};
/** Feedback answers: read to their end (checked as JSON) and dropped. */
const NOTHING_KEEP: JsonKeep = {};
const CANCEL_KEEP: JsonKeep = { cancelAction: { stopId: true } };
const DEPLOYMENT_KEEP: JsonKeep = {
  download: true,
  update: true,
  maintenanceWindow: true,
  chunks: [
    {
      part: true,
      version: true,
      artifacts: [{ filename: true, size: true, hashes: { sha256: true }, _links: { download: LINK, 'download-http': LINK } }],
    },
  ],
};
const DEPLOYMENT_BASE_KEEP: JsonKeep = { id: true, deployment: DEPLOYMENT_KEEP };
const CONFIRMATION_KEEP: JsonKeep = { id: true, autoConfirm: true, confirmation: DEPLOYMENT_KEEP };

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
  // DdiStatus.ExecutionStatus DOWNLOAD: "device starts the download" (hawkBit shows it as such).
  accepted: { execution: 'download', finished: 'none' },
  downloading: { execution: 'proceeding', finished: 'none' },
  // RESUMED: the download goes on after an interruption (a failure, a reset), progress says where.
  resumed: { execution: 'resumed', finished: 'none' },
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
  /** DDI requests: polls, deployments, feedback (the control channel; TLS in the agent when configured). */
  http: HttpClient;
  /** Artifact probes (a candidate file's first bytes): the download's client (default `http`). */
  downloadHttp?: HttpClient;
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
   * (`zephyr.signed.bin`, `*.signed.bin`). Default `*.bin`.
   */
  artifactPattern?: string;
  /**
   * The chunk `part` (hawkBit software module type key) that holds this device's image, e.g.
   * `bApp` or `os`. Default: any part; with several matching files the image header chooses.
   */
  part?: string;
  /**
   * Where the token goes besides the server's own origin. 'ddi-links' (default): also to a
   * download link on another host whose path is a DDI download resource of this tenant and
   * controller (`…/{tenant}/…/controller/[v1/]{controllerId}/softwaremodules/…`): DDI says the
   * host and port of download links may differ from the DDI host and that "the target needs to
   * have the artifact assigned in order to be granted permission to download" (DdiArtifact).
   * Never over plain http to another host, never to a URL with a query (a pre-signed URL).
   * 'server-origin': only to the server's origin.
   */
  credentials?: 'ddi-links' | 'server-origin';
  /**
   * A deployment that waits for the device's consent (confirmationBase, hawkBit's user-consent
   * flow): `confirm` decides when given; else `autoConfirm` (default true) confirms, and false
   * denies it with a reason.
   */
  autoConfirm?: boolean;
  confirm?: (offer: UpdateOffer) => boolean | Promise<boolean>;
  /** What the image must be (slot capacity, load address), for the choice among files. */
  image?: ImageExpectation;
  /** Longest URL accepted in a deployment, characters (default URL_MAX). */
  urlMax?: number;
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


function linkHref(links: Record<string, unknown>, key: string, prefix: string, urlMax = URL_MAX): string | undefined {
  const link = links[key];
  if (link === undefined) return undefined;
  const object = objectField(link, `${prefix}.${key}`);
  return urlField(object.href, `${prefix}.${key}.href`, urlMax);
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
  #pattern: string;
  #part: string | undefined;
  #credentials: 'ddi-links' | 'server-origin';
  /**
   * Source of the case-insensitive pattern of a DDI download link for this tenant and controller.
   * The RegExp is compiled where a link on another host is checked (#auth), not kept: XS compiles
   * it into about 2 KB of RAM, held for the agent's life for a check most offers never reach.
   */
  #ddiLinkPath: string;
  #autoConfirm: boolean;
  #confirm: ((offer: UpdateOffer) => boolean | Promise<boolean>) | undefined;
  /** The action whose consent was last answered `denied` (its denial is not sent again). */
  #deniedAction: string | undefined;
  #image: ImageExpectation;
  #urlMax: number;
  /** The download's client, for artifact probes. */
  #http: HttpClient;
  /** Actions whose deployment could not be used and was answered closed/failure (bounded). */
  #refused: string[] = [];
  /** The file chosen for the current action (artifact-select.ts), so that it is chosen once. */
  #choice: { actionId: string; where: string; filename: string; imageVersion: string | undefined } | undefined;
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
    this.#pattern = config.artifactPattern ?? HAWKBIT_DEFAULT_PATTERN;
    if (config.part !== undefined && (typeof config.part !== 'string' || config.part.length === 0 || config.part.length > 64)) {
      throw new OtaError('config-invalid', 'part: 1..64 characters');
    }
    this.#part = config.part;
    const credentials = config.credentials ?? 'ddi-links';
    if (credentials !== 'ddi-links' && credentials !== 'server-origin') throw new OtaError('config-invalid', `credentials: ${String(credentials)}`);
    this.#credentials = credentials;
    this.#ddiLinkPath = `^https?://[^/?#]+(?:/[^?#]*)?/${escapeRegExp(tenant)}/(?:[^?#]*/)?controller/(?:v1/)?${escapeRegExp(controllerId)}/softwaremodules/`;
    this.#autoConfirm = config.autoConfirm ?? true;
    this.#confirm = config.confirm;
    this.#image = config.image ?? {};
    this.#urlMax = config.urlMax ?? URL_MAX;
    if (!Number.isInteger(this.#urlMax) || this.#urlMax < 64 || this.#urlMax > 8192) throw new OtaError('config-invalid', `urlMax: ${this.#urlMax} (64..8192)`);
    this.#http = config.downloadHttp ?? config.http;
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
    const response = await this.#json.request({ method: 'GET', url: this.rootUrl, headers }, undefined, ROOT_KEEP);
    if (response.status === 304 && this.#cached !== undefined) return this.#cached;
    const { result, links } = await this.#rootAndCancel(response);
    const deploymentHref = linkHref(links, 'deploymentBase', '_links');
    const configHref = linkHref(links, 'configData', '_links');
    const confirmationHref = linkHref(links, 'confirmationBase', '_links');

    if (configHref === undefined) this.#configPending = true;
    else if (this.#configPending && this.#attributes !== undefined) await this.#putConfigData(configHref);

    if (deploymentHref !== undefined) result.offer = await this.#usableDeployment(deploymentHref);
    // An application hook that declined may consent at a later poll (hawkBit keeps a denied
    // action waiting for consent): the root is then not cached, so the next poll asks it again.
    const askAgain = confirmationHref !== undefined && deploymentHref === undefined && !(await this.#answerConfirmation(confirmationHref)) && this.#confirm !== undefined;

    const etag = response.head.headers['etag'];
    this.#rootEtag = askAgain ? undefined : etag;
    this.#cached = etag === undefined || askAgain ? undefined : result;
    return result;
  }

  /**
   * perf (issue 15): the root only, and the cancelAction when it links one; never the
   * deploymentBase, which a cancel check does not read (one request fewer per check). The
   * root's ETag cache is neither used nor updated: it belongs to `poll`'s whole answer.
   */
  async pollCancel(_current: { version: string }): Promise<PollResult> {
    const headers: Record<string, string> = { ...this.#authorization, accept: 'application/hal+json, application/json' };
    const response = await this.#json.request({ method: 'GET', url: this.rootUrl, headers }, undefined, ROOT_KEEP);
    return (await this.#rootAndCancel(response)).result;
  }

  /** The root's polling interval and links, and the cancelAction it links (read alike by poll and pollCancel). */
  async #rootAndCancel(response: JsonResponse): Promise<{ result: PollResult; links: Record<string, unknown> }> {
    const root = this.#body(response, 'poll root');
    const polling = objectField(objectField(root.config, 'config').polling, 'config.polling');
    const result: PollResult = { pollIntervalS: parsePollingSleep(polling.sleep) };
    const links = root._links === undefined ? {} : objectField(root._links, '_links');
    const cancelHref = linkHref(links, 'cancelAction', '_links');
    if (cancelHref !== undefined) result.cancelActionId = await this.#fetchCancel(cancelHref);
    return { result, links };
  }

  async report(report: Report): Promise<void> {
    // The agent stopped because the server cancelled: DDI wants that confirmed on the cancel
    // action (closed+success), and a canceled action takes no more deploymentBase feedback.
    if (report.phase === 'cancelled') return this.acknowledgeCancel(report.actionId, true, report.history);
    const mapping = HAWKBIT_FEEDBACK[report.phase];
    if (!mapping) throw new OtaError('invalid-argument', `phase: ${String(report.phase)}`);
    // The backend's version is reported as it gave it (a label such as v1.1.0); the header's
    // version too when it differs. The agent keeps the label with the deployment (its journal),
    // so a report after a reboot names it whether or not this boot fetched the deployment again.
    const label = report.label;
    const target = label === undefined || label === report.version ? report.version : `${label} (image ${report.version})`;
    const details = [`${report.phase}: target ${target}, running ${report.runningVersion}`];
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
   * The headers an artifact link gets (the offer carries them): the token goes only to the
   * configured server's origin. A link is followed as given, but a hostile or misconfigured
   * answer must not make the device hand its credentials to another host.
   */
  #auth(url: string): Record<string, string> {
    if (urlOrigin(url).toLowerCase() === this.#origin) return this.#authorization;
    // A DDI download resource on another host (a hawkBit download server, a CDN in front of it)
    // needs the token; anything else (a pre-signed object-store URL) carries its own authorisation.
    // A query (a signature, an expiry) means the URL authorises itself: no token then.
    if (this.#credentials === 'ddi-links' && url.startsWith('https:') && !url.includes('?') && new RegExp(this.#ddiLinkPath, 'i').test(url)) return this.#authorization;
    return {};
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
    const response = await this.#json.request({ method: 'POST', url, headers: this.#authorization }, body, NOTHING_KEEP);
    if (response.status < 200 || response.status > 299) throw statusError(response.head, what);
  }

  async #putConfigData(href: string): Promise<void> {
    // DdiConfigData: {"mode": "merge"|"replace"|"remove", "data": {...}}; merge keeps attributes
    // the server holds from elsewhere.
    try {
      const response = await this.#json.request({ method: 'PUT', url: href, headers: this.#auth(href) }, { mode: 'merge', data: this.#attributes }, NOTHING_KEEP);
      if (response.status < 200 || response.status > 299) throw statusError(response.head, 'configData');
      this.#configPending = false;
    } catch (error) {
      // Attributes are informative; the update cycle goes on and the next poll tries again.
      this.#log?.log('warn', 'backend.configData.failed', { error: error instanceof Error ? error.message : String(error) });
    }
  }

  async #fetchCancel(href: string): Promise<string> {
    const response = await this.#json.request({ method: 'GET', url: href, headers: this.#auth(href) }, undefined, CANCEL_KEEP);
    const body = this.#body(response, 'cancelAction');
    const cancel = objectField(body.cancelAction, 'cancelAction.cancelAction');
    return idField(cancel.stopId, 'cancelAction.cancelAction.stopId');
  }

  /**
   * The deployment behind `href`, or undefined when it cannot be used: then it is answered
   * closed/failure with the reason naming the field (once per action), so the operator sees it and
   * hawkBit closes the action instead of showing it running while the device fetches it forever.
   * Transient failures (the server's 5xx, the link) still reject: the next poll asks again.
   */
  async #usableDeployment(href: string): Promise<UpdateOffer | undefined> {
    try {
      return await this.#fetchDeployment(href);
    } catch (error) {
      if (!(error instanceof OtaError) || (error.reason !== 'backend-protocol' && error.reason !== 'body-too-large')) throw error;
      const actionId = /\/deploymentBase\/([^/?#]{1,128})/.exec(href)?.[1];
      const detail = error.detail ?? error.reason;
      this.#log?.log('error', 'deployment.unusable', { action: actionId, reason: error.reason, detail });
      if (actionId === undefined) throw error;
      if (this.#refused.includes(actionId)) return undefined;
      const body = {
        id: actionId,
        status: { execution: 'closed', result: { finished: 'failure' }, details: [`failed: deployment not usable (${error.reason})`, detail.slice(0, HAWKBIT_DETAIL_MAX)] },
      };
      this.#invalidate();
      await this.#post(`${this.rootUrl}/deploymentBase/${encodeURIComponent(actionId)}/feedback`, body, 'deploymentBase feedback');
      this.#refused.push(actionId);
      if (this.#refused.length > HAWKBIT_REFUSED_MAX) this.#refused.shift();
      this.#log?.log('warn', 'deployment.refused', { action: actionId, reason: error.reason });
      return undefined;
    }
  }

  /**
   * confirmationBase (hawkBit's user consent): the action waits for the device. The application's
   * `confirm` hook (or `autoConfirm`) answers it with DdiConfirmationFeedback
   * {confirmation: confirmed|denied, code, details}; once confirmed, the next poll links deploymentBase.
   * A denial is sent once per action: asked again, an application that still declines sends
   * nothing (the server already shows the action denied and waiting). Returns whether it confirmed.
   */
  async #answerConfirmation(href: string): Promise<boolean> {
    const response = await this.#json.request({ method: 'GET', url: href, headers: this.#auth(href) }, undefined, CONFIRMATION_KEEP);
    const body = this.#body(response, 'confirmationBase');
    if (body.id === undefined && body.autoConfirm !== undefined) return true; // the auto-confirm state only: no action waits
    const actionId = idField(body.id, 'confirmationBase.id');
    let offer: UpdateOffer | undefined;
    let confirmed: boolean;
    let detail: string;
    try {
      offer = await this.#parseDeployment({ id: body.id, deployment: body.confirmation }, 'confirmation');
      confirmed = this.#confirm ? (await this.#confirm(offer)) === true : this.#autoConfirm;
      detail = confirmed ? `confirmed ${offer.version}` : this.#confirm ? `the application declined ${offer.version}` : 'autoConfirm is off and no application hook confirms';
    } catch (error) {
      if (!(error instanceof OtaError) || error.reason !== 'backend-protocol') throw error;
      confirmed = false;
      detail = `deployment not usable: ${error.detail ?? error.reason}`;
    }
    if (!confirmed && this.#deniedAction === actionId) return false;
    this.#deniedAction = confirmed ? undefined : actionId;
    this.#log?.log('info', 'confirmation.answer', { action: actionId, confirmed });
    this.#invalidate();
    await this.#post(
      `${this.rootUrl}/confirmationBase/${encodeURIComponent(actionId)}/feedback`,
      { confirmation: confirmed ? 'confirmed' : 'denied', code: confirmed ? 200 : 403, details: [detail.slice(0, HAWKBIT_DETAIL_MAX)] },
      'confirmationBase feedback',
    );
    return confirmed;
  }

  async #fetchDeployment(href: string): Promise<UpdateOffer> {
    const response = await this.#json.request({ method: 'GET', url: href, headers: this.#auth(href) }, undefined, DEPLOYMENT_BASE_KEEP);
    const body = this.#body(response, 'deploymentBase');
    const offer = await this.#parseDeployment(body, 'deployment');
    this.#deploymentHref.clear(); // only the current action's href is kept (bounded)
    this.#deploymentHref.set(offer.actionId, href);
    return offer;
  }

  /**
   * DdiDeploymentBase (or DdiConfirmationBaseAction with `key` 'confirmation'). Unknown fields are
   * ignored (hawkBit adds actionHistory, metadata, encrypted...); optional ones (`size`, `hashes`,
   * `artifacts`, `maintenanceWindow`) may be absent. The image is chosen by part, pattern and
   * header (src/backend/artifact-select.ts).
   */
  async #parseDeployment(body: Record<string, unknown>, key: 'deployment' | 'confirmation'): Promise<UpdateOffer> {
    const actionId = idField(body.id, `${key}Base.id`);
    const deployment = objectField(body.deployment, key);
    const download = enumField(deployment.download, `${key}.download`, HANDLING);
    const update = enumField(deployment.update, `${key}.update`, HANDLING);
    const maintenanceWindow =
      deployment.maintenanceWindow === undefined
        ? undefined
        : enumField(deployment.maintenanceWindow, `${key}.maintenanceWindow`, ['available', 'unavailable'] as const);
    const chunks = arrayField(deployment.chunks, `${key}.chunks`, HAWKBIT_CHUNKS_MAX);
    type Candidate = ArtifactCandidate & { version: string; sha256?: Uint8Array; chunk: number };
    const candidates: Candidate[] = [];
    // Delta artifacts (docs/delta.md): named by convention, in the image's chunk.
    const deltas: (DeltaOffer & { chunk: number })[] = [];
    const parts: string[] = [];
    for (let i = 0; i < chunks.length; i++) {
      const chunkName = `${key}.chunks[${i}]`;
      const chunk = objectField(chunks[i], chunkName);
      const part = chunk.part === undefined ? undefined : stringField(chunk.part, `${chunkName}.part`);
      if (part !== undefined) parts.push(part);
      if (this.#part !== undefined && part !== this.#part) continue;
      // DdiChunk.artifacts is optional (a module without files): nothing to take from it.
      const artifacts = chunk.artifacts === undefined ? [] : arrayField(chunk.artifacts, `${chunkName}.artifacts`, HAWKBIT_ARTIFACTS_MAX);
      for (let j = 0; j < artifacts.length; j++) {
        const name = `${chunkName}.artifacts[${j}]`;
        const artifact = objectField(artifacts[j], name);
        const filename = stringField(artifact.filename, `${name}.filename`);
        const source = deltaSourceFromFilename(filename);
        if (!source && !matchFilename(this.#pattern, filename)) continue;
        const version = stringField(chunk.version, `${chunkName}.version`);
        const size = artifact.size === undefined ? undefined : integerField(artifact.size, `${name}.size`, 0, HAWKBIT_ARTIFACT_SIZE_MAX);
        let sha256: Uint8Array | undefined;
        if (artifact.hashes !== undefined) {
          const hashes = objectField(artifact.hashes, `${name}.hashes`);
          if (hashes.sha256 !== undefined) sha256 = sha256Field(hashes.sha256, `${name}.hashes.sha256`);
        }
        const links = objectField(artifact._links, `${name}._links`);
        const secure = linkHref(links, 'download', `${name}._links`, this.#urlMax);
        const plain = linkHref(links, 'download-http', `${name}._links`, this.#urlMax);
        const url = this.#preferPlainHttp ? (plain ?? secure) : (secure ?? plain);
        if (url === undefined) throw new OtaError('backend-protocol', `${name}._links: no download or download-http link`);
        // DDI artifact downloads are authenticated like every DDI call; a link to another origin
        // (a CDN, a pre-signed URL) carries its own authorisation and must not see our token.
        const auth = this.#auth(url);
        if (source) {
          // A delta without its SHA-256 cannot be checked before decoding: not offered.
          if (sha256 !== undefined && size !== undefined && size > 0) deltas.push({ url, size, sha256, ...source, chunk: i, ...(auth.authorization !== undefined ? { headers: { ...auth } } : {}) });
          continue;
        }
        const candidate: Candidate = { where: name, filename, url, version, chunk: i, headers: auth.authorization !== undefined ? { ...auth } : undefined };
        if (size !== undefined) candidate.size = size;
        if (sha256 !== undefined) candidate.sha256 = sha256;
        candidates.push(candidate);
      }
    }
    if (candidates.length === 0) {
      const part = this.#part === undefined ? '' : ` in part '${this.#part}' (parts: ${parts.join(', ') || 'none'})`;
      throw new OtaError('backend-protocol', `${key}.chunks[].artifacts: no artifact matches ${this.#pattern}${part}`);
    }
    // The choice is made once per action: polls during the download (cancel checks, the health
    // check) fetch the deployment again and must not read the headers again.
    const previous = this.#choice?.actionId === actionId ? this.#choice : undefined;
    const again = previous && candidates.find((k) => k.where === previous.where && k.filename === previous.filename);
    const chosen = again ? { candidate: again, imageVersion: previous.imageVersion } : await startAsJob(() => chooseArtifact(this.#http, candidates, this.#image));
    const c = chosen.candidate;
    this.#choice = { actionId, where: c.where, filename: c.filename, imageVersion: chosen.imageVersion };
    const offer: UpdateOffer = { actionId, version: c.version, url: c.url, download, update };
    if (c.size !== undefined) offer.size = c.size;
    if (c.headers !== undefined) offer.headers = c.headers;
    if (c.sha256 !== undefined) offer.sha256 = c.sha256;
    if (chosen.imageVersion !== undefined) offer.imageVersion = chosen.imageVersion;
    if (maintenanceWindow !== undefined) offer.maintenanceWindow = maintenanceWindow;
    const mine = deltas.filter((d) => d.chunk === c.chunk).map(({ chunk: _chunk, ...d }) => d);
    if (mine.length > 0) offer.deltas = mine;
    return offer;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
