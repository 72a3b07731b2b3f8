/**
 * Avnet IoTConnect device protocol 2.1 as an UpdateBackend. Facts and citations:
 * ../shared/reference/backend-apis.md §3b (keys in brackets are that document's).
 *
 *   discovery  GET {discovery}/api/v2.1/dsdk/cpId/{cpid}/env/{env}  → d.bu   [IOTC-dra][IOTC-disc-doc]
 *   identity   GET {bu}/uid/{duid}  → d.p: MQTT host, port, client id, topics  [IOTC-id-doc][IOTC-t]
 *   MQTT (TLS, X.509 client certificate), one short session per call:
 *     poll          subscribe topics.c2d (QoS 1) → publish {"mt":205} on topics.di [IOTC-DI]
 *                   → wait (bounded) for an OTA command (ct 1) on c2d [IOTC-C2D] → disconnect
 *     refreshOffer  the same, for the same ack id (the pre-signed URLs expire [IOTC-h])
 *     report        publish {"d":{"ack","type":1,"st","msg"},"dt"} on topics.ack [IOTC-c][IOTC-py]
 *
 * IoTConnect gives no size or hash for the firmware: integrity comes from the signed MCUboot image
 * alone (the agent verifies it before staging), and a rejected image's acknowledgement says why.
 * Acknowledgement codes for OTA [IOTC-h]: 1 failed / not attempted / rejected, 2 in progress
 * (repeatable, with msg), 3 new firmware running (sent only for the agent's `running` report, i.e.
 * after the new image booted, passed its health check and was confirmed), 4 download / flash /
 * self-test / run failed.
 *
 * The 205 answer and a live push can both carry the same command, and QoS 1 may re-deliver it: a
 * command is taken once per session (by ack id), and an ack id this backend already finished
 * (reported running/failed/reverted/cancelled) is ignored afterwards.
 */
import type { ByteStreamConnector } from '../net/byte-stream.js';
import type { HttpClient } from '../net/http.js';
import { MqttClient, type MqttMessage } from '../net/mqtt/client.js';
import type { ClockPort } from '../platform/clock.js';
import type { LogPort } from '../platform/log.js';
import { utf8Decode, utf8Encode } from '../util/bytes.js';
import { OtaError, describeError, type Reason } from '../util/errors.js';
import type { PollResult, Report, ReportPhase, UpdateBackend, UpdateOffer } from './backend.js';
import { chooseArtifact, matchFilename, type ArtifactCandidate, type ImageExpectation } from './artifact-select.js';
import { deltasFromFiles, isDeltaFile } from '../delta/offer-fields.js';

/** Bounds on what the IoTConnect servers send; beyond them the answer is refused, never grown into. */
export const IOTC_LIMITS = {
  /** Discovery and identity bodies (~1 KB in practice [IOTC-t]). Beyond: `body-too-large`. */
  httpBodyMax: 8192,
  /** Host names (RFC 1035: 253 characters). */
  hostMax: 253,
  /** Client ids, user names, topics: IoTConnect's are well under 200 characters [IOTC-t]. */
  fieldMax: 512,
  /** The ack id is a UUID (36 characters) [IOTC-C2D]; longer is refused. */
  ackIdMax: 64,
  /** Versions (sw, hw) as the operator typed them. */
  versionMax: 64,
  /** Files per OTA command (a .bin plus config files [IOTC-ex]). */
  urlsMax: 8,
  /** One pre-signed URL with its security token: about 1.5 KB on AWS; the journal stores it. */
  urlMax: 3072,
  /** Characters of `msg` in an acknowledgement (the reason and its detail, cut). */
  ackMsgMax: 200,
  /** Ack ids remembered as finished (a ring): older ones can come back as new commands. */
  finishedMax: 16,
} as const;

/** Timing defaults; each can be set per backend. */
export const IOTC_DEFAULTS = {
  /**
   * How long a poll waits for the OTA command after asking with mt 205. Whether the cloud answers
   * "nothing pending" at all is not documented (UNVERIFIED), so a poll with nothing pending takes
   * this long: 15 s of connected modem time per poll interval.
   */
  commandWaitMs: 15_000,
  /** MQTT keep alive; a session lasts seconds, so this only guards a stalled link. */
  keepAliveS: 60,
  /** CONNACK, SUBACK and PUBACK deadline. */
  mqttTimeoutMs: 30_000,
  /**
   * Every report is a TLS handshake and an MQTT session over the modem, so `downloading` progress
   * is sent only when it moved by at least this many percentage points since the last one sent
   * for the deployment (the others resolve without sending). 100 sends only the first.
   */
  progressStepPercent: 25,
} as const;

export interface IotConnectOptions {
  http: HttpClient;
  /** Opens the TLS stream to the broker; the X.509 client certificate is the connector's (modem's). */
  connector: ByteStreamConnector;
  clock: ClockPort;
  log?: LogPort;
  /** Discovery server root, e.g. `https://awsdiscovery.iotconnect.io` [IOTC-dra]. */
  discoveryUrl: string;
  /** Company id (CPID) and environment, from the IoTConnect portal (Settings → Key Vault). */
  cpid: string;
  env: string;
  /** The device's unique id (DUID) in IoTConnect. */
  duid: string;
  /** Take only `urls[]` entries for this device tag (gateway/child devices); default: untagged or any. */
  tag?: string;
  /**
   * `pf` of the discovery request (iotcl_dra_discovery.c: the global discovery host needs
   * `?pf=aws` or `?pf=az`). Default 'aws'; '' leaves it out (a platform-specific discovery host).
   */
  platform?: 'aws' | 'az' | '';
  /** File name pattern of this device's image among `urls[]` (default `*.bin`); see artifact-select.ts. */
  artifactPattern?: string;
  /** What the image must be (slot capacity, load address), to choose among several files. */
  image?: ImageExpectation;
  /**
   * The hardware version this device answers to in a command's `hw` (IoTConnect's template
   * "hardware version", e.g. "1"), compared trimmed and without case. Default undefined: `hw` is
   * not checked (it is not the agent's board name, `hardwareId`); the image header decides.
   */
  hardwareVersion?: string;
  /**
   * st of the final success ack. 3 (default): OTA_DOWNLOAD_DONE, which both SDKs' own OTA samples
   * send once the new image runs (iotc-python-lib C2dAck.OTA_DOWNLOAD_DONE; the iotc-c-lib
   * Zephyr/MCUboot sample after boot_write_img_confirmed) and the portal shows as done. 0:
   * iotc-c-lib's IOTCL_C2D_EVT_OTA_SUCCESS, for an account whose rules expect it.
   */
  successSt?: 0 | 3;
  /**
   * 'kept' (default): one MQTT session stays open between polls (keep-alive pings every
   * `keepAliveS`; a lost one is opened again at the next call), as both SDKs run it, and commands
   * the cloud pushes meanwhile are taken at the next poll. It is closed when a deployment starts
   * (an offer, a report, a refresh): the download and the reboot need the modem's socket.
   * 'per-call': a session per poll and report, closed after it: a duty-cycled device that
   * sleeps its modem between polls.
   */
  session?: 'kept' | 'per-call';
  commandWaitMs?: number;
  keepAliveS?: number;
  mqttTimeoutMs?: number;
  progressStepPercent?: number;
}

/** What identity told us (validated). */
export interface IotConnectIdentity {
  host: string;
  port: number;
  clientId: string;
  username?: string;
  topics: { c2d: string; ack: string; di: string; rpt?: string };
}

/** An OTA command (ct 1) after validation. */
export interface OtaCommand {
  ack: string;
  sw: string;
  hw?: string;
  urls: { url: string; fileName?: string; tg?: string }[];
}

/** OTA acknowledgement status codes [IOTC-h]. */
export const OTA_ST = { failed: 1, inProgress: 2, running: 3, attemptFailed: 4 } as const;

/** Failure reasons that mean the update was not attempted (policy said no): st 1, not 4. */
const NOT_ATTEMPTED: ReadonlySet<Reason> = new Set<Reason>([
  // The command could not be used (no image among urls[], a bad field): nothing was attempted.
  'backend-protocol',
  'downgrade',
  'same-version',
  'incompatible',
  'too-large',
  'security-counter-rollback',
  'unconfirmed-running',
  'cancelled',
  'config-invalid',
]);

/** Discovery `ec` meanings [IOTC-disc-doc][IOTC-dra]. */
const DISCOVERY_EC: Record<number, string> = { 1: 'invalid CPID/SID', 2: 'company not found', 3: 'subscription expired' };
/** Identity `ec` meanings (iotc-c-lib iotcl_dra_identity.c, from IoTConnect's reference table). */
const IDENTITY_EC: Record<number, string> = {
  1: 'device not found',
  2: 'device not active',
  3: 'un-associated (no template)',
  4: 'device not acquired',
  5: 'device disabled',
  6: 'company not found',
  7: 'subscription expired',
  8: 'connection not allowed',
  9: 'invalid bootstrap certificate',
  10: 'invalid operational certificate',
};

// ---------------------------------------------------------------- hostile JSON

function protocol(detail: string): OtaError {
  return new OtaError('backend-protocol', detail);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(obj: Record<string, unknown>, key: string, where: string, max: number, optional = false): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) {
    if (optional) return undefined;
    throw protocol(`${where}.${key} missing`);
  }
  if (typeof v !== 'string') throw protocol(`${where}.${key} is ${typeof v}, not a string`);
  if (v.length === 0 && !optional) throw protocol(`${where}.${key} is empty`);
  if (v.length > max) throw protocol(`${where}.${key} is ${v.length} characters, above ${max}`);
  return v.length === 0 ? undefined : v;
}

function num(obj: Record<string, unknown>, key: string, where: string): number {
  const v = obj[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw protocol(`${where}.${key} is ${v === undefined ? 'missing' : typeof v}, not a number`);
  return v;
}

function parseJson(bytes: Uint8Array, where: string): unknown {
  try {
    return JSON.parse(utf8Decode(bytes));
  } catch (error) {
    throw new OtaError('backend-protocol', `${where}: not JSON (${describeError(error)})`, error);
  }
}

const HOST = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

function checkUrl(url: string, where: string, scheme?: string): string {
  const m = /^(https?):\/\/([^/?#\s]+)([^\s]*)$/.exec(url);
  // As urlField: printable ASCII without `"` and `\` (journal, AT command quoting).
  if (!m || /[^\x21-\x7e]|["\\]/.test(url)) throw protocol(`${where} '${url.slice(0, 80)}' is not an absolute http(s) URL`);
  if (scheme && m[1] !== scheme) throw protocol(`${where} uses ${m[1]}:, the discovery server ${scheme}: (no downgrade)`);
  return url;
}

/** The discovery answer → identity base URL (`d.bu`). */
export function parseDiscovery(json: unknown, scheme: string): string {
  if (!isObject(json)) throw protocol('discovery: not an object');
  // iotcl_dra_discovery.c checks the top-level status first ("Incorrect environment name?").
  if (json.status !== undefined && json.status !== 200) {
    throw new OtaError('backend-rejected', `discovery status ${String(json.status)}${typeof json.message === 'string' ? ` (${json.message.slice(0, 80)})` : ''}`);
  }
  if (!isObject(json.d)) throw protocol('discovery: no "d" object');
  const d = json.d;
  const ec = num(d, 'ec', 'discovery.d');
  if (ec !== 0) throw new OtaError('backend-rejected', `discovery ec ${ec} (${DISCOVERY_EC[ec] ?? 'unknown'})`);
  return checkUrl(str(d, 'bu', 'discovery.d', IOTC_LIMITS.urlMax)!, 'discovery.d.bu', scheme).replace(/\/+$/, '');
}

/** The identity answer → broker and topics. */
export function parseIdentity(json: unknown): IotConnectIdentity {
  if (!isObject(json)) throw protocol('identity: not an object');
  // iotc-c-lib requires the top-level status 200 as well as d.ec 0 [IOTC-dra].
  if (json.status !== undefined && json.status !== 200) throw new OtaError('backend-rejected', `identity status ${String(json.status)}`);
  if (!isObject(json.d)) throw protocol('identity: no "d" object');
  const d = json.d;
  const ec = num(d, 'ec', 'identity.d');
  if (ec !== 0) throw new OtaError('backend-rejected', `identity ec ${ec} (${IDENTITY_EC[ec] ?? 'unknown'})`);
  if (!isObject(d.p)) throw protocol('identity.d.p missing');
  const p = d.p;
  const n = str(p, 'n', 'identity.d.p', 16);
  if (n !== 'mqtt') throw protocol(`identity.d.p.n is '${n}': only MQTT is supported`);
  const host = str(p, 'h', 'identity.d.p', IOTC_LIMITS.hostMax)!;
  if (!HOST.test(host)) throw protocol(`identity.d.p.h '${host}' is not a host name`);
  const port = num(p, 'p', 'identity.d.p');
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw protocol(`identity.d.p.p ${port} is not a port`);
  const clientId = str(p, 'id', 'identity.d.p', IOTC_LIMITS.fieldMax)!;
  // AWS identity answers carry a user name the broker ignores; Azure needs it (iotc-c-lib note).
  const username = str(p, 'un', 'identity.d.p', IOTC_LIMITS.fieldMax, true);
  if (!isObject(p.topics)) throw protocol('identity.d.p.topics missing');
  const t = p.topics;
  const topic = (key: string, optional = false): string | undefined => {
    const v = str(t, key, 'identity.d.p.topics', IOTC_LIMITS.fieldMax, optional);
    if (v !== undefined && (v.indexOf('+') >= 0 || v.indexOf('#') >= 0 || v.indexOf('\u0000') >= 0)) throw protocol(`identity topic ${key} '${v}' has wildcards`);
    return v;
  };
  return { host, port, clientId, username, topics: { c2d: topic('c2d')!, ack: topic('ack')!, di: topic('di')!, rpt: topic('rpt', true) } };
}

/**
 * A c2d message → an OTA command, undefined for other command types, or an error naming what is
 * wrong (with the ack id when it could be read, so the command can be refused by ack).
 */
export function parseC2d(json: unknown): { ct: number; ota?: OtaCommand; ack?: string } {
  if (!isObject(json)) throw protocol('c2d: not an object');
  const ct = num(json, 'ct', 'c2d');
  if (ct !== 1) return { ct };
  const ack = str(json, 'ack', 'c2d', IOTC_LIMITS.ackIdMax)!;
  try {
    // iotc-c-lib rejects a non-string "v"; the docs show a number: accept both, require 2.x.
    if (json.v !== undefined && String(json.v).split('.')[0] !== '2') throw protocol(`c2d.v ${String(json.v)} is not protocol 2.x`);
    str(json, 'cmd', 'c2d', IOTC_LIMITS.fieldMax, true); // template-configurable text [IOTC-ex]
    const sw = str(json, 'sw', 'c2d', IOTC_LIMITS.versionMax)!;
    const hw = str(json, 'hw', 'c2d', IOTC_LIMITS.versionMax, true);
    const list = json.urls;
    if (!Array.isArray(list) || list.length === 0) throw protocol('c2d.urls is not a non-empty array');
    if (list.length > IOTC_LIMITS.urlsMax) throw protocol(`c2d.urls has ${list.length} entries, above ${IOTC_LIMITS.urlsMax}`);
    const urls = list.map((u, i) => {
      if (!isObject(u)) throw protocol(`c2d.urls[${i}] is not an object`);
      return {
        url: checkUrl(str(u, 'url', `c2d.urls[${i}]`, IOTC_LIMITS.urlMax)!, `c2d.urls[${i}].url`),
        fileName: str(u, 'fileName', `c2d.urls[${i}]`, IOTC_LIMITS.fieldMax, true),
        tg: str(u, 'tg', `c2d.urls[${i}]`, IOTC_LIMITS.fieldMax, true),
      };
    });
    return { ct, ack, ota: { ack, sw, hw, urls } };
  } catch (error) {
    if (error instanceof OtaError) throw new OtaError(error.reason, `${error.detail} (ack ${ack})`, { ack });
    throw error;
  }
}

/** The image to fetch among `urls[]`: this device's tag, and a `.bin` before other files. */
export function chooseUrl(command: OtaCommand, tag?: string): string | undefined {
  // A delta file (docs/delta.md) is never the image itself.
  const mine = command.urls.filter((u) => (u.tg === undefined || tag === undefined || u.tg === tag) && !isDeltaFile(u));
  const bin = mine.find((u) => (u.fileName ?? u.url.split('?')[0]).toLowerCase().endsWith('.bin'));
  return (bin ?? mine[0])?.url;
}

/** An ack msg naming the history entries it carries (`… [history 3-4]`), within ackMsgMax. */
function historyMsg(msg: string, lines: string[]): string {
  const seqOf = (line: string) => line.split('|')[1] ?? '?';
  const tag = ` [history ${seqOf(lines[0])}${lines.length > 1 ? `-${seqOf(lines[lines.length - 1])}` : ''}]`;
  const room = IOTC_LIMITS.ackMsgMax - tag.length;
  return `${msg.length > room ? `${msg.slice(0, room - 1)}…` : msg}${tag}`;
}

/** The acknowledgement for a report [IOTC-h]: st and msg. */
export function ackOf(report: Report, successSt: number = OTA_ST.running): { st: number; msg: string } {
  // A detail taken from an OtaError's message already starts with its reason: name it once.
  const detail = report.detail !== undefined && report.reason !== undefined && report.detail.startsWith(`${report.reason}: `) ? report.detail.slice(report.reason.length + 2) : report.detail;
  const why = report.reason ? `${report.reason}${detail ? `: ${detail}` : ''}` : '';
  const cut = (s: string): string => (s.length > IOTC_LIMITS.ackMsgMax ? `${s.slice(0, IOTC_LIMITS.ackMsgMax - 1)}…` : s);
  const phase: ReportPhase = report.phase;
  switch (phase) {
    case 'accepted':
      return { st: OTA_ST.inProgress, msg: `accepted ${report.version}` };
    case 'downloading': {
      const p = report.progress;
      const pct = p && p.total > 0 ? Math.floor((100 * p.done) / p.total) : undefined;
      return { st: OTA_ST.inProgress, msg: pct === undefined ? 'downloading' : `downloading ${pct}%` };
    }
    case 'resumed': {
      const p = report.progress;
      return { st: OTA_ST.inProgress, msg: p ? `download resumed at ${p.done} of ${p.total} bytes` : 'download resumed' };
    }
    case 'downloaded':
      return { st: OTA_ST.inProgress, msg: 'downloaded, signature verified' };
    case 'waiting':
      return { st: OTA_ST.inProgress, msg: 'downloaded, waiting for the maintenance window' };
    case 'download-only':
      return { st: OTA_ST.inProgress, msg: 'downloaded and verified, kept (download only)' };
    case 'staged':
      return { st: OTA_ST.inProgress, msg: 'staged, rebooting to install' };
    case 'running':
      return { st: successSt, msg: cut(`running ${report.runningVersion}`) };
    case 'failed':
      return { st: report.reason && NOT_ATTEMPTED.has(report.reason) ? OTA_ST.failed : OTA_ST.attemptFailed, msg: cut(why || 'failed') };
    case 'reverted':
      return { st: OTA_ST.attemptFailed, msg: cut(`reverted to ${report.runningVersion}${why ? `: ${why}` : ''}`) };
    case 'cancelled':
      return { st: OTA_ST.failed, msg: cut(why || 'cancelled') };
  }
}

const TERMINAL: ReadonlySet<ReportPhase> = new Set<ReportPhase>(['running', 'failed', 'reverted', 'cancelled']);

// ---------------------------------------------------------------- the backend

interface Session {
  client: MqttClient;
  identity: IotConnectIdentity;
  /** Resolves with the first command accepted by `want`, or undefined after `ms`. */
  waitCommand(want: (c: OtaCommand) => boolean, ms: number): Promise<OtaCommand | undefined>;
  /** Drop what the session holds of `ack` (a kept session asks for a fresh copy: new URLs). */
  forget(ack: string): void;
}

export class IotConnectBackend implements UpdateBackend {
  #o: IotConnectOptions;
  #identity: IotConnectIdentity | undefined;
  /** The kept MQTT session (session 'kept'), while open. */
  #live: { client: MqttClient; session: Session; settle: () => Promise<void> } | undefined;
  #finished: string[] = [];
  /** Last `downloading` percentage sent, per ack id (one entry). */
  #progress = new Map<string, number>();
  /** Counters for tests and logs. */
  readonly stats = { sessions: 0, commands: 0, duplicates: 0, ignored: 0, refused: 0, discoveries: 0 };

  constructor(options: IotConnectOptions) {
    for (const key of ['discoveryUrl', 'cpid', 'env', 'duid'] as const) {
      if (typeof options[key] !== 'string' || options[key].length === 0) throw new OtaError('config-invalid', `iotconnect ${key} missing`);
    }
    checkUrl(options.discoveryUrl, 'discoveryUrl');
    this.#o = options;
  }

  async poll(current: { version: string }): Promise<PollResult> {
    const command = await this.#session(async (s) => {
      await this.#ask(s);
      return s.waitCommand((c) => !this.#finished.includes(c.ack), this.#o.commandWaitMs ?? IOTC_DEFAULTS.commandWaitMs);
    });
    this.#o.log?.log('info', 'iotc.poll', { running: current.version, ack: command?.ack, sw: command?.sw });
    const offer = command && (await this.#usable(command));
    // A deployment needs the modem's socket for the download (the SIM7600 driver has one TLS
    // session): the kept session ends when an offer goes to the agent, and reopens at the next call.
    if (offer) await this.close();
    return offer ? { offer } : {};
  }

  /** Close a kept session (the device powers the modem down, a test ends). */
  async close(): Promise<void> {
    const live = this.#live;
    this.#live = undefined;
    if (live && live.client.state !== 'closed') await live.client.disconnect();
  }

  /**
   * The offer of a command, or undefined when it cannot be used: then it is acknowledged st 1
   * (not attempted) with the reason, once, so the portal does not show it pending forever.
   */
  async #usable(command: OtaCommand): Promise<UpdateOffer | undefined> {
    let refusal: string | undefined;
    const want = this.#o.hardwareVersion;
    if (want !== undefined && command.hw !== undefined && command.hw.trim().toLowerCase() !== want.trim().toLowerCase()) {
      refusal = `incompatible: the command is for hw '${command.hw}', this device is hw '${want}'`;
    }
    let offer: UpdateOffer | undefined;
    if (refusal === undefined) {
      try {
        offer = await this.#offer(command);
      } catch (error) {
        if (!(error instanceof OtaError) || error.reason !== 'backend-protocol') throw error;
        refusal = `backend-protocol: ${error.detail ?? ''}`;
      }
    }
    if (refusal === undefined) return offer;
    this.stats.refused++;
    this.#o.log?.log('warn', 'iotc.command-refused', { ack: command.ack, detail: refusal });
    this.#finish(command.ack);
    await this.#session((s) => this.#ack(s, command.ack, OTA_ST.failed, refusal.slice(0, IOTC_LIMITS.ackMsgMax)));
    return undefined;
  }

  async refreshOffer(actionId: string, current: { version: string }): Promise<UpdateOffer | undefined> {
    if (this.#finished.includes(actionId)) return undefined;
    const command = await this.#session(async (s) => {
      s.forget(actionId);
      await this.#ask(s);
      return s.waitCommand((c) => c.ack === actionId, this.#o.commandWaitMs ?? IOTC_DEFAULTS.commandWaitMs);
    });
    this.#o.log?.log('info', 'iotc.refresh', { running: current.version, ack: actionId, found: command !== undefined });
    const offer = command && (await this.#offer(command));
    await this.close();
    return offer;
  }

  async report(report: Report): Promise<void> {
    if (report.phase === 'downloading' && report.progress && report.progress.total > 0) {
      const pct = Math.floor((100 * report.progress.done) / report.progress.total);
      const last = this.#progress.get(report.actionId);
      const step = this.#o.progressStepPercent ?? IOTC_DEFAULTS.progressStepPercent;
      if (last !== undefined && pct < last + step) return;
      this.#progress.clear(); // one deployment at a time: keep one entry
      this.#progress.set(report.actionId, pct);
    }
    const { st, msg } = ackOf(report, this.#o.successSt ?? OTA_ST.running);
    const history = report.history ?? [];
    // Update history (docs/history.md): named in the ack's msg, each entry a telemetry record on
    // the rpt topic, in the same session; the report counts as delivered only when all were published.
    const ackMsg = history.length === 0 ? msg : historyMsg(msg, history);
    await this.#session(async (s) => {
      if (s.identity.topics.rpt !== undefined) for (const line of history) await this.#telemetry(s, s.identity.topics.rpt, line);
      await this.#ack(s, report.actionId, st, ackMsg);
    });
    if (TERMINAL.has(report.phase)) this.#finish(report.actionId);
    // Reports come during a deployment (the download, the reboot follow): no session is kept then.
    await this.close();
  }

  /** IoTConnect has no OTA cancellation to answer; nothing is sent. */
  async acknowledgeCancel(_actionId: string, _stopped: boolean): Promise<void> {}

  /** Discovery + identity (cached until a session fails to connect). */
  async identity(): Promise<IotConnectIdentity> {
    if (this.#identity) return this.#identity;
    const o = this.#o;
    this.stats.discoveries++;
    const scheme = o.discoveryUrl.split(':')[0];
    const pf = o.platform ?? 'aws';
    const discoveryUrl = `${o.discoveryUrl.replace(/\/+$/, '')}/api/v2.1/dsdk/cpId/${encodeURIComponent(o.cpid)}/env/${encodeURIComponent(o.env)}${pf === '' ? '' : `?pf=${pf}`}`;
    const bu = parseDiscovery(await this.#getJson(discoveryUrl, 'discovery'), scheme);
    const identity = parseIdentity(await this.#getJson(`${bu}/uid/${encodeURIComponent(o.duid)}`, 'identity'));
    o.log?.log('info', 'iotc.identity', { host: identity.host, port: identity.port, clientId: identity.clientId });
    this.#identity = identity;
    return identity;
  }

  #finish(ack: string): void {
    if (this.#finished.includes(ack)) return;
    this.#finished.push(ack);
    if (this.#finished.length > IOTC_LIMITS.finishedMax) this.#finished.shift();
  }

  /**
   * Every file of `urls[]` for this device's tag is considered: those matching the pattern (by
   * `fileName`, else the URL's last path segment), or all of them when none matches; with more
   * than one, the image header chooses (artifact-select.ts). `hw` is checked in #usable, not
   * handed to the agent's hardwareId comparison.
   */
  async #offer(command: OtaCommand): Promise<UpdateOffer | undefined> {
    const pattern = this.#o.artifactPattern ?? '*.bin';
    const mine = command.urls
      .map((u, i) => ({ ...u, i }))
      .filter((u) => u.tg === undefined || this.#o.tag === undefined || u.tg === this.#o.tag);
    // Delta files (docs/delta.md) are never the image itself; they ride along as the offer's deltas.
    const images = mine.filter((u) => !isDeltaFile(u));
    if (images.length === 0) return undefined;
    const nameOf = (u: { url: string; fileName?: string }) => u.fileName ?? u.url.split('?')[0].split('/').pop() ?? '';
    const matching = images.filter((u) => matchFilename(pattern, nameOf(u)));
    const candidates: ArtifactCandidate[] = (matching.length > 0 ? matching : images).map((u) => ({ where: `c2d.urls[${u.i}]`, filename: nameOf(u), url: u.url }));
    const chosen = await chooseArtifact(this.#o.http, candidates, this.#o.image ?? {});
    // No size, no hash: IoTConnect sends none; the signed MCUboot image is the integrity.
    const offer: UpdateOffer = { actionId: command.ack, version: command.sw, url: chosen.candidate.url, download: 'forced', update: 'forced' };
    if (chosen.imageVersion !== undefined) offer.imageVersion = chosen.imageVersion;
    // Deltas among the further files, named with their source, size and SHA-256 (docs/delta.md).
    const deltas = deltasFromFiles(mine);
    if (deltas.length > 0) offer.deltas = deltas;
    return offer;
  }

  async #ask(s: Session): Promise<void> {
    await s.client.subscribe([{ filter: s.identity.topics.c2d, qos: 1 }]);
    // "Pending OTA" request on the di topic [IOTC-DI].
    await s.client.publish(s.identity.topics.di, utf8Encode('{"mt":205}'), { qos: 1 });
  }

  async #telemetry(s: Session, topic: string, historyLine: string): Promise<void> {
    const wall = this.#o.clock.wallClock();
    const body: Record<string, unknown> = { d: [{ d: { otaHistory: historyLine } }] };
    if (wall !== undefined) body.dt = new Date(wall * 1000).toISOString();
    await s.client.publish(topic, utf8Encode(JSON.stringify(body)), { qos: 1 });
  }

  async #ack(s: Session, ack: string, st: number, msg: string): Promise<void> {
    const wall = this.#o.clock.wallClock();
    const body: Record<string, unknown> = { d: { ack, type: 1, st, msg } };
    if (wall !== undefined) body.dt = new Date(wall * 1000).toISOString();
    await s.client.publish(s.identity.topics.ack, utf8Encode(JSON.stringify(body)), { qos: 1 });
    this.#o.log?.log('info', 'iotc.ack', { ack, st, msg });
  }

  async #getJson(url: string, what: string): Promise<unknown> {
    const chunks: Uint8Array[] = [];
    let size = 0;
    await this.#o.http.request(
      { method: 'GET', url, headers: { accept: 'application/json' } },
      {
        onHead: (head) => {
          if (head.status === 200) return;
          const reason = head.status >= 500 || head.status === 429 ? 'backend-unavailable' : 'http-status';
          throw new OtaError(reason, `${what}: HTTP ${head.status}`);
        },
        onData: (chunk) => {
          size += chunk.length;
          if (size > IOTC_LIMITS.httpBodyMax) throw new OtaError('body-too-large', `${what}: body above ${IOTC_LIMITS.httpBodyMax} bytes`);
          chunks.push(chunk.slice());
        },
      },
    );
    const body = new Uint8Array(size);
    let o = 0;
    for (const c of chunks) {
      body.set(c, o);
      o += c.length;
    }
    return parseJson(body, what);
  }

  /**
   * One MQTT session for `work`: the kept one while it is open (session 'kept'), else a new one,
   * which is disconnected after `work` unless it is kept.
   */
  async #session<T>(work: (s: Session) => Promise<T>): Promise<T> {
    const kept = (this.#o.session ?? 'kept') === 'kept';
    const live = this.#live;
    if (kept && live && live.client.state !== 'closed') {
      try {
        return await work(live.session);
      } finally {
        await live.settle();
      }
    }
    this.#live = undefined;
    const o = this.#o;
    const identity = await this.identity();
    this.stats.sessions++;
    let client: MqttClient;
    // Commands seen on c2d in this session, in order; waiters look at them.
    const inbox: OtaCommand[] = [];
    const seen = new Set<string>();
    let wake: (() => void) | undefined;
    let refusals: Promise<void>[] = [];
    let closedWith: OtaError | undefined;
    let session: Session | undefined;
    const onMessage = (m: MqttMessage): void => {
      if (m.topic !== identity.topics.c2d) return;
      let parsed: ReturnType<typeof parseC2d>;
      try {
        parsed = parseC2d(parseJson(m.payload, 'c2d'));
      } catch (error) {
        const e = error as OtaError;
        const ack = (e.cause as { ack?: string } | undefined)?.ack;
        this.stats.refused++;
        o.log?.log('warn', 'iotc.bad-command', { reason: e.reason, detail: e.detail, ack });
        // A command we cannot read but can name is refused by its ack id, with the reason (st 1).
        if (ack && session && !seen.has(ack) && !this.#finished.includes(ack)) {
          seen.add(ack);
          this.#finish(ack);
          refusals.push(this.#ack(session, ack, OTA_ST.failed, `${e.reason}: ${e.detail ?? ''}`.slice(0, IOTC_LIMITS.ackMsgMax)).catch(() => undefined));
        }
        return;
      }
      if (!parsed.ota) {
        this.stats.ignored++;
        o.log?.log('debug', 'iotc.c2d-ignored', { ct: parsed.ct });
        return;
      }
      if (seen.has(parsed.ota.ack)) {
        this.stats.duplicates++;
        o.log?.log('info', 'iotc.duplicate', { ack: parsed.ota.ack });
        return;
      }
      seen.add(parsed.ota.ack);
      // Bounded in a kept session: only the newest commands matter (one OTA at a time).
      if (seen.size > IOTC_LIMITS.finishedMax) seen.delete(seen.values().next().value as string);
      this.stats.commands++;
      inbox.push(parsed.ota);
      if (inbox.length > IOTC_LIMITS.urlsMax) inbox.shift();
      wake?.();
    };
    try {
      const stream = await o.connector.connect({ host: identity.host, port: identity.port, tls: true });
      client = await MqttClient.connect({
        stream,
        clock: o.clock,
        clientId: identity.clientId,
        username: identity.username,
        keepAliveS: o.keepAliveS ?? IOTC_DEFAULTS.keepAliveS,
        connectTimeoutMs: o.mqttTimeoutMs ?? IOTC_DEFAULTS.mqttTimeoutMs,
        ackTimeoutMs: o.mqttTimeoutMs ?? IOTC_DEFAULTS.mqttTimeoutMs,
        onMessage,
        // A link lost while waiting ends the wait at once, not at its deadline.
        onClose: (error) => {
          closedWith = error;
          wake?.();
        },
        log: o.log,
      });
    } catch (error) {
      // The broker, port or client id may have moved: ask discovery and identity again next time.
      this.#identity = undefined;
      throw error;
    }
    session = {
      client,
      identity,
      forget: (ack) => {
        seen.delete(ack);
        for (let i = inbox.length - 1; i >= 0; i--) if (inbox[i].ack === ack) inbox.splice(i, 1);
      },
      waitCommand: (want, ms) =>
        new Promise<OtaCommand | undefined>((resolve, reject) => {
          let timer: number | undefined;
          const check = (): boolean => {
            const found = inbox.find(want);
            if (found) {
              if (timer !== undefined) o.clock.clearTimeout(timer);
              wake = undefined;
              resolve(found);
              return true;
            }
            if (client.state !== 'closed') return false;
            if (timer !== undefined) o.clock.clearTimeout(timer);
            wake = undefined;
            reject(closedWith ?? new OtaError('link-lost', 'MQTT session ended while waiting for the command'));
            return true;
          };
          if (check()) return;
          timer = o.clock.setTimeout(() => {
            wake = undefined;
            resolve(undefined);
          }, ms);
          wake = () => void check();
        }),
    };
    const settle = async (): Promise<void> => {
      await Promise.all(refusals);
      refusals = [];
    };
    if (kept) this.#live = { client, session, settle };
    try {
      return await work(session);
    } finally {
      await settle();
      if (!kept) await client.disconnect();
    }
  }
}
