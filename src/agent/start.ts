/**
 * The agent's composition root: from the hardware ports and the device's settings, build the
 * modem and its HTTP client, the A5000 verifier, the slot installer, the backend and the state
 * machine, and run it. The device (modules/main.ts) and the simulated dev kit call this same
 * function; only the Platform differs.
 */
import type { UpdateBackend, UpdateOffer } from '../backend/backend.js';
import { HawkbitBackend } from '../backend/hawkbit.js';
import { IotConnectBackend } from '../backend/iotconnect.js';
import { ManifestBackend } from '../backend/manifest.js';
import type { Modem } from '../modem/modem.js';
import type { HttpClient } from '../net/http.js';
import type { ByteStreamConnector } from '../net/byte-stream.js';
import { SocketHttpClient } from '../net/modem-http.js';
import { modemConnector } from '../net/modem-byte-stream.js';
import { streamSocketOpener } from '../net/stream-socket.js';
import { RedirectingHttpClient } from '../net/redirect.js';
import type { Platform } from '../platform/index.js';
import { Se05xImageVerifier, Se05x, T1Link } from '../se/index.js';
import { OtaError, describeError, reasonOf } from '../util/errors.js';
import { deviceCertObject, resolveConfig, type AgentConfig, type SettingsInput } from './config.js';
import { UpdateAgent, type HealthCheck } from './machine.js';
import { SlotInstaller } from './slot-installer.js';
import type { DeltaInstaller } from '../delta/delta-installer.js';
import { ErasedAheadSlot } from '../slot/erased-ahead.js';
import { UpdateHistory } from './history.js';
import { HistoryRecorder, HistoryReportingBackend } from './history-report.js';
import type { AgentTlsSettings } from '../tls/control-channel.js';
import type { DeviceCertificate } from '../tls/device-certificate.js';
// The optional parts of a device build, each reached only through its *-part module, which a
// bundle built without that part replaces by its *-part.absent module (rollup.config.mjs).
import { agentTlsControlConnector, readDeviceCertificate } from './agent-tls-part.js';
import { deltaPart } from './delta-part.js';
import { modemPart } from './modem-part.js';
import { startAsJob } from '../util/stack.js';

export type { BackendKind } from './config.js';

/**
 * What createAgent needs that is not hardware: the settings under their one name each (AgentConfig,
 * src/agent/config.ts: a device setting's manifest key without `ota`, e.g. otaKeyId → keyId),
 * checked once by resolveConfig, and what is not a setting. On the device the settings come from
 * the manifest's `config` (mc/config) and the key-value store's secrets, read by
 * modules/ota-config.ts; in the simulated dev kit, from `xs-ota sim` options.
 */
export interface StartConfig extends SettingsInput {
  /**
   * The CA certificate (PEM) every TLS connection is verified against (the modems' default trusts
   * any server), or how to load it by the resolved `caCert` name (the device: a build resource).
   */
  readonly caPem?: Uint8Array | ((caCert: string) => Uint8Array);
  /**
   * With `controlTls` 'agent' (otaControlTls) and `deviceCert` naming a build resource (not
   * `se:0x…`): the device certificate chain (PEM, leaf first) for the key at `deviceKeyId`, or
   * how to load it by that name (the device: a build resource). Not read with the modem's TLS, nor
   * for an A5000 object (startAgent reads that at boot).
   */
  readonly deviceCertPem?: Uint8Array | ((deviceCert: string) => Uint8Array);
  /**
   * The CA(s), PEM, the control channel's server must lead to with `controlTls` 'agent'; default
   * `caPem` (the dev kit: mosquitto's own test CA).
   */
  readonly controlCaPem?: Uint8Array;
}

export interface StartOptions {
  /** The application's health check after an update (default: healthy). */
  healthCheck?: HealthCheck;
  /** A fixed part of the retry-jitter seed, mixed with the A5000's GetRandom (dev kit: repeatable runs). */
  randomSeed?: number;
  /** hawkBit confirmationBase (user consent): the application confirms (true) or denies an offered deployment; default: the `autoConfirm` setting. */
  confirmDeployment?: (offer: UpdateOffer) => boolean | Promise<boolean>;
  /** A provisioned security-counter floor, besides the running image's SEC_CNT and the highest confirmed. */
  minSecurityCounter?: number;
}

export interface AgentParts {
  /** The settings as resolved (defaults filled in, every value checked). */
  config: AgentConfig;
  agent: UpdateAgent;
  modem: Modem;
  /** The modem's HTTP transport (socket or built-in client, from the board wiring). */
  http: HttpClient;
  /** What the agent and backend use: `http` with redirects followed (src/net/redirect.ts). */
  redirects: RedirectingHttpClient;
  backend: UpdateBackend;
  installer: SlotInstaller;
  /** The delta installer around `installer`; undefined in a firmware built without delta updates. */
  delta: DeltaInstaller | undefined;
  se: Se05x;
}

/**
 * What startAgent reads from the hardware before createAgent (async, once per boot), so that
 * createAgent stays a synchronous composition of parts.
 */
export interface BootReads {
  /** The settings as readBootInputs resolved and checked them (createAgent does not check them again). */
  readonly config?: AgentConfig;
  /** The A5000 session the reads used; createAgent's parts share it (one session, no second select). */
  readonly se?: Se05x;
  /** otaControlTls agent: the device certificate chain, or why it could not be read (readBootInputs). */
  readonly deviceCertificate?: DeviceCertificate;
}

/**
 * The boot step before createAgent: with otaControlTls agent, the device certificate chain from
 * the A5000 object (`otaDeviceCert` `se:0x…`) or the build resource, checked (DER chain, at most
 * DEVICE_CERT_CHAIN_MAX bytes, the leaf for the key at otaDeviceKeyId). A chain that cannot be
 * read or is wrong is this device's provisioning fault, not the image's: it comes back as
 * `deviceCertificate.error` and the agent still runs (every control connection fails with it,
 * logged and retried; the device stays bootable). A bad setting, or a resource the build lacks,
 * throws config-invalid as createAgent does.
 */
export async function readBootInputs(platform: Platform, settings: StartConfig): Promise<BootReads> {
  const { caPem: _ca, deviceCertPem, controlCaPem: _controlCa, ...given } = settings;
  const config = resolveConfig(given);
  const se = new Se05x({ link: new T1Link({ i2c: platform.seI2c, clock: platform.clock }) });
  if (config.controlTls !== 'agent') return { config, se };
  if (config.deviceKeyId === config.keyId) throw new OtaError('config-invalid', 'otaDeviceKeyId: the same A5000 object as otaKeyId (the image-signing public key)');
  const object = deviceCertObject(config.deviceCert);
  let source: Parameters<typeof readDeviceCertificate>[1];
  if (object === undefined) {
    const pem = typeof deviceCertPem === 'function' ? deviceCertPem(config.deviceCert) : deviceCertPem;
    if (!pem || pem.length === 0) throw new OtaError('config-invalid', `otaDeviceCert: no device certificate '${config.deviceCert}' for otaControlTls agent`);
    source = { pem, name: config.deviceCert };
  } else source = { object };
  try {
    return { config, se, deviceCertificate: { chain: await readDeviceCertificate(se, source, config.deviceKeyId) } };
  } catch (error) {
    if (!(error instanceof OtaError)) throw error;
    return { config, se, deviceCertificate: { error } };
  }
}

/**
 * Build every part of the agent on `platform`. Throws OtaError('config-invalid', …) on a bad
 * setting. With otaControlTls agent, `boot` carries the device certificate readBootInputs read.
 */
export function createAgent(platform: Platform, settings: StartConfig, options: StartOptions = {}, boot: BootReads = {}): AgentParts {
  const { caPem: ca, deviceCertPem: _deviceCertPem, controlCaPem, ...given } = settings;
  const config = boot.config ?? resolveConfig(given);
  const caPem = typeof ca === 'function' ? ca(config.caCert) : ca;
  if (!caPem || caPem.length === 0) throw new OtaError('config-invalid', 'caPem: a CA certificate is required for TLS');
  const agentTls = config.controlTls === 'agent' ? agentTlsSettings(config, boot.deviceCertificate, controlCaPem) : undefined;
  const modemPorts = { serial: platform.modemSerial, clock: platform.clock, powerKey: platform.modemPowerKey, status: platform.modemStatus, log: platform.log };
  const modemConfig = { apn: config.apn === '' ? undefined : config.apn, caCert: caPem, caName: config.caCert };
  // The driver and its HTTP client; a one-modem firmware (OTA_MODEM) refuses another otaModem here.
  const { modem, http: transport } = modemPart(config.modem, modemPorts, modemConfig, config.uartFlowControl, platform.clock);
  // Redirects for every request (poll, feedback, artifact): src/net/redirect.ts (issue 13).
  const http = new RedirectingHttpClient(transport, {
    maxRedirects: config.maxRedirects,
    urlMax: config.urlMax,
    credentialOrigins: config.redirectCredentialOrigins,
    log: platform.log,
  });
  const se = boot.se ?? new Se05x({ link: new T1Link({ i2c: platform.seI2c, clock: platform.clock }) });
  const verifier = new Se05xImageVerifier({ se, digest: platform.digest, keyId: config.keyId });
  // Every write of the secondary slot goes through this wrapper: it erases the slot ahead between
  // polls and knows what is still erased (src/slot/erased-ahead.ts).
  const secondary = new ErasedAheadSlot(platform.secondarySlot, platform.keyValue);
  const installer = new SlotInstaller({ primary: platform.primarySlot, secondary, digest: platform.digest, verifier, trailerSize: config.trailerSize });
  const slot = platform.secondarySlot.status();
  // Update history (docs/history.md): every attempt's end recorded, and delivered with the final report.
  const history = new UpdateHistory(platform.keyValue);
  // The control channel's streams (otaControlTls): TLS in the agent over the modem's plain sockets,
  // the device key in the A5000, or (undefined) the modem's TLS. Built here, the one place that
  // knows src/tls: the backends take a connector or an HTTP client and never see the TLS.
  const control = agentTls
    ? agentTlsControlConnector(agentTls, { plain: modemConnector(modem), se, clock: platform.clock, digest: platform.digest, crypto: platform.tlsCrypto, caPem })
    : undefined;
  const backendParts: BackendParts = { http, modem, control, maxImageBytes: slot.size - config.trailerSize, confirm: options.confirmDeployment };
  const backend = new HistoryReportingBackend(createBackend(config, platform, backendParts), history);
  const recorder = new HistoryRecorder({
    history,
    clock: platform.clock,
    backend: config.backend,
    keyId: config.keyId,
    slots: { primary: platform.primarySlot, secondary: platform.secondarySlot, digest: platform.digest, trailerSize: config.trailerSize },
  });
  // Delta updates (src/delta): stages and decodes an offered delta, else passes through to
  // `installer`. Absent from a build without delta: every offer's full image is taken.
  const delta = deltaPart({ inner: installer, primary: platform.primarySlot, secondary, digest: platform.digest, keyValue: platform.keyValue, trailerSize: config.trailerSize, log: platform.log });
  const agent = new UpdateAgent({
    config,
    backend,
    history: recorder,
    http,
    installer: delta ?? installer,
    delta,
    keyValue: platform.keyValue,
    clock: platform.clock,
    reboot: platform.reboot,
    log: platform.log,
    healthCheck: options.healthCheck,
    // The jitter seed comes from the A5000's true random generator, once per boot, so no two
    // devices (and no two boots) retry at the same instants; options.randomSeed is mixed in.
    seedSource: async () => {
      const r = await se.getRandom(4);
      return (r[0] | (r[1] << 8) | (r[2] << 16) | (r[3] << 24)) >>> 0;
    },
    randomSeed: options.randomSeed,
    minSecurityCounter: options.minSecurityCounter,
    // The first poll's modem bring-up, awaited on its own so the slot is erased in its quiet waits.
    link: { up: () => modem.ready(), quietUntil: () => modem.quietUntil ?? 0 },
  });
  return { config, agent, modem, http: transport, redirects: http, backend, installer, delta, se };
}

/** otaControlTls agent: the device key's object, its certificate chain as read at boot, the version, from the settings. */
function agentTlsSettings(config: AgentConfig, certificate: DeviceCertificate | undefined, caPem: Uint8Array | undefined): AgentTlsSettings {
  if (config.deviceKeyId === config.keyId) throw new OtaError('config-invalid', 'otaDeviceKeyId: the same A5000 object as otaKeyId (the image-signing public key)');
  if (!certificate) throw new OtaError('config-invalid', `otaDeviceCert: '${config.deviceCert}' is read at boot (readBootInputs, as startAgent does) before createAgent`);
  return { deviceKeyId: config.deviceKeyId, certificate, caPem, version: config.tlsVersions };
}

interface BackendParts {
  /** The agent's HTTP client (the modem's TLS): downloads, and the control channel without agent TLS. */
  http: HttpClient;
  modem: Modem;
  /** otaControlTls agent: the control channel's connector (TLS in the agent); undefined: the modem's TLS. */
  control: ByteStreamConnector | undefined;
  maxImageBytes: number;
  confirm?: (offer: UpdateOffer) => boolean | Promise<boolean>;
}

/**
 * hawkBit DDI over TLS in the agent: the same HTTP/1.1 client over sockets from the control
 * connector (an https:// URL; a lab server's http:// keeps the modem's plain socket), redirects
 * as for every request. The backend sees an HttpClient.
 */
function controlHttpClient(config: AgentConfig, control: ByteStreamConnector, modem: Modem, platform: Platform): HttpClient {
  const overTls = streamSocketOpener(control, platform.clock);
  const transport = new SocketHttpClient({ modem, clock: platform.clock, openSocket: (host, port, tls) => (tls ? overTls(host, port, true) : modem.openSocket(host, port, false)) });
  return new RedirectingHttpClient(transport, { maxRedirects: config.maxRedirects, urlMax: config.urlMax, credentialOrigins: config.redirectCredentialOrigins, log: platform.log });
}

function createBackend(config: AgentConfig, platform: Platform, parts: BackendParts): UpdateBackend {
  const image = { maxImageBytes: parts.maxImageBytes, loadAddress: config.imageLoadAddress === -1 ? undefined : config.imageLoadAddress };
  const http = parts.http;
  switch (config.backend) {
    case 'hawkbit':
      return new HawkbitBackend({
        http: parts.control ? controlHttpClient(config, parts.control, parts.modem, platform) : http,
        // Artifact probes (a file's first bytes, to choose among several) are downloads: the modem's TLS.
        downloadHttp: http,
        server: config.url,
        controllerId: config.deviceId,
        tenant: config.tenant,
        token: config.token === '' ? undefined : config.token,
        tokenScheme: config.tokenScheme,
        artifactPattern: config.artifactPattern,
        part: config.modulePart === '' ? undefined : config.modulePart,
        autoConfirm: config.autoConfirm,
        confirm: parts.confirm,
        image,
        bodyMax: config.bodyMax,
        urlMax: config.urlMax,
        attributes: { hwRevision: config.hardwareId },
        log: platform.log,
      });
    case 'manifest':
      return new ManifestBackend({ http, url: config.url, deviceId: config.deviceId === '' ? undefined : config.deviceId, bodyMax: config.bodyMax, log: platform.log });
    case 'iotconnect':
      return new IotConnectBackend({
        http,
        // TLS in the agent with the key in the A5000 (otaControlTls agent), else the modem's TLS.
        connector: parts.control ?? modemConnector(parts.modem),
        clock: platform.clock,
        log: platform.log,
        discoveryUrl: config.url,
        cpid: config.tenant,
        env: config.iotcEnv,
        duid: config.deviceId,
        platform: config.iotcPlatform,
        hardwareVersion: config.iotcHardwareVersion === '' ? undefined : config.iotcHardwareVersion,
        session: config.iotcSession,
        successSt: config.iotcSuccessSt,
        artifactPattern: config.artifactPattern,
        image,
      });
  }
}

/**
 * The device's entry: build the agent and run it for ever. Resolves when the agent asked for a
 * reboot (the platform then resets). A configuration error is logged with its key and thrown.
 */
export async function startAgent(platform: Platform, settings: StartConfig, options: StartOptions = {}): Promise<void> {
  let parts: AgentParts;
  try {
    // Its own job, as createAgent below: the settings check (resolveConfig) does not stack on
    // the caller's frames (the device's main module, a host callback).
    const boot = await startAsJob(() => readBootInputs(platform, settings));
    const certificate = boot.deviceCertificate;
    if (certificate && 'error' in certificate) {
      // The agent runs on (polls fail with this reason, the device stays bootable); a field
      // engineer reads here what is wrong with the device's certificate object.
      platform.log.log('error', 'agent.device-cert-invalid', { reason: certificate.error.reason, detail: describeError(certificate.error) });
    }
    parts = await startAsJob(() => createAgent(platform, settings, options, boot));
  } catch (error) {
    platform.log.log('error', 'agent.config-invalid', { reason: reasonOf(error), detail: describeError(error) });
    throw error;
  }
  platform.log.log('info', 'agent.started', { backend: parts.config.backend, modem: parts.modem.model });
  await parts.agent.run();
}
