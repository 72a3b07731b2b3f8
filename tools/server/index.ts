/**
 * Reference update server: a real node:http server on loopback that speaks what the agent's
 * backends speak, records what the device tells it, and misbehaves on request. Tests, the
 * simulated dev kit and `xs-ota server` all use it.
 *
 * ```ts
 * const server = await startReferenceServer({ port: 0, controllerId: 'dev42', token: 'secret' });
 * server.url                                   // 'http://127.0.0.1:40123' (scheme: 'https' -> https://; the port speaks both)
 * // hawkBit DDI v1 subset, under {url}/{tenant}/controller/v1/{controllerId}
 * const { actionId, artifactUrl } = server.hawkbit.createDeployment({ version: '1.3.0', image,
 *   filename: 'app.signed.bin', download: 'forced', update: 'attempt', maintenanceWindow: 'available',
 *   expiresInS: 600 });                        // pre-signed artifact URL valid 600 s of server clock
 * server.hawkbit.cancel(actionId);             // root then links cancelAction instead of deploymentBase
 * server.hawkbit.setMaintenanceWindow(actionId, 'available');   // the window opens (update: skip → as download)
 *   // createDeployment({..., update: 'skip'}): download only, closed by the device's DOWNLOADED feedback
 *   // createDeployment({..., cancelAfterBytes: 100000}): the operator cancels once 100000 artifact bytes went out
 * server.hawkbit.action(actionId)              // {id, version, state: 'open'|'canceling'|'canceled'|'finished'|'failed', ...}
 * server.hawkbit.requestConfigData();          // root links configData until the device PUTs it
 * server.hawkbit.setPollingSleep('00:00:30');
 * // static manifests, at {url}/manifest/{name}.json, reports POSTed to {url}/manifest/{name}/report
 * const { url, artifactUrl } = server.manifest.publish({ name: 'dev', version: '1.3.0', image,
 *   hardware: ['devkit-a'], securityCounter: 2, reportUrl: true, expiresInS: 600 });
 * server.manifest.setRaw('dev', '{"schema":2}', 200);   // serve any bytes (hostile-manifest tests)
 * server.manifest.withdraw('dev');             // 404 from then on
 * // plain artifacts
 * server.artifacts.put('/files/a.bin', bytes)  // → absolute URL; put again to change its ETag
 * server.reports()                             // every feedback / cancel feedback / configData / manifest report
 * server.requests()                            // every request: method, path, status, headers asked
 * server.misbehave({ status: 503, count: 2, retryAfterS: 30, path: '/controller/' });
 * server.misbehave({ drop: 1000 });            // next body: abrupt close (RST) after 1000 bytes
 * server.misbehave({ truncate: 1000 });        // next body: clean close (FIN) after 1000 bytes
 * server.clock.advance(601);                   // pre-signed URLs now answer 403
 *   // (or startReferenceServer({clockS: 0, clockSource: () => time.now() / 1000}) to follow virtual time)
 * await server.close();
 * ```
 *
 * hawkBit behaviour follows the DDI API (https://eclipse.dev/hawkbit/apis/ddi_api) and the server
 * code summarised in /work/shared/reference/backend-apis.md §3a: ETag/304 on the poll root,
 * `sleep` as HH:MM:SS, 410 Gone on feedback to an action that is no longer active, cancel confirmed
 * by `closed`/`canceled` (a `rejected` cancel leaves the action canceling, as hawkBit's WARNING
 * does). Artifacts follow RFC 9110 §14 as hawkBit's FileStreamingUtil does: `ETag`, `Accept-Ranges`,
 * a single range → 206 with Content-Range, an unsatisfiable one → 416 with `Content-Range: bytes
 * *\/len`, If-Range that does not match → 200 with the whole body. Several ranges are answered with
 * the whole body (200), which RFC 9110 §14.2 allows; hawkBit would send multipart/byteranges.
 */
import { createHash, createHmac } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { acceptTls, type TlsAcceptor } from '../devkit/test-pki.js';

export type Handling = 'skip' | 'attempt' | 'forced';

export interface ReferenceServerOptions {
  /** TCP port (0: any free port). */
  port?: number;
  host?: string;
  tenant?: string;
  controllerId?: string;
  /** When set, DDI requests need `Authorization: TargetToken <token>`. */
  token?: string;
  /** When set, `Authorization: GatewayToken <gatewayToken>` is accepted too. */
  gatewayToken?: string;
  /** hawkBit `config.polling.sleep` (default '00:05:00'). */
  pollingSleep?: string;
  /** Append every recorded report to this file as one JSON line. */
  reportFile?: string;
  /** Server clock at start, seconds since 1970 (default 1_790_000_000; tests move it). */
  clockS?: number;
  /**
   * Drive the server clock from elsewhere (e.g. the dev kit's virtual time): seconds since 1970.
   * `clock.set`/`advance` then add an offset to it.
   */
  clockSource?: () => number;
  /**
   * Scheme of the URLs the server hands out (`url`, DDI links, artifact links). The port speaks
   * TLS (test CA certificate, tools/devkit/test-pki.ts) and plain HTTP either way. Default 'http'.
   */
  scheme?: 'http' | 'https';
  /**
   * Host name in the URLs the server hands out (default: `host`), e.g. `localhost` or a name the
   * dev kit's modem resolves to this server: a device then reaches it by name.
   */
  advertiseHost?: string;
  /**
   * Alias path prefixes that answer 308 with a relative Location to the same path without the
   * prefix (`/old/DEFAULT/controller/...` → `/DEFAULT/controller/...`): a server that moved.
   */
  movedPrefixes?: string[];
}

export interface DeploymentSpec {
  version: string;
  image: Uint8Array;
  /** Artifact filename (default 'zephyr.signed.bin'). */
  filename?: string;
  download?: Handling;
  update?: Handling;
  maintenanceWindow?: 'available' | 'unavailable';
  /** Make the artifact URL pre-signed, valid this many seconds of server clock. */
  expiresInS?: number;
  /** More artifacts in the same chunk (e.g. a release note), listed before the image. */
  extraArtifacts?: { filename: string; bytes: Uint8Array }[];
  /** Leave `hashes.sha256` out of the artifact (as an old server would). */
  omitSha256?: boolean;
  /**
   * The operator cancels the action once the server has sent this many bytes of its artifacts
   * (a cancel mid-download, for a device whose download the test cannot watch).
   */
  cancelAfterBytes?: number;
  /** Other software modules of the same distribution set, listed before the image's (DdiChunk). */
  extraChunks?: { part: string; name?: string; version: string; artifacts: { filename: string; bytes: Uint8Array }[] }[];
  /** The image's chunk `part` (default 'bApp', as hawkBit's own example). */
  part?: string;
  /** The action waits for the device's confirmation (user consent flow): root links confirmationBase. */
  confirmationRequired?: boolean;
  /**
   * Download links name this host (same port and DDI path, e.g. `download.example.com`): a
   * download server apart from the DDI host, still needing the target's token (DdiArtifact).
   */
  downloadHost?: string;
  /**
   * The image's download link answers with a redirect to a pre-signed object-store URL on
   * `host` (default: this server's host): `/objects/{sm}/{file}?X-Amz-...&expires=&sig=`, padded
   * to `locationBytes` (default 1300) as an S3 URL with a session token is; valid `expiresInS`
   * (default 3600) of server clock, then 403 as S3 answers.
   */
  redirectArtifact?: { host?: string; status?: 301 | 302 | 303 | 307 | 308; expiresInS?: number; locationBytes?: number };
}

export type ActionState = 'open' | 'canceling' | 'canceled' | 'finished' | 'failed' | 'waiting-confirmation';

export interface ActionInfo {
  id: string;
  version: string;
  state: ActionState;
  filename: string;
  size: number;
  sha256: string;
}

export interface PublishSpec {
  name?: string;
  version: string;
  image: Uint8Array;
  filename?: string;
  hardware?: string[];
  securityCounter?: number;
  download?: Handling;
  update?: Handling;
  /** true (default): the manifest names this server's report URL; a string: that URL; false: none. */
  reportUrl?: boolean | string;
  pollIntervalS?: number;
  /** Pre-sign the artifact URL, valid this many seconds of server clock from each manifest GET. */
  expiresInS?: number;
  /** Artifact URL form in the manifest: absolute (default) or origin-relative ('/…'). */
  relativeUrl?: boolean;
  /** VCDIFF deltas to this image, listed as the manifest's `deltas` (docs/delta.md). */
  deltas?: { bytes: Uint8Array; fromVersion: string; fromImageHash: string; filename?: string }[];
}

export type ReportKind = 'hawkbit-feedback' | 'hawkbit-cancel-feedback' | 'hawkbit-config-data' | 'hawkbit-confirmation-feedback' | 'manifest-report';

export interface RecordedReport {
  seq: number;
  /** Server clock, seconds. */
  at: number;
  kind: ReportKind;
  path: string;
  /** The action / manifest name the report is about. */
  id: string;
  /** HTTP status the server answered with (e.g. 410 for feedback to a closed action). */
  status: number;
  /** The parsed JSON body (or the raw text when it was not JSON). */
  body: unknown;
}

export interface RecordedRequest {
  method: string;
  path: string;
  status: number;
  headers: { authorization?: string; range?: string; ifRange?: string; ifNoneMatch?: string };
  /** Body bytes actually written. */
  bytesSent: number;
}

/** A fault for the next matching requests. `path` is a substring of the request path (default: any). */
export type Misbehaviour =
  | { status: number; count?: number; retryAfterS?: number; path?: string }
  | { drop: number; count?: number; path?: string }
  | { truncate: number; count?: number; path?: string }
  /** Answer a ranged artifact GET with 200 and the whole body (a CDN that ignores Range). */
  | { ignoreRange: true; count?: number; path?: string };

export interface ReferenceServer {
  url: string;
  port: number;
  hawkbit: {
    rootUrl: string;
    tenant: string;
    controllerId: string;
    createDeployment(spec: DeploymentSpec): { actionId: string; artifactUrl: string };
    cancel(actionId?: string): void;
    /** Open or close the action's maintenance window (hawkBit: its maintenance schedule). */
    setMaintenanceWindow(actionId: string, window: 'available' | 'unavailable'): void;
    action(actionId: string): ActionInfo | undefined;
    requestConfigData(): void;
    setPollingSleep(sleep: string): void;
  };
  manifest: {
    urlOf(name?: string): string;
    publish(spec: PublishSpec): { url: string; artifactUrl: string; document: Record<string, unknown> };
    setRaw(name: string, body: string | Uint8Array, status?: number): void;
    withdraw(name?: string): void;
  };
  artifacts: {
    put(path: string, bytes: Uint8Array, options?: { expiresInS?: number }): string;
  };
  clock: { now(): number; set(seconds: number): void; advance(seconds: number): void };
  reports(kind?: ReportKind): RecordedReport[];
  requests(): RecordedRequest[];
  misbehave(fault: Misbehaviour | Misbehaviour[]): void;
  /** Faults still armed. */
  pendingFaults(): number;
  /** TLS on the server's port (test CA certificate): switch the certificate, count handshakes. */
  tls: TlsAcceptor;
  close(): Promise<void>;
}

/** Cap on a request body the server accepts (feedback, reports), bytes: larger → 413. */
export const SERVER_BODY_MAX = 64 * 1024;
const LAST_MODIFIED = 'Tue, 01 Sep 2026 00:00:00 GMT';
const SIGNING_KEY = 'xs-ota reference server';

interface Artifact {
  bytes: Uint8Array;
  etag: string;
  filename: string;
  expiresInS?: number;
}

interface Action extends ActionInfo {
  smId: number;
  cancelAfterBytes?: number;
  artifactBytesSent: number;
  download: Handling;
  update: Handling;
  maintenanceWindow?: 'available' | 'unavailable';
  artifacts: { filename: string; path: string; sha256: string; sha1: string; md5: string; size: number; omitSha256: boolean }[];
  part: string;
  extraChunks: { part: string; name: string; version: string; artifacts: Action['artifacts'] }[];
  downloadHost?: string;
  redirectArtifact?: DeploymentSpec['redirectArtifact'];
}

type ArmedFault = Misbehaviour & { left: number };

function sha(algorithm: string, bytes: Uint8Array): string {
  return createHash(algorithm).update(bytes).digest('hex');
}

/** Parse a CLI misbehaviour spec: `status=503,count=2,retry-after=30,path=/x` | `drop=1000` | `truncate=500`. */
export function parseMisbehaviour(spec: string): Misbehaviour {
  const fields: Record<string, string> = {};
  for (const part of spec.split(',')) {
    const [key, value] = part.split('=');
    if (!key || value === undefined) throw new Error(`misbehave: '${part}' is not key=value`);
    fields[key.trim()] = value.trim();
  }
  const num = (key: string): number | undefined => {
    if (fields[key] === undefined) return undefined;
    const n = Number(fields[key]);
    if (!Number.isInteger(n) || n < 0) throw new Error(`misbehave: ${key}=${fields[key]} is not a count`);
    return n;
  };
  const common = { count: num('count'), path: fields.path };
  if (fields.status !== undefined) return { status: num('status')!, retryAfterS: num('retry-after'), ...common };
  if (fields.drop !== undefined) return { drop: num('drop')!, ...common };
  if (fields.truncate !== undefined) return { truncate: num('truncate')!, ...common };
  if (fields['ignore-range'] !== undefined) return { ignoreRange: true, ...common };
  throw new Error(`misbehave: '${spec}' names none of status=, drop=, truncate=, ignore-range=`);
}

export async function startReferenceServer(options: ReferenceServerOptions = {}): Promise<ReferenceServer> {
  const tenant = options.tenant ?? 'DEFAULT';
  const controllerId = options.controllerId ?? 'dev42';
  let pollingSleep = options.pollingSleep ?? '00:05:00';
  let clockBase = options.clockS ?? 1_790_000_000;
  const source = options.clockSource;
  const now = (): number => (source ? Math.floor(source()) : 0) + clockBase;
  let baseUrl = '';
  const ddiPrefix = `/${tenant}/controller/v1/${controllerId}`;

  const artifacts = new Map<string, Artifact>();
  const actions = new Map<string, Action>();
  let nextAction = 1;
  let nextSm = 20;
  let configRequested = false;
  /**
   * Published manifests. `render` (a manifest naming a pre-signed artifact URL) builds the document
   * at every GET, as a manifest service that signs the URL per request does: the document then
   * changes whenever the signature does, and so does its ETag. Fixed documents keep one body.
   */
  const manifests = new Map<string, { body: Uint8Array; status: number; etag: string; render?: () => Uint8Array }>();
  const manifestEtag = (bytes: Uint8Array): string => `"${sha('sha1', bytes).slice(0, 16)}"`;
  const reports: RecordedReport[] = [];
  const requests: RecordedRequest[] = [];
  const faults: ArmedFault[] = [];

  const sign = (path: string, expires: number): string => createHmac('sha256', SIGNING_KEY).update(`${path}?${expires}`).digest('hex').slice(0, 32);
  const artifactUrl = (path: string): string => {
    const artifact = artifacts.get(path)!;
    if (artifact.expiresInS === undefined) return baseUrl + path;
    const expires = now() + artifact.expiresInS;
    return `${baseUrl}${path}?expires=${expires}&sig=${sign(path, expires)}`;
  };
  const putArtifact = (path: string, bytes: Uint8Array, expiresInS?: number): void => {
    const copy = new Uint8Array(bytes);
    // hawkBit sends ETag "<sha1>" for artifacts (FileStreamingUtil).
    artifacts.set(path, { bytes: copy, etag: `"${sha('sha1', copy)}"`, filename: path.slice(path.lastIndexOf('/') + 1), expiresInS });
  };

  const record = (kind: ReportKind, path: string, id: string, status: number, body: unknown): void => {
    const entry: RecordedReport = { seq: reports.length + 1, at: now(), kind, path, id, status, body };
    reports.push(entry);
    if (options.reportFile) appendFileSync(options.reportFile, JSON.stringify(entry) + '\n');
  };

  const takeFault = (path: string, kinds: ('status' | 'drop' | 'truncate' | 'ignoreRange')[]): ArmedFault | undefined => {
    const index = faults.findIndex((f) => kinds.some((k) => k in f) && (f.path === undefined || path.includes(f.path)));
    if (index < 0) return undefined;
    const fault = faults[index];
    if (--fault.left <= 0) faults.splice(index, 1);
    return fault;
  };

  // ---- hawkBit DDI ----

  const authorized = (req: http.IncomingMessage): boolean => {
    if (options.token === undefined && options.gatewayToken === undefined) return true;
    const auth = req.headers.authorization;
    return (
      (options.token !== undefined && auth === `TargetToken ${options.token}`) ||
      (options.gatewayToken !== undefined && auth === `GatewayToken ${options.gatewayToken}`)
    );
  };

  const currentAction = (): Action | undefined => {
    let last: Action | undefined;
    for (const action of actions.values()) if (action.state === 'open' || action.state === 'canceling' || action.state === 'waiting-confirmation') last = action;
    return last;
  };

  // hawkBit's change marker (DataConversionHelper.calculateEtag) changes when the maintenance
  // window opens, so the poll root's ETag does too and a device waiting for it sees the change.
  const changeMarker = (action: Action): number => {
    const digest = createHash('sha1').update(`${action.id}:${action.state}:${action.version}:${action.maintenanceWindow ?? ''}`).digest();
    return digest.readInt32BE(0);
  };

  const rootBody = (): unknown => {
    const links: Record<string, { href: string }> = {};
    const action = currentAction();
    if (action?.state === 'open') links.deploymentBase = { href: `${baseUrl}${ddiPrefix}/deploymentBase/${action.id}?c=${changeMarker(action)}` };
    if (action?.state === 'waiting-confirmation') links.confirmationBase = { href: `${baseUrl}${ddiPrefix}/confirmationBase/${action.id}?c=${changeMarker(action)}` };
    if (action?.state === 'canceling') links.cancelAction = { href: `${baseUrl}${ddiPrefix}/cancelAction/${action.id}` };
    if (configRequested) links.configData = { href: `${baseUrl}${ddiPrefix}/configData` };
    const body: Record<string, unknown> = { config: { polling: { sleep: pollingSleep } } };
    if (Object.keys(links).length > 0) body._links = links;
    return body;
  };

  /** A download link as the server hands it out: on `downloadHost` when the action says so. */
  const linkUrl = (action: Action, path: string): string => {
    const url = artifactUrl(path);
    if (action.downloadHost === undefined) return url;
    return url.replace(/^(https?:\/\/)[^/:]+/, `$1${action.downloadHost}`);
  };

  const chunkBody = (action: Action, part: string, name: string, version: string, list: Action['artifacts']): unknown => ({
    part,
    version,
    name,
    artifacts: list.map((a) => ({
      filename: a.filename,
      hashes: { sha1: a.sha1, md5: a.md5, ...(a.omitSha256 ? {} : { sha256: a.sha256 }) },
      size: a.size,
      _links: {
        download: { href: linkUrl(action, a.path) },
        'download-http': { href: linkUrl(action, a.path) },
        md5sum: { href: `${linkUrl(action, a.path)}.MD5SUM` },
        'md5sum-http': { href: `${linkUrl(action, a.path)}.MD5SUM` },
      },
    })),
    // As hawkBit's OpenAPI example: fields the device does not use must be ignored.
    metadata: [{ key: 'aMetadataKey', value: 'Metadata value as defined in software module' }],
  });

  const deploymentOf = (action: Action): Record<string, unknown> => ({
    download: action.download,
    // DdiRootController.calculateUpdateType: `skip` while a maintenance window is unavailable.
    update: action.maintenanceWindow === 'unavailable' ? 'skip' : action.update,
    ...(action.maintenanceWindow ? { maintenanceWindow: action.maintenanceWindow } : {}),
    chunks: [
      ...action.extraChunks.map((c) => chunkBody(action, c.part, c.name, c.version, c.artifacts)),
      chunkBody(action, action.part, 'firmware', action.version, action.artifacts),
    ],
  });

  const deploymentBody = (action: Action): unknown => ({
    id: action.id,
    deployment: deploymentOf(action),
    actionHistory: { status: 'RUNNING', messages: ['Assignment initiated by user \'TestPrincipal\''] },
  });

  const applyFeedback = (action: Action, body: unknown): void => {
    const status = (body as { status?: { execution?: unknown; result?: { finished?: unknown } } })?.status;
    const execution = status?.execution;
    const finished = status?.result?.finished;
    if (execution === 'closed') action.state = finished === 'failure' ? 'failed' : 'finished';
    else if (execution === 'canceled') action.state = 'canceled';
    // DOWNLOADED closes a download-only action (JpaControllerManagement.handleDownloadedActionStatus).
    else if (execution === 'downloaded' && action.update === 'skip' && action.maintenanceWindow === undefined) action.state = 'finished';
  };

  async function ddi(req: http.IncomingMessage, res: http.ServerResponse, rest: string, log: RecordedRequest): Promise<void> {
    const presigned = artifacts.get(ddiPrefix + rest);
    // A pre-signed artifact URL is its own authorisation (as on a CDN); everything else needs the token.
    if (presigned?.expiresInS !== undefined && (req.method === 'GET' || req.method === 'HEAD')) return serveArtifact(req, res, presigned, log);
    if (!authorized(req)) return send(res, log, 401, { exceptionClass: 'Unauthorized', message: 'bad or missing token' });
    const method = req.method ?? 'GET';
    if (rest === '' && method === 'GET') {
      const text = JSON.stringify(rootBody());
      const etag = `"${sha('sha1', Buffer.from(text)).slice(0, 16)}"`;
      if (req.headers['if-none-match'] === etag) return send(res, log, 304, undefined, { etag });
      return send(res, log, 200, text, { etag, 'content-type': 'application/hal+json' });
    }
    let match = /^\/deploymentBase\/([^/?]+)$/.exec(rest);
    if (match && method === 'GET') {
      const action = actions.get(match[1]);
      if (!action) return send(res, log, 404, { message: 'no such action' });
      if (action.state !== 'open') return send(res, log, 410, { message: 'action no longer active' });
      return send(res, log, 200, JSON.stringify(deploymentBody(action)), { 'content-type': 'application/hal+json' });
    }
    match = /^\/deploymentBase\/([^/?]+)\/feedback$/.exec(rest);
    if (match && method === 'POST') {
      const body = await readJson(req);
      const action = actions.get(match[1]);
      const status = !action ? 404 : action.state === 'open' || action.state === 'canceling' ? 200 : 410;
      record('hawkbit-feedback', log.path, match[1], status, body);
      if (action && status === 200) applyFeedback(action, body);
      return send(res, log, status, status === 200 ? undefined : { message: status === 410 ? 'action no longer active' : 'no such action' });
    }
    match = /^\/confirmationBase\/([^/?]+)$/.exec(rest);
    if (match && method === 'GET') {
      const action = actions.get(match[1]);
      if (!action || action.state !== 'waiting-confirmation') return send(res, log, 404, { message: 'no confirmation pending' });
      // DdiConfirmationBaseAction: the deployment under `confirmation`.
      const body = { id: action.id, confirmation: deploymentOf(action), actionHistory: { status: 'WAIT_FOR_CONFIRMATION', messages: ['Waiting for the confirmation by the device before processing with the deployment'] } };
      return send(res, log, 200, JSON.stringify(body), { 'content-type': 'application/hal+json' });
    }
    match = /^\/confirmationBase\/([^/?]+)\/feedback$/.exec(rest);
    if (match && method === 'POST') {
      const body = await readJson(req);
      const action = actions.get(match[1]);
      const status = !action ? 404 : action.state === 'waiting-confirmation' ? 200 : 410;
      record('hawkbit-confirmation-feedback', log.path, match[1], status, body);
      // Confirmed: the action runs (deploymentBase). Denied: hawkBit keeps it waiting.
      if (action && status === 200 && (body as { confirmation?: unknown })?.confirmation === 'confirmed') action.state = 'open';
      return send(res, log, status);
    }
    match = /^\/cancelAction\/([^/?]+)$/.exec(rest);
    if (match && method === 'GET') {
      const action = actions.get(match[1]);
      if (!action || action.state !== 'canceling') return send(res, log, 404, { message: 'no cancel pending' });
      return send(res, log, 200, JSON.stringify({ id: action.id, cancelAction: { stopId: action.id } }), { 'content-type': 'application/hal+json' });
    }
    match = /^\/cancelAction\/([^/?]+)\/feedback$/.exec(rest);
    if (match && method === 'POST') {
      const body = await readJson(req);
      const action = actions.get(match[1]);
      const status = !action ? 404 : action.state === 'canceling' ? 200 : 410;
      record('hawkbit-cancel-feedback', log.path, match[1], status, body);
      if (action && status === 200) {
        const execution = (body as { status?: { execution?: unknown } })?.status?.execution;
        if (execution === 'closed' || execution === 'canceled') action.state = 'canceled';
      }
      return send(res, log, status, status === 200 ? undefined : { message: 'no cancel pending' });
    }
    if (rest === '/configData' && method === 'PUT') {
      const body = await readJson(req);
      record('hawkbit-config-data', log.path, controllerId, 200, body);
      configRequested = false;
      return send(res, log, 200);
    }
    const art = artifacts.get(ddiPrefix + rest);
    if (art && (method === 'GET' || method === 'HEAD')) {
      const redirect = redirectFor(ddiPrefix + rest);
      if (redirect) return send(res, log, redirect.status, 'see Location', { location: redirect.location, 'content-type': 'text/plain' });
      return serveArtifact(req, res, art, log);
    }
    return send(res, log, 404, { message: `no DDI resource ${method} ${rest}` });
  }

  // ---- object store behind a redirect (a CDN / S3 pre-signed URL) ----

  /** The redirect an artifact path answers with, when its action says so. */
  function redirectFor(path: string): { status: number; location: string } | undefined {
    for (const action of actions.values()) {
      const spec = action.redirectArtifact;
      if (!spec || !action.artifacts.some((a) => a.path === path)) continue;
      const objectPath = `/objects${path.slice(ddiPrefix.length)}`;
      if (!artifacts.has(objectPath)) artifacts.set(objectPath, artifacts.get(path)!);
      const expires = now() + (spec.expiresInS ?? 3600);
      const host = spec.host ?? new URL(baseUrl).hostname;
      // An S3-style pre-signed URL: credential scope and a session token make it long.
      let query = `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAXSOTADEVKIT%2F20261203%2Fdevkit%2Fs3%2Faws4_request&X-Amz-Date=20261203T000000Z&X-Amz-Expires=${spec.expiresInS ?? 3600}&X-Amz-SignedHeaders=host&expires=${expires}&sig=${sign(objectPath, expires)}&X-Amz-Security-Token=`;
      const base = `${new URL(baseUrl).protocol}//${host}:${new URL(baseUrl).port}${objectPath}?`;
      const want = spec.locationBytes ?? 1300;
      const token = createHash('sha256').update(objectPath).digest('base64url');
      while (base.length + query.length < want) query += token.slice(0, Math.min(token.length, want - base.length - query.length));
      return { status: spec.status ?? 302, location: base + query };
    }
    return undefined;
  }

  /** GET /objects/...: the pre-signed object, checked like S3 (403 when expired or forged). */
  function serveObject(req: http.IncomingMessage, res: http.ServerResponse, path: string, log: RecordedRequest): void {
    const art = artifacts.get(path);
    if (!art) return send(res, log, 404, 'NoSuchKey', { 'content-type': 'text/plain' });
    const query = new URL(req.url ?? '/', 'http://x').searchParams;
    const expires = Number(query.get('expires'));
    if (!Number.isInteger(expires) || query.get('sig') !== sign(path, expires)) return send(res, log, 403, 'SignatureDoesNotMatch', { 'content-type': 'text/plain' });
    if (now() > expires) return send(res, log, 403, 'Request has expired', { 'content-type': 'text/plain' });
    return serveArtifact(req, res, { ...art, expiresInS: undefined }, log);
  }

  // ---- manifests ----

  async function manifestRoute(req: http.IncomingMessage, res: http.ServerResponse, path: string, log: RecordedRequest): Promise<void> {
    let match = /^\/manifest\/([A-Za-z0-9._-]+)\.json$/.exec(path);
    if (match && req.method === 'GET') {
      const stored = manifests.get(match[1]);
      if (!stored) return send(res, log, 404, { message: 'no manifest' });
      const body = stored.render ? stored.render() : stored.body;
      const etag = stored.render ? manifestEtag(body) : stored.etag;
      if (stored.status === 200 && req.headers['if-none-match'] === etag) return send(res, log, 304, undefined, { etag });
      return send(res, log, stored.status, body, { etag, 'content-type': 'application/json' });
    }
    match = /^\/manifest\/([A-Za-z0-9._-]+)\/report$/.exec(path);
    if (match && req.method === 'POST') {
      const body = await readJson(req);
      record('manifest-report', path, match[1], 204, body);
      return send(res, log, 204);
    }
    return send(res, log, 404, { message: 'no such manifest resource' });
  }

  // ---- artifacts (RFC 9110 §14) ----

  /** Count artifact bytes per action, and cancel an action whose `cancelAfterBytes` is reached. */
  function countArtifactBytes(path: string, bytes: number): void {
    for (const action of actions.values()) {
      if (!action.artifacts.some((a) => a.path === path)) continue;
      action.artifactBytesSent += bytes;
      if (action.cancelAfterBytes !== undefined && action.state === 'open' && action.artifactBytesSent >= action.cancelAfterBytes) action.state = 'canceling';
    }
  }

  function serveArtifact(req: http.IncomingMessage, res: http.ServerResponse, art: Artifact, log: RecordedRequest): void {
    const artifactPath = new URL(req.url ?? '/', 'http://x').pathname;
    res.once('finish', () => countArtifactBytes(artifactPath, log.bytesSent));
    if (art.expiresInS !== undefined) {
      const query = new URL(req.url ?? '/', 'http://x').searchParams;
      const expires = Number(query.get('expires'));
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      // As S3 answers an expired or forged pre-signed URL: 403.
      if (!Number.isInteger(expires) || query.get('sig') !== sign(path, expires)) return send(res, log, 403, 'SignatureDoesNotMatch', { 'content-type': 'text/plain' });
      if (now() > expires) return send(res, log, 403, 'Request has expired', { 'content-type': 'text/plain' });
    }
    const size = art.bytes.length;
    const headers: Record<string, string> = {
      etag: art.etag,
      'accept-ranges': 'bytes',
      'last-modified': LAST_MODIFIED,
      'content-type': 'application/octet-stream',
      'content-disposition': `attachment;filename=${art.filename}`,
      'x-content-type-options': 'nosniff',
    };
    let start = 0;
    let end = size - 1;
    let status = 200;
    const range = req.headers.range;
    const ifRange = req.headers['if-range'];
    // If-Range (RFC 9110 §13.1.5): a validator that does not match means "send me the whole new body".
    const ignoring = range !== undefined && takeFault(log.path, ['ignoreRange']) !== undefined;
    const rangeApplies = !ignoring && range !== undefined && (ifRange === undefined || ifRange === art.etag || ifRange === LAST_MODIFIED);
    if (rangeApplies) {
      const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
      if (m && (m[1] !== '' || m[2] !== '')) {
        if (m[1] === '') {
          // suffix range: the last n bytes
          const n = Number(m[2]);
          if (n === 0) return send(res, log, 416, undefined, { ...headers, 'content-range': `bytes */${size}` });
          start = Math.max(0, size - n);
        } else {
          start = Number(m[1]);
          if (m[2] !== '') end = Math.min(Number(m[2]), size - 1);
          if (m[2] !== '' && Number(m[2]) < start) {
            // invalid byte-range-spec: RFC 9110 §14.1.1 says ignore the Range header
            start = 0;
            end = size - 1;
          } else if (start >= size) {
            return send(res, log, 416, undefined, { ...headers, 'content-range': `bytes */${size}` });
          } else status = 206;
        }
        if (m[1] === '') status = 206;
      }
      // anything else (several ranges, other units, bad syntax): the whole body, 200
    }
    if (status === 206) headers['content-range'] = `bytes ${start}-${end}/${size}`;
    const body = art.bytes.subarray(start, end + 1);
    headers['content-length'] = String(body.length);
    if (req.method === 'HEAD') return send(res, log, status, undefined, headers, true);
    const fault = takeFault(log.path, ['drop', 'truncate']);
    if (fault === undefined) return send(res, log, status, body, headers, true);
    const cut = 'drop' in fault ? fault.drop : (fault as { truncate: number }).truncate;
    log.status = status;
    res.writeHead(status, headers);
    const part = body.subarray(0, Math.min(cut, body.length));
    log.bytesSent = part.length;
    res.write(part, () => {
      const socket = res.socket;
      if (!socket) return;
      if ('drop' in fault) socket.resetAndDestroy?.() ?? socket.destroy();
      else socket.end(); // FIN after fewer bytes than Content-Length: a truncated body
    });
  }

  // ---- plumbing ----

  /** Reads a request's body to its end (an answer sent earlier makes Node close the connection after it). */
  function drained(req: http.IncomingMessage): Promise<void> {
    return new Promise<void>((resolve) => {
      if (req.complete) return resolve();
      req.on('end', resolve);
      req.on('error', () => resolve());
      req.resume();
    });
  }

  function send(
    res: http.ServerResponse,
    log: RecordedRequest,
    status: number,
    body?: unknown,
    headers: Record<string, string> = {},
    lengthSet = false,
  ): void {
    let bytes: Uint8Array | undefined;
    if (body instanceof Uint8Array) bytes = body;
    else if (typeof body === 'string') bytes = Buffer.from(body);
    else if (body !== undefined) {
      bytes = Buffer.from(JSON.stringify(body));
      headers['content-type'] ??= 'application/json';
    }
    if (!lengthSet && status !== 304 && status !== 204) headers['content-length'] = String(bytes?.length ?? 0);
    log.status = status;
    res.writeHead(status, headers);
    if (status === 304 || status === 204 || !bytes) return void res.end();
    log.bytesSent = bytes.length;
    res.end(bytes);
  }

  async function readJson(req: http.IncomingMessage): Promise<unknown> {
    const parts: Buffer[] = [];
    let length = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      length += chunk.length;
      if (length > SERVER_BODY_MAX) throw Object.assign(new Error('request body too large'), { status: 413 });
      parts.push(chunk);
    }
    const text = Buffer.concat(parts).toString('utf8');
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    const log: RecordedRequest = {
      method: req.method ?? '?',
      path: req.url ?? '/',
      status: 0,
      headers: {
        authorization: req.headers.authorization,
        range: req.headers.range,
        ifRange: req.headers['if-range'] as string | undefined,
        ifNoneMatch: req.headers['if-none-match'],
      },
      bytesSent: 0,
    };
    requests.push(log);
    const fault = takeFault(req.url ?? '/', ['status']) as ({ status: number; retryAfterS?: number } & ArmedFault) | undefined;
    if (fault) {
      const headers: Record<string, string> = {};
      if (fault.retryAfterS !== undefined) headers['retry-after'] = String(fault.retryAfterS);
      // The body is read to its end before the answer, so the connection stays usable (see below).
      void drained(req).then(() => send(res, log, fault.status, { message: 'injected fault' }, headers));
      return;
    }
    const handle = async (): Promise<void> => {
      for (const prefix of options.movedPrefixes ?? []) {
        if (path.startsWith(prefix + '/')) {
          // 308: method and body kept; a relative Location (RFC 9110 §10.2.2 allows it). The
          // request's body is read to its end first: answered earlier, Node closes the connection
          // after the answer ("Connection: close") instead of keeping it, as a real server would.
          await drained(req);
          return send(res, log, 308, undefined, { location: (req.url ?? '/').slice(prefix.length) });
        }
      }
      if (path.startsWith('/objects/') && (req.method === 'GET' || req.method === 'HEAD')) return serveObject(req, res, path, log);
      if (path === ddiPrefix || path.startsWith(ddiPrefix + '/')) return ddi(req, res, path.slice(ddiPrefix.length), log);
      if (path.startsWith('/manifest/')) return manifestRoute(req, res, path, log);
      const art = artifacts.get(path);
      if (art && (req.method === 'GET' || req.method === 'HEAD')) return serveArtifact(req, res, art, log);
      return send(res, log, 404, { message: 'not found' });
    };
    handle().catch((error: { status?: number; message?: string }) => {
      if (!res.headersSent) send(res, log, error.status ?? 500, { message: error.message ?? 'error' });
      else res.destroy();
    });
  });

  // perf (issue 15): no idle close timed by the host's clock; the dev kit runs in virtual time.
  server.keepAliveTimeout = 0;
  const tls = acceptTls(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  baseUrl = `${options.scheme ?? 'http'}://${options.advertiseHost ?? options.host ?? '127.0.0.1'}:${address.port}`;

  const manifestUrl = (name = 'device'): string => `${baseUrl}/manifest/${name}.json`;

  return {
    url: baseUrl,
    port: address.port,
    tls,
    hawkbit: {
      rootUrl: baseUrl + ddiPrefix,
      tenant,
      controllerId,
      createDeployment(spec) {
        const id = String(nextAction++);
        const smId = nextSm++;
        const list = [...(spec.extraArtifacts ?? []), { filename: spec.filename ?? 'zephyr.signed.bin', bytes: spec.image }];
        const describe = (sm: number, files: { filename: string; bytes: Uint8Array }[]): Action['artifacts'] =>
          files.map((a) => {
            const path = `${ddiPrefix}/softwaremodules/${sm}/artifacts/${a.filename}`;
            putArtifact(path, a.bytes, spec.expiresInS);
            return { filename: a.filename, path, sha256: sha('sha256', a.bytes), sha1: sha('sha1', a.bytes), md5: sha('md5', a.bytes), size: a.bytes.length, omitSha256: spec.omitSha256 === true };
          });
        const extraChunks = (spec.extraChunks ?? []).map((c) => ({ part: c.part, name: c.name ?? c.part, version: c.version, artifacts: describe(nextSm++, c.artifacts) }));
        const action: Action = {
          id,
          version: spec.version,
          state: spec.confirmationRequired ? 'waiting-confirmation' : 'open',
          part: spec.part ?? 'bApp',
          extraChunks,
          downloadHost: spec.downloadHost,
          redirectArtifact: spec.redirectArtifact,
          filename: spec.filename ?? 'zephyr.signed.bin',
          size: spec.image.length,
          sha256: sha('sha256', spec.image),
          smId,
          download: spec.download ?? 'forced',
          update: spec.update ?? 'forced',
          maintenanceWindow: spec.maintenanceWindow,
          cancelAfterBytes: spec.cancelAfterBytes,
          artifactBytesSent: 0,
          artifacts: list.map((a) => {
            const path = `${ddiPrefix}/softwaremodules/${smId}/artifacts/${a.filename}`;
            putArtifact(path, a.bytes, spec.expiresInS);
            return {
              filename: a.filename,
              path,
              sha256: sha('sha256', a.bytes),
              sha1: sha('sha1', a.bytes),
              md5: sha('md5', a.bytes),
              size: a.bytes.length,
              omitSha256: spec.omitSha256 === true,
            };
          }),
        };
        // A new deployment supersedes an open one, as assigning a new distribution set does.
        for (const other of actions.values()) if (other.state === 'open' || other.state === 'waiting-confirmation') other.state = 'canceled';
        actions.set(id, action);
        return { actionId: id, artifactUrl: artifactUrl(action.artifacts[action.artifacts.length - 1].path) };
      },
      cancel(actionId) {
        const action = actionId === undefined ? currentAction() : actions.get(actionId);
        if (!action || action.state !== 'open') throw new Error(`no open action ${actionId ?? ''}`);
        action.state = 'canceling';
      },
      setMaintenanceWindow(actionId, window) {
        const action = actions.get(actionId);
        if (!action || (action.state !== 'open' && action.state !== 'canceling')) throw new Error(`no active action ${actionId}`);
        action.maintenanceWindow = window;
      },
      action(actionId) {
        const a = actions.get(actionId);
        return a && { id: a.id, version: a.version, state: a.state, filename: a.filename, size: a.size, sha256: a.sha256 };
      },
      requestConfigData() {
        configRequested = true;
      },
      setPollingSleep(sleep) {
        pollingSleep = sleep;
      },
    },
    manifest: {
      urlOf: manifestUrl,
      publish(spec) {
        const name = spec.name ?? 'device';
        const filename = spec.filename ?? `${spec.version}.bin`;
        const path = `/artifacts/${name}/${filename}`;
        putArtifact(path, spec.image, spec.expiresInS);
        const deltaPaths = (spec.deltas ?? []).map((d) => {
          const deltaPath = `/artifacts/${name}/${d.filename ?? `${d.fromVersion}-to-${spec.version}.vcdiff`}`;
          putArtifact(deltaPath, d.bytes, spec.expiresInS);
          return deltaPath;
        });
        const report = spec.reportUrl ?? true;
        const render = (): { full: string; document: Record<string, unknown> } => {
          const full = artifactUrl(path);
          const document: Record<string, unknown> = {
            schema: 1,
            version: spec.version,
            size: spec.image.length,
            sha256: sha('sha256', spec.image),
            url: spec.relativeUrl ? full.slice(baseUrl.length) : full,
          };
          if (spec.hardware) document.hardware = spec.hardware;
          if (spec.securityCounter !== undefined) document.securityCounter = spec.securityCounter;
          if (spec.download) document.download = spec.download;
          if (spec.update) document.update = spec.update;
          if (spec.pollIntervalS !== undefined) document.pollIntervalS = spec.pollIntervalS;
          if (spec.deltas) {
            document.deltas = spec.deltas.map((d, i) => ({ url: artifactUrl(deltaPaths[i]), size: d.bytes.length, sha256: sha('sha256', d.bytes), fromVersion: d.fromVersion, fromImageHash: d.fromImageHash }));
          }
          if (report !== false) document.reportUrl = report === true ? `${baseUrl}/manifest/${name}/report` : report;
          return { full, document };
        };
        const { full, document } = render();
        const body = Buffer.from(JSON.stringify(document));
        // A pre-signed URL is signed again for every GET of the manifest, so a device whose URL
        // expired gets a fresh one by fetching the manifest again (the agent's refreshOffer).
        const renderBody = spec.expiresInS === undefined ? undefined : () => Buffer.from(JSON.stringify(render().document));
        manifests.set(name, { body, status: 200, etag: manifestEtag(body), render: renderBody });
        return { url: manifestUrl(name), artifactUrl: full, document };
      },
      setRaw(name, body, status = 200) {
        const bytes = typeof body === 'string' ? Buffer.from(body) : body;
        manifests.set(name, { body: bytes, status, etag: manifestEtag(bytes) });
      },
      withdraw(name = 'device') {
        manifests.delete(name);
      },
    },
    artifacts: {
      put(path, bytes, opts) {
        putArtifact(path, bytes, opts?.expiresInS);
        return artifactUrl(path);
      },
    },
    clock: {
      now,
      set: (s) => void (clockBase = s - (source ? Math.floor(source()) : 0)),
      advance: (s) => void (clockBase += s),
    },
    reports: (kind) => (kind ? reports.filter((r) => r.kind === kind) : reports.slice()),
    requests: () => requests.slice(),
    misbehave(fault) {
      for (const f of Array.isArray(fault) ? fault : [fault]) faults.push({ ...f, left: f.count ?? 1 });
    },
    pendingFaults: () => faults.length,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
