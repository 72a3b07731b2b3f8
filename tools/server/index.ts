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
 *
 * Split by protocol as src/backend/ is: the shared core (clock, artifacts, faults, recording,
 * plumbing) in core.ts, hawkBit DDI in hawkbit.ts, static manifests in manifest.ts, IoTConnect
 * (discovery, identity, the MQTT broker) in iotconnect.ts; this file assembles the HTTP server.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { acceptTls, verifiedClientCn, type TlsAcceptor, type TlsTapFactory } from '../node/test-pki.js';
import { createServerCore, type Misbehaviour, type RecordedReport, type RecordedRequest, type ReportKind } from './core.js';
import { createHawkbitDdi, type HawkbitApi } from './hawkbit.js';
import { createManifestService, type ManifestApi } from './manifest.js';

export { SERVER_BODY_MAX, type Handling, type Misbehaviour, type RecordedReport, type RecordedRequest, type ReportKind } from './core.js';
export type { ActionInfo, ActionState, DeploymentSpec, HawkbitApi } from './hawkbit.js';
export type { ManifestApi, PublishSpec } from './manifest.js';

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
   * TLS (test CA certificate, tools/node/test-pki.ts) and plain HTTP either way. Default 'http'.
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
  /** hawkBit DDI wants a client certificate from this CA for every request but a download (HawkbitOptions). */
  clientCertificates?: { caPem: string };
  /**
   * Every TLS connection runs through this tap (tools/node/test-pki.ts `TlsTapFactory`): the dev
   * kit counts the records and the plaintext of TLS terminated in the agent, so its modem's waits
   * end on counts (tools/devkit/parts/mqtt-tls-tap.ts `serverTlsTap`).
   */
  tlsTap?: TlsTapFactory;
}

export interface ReferenceServer {
  url: string;
  port: number;
  hawkbit: HawkbitApi;
  manifest: ManifestApi;
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
  const core = createServerCore(options);
  const { artifacts, requests, faults, takeFault, send, drained, serveArtifact } = core;
  const hawkbit = createHawkbitDdi(core, options);
  const manifest = createManifestService(core);

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
        connection: req.headers.connection,
      },
      bytesSent: 0,
    };
    // Certificate authentication (clientCertificates): the CN the TLS layer verified.
    const cn = verifiedClientCn(req.socket);
    if (cn !== undefined) log.clientCertificateCn = cn;
    requests.push(log);
    const fault = takeFault(req.url ?? '/', ['status']) as ({ status: number; retryAfterS?: number } & { left: number }) | undefined;
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
      if (path.startsWith('/redirects/') && (req.method === 'GET' || req.method === 'HEAD')) return hawkbit.serveRedirect(req, res, path, log);
      if (path.startsWith('/objects/') && (req.method === 'GET' || req.method === 'HEAD')) return hawkbit.serveObject(req, res, path, log);
      if (path === hawkbit.prefix || path.startsWith(hawkbit.prefix + '/')) return hawkbit.route(req, res, path.slice(hawkbit.prefix.length), log);
      if (path.startsWith('/manifest/')) return manifest.route(req, res, path, log);
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
  const tls = acceptTls(server, { clientCa: options.clientCertificates?.caPem, tap: options.tlsTap });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  core.baseUrl = `${options.scheme ?? 'http'}://${options.advertiseHost ?? options.host ?? '127.0.0.1'}:${address.port}`;

  return {
    url: core.baseUrl,
    port: address.port,
    tls,
    hawkbit: hawkbit.api,
    manifest: manifest.api,
    artifacts: {
      put(path, bytes, opts) {
        core.putArtifact(path, bytes, opts?.expiresInS);
        return core.artifactUrl(path);
      },
    },
    clock: core.clock,
    reports: (kind?: ReportKind): RecordedReport[] => (kind ? core.reports.filter((r) => r.kind === kind) : core.reports.slice()),
    requests: (): RecordedRequest[] => requests.slice(),
    misbehave(fault: Misbehaviour | Misbehaviour[]) {
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
