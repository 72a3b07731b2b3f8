/**
 * The reference server's static manifests: {url}/manifest/{name}.json with ETag/304 (a document
 * naming a pre-signed artifact is signed again at every GET), reports POSTed to
 * {url}/manifest/{name}/report, hostile documents on request. Built on the shared core
 * (tools/server/core.ts); tools/server/index.ts routes to it.
 */
import type http from 'node:http';
import { sha, type Handling, type RecordedRequest, type ServerCore } from './core.js';

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

export interface ManifestApi {
  urlOf(name?: string): string;
  publish(spec: PublishSpec): { url: string; artifactUrl: string; document: Record<string, unknown> };
  setRaw(name: string, body: string | Uint8Array, status?: number): void;
  withdraw(name?: string): void;
}

export interface ManifestService {
  /** A request under /manifest/. */
  route(req: http.IncomingMessage, res: http.ServerResponse, path: string, log: RecordedRequest): Promise<void>;
  api: ManifestApi;
}

export function createManifestService(core: ServerCore): ManifestService {
  const { putArtifact, artifactUrl, record, send, readJson } = core;
  /**
   * Published manifests. `render` (a manifest naming a pre-signed artifact URL) builds the document
   * at every GET, as a manifest service that signs the URL per request does: the document then
   * changes whenever the signature does, and so does its ETag. Fixed documents keep one body.
   */
  const manifests = new Map<string, { body: Uint8Array; status: number; etag: string; render?: () => Uint8Array }>();
  const manifestEtag = (bytes: Uint8Array): string => `"${sha('sha1', bytes).slice(0, 16)}"`;
  const manifestUrl = (name = 'device'): string => `${core.baseUrl}/manifest/${name}.json`;

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

  const api: ManifestApi = {
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
          url: spec.relativeUrl ? full.slice(core.baseUrl.length) : full,
        };
        if (spec.hardware) document.hardware = spec.hardware;
        if (spec.securityCounter !== undefined) document.securityCounter = spec.securityCounter;
        if (spec.download) document.download = spec.download;
        if (spec.update) document.update = spec.update;
        if (spec.pollIntervalS !== undefined) document.pollIntervalS = spec.pollIntervalS;
        if (spec.deltas) {
          document.deltas = spec.deltas.map((d, i) => ({ url: artifactUrl(deltaPaths[i]), size: d.bytes.length, sha256: sha('sha256', d.bytes), fromVersion: d.fromVersion, fromImageHash: d.fromImageHash }));
        }
        if (report !== false) document.reportUrl = report === true ? `${core.baseUrl}/manifest/${name}/report` : report;
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
  };

  return { route: manifestRoute, api };
}
