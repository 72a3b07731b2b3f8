/**
 * The reference server's hawkBit DDI v1 subset, under {url}/{tenant}/controller/v1/{controllerId}:
 * the poll root with ETag/304 and `sleep`, deploymentBase, confirmationBase, cancelAction, their
 * feedback (410 Gone to an action no longer active), configData, DDI artifact downloads (the
 * target's token), pre-signed links, and an object store behind a redirect. Built on the shared
 * core (tools/server/core.ts); tools/server/index.ts routes to it.
 */
import { createHash } from 'node:crypto';
import type http from 'node:http';
import { sha, type Handling, type RecordedRequest, type ServerCore } from './core.js';

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
  /** Leave `size` out of every artifact (DdiArtifact makes it optional). */
  omitSize?: boolean;
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
   * (default 3600) of server clock, then 403 as S3 answers. `hops` (default 1): redirects in the
   * chain, a CDN's edge and region hops (`/redirects/{k}/...` on `host`) before the object store's
   * Location; `loop`: the hops send each other on for ever (`/redirects/loop-a/...` ↔ `loop-b`), a
   * misconfigured CDN.
   */
  redirectArtifact?: { host?: string; status?: 301 | 302 | 303 | 307 | 308; expiresInS?: number; locationBytes?: number; hops?: number; loop?: boolean };
  /**
   * Feedback POSTs to this action are taken (recorded, applied) and answered `303 See Other` to a
   * receipt (`.../feedbackReceipts/{seq}`, GET only: a POST there is 405), as a gateway doing
   * Post/Redirect/Get does: the device must fetch it with GET (RFC 9110 §15.4.4).
   */
  feedbackSeeOther?: boolean;
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

export interface Action extends ActionInfo {
  smId: number;
  cancelAfterBytes?: number;
  artifactBytesSent: number;
  download: Handling;
  update: Handling;
  maintenanceWindow?: 'available' | 'unavailable';
  artifacts: { filename: string; path: string; sha256: string; sha1: string; md5: string; size: number; omitSha256: boolean; omitSize?: boolean }[];
  part: string;
  extraChunks: { part: string; name: string; version: string; artifacts: Action['artifacts'] }[];
  downloadHost?: string;
  redirectArtifact?: DeploymentSpec['redirectArtifact'];
  feedbackSeeOther?: boolean;
}

export interface HawkbitOptions {
  tenant?: string;
  controllerId?: string;
  /** When set, DDI requests need `Authorization: TargetToken <token>`. */
  token?: string;
  /** When set, `Authorization: GatewayToken <gatewayToken>` is accepted too. */
  gatewayToken?: string;
  /** hawkBit `config.polling.sleep` (default '00:05:00'). */
  pollingSleep?: string;
  /**
   * Certificate authentication of the DDI API (hawkBit behind a reverse proxy that checks client
   * certificates): every controller request but an artifact download must come over TLS with a
   * client certificate issued by `caPem` whose CN is the controllerId, else 401. Downloads need
   * none (the modem's TLS carries them, without a client certificate).
   */
  clientCertificates?: { caPem: string };
}

export interface HawkbitApi {
  readonly rootUrl: string;
  tenant: string;
  controllerId: string;
  createDeployment(spec: DeploymentSpec): { actionId: string; artifactUrl: string };
  cancel(actionId?: string): void;
  /** Open or close the action's maintenance window (hawkBit: its maintenance schedule). */
  setMaintenanceWindow(actionId: string, window: 'available' | 'unavailable'): void;
  action(actionId: string): ActionInfo | undefined;
  requestConfigData(): void;
  setPollingSleep(sleep: string): void;
}

export interface HawkbitDdi {
  /** `/{tenant}/controller/v1/{controllerId}`: the paths this protocol answers under. */
  prefix: string;
  /** A request under `prefix`; `rest` is the path after it. */
  route(req: http.IncomingMessage, res: http.ServerResponse, rest: string, log: RecordedRequest): Promise<void>;
  /** GET /redirects/...: the hops of a redirect chain or loop (DeploymentSpec.redirectArtifact). */
  serveRedirect(req: http.IncomingMessage, res: http.ServerResponse, path: string, log: RecordedRequest): void;
  /** GET /objects/...: the object store a redirected artifact points to. */
  serveObject(req: http.IncomingMessage, res: http.ServerResponse, path: string, log: RecordedRequest): void;
  api: HawkbitApi;
}

export function createHawkbitDdi(core: ServerCore, options: HawkbitOptions = {}): HawkbitDdi {
  const { now, artifacts, putArtifact, artifactUrl, record, send, readJson, serveArtifact, sign } = core;
  const tenant = options.tenant ?? 'DEFAULT';
  const controllerId = options.controllerId ?? 'dev42';
  let pollingSleep = options.pollingSleep ?? '00:05:00';
  const ddiPrefix = `/${tenant}/controller/v1/${controllerId}`;
  const actions = new Map<string, Action>();
  let nextAction = 1;
  let nextSm = 20;
  let configRequested = false;

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
    if (action?.state === 'open') links.deploymentBase = { href: `${core.baseUrl}${ddiPrefix}/deploymentBase/${action.id}?c=${changeMarker(action)}` };
    if (action?.state === 'waiting-confirmation') links.confirmationBase = { href: `${core.baseUrl}${ddiPrefix}/confirmationBase/${action.id}?c=${changeMarker(action)}` };
    if (action?.state === 'canceling') links.cancelAction = { href: `${core.baseUrl}${ddiPrefix}/cancelAction/${action.id}` };
    if (configRequested) links.configData = { href: `${core.baseUrl}${ddiPrefix}/configData` };
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
      ...(a.omitSize ? {} : { size: a.size }),
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
    if (options.clientCertificates && !artifacts.has(ddiPrefix + rest) && log.clientCertificateCn !== controllerId) {
      return send(res, log, 401, { exceptionClass: 'Unauthorized', message: `a client certificate for ${controllerId} is required` });
    }
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
      const seq = record('hawkbit-feedback', log.path, match[1], status, body);
      if (action && status === 200) applyFeedback(action, body);
      if (action?.feedbackSeeOther && status === 200) return send(res, log, 303, 'see Location', { location: `${core.baseUrl}${ddiPrefix}/feedbackReceipts/${seq}`, 'content-type': 'text/plain' });
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
    match = /^\/feedbackReceipts\/(\d+)$/.exec(rest);
    if (match) {
      // What a Post/Redirect/Get gateway sends the client to: readable, never a target of the POST.
      if (method !== 'GET') return send(res, log, 405, { message: 'a receipt is read with GET' }, { allow: 'GET' });
      return send(res, log, 200, { receipt: Number(match[1]) });
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

  // The object store behind a redirect (a CDN / S3 pre-signed URL).

  /** The action whose redirecting artifact is at `path`. */
  function redirectingAction(path: string): Action | undefined {
    for (const action of actions.values()) if (action.redirectArtifact && action.artifacts.some((a) => a.path === path)) return action;
    return undefined;
  }

  /** `scheme://host:port` of the redirect hops and the object store (the spec's host). */
  function redirectOrigin(spec: NonNullable<DeploymentSpec['redirectArtifact']>): string {
    const base = new URL(core.baseUrl);
    return `${base.protocol}//${spec.host ?? base.hostname}:${base.port}`;
  }

  /** The pre-signed object-store URL an artifact's chain ends at, signed from now. */
  function objectLocation(path: string, spec: NonNullable<DeploymentSpec['redirectArtifact']>): string {
    const objectPath = `/objects${path.slice(ddiPrefix.length)}`;
    if (!artifacts.has(objectPath)) artifacts.set(objectPath, artifacts.get(path)!);
    const expires = now() + (spec.expiresInS ?? 3600);
    // An S3-style pre-signed URL: credential scope and a session token make it long.
    let query = `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAXSOTADEVKIT%2F20261203%2Fdevkit%2Fs3%2Faws4_request&X-Amz-Date=20261203T000000Z&X-Amz-Expires=${spec.expiresInS ?? 3600}&X-Amz-SignedHeaders=host&expires=${expires}&sig=${sign(objectPath, expires)}&X-Amz-Security-Token=`;
    const base = `${redirectOrigin(spec)}${objectPath}?`;
    const want = spec.locationBytes ?? 1300;
    const token = createHash('sha256').update(objectPath).digest('base64url');
    while (base.length + query.length < want) query += token.slice(0, Math.min(token.length, want - base.length - query.length));
    return base + query;
  }

  /** The Location a hop sends on to: `hops` left in the chain (0: the object store), or the loop's other half. */
  function hopLocation(path: string, spec: NonNullable<DeploymentSpec['redirectArtifact']>, left: number | 'loop-a' | 'loop-b'): string {
    if (left === 0) return objectLocation(path, spec);
    return `${redirectOrigin(spec)}/redirects/${left}${path}`;
  }

  /** The redirect an artifact path answers with, when its action says so. */
  function redirectFor(path: string): { status: number; location: string } | undefined {
    const spec = redirectingAction(path)?.redirectArtifact;
    if (!spec) return undefined;
    return { status: spec.status ?? 302, location: hopLocation(path, spec, spec.loop ? 'loop-a' : (spec.hops ?? 1) - 1) };
  }

  /** GET /redirects/{k|loop-a|loop-b}{artifact path}: one hop of a chain or loop. */
  function serveRedirect(req: http.IncomingMessage, res: http.ServerResponse, path: string, log: RecordedRequest): void {
    const m = /^\/redirects\/(\d+|loop-a|loop-b)(\/.*)$/.exec(path);
    const spec = m ? redirectingAction(m[2])?.redirectArtifact : undefined;
    if (!m || !spec) return send(res, log, 404, 'NoSuchHop', { 'content-type': 'text/plain' });
    const next = m[1] === 'loop-a' ? 'loop-b' : m[1] === 'loop-b' ? 'loop-a' : Number(m[1]) - 1;
    return send(res, log, spec.status ?? 302, 'see Location', { location: hopLocation(m[2], spec, next), 'content-type': 'text/plain' });
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

  /** Count artifact bytes per action, and cancel an action whose `cancelAfterBytes` is reached. */
  function countArtifactBytes(path: string, bytes: number): void {
    for (const action of actions.values()) {
      if (!action.artifacts.some((a) => a.path === path)) continue;
      action.artifactBytesSent += bytes;
      if (action.cancelAfterBytes !== undefined && action.state === 'open' && action.artifactBytesSent >= action.cancelAfterBytes) action.state = 'canceling';
    }
  }

  core.onArtifactBytes(countArtifactBytes);

  const api: HawkbitApi = {
    get rootUrl() {
      return core.baseUrl + ddiPrefix;
    },
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
          return { filename: a.filename, path, sha256: sha('sha256', a.bytes), sha1: sha('sha1', a.bytes), md5: sha('md5', a.bytes), size: a.bytes.length, omitSha256: spec.omitSha256 === true, omitSize: spec.omitSize === true };
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
        feedbackSeeOther: spec.feedbackSeeOther,
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
            omitSize: spec.omitSize === true,
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
  };

  return { prefix: ddiPrefix, route: ddi, serveRedirect, serveObject, api };
}
