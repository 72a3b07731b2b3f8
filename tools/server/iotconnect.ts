/**
 * IoTConnect 2.1 test double (facts: ../shared/reference/backend-apis.md §3b):
 * - the discovery and identity HTTP endpoints (node:http on loopback), answering with the shapes
 *   of IoTConnect's docs and iotc-c-lib's test fixture [IOTC-disc-doc][IOTC-id-doc][IOTC-t];
 * - the cloud on a real MQTT broker (tools/node/mosquitto.ts): it publishes OTA commands (ct 1)
 *   to a device's c2d topic, answers a device's `{"mt":205}` on its di topic with the pending
 *   command (fresh pre-signed URLs each time), and records the device's acknowledgements;
 * - the firmware files behind those URLs, with an expiry (`Expires`, a signature) and Range.
 *
 * The cloud side is this project's own MQTT client (src/net/mqtt) over a Node socket to the
 * broker's plain loopback listener: no npm MQTT package is installed.
 *
 * Topic layout follows the AWS flavour of the identity example [IOTC-t], with client id
 * `{cpid}-{duid}`; `aclLines()` gives mosquitto an ACL that lets a device only reach its own
 * topics, so a device using any other topic than identity's fails the test.
 */
import { createHmac } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { MqttClient } from '../../src/net/mqtt/client.js';
import { utf8Decode, utf8Encode } from '../../src/util/bytes.js';
import type { CloudWork } from '../node/cloud-work.js';
import { makeTestPki, startBroker, type Broker } from '../node/mosquitto.js';
import { connectNode } from '../node/node-byte-stream.js';
import { realClock } from '../node/real-clock.js';
import { acceptTls } from '../node/test-pki.js';

export interface DeviceEntry {
  duid: string;
  clientId: string;
  topics: { rpt: string; ack: string; di: string; c2d: string; hb: string };
}

export interface OtaFile {
  fileName: string;
  /** Device tag (gateway/child), when the command targets one. */
  tg?: string;
}

export interface PendingOta {
  ack: string;
  sw: string;
  hw?: string;
  files: OtaFile[];
  /** How many times it was published (each with fresh URLs). */
  published: number;
}

export interface RecordedAck {
  ack: string;
  type: number;
  st: number;
  msg?: string;
  dt?: string;
  raw: string;
}

export interface IotConnectFaults {
  /** Discovery answers this HTTP status (e.g. 503). */
  discoveryStatus?: number;
  /** Discovery answers HTTP 200 with this top-level `status` and `message` (the real service's "Incorrect environment" answer). */
  discoveryBodyStatus?: { status: number; message: string };
  /** Discovery answers this `ec` (1 invalid CPID, 2 company not found, 3 subscription expired). */
  discoveryEc?: number;
  /** Identity answers this `ec` (1 device not found, …). */
  identityEc?: number;
  /** Identity answers this body instead (hostile server tests). */
  identityBody?: string;
  /** Do not answer mt 205 (the device must give up after its wait). */
  ignore205?: boolean;
  /**
   * Answer each mt 205 with this many copies of the command (default 1): what a QoS 1
   * re-delivery or the 205 answer crossing a live push looks like to the device.
   */
  copiesPer205?: number;
}

export interface IotConnectDoubleOptions {
  broker: Broker;
  cpid: string;
  env: string;
  /** Name the devices are told for the broker (must match its certificate): default 'localhost'. */
  mqttHost?: string;
  /** Pre-signed URL lifetime, seconds. Default 3600 (IoTConnect's is not documented). */
  urlLifetimeS?: number;
  /** Seconds since 1970, for URL expiry: default the wall clock. A test may move it on. */
  now?: () => number;
  /**
   * Where a command's file URLs point: by default this double's own pre-signed URLs; the dev kit
   * gives the reference server's expiring artifact URLs (`artifacts.put` with `expiresInS`).
   * Called for every publication, so each command carries freshly signed URLs.
   */
  fileUrl?: (fileName: string) => string;
  /**
   * The dev kit's count of what this cloud still owes a device (tools/node/cloud-work.ts): every
   * device message taken, every answer owed before it is published.
   */
  work?: CloudWork;
  /** Scheme of the discovery, identity and file URLs handed out. The port speaks TLS (test CA
   * certificate, tools/node/test-pki.ts) and plain HTTP either way. Default 'http'. */
  scheme?: 'http' | 'https';
}

export class IotConnectDouble {
  readonly cpid: string;
  readonly env: string;
  readonly broker: Broker;
  readonly faults: IotConnectFaults = {};
  /** Paths of HTTP requests with their queries (discovery's `?pf=`), in order. */
  readonly requests: string[] = [];
  /** Every MQTT message the devices sent on d2c topics: topic and text. */
  readonly d2c: { topic: string; text: string }[] = [];
  urlLifetimeS: number;
  now: () => number;
  #server: http.Server;
  #port = 0;
  #cg = 'b892c353-0ad2-4fb1-9b4f-a1e9e0f0c0de';
  #devices = new Map<string, DeviceEntry>();
  #pending = new Map<string, PendingOta>();
  #acks = new Map<string, RecordedAck[]>();
  #files = new Map<string, Uint8Array>();
  #cloud: MqttClient | undefined;
  #secret = 'iotconnect-double-signing-key';
  #waiters: (() => void)[] = [];
  #mqttHost: string;
  #fileUrl: ((fileName: string) => string) | undefined;
  readonly #work: CloudWork | undefined;
  #scheme: 'http' | 'https';

  private constructor(options: IotConnectDoubleOptions) {
    this.cpid = options.cpid;
    this.env = options.env;
    this.broker = options.broker;
    this.urlLifetimeS = options.urlLifetimeS ?? 3600;
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
    this.#mqttHost = options.mqttHost ?? 'localhost';
    this.#fileUrl = options.fileUrl;
    this.#work = options.work;
    this.#scheme = options.scheme ?? 'http';
    this.#server = http.createServer((req, res) => this.#http(req, res));
    acceptTls(this.#server);
  }

  /** This double's root URL. */
  get #root(): string {
    return `${this.#scheme}://127.0.0.1:${this.#port}`;
  }

  /** The ACL lines for the broker's TLS listener: each device only its own topics (by client id). */
  static aclLines(dir: string): string[] {
    const file = path.join(dir, 'iotconnect.acl');
    writeFileSync(file, ['pattern read iot/%c/cmd', 'pattern write $aws/rules/+/%c/2.1/+', ''].join('\n'), { mode: 0o644 });
    // mosquitto started as root reads its files as the `mosquitto` user.
    chmodSync(dir, 0o755);
    return [`acl_file ${file}`];
  }

  static async start(options: IotConnectDoubleOptions): Promise<IotConnectDouble> {
    const double = new IotConnectDouble(options);
    await new Promise<void>((resolve) => double.#server.listen(0, '127.0.0.1', resolve));
    double.#port = (double.#server.address() as { port: number }).port;
    const stream = await connectNode({ host: options.broker.host, port: options.broker.plainPort, tls: false });
    double.#cloud = await MqttClient.connect({
      stream,
      clock: realClock(),
      clientId: 'iotconnect-double-cloud',
      keepAliveS: 60,
      onMessage: (m) => double.#onD2c(m.topic, utf8Decode(m.payload)),
    });
    await double.#cloud.subscribe([{ filter: '$aws/rules/+/+/2.1/+', qos: 1 }]);
    return double;
  }

  /** Discovery server root to configure on the device (`discoveryUrl`). */
  get discoveryUrl(): string {
    return this.#root;
  }

  /** Register a device (its certificate's CN should be its duid). */
  addDevice(duid: string): DeviceEntry {
    const clientId = `${this.cpid}-${duid}`;
    const entry: DeviceEntry = {
      duid,
      clientId,
      topics: {
        rpt: `$aws/rules/msg_d2c_rpt/${clientId}/2.1/0`,
        ack: `$aws/rules/msg_d2c_ack/${clientId}/2.1/6`,
        di: `$aws/rules/msg_d2c_di/${clientId}/2.1/1`,
        hb: `$aws/rules/msg_d2c_hb/${clientId}/2.1/2`,
        c2d: `iot/${clientId}/cmd`,
      },
    };
    this.#devices.set(duid, entry);
    return entry;
  }

  /** Serve a firmware file at pre-signed URLs. */
  addFile(fileName: string, bytes: Uint8Array): void {
    this.#files.set(fileName, bytes);
  }

  /**
   * Make an OTA pending for a device (answered to its next mt 205) and, with `push`, publish it
   * now as the portal does when the operator starts the OTA.
   */
  async startOta(duid: string, ota: { ack: string; sw: string; hw?: string; files: OtaFile[] }, push = false): Promise<PendingOta> {
    const pending: PendingOta = { ...ota, published: 0 };
    this.#pending.set(duid, pending);
    if (push) await this.publishOta(duid);
    return pending;
  }

  /** Publish the device's pending OTA command (QoS 1) with freshly signed URLs; `times` copies. */
  async publishOta(duid: string, times = 1): Promise<string> {
    const pending = this.#pending.get(duid);
    if (!pending) throw new Error(`no OTA pending for ${duid}`);
    const text = this.commandText(pending);
    for (let i = 0; i < times; i++) await this.publishRaw(duid, text);
    return text;
  }

  /** The command JSON as IoTConnect sends it [IOTC-C2D] ("v" as a string, as iotc-c-lib requires). */
  commandText(pending: PendingOta): string {
    pending.published++;
    const urls = pending.files.map((f) => ({ url: this.#fileUrl ? this.#fileUrl(f.fileName) : this.signedUrl(f.fileName), fileName: f.fileName, ...(f.tg ? { tg: f.tg } : {}) }));
    return JSON.stringify({ v: '2.1', ct: 1, cmd: 'ota', ack: pending.ack, sw: pending.sw, hw: pending.hw, urls });
  }

  /** Publish any text on the device's c2d topic (hostile-command tests). */
  async publishRaw(duid: string, text: string): Promise<void> {
    await this.#cloud!.publish(this.#device(duid).topics.c2d, utf8Encode(text), { qos: 1 });
  }

  /** A pre-signed URL for a file: expires `urlLifetimeS` from now. */
  signedUrl(fileName: string): string {
    const expires = this.now() + this.urlLifetimeS;
    const signature = createHmac('sha256', this.#secret).update(`${fileName}:${expires}`).digest('hex').slice(0, 32);
    return `${this.#root}/ota/${encodeURIComponent(fileName)}?Expires=${expires}&Signature=${signature}`;
  }

  /** Drop the device's pending OTA (the operator cancelled it in the portal). */
  cancelOta(duid: string): void {
    this.#pending.delete(duid);
  }

  pending(duid: string): PendingOta | undefined {
    return this.#pending.get(duid);
  }

  acks(duid: string): RecordedAck[] {
    return this.#acks.get(this.#device(duid).clientId) ?? [];
  }

  /** Messages the device sent on its di topic. */
  di(duid: string): string[] {
    const topic = this.#device(duid).topics.di;
    return this.d2c.filter((m) => m.topic === topic).map((m) => m.text);
  }

  /** Resolves once `check()` holds (checked after each d2c message), or rejects after `ms`. */
  until(check: () => boolean, ms = 10_000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('IoTConnect double: condition not met in time')), ms);
      const waiter = (): void => {
        if (!check()) return;
        clearTimeout(timer);
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve();
      };
      this.#waiters.push(waiter);
    });
  }

  async close(): Promise<void> {
    await this.#cloud?.disconnect();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #device(duid: string): DeviceEntry {
    const d = this.#devices.get(duid);
    if (!d) throw new Error(`unknown device ${duid}`);
    return d;
  }

  #onD2c(topic: string, text: string): void {
    this.d2c.push({ topic, text });
    let answers = 0;
    const m = /^\$aws\/rules\/msg_d2c_(\w+)\/(.+)\/2\.1\/\d+$/.exec(topic);
    const device = m ? [...this.#devices.values()].find((d) => d.clientId === m[2]) : undefined;
    if (m && device) {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined; // recorded in d2c as sent; a test inspects it there
      }
      if (m[1] === 'di' && (json as { mt?: unknown } | undefined)?.mt === 205 && !this.faults.ignore205 && this.#pending.has(device.duid)) {
        // Pending-OTA request [IOTC-DI]: re-issue the pending command with fresh URLs. Owed
        // before it is sent, so the dev kit's virtual time waits for it (tools/node/cloud-work.ts).
        answers = this.faults.copiesPer205 ?? 1;
        void this.publishOta(device.duid, answers);
      }
      if (m[1] === 'ack') {
        const d = (json as { d?: Record<string, unknown> } | undefined)?.d ?? {};
        const ack: RecordedAck = {
          ack: String(d.ack),
          type: Number(d.type),
          st: Number(d.st),
          msg: typeof d.msg === 'string' ? d.msg : undefined,
          dt: (json as { dt?: string }).dt,
          raw: text,
        };
        const list = this.#acks.get(device.clientId) ?? [];
        list.push(ack);
        this.#acks.set(device.clientId, list);
        // The portal closes the OTA on a final status (3 running, 1 or 4 failed) [IOTC-h].
        const pending = this.#pending.get(device.duid);
        if (pending && pending.ack === ack.ack && ack.st !== 2) this.#pending.delete(device.duid);
      }
    }
    this.#work?.took(answers);
    for (const w of [...this.#waiters]) w();
  }

  #json(res: http.ServerResponse, status: number, body: unknown): void {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  #http(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    this.requests.push(url.pathname + url.search);
    let m: RegExpExecArray | null;
    if ((m = /^\/api\/v2\.1\/dsdk\/cpId\/([^/]+)\/env\/([^/]+)$/.exec(url.pathname))) {
      if (this.faults.discoveryStatus) return this.#json(res, this.faults.discoveryStatus, { message: 'fault' });
      const ok = decodeURIComponent(m[1]) === this.cpid && decodeURIComponent(m[2]) === this.env;
      const ec = this.faults.discoveryEc ?? (ok ? 0 : 1);
      return this.#json(res, 200, {
        d: { ec, bu: ec === 0 ? `${this.#root}/api/2.1/agent/device-identity/cg/${this.#cg}` : '', 'log:mqtt': { hn: '', un: '', pwd: '', topic: '' }, pf: 'aws' },
        status: this.faults.discoveryBodyStatus?.status ?? 200,
        message: this.faults.discoveryBodyStatus?.message ?? (ec === 0 ? 'Success' : 'Failed'),
      });
    }
    if ((m = /^\/api\/2\.1\/agent\/device-identity\/cg\/([^/]+)\/uid\/([^/]+)$/.exec(url.pathname))) {
      if (this.faults.identityBody !== undefined) return this.#json(res, 200, this.faults.identityBody);
      const device = m[1] === this.#cg ? this.#devices.get(decodeURIComponent(m[2])) : undefined;
      const ec = this.faults.identityEc ?? (device ? 0 : 1);
      if (!device || ec !== 0) return this.#json(res, 200, { d: { ec, ct: 200 }, status: 200, message: 'Device not found' });
      const pending = this.#pending.get(device.duid);
      return this.#json(res, 200, {
        d: {
          ec: 0,
          ct: 200,
          meta: { at: 3, df: 60, cd: 'XG4E2CA', gtw: null, edge: 0, pf: 0, hwv: '', swv: '', v: 2.1 },
          has: { d: 0, attr: 0, set: 0, r: 0, ota: pending ? 1 : 0 },
          p: { n: 'mqtt', h: this.#mqttHost, p: this.broker.tlsPort, id: device.clientId, un: '', topics: device.topics },
          dt: new Date().toISOString(),
        },
        status: 200,
        message: 'Device info loaded successfully.',
      });
    }
    if ((m = /^\/ota\/([^/]+)$/.exec(url.pathname))) return this.#file(decodeURIComponent(m[1]), url, req, res);
    this.#json(res, 404, { message: 'not found' });
  }

  /** A pre-signed S3-like GET: 403 once expired or with a bad signature; Range per RFC 7233. */
  #file(fileName: string, url: URL, req: http.IncomingMessage, res: http.ServerResponse): void {
    const bytes = this.#files.get(fileName);
    const expires = Number(url.searchParams.get('Expires'));
    const signature = createHmac('sha256', this.#secret).update(`${fileName}:${expires}`).digest('hex').slice(0, 32);
    if (!bytes) return this.#json(res, 404, { message: 'NoSuchKey' });
    if (url.searchParams.get('Signature') !== signature || !(expires >= this.now())) {
      res.writeHead(403, { 'content-type': 'application/xml' });
      res.end('<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>');
      return;
    }
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (range) {
      const start = Number(range[1]);
      const end = range[2] ? Math.min(Number(range[2]), bytes.length - 1) : bytes.length - 1;
      if (start >= bytes.length) {
        res.writeHead(416, { 'content-range': `bytes */${bytes.length}` });
        res.end();
        return;
      }
      res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${bytes.length}`, 'content-length': end - start + 1, 'accept-ranges': 'bytes' });
      res.end(Buffer.from(bytes.subarray(start, end + 1)));
      return;
    }
    res.writeHead(200, { 'content-length': bytes.length, 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' });
    res.end(Buffer.from(bytes));
  }
}

/** Everything `xs-ota sim --backend iotconnect` needs, started together. */
export interface IotConnectSim {
  broker: Broker;
  double: IotConnectDouble;
  device: DeviceEntry;
  /** The device's TLS material: the test CA (to check the broker), its certificate and key (CN = duid). */
  tls: { caPem: string; certPem: string; keyPem: string };
  /** Agent settings: discovery root, CPID, environment, DUID. */
  settings: { discoveryUrl: string; cpid: string; env: string; duid: string };
  stop(): Promise<void>;
}

/**
 * Start a test PKI, mosquitto (TLS listener with client certificates and the device ACL) and the
 * IoTConnect double, with one device registered. Throws when mosquitto is not installed
 * (`mosquittoMissing()` says why).
 */
export async function startIotConnectSim(
  options: { cpid?: string; env?: string; duid?: string; fileUrl?: (fileName: string) => string; now?: () => number; scheme?: 'http' | 'https'; work?: CloudWork } = {},
): Promise<IotConnectSim> {
  const cpid = options.cpid ?? 'XSOTA';
  const env = options.env ?? 'sim';
  const duid = options.duid ?? 'xs-ota-devkit-1';
  const pki = makeTestPki();
  const aclDir = mkdtempSync(path.join(os.tmpdir(), 'xs-ota-acl-'));
  const broker = await startBroker({ pki, tlsListenerExtra: IotConnectDouble.aclLines(aclDir) });
  const double = await IotConnectDouble.start({ broker, cpid, env, fileUrl: options.fileUrl, now: options.now, scheme: options.scheme, work: options.work });
  const device = double.addDevice(duid);
  const creds = pki.client(duid);
  return {
    broker,
    double,
    device,
    tls: { caPem: pki.caPem, certPem: creds.certPem, keyPem: creds.keyPem },
    settings: { discoveryUrl: double.discoveryUrl, cpid, env, duid },
    async stop() {
      await double.close();
      await broker.stop();
      rmSync(pki.dir, { recursive: true, force: true });
      rmSync(aclDir, { recursive: true, force: true });
    },
  };
}
