/**
 * What every protocol of the reference server shares (tools/server/index.ts assembles it): the
 * server clock, the artifact store with its pre-signed URLs and RFC 9110 range answers, the
 * recorded reports and requests, the armed faults, and the HTTP plumbing. The protocols are built
 * on it apart: hawkBit DDI (hawkbit.ts), static manifests (manifest.ts), IoTConnect (iotconnect.ts).
 */
import { createHash, createHmac } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import type http from 'node:http';

export type Handling = 'skip' | 'attempt' | 'forced';

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
  headers: { authorization?: string; range?: string; ifRange?: string; ifNoneMatch?: string; connection?: string };
  /** Body bytes actually written. */
  bytesSent: number;
  /** CN of the TLS client certificate the request came with (verified against clientCertificates.caPem). */
  clientCertificateCn?: string;
}

/** A fault for the next matching requests. `path` is a substring of the request path (default: any). */
export type Misbehaviour =
  | { status: number; count?: number; retryAfterS?: number; path?: string }
  | { drop: number; count?: number; path?: string }
  | { truncate: number; count?: number; path?: string }
  /** Answer a ranged artifact GET with 200 and the whole body (a CDN that ignores Range). */
  | { ignoreRange: true; count?: number; path?: string };

/** Cap on a request body the server accepts (feedback, reports), bytes: larger → 413. */
export const SERVER_BODY_MAX = 64 * 1024;
export const LAST_MODIFIED = 'Tue, 01 Sep 2026 00:00:00 GMT';
const SIGNING_KEY = 'xs-ota reference server';

export interface Artifact {
  bytes: Uint8Array;
  etag: string;
  filename: string;
  expiresInS?: number;
}

export type ArmedFault = Misbehaviour & { left: number };

export function sha(algorithm: string, bytes: Uint8Array): string {
  return createHash(algorithm).update(bytes).digest('hex');
}

export interface ServerCoreOptions {
  /** Server clock at start, seconds since 1970 (default 1_790_000_000). */
  clockS?: number;
  /** Drive the server clock from elsewhere: seconds since 1970; `clock.set`/`advance` add an offset. */
  clockSource?: () => number;
  /** Append every recorded report to this file as one JSON line. */
  reportFile?: string;
}

/** The shared parts, as closures (a protocol destructures what it uses). */
export interface ServerCore {
  /** `scheme://host:port` of the URLs the server hands out; set once it listens. */
  baseUrl: string;
  now(): number;
  clock: { now(): number; set(seconds: number): void; advance(seconds: number): void };
  artifacts: Map<string, Artifact>;
  putArtifact(path: string, bytes: Uint8Array, expiresInS?: number): void;
  /** The URL of a stored artifact, pre-signed from now when it expires. */
  artifactUrl(path: string): string;
  sign(path: string, expires: number): string;
  /** Records a report; its `seq`. */
  record(kind: ReportKind, path: string, id: string, status: number, body: unknown): number;
  reports: RecordedReport[];
  requests: RecordedRequest[];
  faults: ArmedFault[];
  takeFault(path: string, kinds: ('status' | 'drop' | 'truncate' | 'ignoreRange')[]): ArmedFault | undefined;
  /** Told (artifact path, body bytes written) after every artifact answer (hawkBit's cancelAfterBytes). */
  onArtifactBytes(listener: (path: string, bytes: number) => void): void;
  serveArtifact(req: http.IncomingMessage, res: http.ServerResponse, art: Artifact, log: RecordedRequest): void;
  send(res: http.ServerResponse, log: RecordedRequest, status: number, body?: unknown, headers?: Record<string, string>, lengthSet?: boolean): void;
  readJson(req: http.IncomingMessage): Promise<unknown>;
  /** Reads a request's body to its end (an answer sent earlier makes Node close the connection after it). */
  drained(req: http.IncomingMessage): Promise<void>;
}

export function createServerCore(options: ServerCoreOptions = {}): ServerCore {
  let clockBase = options.clockS ?? 1_790_000_000;
  const source = options.clockSource;
  const now = (): number => (source ? Math.floor(source()) : 0) + clockBase;
  const artifacts = new Map<string, Artifact>();
  const reports: RecordedReport[] = [];
  const requests: RecordedRequest[] = [];
  const faults: ArmedFault[] = [];
  const artifactBytes: ((path: string, bytes: number) => void)[] = [];

  const sign = (path: string, expires: number): string => createHmac('sha256', SIGNING_KEY).update(`${path}?${expires}`).digest('hex').slice(0, 32);
  const artifactUrl = (path: string): string => {
    const artifact = artifacts.get(path)!;
    if (artifact.expiresInS === undefined) return core.baseUrl + path;
    const expires = now() + artifact.expiresInS;
    return `${core.baseUrl}${path}?expires=${expires}&sig=${sign(path, expires)}`;
  };
  const putArtifact = (path: string, bytes: Uint8Array, expiresInS?: number): void => {
    const copy = new Uint8Array(bytes);
    // hawkBit sends ETag "<sha1>" for artifacts (FileStreamingUtil).
    artifacts.set(path, { bytes: copy, etag: `"${sha('sha1', copy)}"`, filename: path.slice(path.lastIndexOf('/') + 1), expiresInS });
  };

  const record = (kind: ReportKind, path: string, id: string, status: number, body: unknown): number => {
    const entry: RecordedReport = { seq: reports.length + 1, at: now(), kind, path, id, status, body };
    reports.push(entry);
    if (options.reportFile) appendFileSync(options.reportFile, JSON.stringify(entry) + '\n');
    return entry.seq;
  };

  const takeFault = (path: string, kinds: ('status' | 'drop' | 'truncate' | 'ignoreRange')[]): ArmedFault | undefined => {
    const index = faults.findIndex((f) => kinds.some((k) => k in f) && (f.path === undefined || path.includes(f.path)));
    if (index < 0) return undefined;
    const fault = faults[index];
    if (--fault.left <= 0) faults.splice(index, 1);
    return fault;
  };

  function serveArtifact(req: http.IncomingMessage, res: http.ServerResponse, art: Artifact, log: RecordedRequest): void {
    const artifactPath = new URL(req.url ?? '/', 'http://x').pathname;
    res.once('finish', () => {
      for (const listener of artifactBytes) listener(artifactPath, log.bytesSent);
    });
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

  const core: ServerCore = {
    baseUrl: '',
    now,
    clock: {
      now,
      set: (s) => void (clockBase = s - (source ? Math.floor(source()) : 0)),
      advance: (s) => void (clockBase += s),
    },
    artifacts,
    putArtifact,
    artifactUrl,
    sign,
    record,
    reports,
    requests,
    faults,
    takeFault,
    onArtifactBytes: (listener) => void artifactBytes.push(listener),
    serveArtifact,
    send,
    readJson,
    drained,
  };
  return core;
}
