/**
 * The simulated dev kit, assembled: a reference update server on loopback offering a signed image,
 * a SIMCom modem (SIM7080G or SIM7600) on a UART paced in virtual time, an A5000 with the signing
 * key provisioned, the NOR flash in the documented layout with an older image in the primary slot,
 * MCUboot on that flash, and the agent bundle running inside XS. `runDevkitUpdate` powers it on and
 * runs until the agent has reported the deployment's outcome (`xs-ota sim`, `npm start`, the
 * end-to-end tests).
 */
import { existsSync } from 'node:fs';
import { createPublicKey } from 'node:crypto';
import type { FlashPort } from '../../src/platform/flash.js';
import type { KeyValuePort } from '../../src/platform/key-value.js';
import type { StartConfig } from '../../src/agent/start.js';
import type { AgentConfig } from '../../src/agent/config.js';
import { readSlotSummary } from '../../src/slot/slot-reader.js';
import { readSwapState } from '../../src/slot/boot-state.js';
import { eraseRange } from '../../src/slot/erase-range.js';
import { BOOT_MAGIC, BOOT_MAGIC_SIZE, type SwapState } from '../../src/image/trailer.js';
import { formatVersion } from '../../src/image/version.js';
import { startReferenceServer, type DeploymentSpec, type RecordedReport, type ReferenceServer } from '../server/index.js';
import type { RecordedAck } from '../server/iotconnect.js';
import { prepareBackend, type BackendSetup, type DevkitBackend, type PreparedBackend } from './devkit-backends.js';
import { SimDevice, type LogEntry } from './device.js';
import { NodeDigest } from '../node/node-digest.js';
import { loadSimA5000Store, SimA5000 } from './parts/sim-a5000.js';
import { bootMcuboot, type McubootEraseCalls, type McubootResult } from './parts/sim-mcuboot.js';
import { createDevkitFlash, DEVKIT_LAYOUT, flashTiming, isPowerCut, PowerCut, type DevkitFlash, type FlashLayout, type FlashTimingName } from './parts/sim-flash.js';
import { CpuBusy } from './parts/cpu-busy.js';
import { SimKeyValue } from './parts/sim-key-value.js';
import { UpdateHistory, type HistoryEntry } from '../../src/agent/history.js';
import { provisionDeviceIdentity } from './device-identity.js';
import { NodeTlsCrypto } from '../node/node-tls-crypto.js';
import { createSimModem, type SimModemKit } from './parts/sim-modem/index.js';
import { serverTlsTap, TlsTaps } from './parts/mqtt-tls-tap.js';
import { TEST_CA, TEST_CA_PEM } from '../node/test-pki.js';
import { VirtualTime } from './parts/virtual-time.js';
import { deltaSourceOf } from '../delta/image-id.js';

/** The A5000 object the dev kit provisions the signing key into (NXP nano test id style). */
export const DEVKIT_KEY_OBJECT = 0x7b000201;
export const DEVKIT_DEVICE_ID = 'devkit-1';
export const DEVKIT_TOKEN = 'devkit-target-token';
/** The tenant-wide token the dev kit's server also accepts (`Authorization: GatewayToken …`). */
export const DEVKIT_GATEWAY_TOKEN = 'devkit-gateway-token';
/**
 * CA the agent configures in the modem: the dev kit's test CA, which signed the loopback servers'
 * certificate. The simulated modem runs TLS against it (docs/modem-simulator.md).
 */
export const DEVKIT_CA = TEST_CA;

export type DevkitFaultKind =
  | 'power-cut'
  | 'link-drop'
  | 'modem-reboot'
  /** 16 noise bytes on the modem's UART output just after that point of the download (core, issue 12.1). */
  | 'uart-noise'
  | 'health-fail'
  | 'server-503'
  | 'server-429'
  | 'expired-url'
  | 'duplicate-command'
  | 'cancel';

export interface DevkitFault {
  kind: DevkitFaultKind;
  /** For faults during the download: fraction of the image written to the slot, 0..1. */
  at?: number;
  /** power-cut and cancel: at an agent log event instead of a download fraction. */
  event?: PowerCutAt;
}

/**
 * A power cut tied to the update cycle rather than to the download: at the `occurrence`-th
 * (default first) agent log line named `event`, power fails at the `afterFlashOps`-th flash
 * program/erase after it (0: the next one tears), or at once when `afterFlashOps` is undefined
 * (the MCU stops before its next flash or key-value access).
 */
export interface PowerCutAt {
  event: string;
  afterFlashOps?: number;
  occurrence?: number;
}

/**
 * Parses `power-cut@40%`, `link-drop@70%`, `modem-reboot@50%`, `health-fail`, `server-503`,
 * `server-429`, `expired-url`, `duplicate-command` (IoTConnect: every command sent twice), and `power-cut@event:NAME[#K][+N]` (the K-th log event NAME, then
 * the N-th flash operation after it; without +N at once). `cancel@50%` / `cancel@event:NAME[#K]`
 * (hawkBit): the server cancels the action once half the image is in the slot / at that agent event.
 */
export function parseFault(spec: string): DevkitFault {
  const ev = /^(power-cut|cancel)@event:([a-z0-9.-]+)(?:#(\d{1,3}))?(?:\+(\d{1,6}))?$/.exec(spec.trim());
  if (ev) {
    if (ev[1] === 'cancel' && ev[4] !== undefined) throw new Error(`--fault '${spec}': +N (flash operations) is for power-cut only`);
    return {
      kind: ev[1] as 'power-cut' | 'cancel',
      event: { event: ev[2], occurrence: ev[3] === undefined ? undefined : Number(ev[3]), afterFlashOps: ev[4] === undefined ? undefined : Number(ev[4]) },
    };
  }
  const m = /^([a-z0-9-]+)(?:@(\d{1,3})%)?$/.exec(spec.trim());
  const kinds: DevkitFaultKind[] = ['power-cut', 'link-drop', 'modem-reboot', 'uart-noise', 'health-fail', 'server-503', 'server-429', 'expired-url', 'duplicate-command', 'cancel'];
  if (!m || !kinds.includes(m[1] as DevkitFaultKind)) {
    throw new Error(`--fault '${spec}': expected one of ${kinds.join(', ')} (with @N% for power-cut, link-drop, modem-reboot)`);
  }
  const kind = m[1] as DevkitFaultKind;
  const atPercent = m[2] === undefined ? undefined : Number(m[2]);
  if (atPercent !== undefined && atPercent > 100) throw new Error(`--fault '${spec}': percentage above 100`);
  const needsAt = kind === 'power-cut' || kind === 'link-drop' || kind === 'modem-reboot' || kind === 'uart-noise' || kind === 'cancel';
  if (needsAt && atPercent === undefined) throw new Error(`--fault '${spec}': say where, e.g. ${kind}@40%`);
  return { kind, at: atPercent === undefined ? undefined : atPercent / 100 };
}

/** Live-heap samples per download (tools/devkit/device.ts sampleLiveHeap). */
const HEAP_SAMPLES = 16;

export interface DevkitOptions {
  modem?: 'sim7080' | 'sim7600';
  baud?: number;
  /**
   * Bytes the MCU's UART delivers per RX event (default 64, a FIFO-threshold interrupt). A DMA
   * UART hands over a whole buffer per event (Zephyr's async UART API: UART_RX_RDY per buffer or
   * idle line): the same bytes in fewer, larger events. The fault campaign uses 1024, which saves
   * host round trips of the XS bridge and changes nothing the agent sees but event sizes.
   */
  uartBurstBytes?: number;
  /**
   * The simulated modem's built-in HTTP client refuses (ERROR) a longer URL (SIM7600
   * `AT+HTTPPARA="URL"`) or path (SIM7080G `AT+SHREQ`): a firmware whose limit is below the
   * agent's (SimModemOptions.urlMax).
   */
  modemUrlMax?: number;
  /**
   * The board's modem UART wiring. Default 'rts-cts': the dev kit wires RTS/CTS (the simulated
   * UART holds the modem's output while the MCU's RX FIFO is near full, once the modem is told
   * `AT+IFC=2,2`), and the agent takes pushed socket data. 'none': a board without the lines.
   */
  flowControl?: 'rts-cts' | 'none';
  /**
   * The board wires the modem's STATUS output to a GPIO input (Platform.modemStatus): an off
   * modem is seen as off, without the AT probe before the power key. Default false (the boards'
   * default wiring has no STATUS line).
   */
  modemStatusPin?: boolean;
  /** Flash erase/program times of the NOR part (default 'typical'; tools/devkit/parts/sim-flash.ts). */
  flashTiming?: FlashTimingName;
  /**
   * How the simulated MCUboot's erases reach the flash (sim-mcuboot.ts `eraseCalls`): default
   * 'per-sector', the named board's MCUboot (v2.3, pinned by Zephyr 4.4.0); 'per-region' for
   * MCUboot up to v2.1.
   */
  mcubootEraseCalls?: McubootEraseCalls;
  backend?: DevkitBackend;
  /** The signed image the server offers. */
  image: Uint8Array;
  /** The image in the primary slot at power-on, when the flash has none yet. */
  baseImage: Uint8Array;
  /**
   * 'test': the factory flashed `baseImage` with a test trailer (boot magic, image_ok unset, as
   * `imgtool sign --pad` without `--confirm` writes it): it boots unconfirmed with nothing in the
   * secondary slot to revert to (issue 13.3). Default: no trailer (a confirmed image).
   */
  baseTrailer?: 'test';
  /** PEM of the key MCUboot trusts and the A5000 holds (public or private). */
  trustedKeyPem: string;
  /** Persist the dev kit's flash here (the documented layout), reused if it exists. */
  flashFile?: string;
  /**
   * Flash layout (default DEVKIT_LAYOUT: the named board's, boards/pico_plus2/flash-layout.json;
   * docs/flash-layout.md). Any layout also sets MCUboot's MCUBOOT_MAX_IMG_SECTORS and the agent's
   * `trailerSize` to match, and the agent's maxBytesPerDeployment to 4x the slot (the agent's
   * defaults are those of a 0x60000 slot, SMALL_SLOT_LAYOUT).
   */
  layout?: FlashLayout;
  /** Persist the key-value store (the agent's journal) here. */
  keyValueFile?: string;
  /**
   * The control channel (IoTConnect MQTT, hawkBit DDI) over TLS terminated in the agent
   * (otaControlTls agent), the device key generated in the simulated A5000 and certified by the
   * server's CA (docs/tls.md); default: the modem's TLS. The download keeps the modem's TLS.
   */
  agentTls?: boolean;
  /**
   * IoTConnect with agentTls: the broker TLS listener the device reaches, the dev kit's counting tap
   * (default) or mosquitto's own (BackendSetup.mqttTlsListener).
   */
  mqttTlsListener?: 'tap' | 'mosquitto';
  /**
   * With agentTls: what the factory step writes into the A5000's certificate object instead of
   * the chain issued for the device key (bytes written raw), or null to write none: the specs of
   * a missing, garbage, too large or wrong certificate object. Default: the issued chain.
   */
  deviceCertificate?: (issued: Uint8Array) => Uint8Array | null;
  /** With agentTls: the TLS versions the agent offers (otaTlsVersions; default 1.3,1.2). */
  tlsVersions?: '1.3,1.2' | '1.3' | '1.2';
  /**
   * hawkBit: the reference server wants a TLS client certificate from the test CA for every DDI
   * request but a download (default: exactly with agentTls).
   */
  requireClientCertificate?: boolean;
  /**
   * The simulated A5000's key store file (`xs-ota se provision` writes it): when it exists, the
   * A5000 holds its objects instead of the trusted key (so `se remove` leaves the agent without
   * a key, as on a real board).
   */
  a5000StoreFile?: string;
  faults?: DevkitFault[];
  seed?: number;
  /** Give up after this much virtual time (default 6 h). */
  maxVirtualMs?: number;
  onProgress?: (written: number, total: number) => void;
  onLog?: (entry: LogEntry) => void;
  onBoot?: (boot: number, mcuboot: McubootResult) => void;
  /** Called once the backend is prepared, before power-on (tests reach the cloud side here). */
  onBackend?: (prepared: PreparedBackend) => void;
  /** hawkBit deployment handling (default: download and update 'forced', no maintenance window). */
  deployment?: { update?: 'skip' | 'attempt' | 'forced'; maintenanceWindow?: 'available' | 'unavailable' };
  /** Called once the parts exist, before power-on: tests drive the server or time from here. */
  onReady?: (kit: Pick<Devkit, 'time' | 'server' | 'flash'>) => void;
  /** Agent settings over the dev kit's, by their names in AgentConfig (src/agent/config.ts), e.g. downloadSegmentBytes, bodyMax. */
  policy?: Partial<AgentConfig>;
  /**
   * Offer this VCDIFF delta beside the image (`xs-ota sim --delta`), named as made from `from`
   * (default: baseImage), so a test can offer one made from another image.
   */
  delta?: { bytes: Uint8Array; from?: Uint8Array };
  /**
   * hawkBit or the static manifest: the update is offered this many virtual seconds after
   * power-on, not before the first poll: the device polls, finds nothing (hawkBit: no action; the
   * manifest: it names the running image) and idles first (it erases its secondary slot ahead
   * meanwhile, src/slot/erased-ahead.ts), as a fleet device meets an update.
   */
  offerAfterS?: number;
  /**
   * Run until the agent has reported this many deployments (default 1): a test that offers a
   * second deployment after the first (download only, then install) waits for 2.
   */
  deployments?: number;
  /**
   * Talk to a server the dev kit did not start (`xs-ota server`, a staging hawkBit): the backend
   * URL (hawkBit server root, manifest URL). No reference server is started and no deployment
   * created; the modem resolves the URL's host names (and a redirect's) as a real one does, by
   * name from this machine (`hosts` first). `reports` and `artifactRequests` are then empty: the
   * other server recorded them.
   */
  server?: string;
  /** Name resolution for `server`: host name → address the modem connects to (as curl's --resolve). */
  hosts?: Record<string, string>;
  /** Device id and token at `server` (default DEVKIT_DEVICE_ID, DEVKIT_TOKEN). */
  deviceId?: string;
  authToken?: string;
  /** hawkBit: more of the deployment the reference server offers (a label as `version`, extra chunks, a redirecting artifact...). */
  hawkbit?: Partial<DeploymentSpec>;
  /**
   * hawkBit confirmationBase: the application's consent hook (StartOptions.confirmDeployment), run
   * in XS, confirms an offer whose `version` is listed and denies any other (`xs-ota sim` has no
   * such option: an application decides). Default: no hook, the `autoConfirm` setting decides.
   */
  confirmVersions?: string[];
  /** IoTConnect: more of the OTA command (further files in urls[], its `hw`, a `sw` label). */
  iotconnect?: BackendSetup['iotconnect'];
  /** Static manifest: the document's `version` string (a label such as v1.1.0; default the image header's version). */
  manifestVersion?: string;
  /** Also stop at the first agent log line this accepts (an outcome the backend reports itself, e.g. `deployment.unusable`). */
  until?: (entry: LogEntry) => boolean;
}

export interface DevkitSummary {
  outcome: string;
  reason?: string;
  versionBefore: string;
  versionAfter: string;
  imageBytes: number;
  boots: number;
  mcuboot: McubootResult['outcome'][];
  virtualMs: number;
  realMs: number;
  /** Image bytes over virtual seconds spent in the download state(s). */
  downloadGoodputBps: number;
  /** TLS handshakes the dev kit's servers completed (the modem's verified connections). */
  tlsHandshakes: number;
  /** Bytes the server sent for the artifact (more than the image after a resume). */
  artifactBytesSent: number;
  /** Every artifact request: status, the Range asked, body bytes the server wrote to the socket. */
  artifactRequests: { status: number; range?: string; bytesSent: number; clientCertificateCn?: string }[];
  /**
   * Every other request to the reference server (hawkBit DDI, manifest), with the CN of the TLS
   * client certificate it came with (hawkBit with agentTls: the device's, from the A5000's key).
   */
  controlRequests: { method: string; path: string; status: number; clientCertificateCn?: string }[];
  /** UART bytes each way; bytes lost at the MCU's full RX FIFO; times RTS/CTS held the modem. */
  uart: { bytesToModem: number; bytesFromModem: number; overrunBytes: number; ctsHolds: number };
  /** Payload bytes the modem exchanged with the network (HTTP and MQTT over TLS; records not counted). */
  network: { rxBytes: number; txBytes: number };
  /** MQTT packets the device sent over the modem's TLS (SimModemCounters.mqttSent): type and virtual ms, in order. */
  mqttSent: { type: number; at: number }[];
  flash: {
    erases: number;
    /** Of those, 64 KiB block erases (the agent's, through eraseBlocks). */
    blockErases: number;
    writes: number;
    /**
     * Erases of each secondary-slot sector by the agent (not MCUboot) until the first swap (or the
     * end): index = sector in the slot.
     */
    agentSecondaryErases: number[];
    /** Image bytes the agent programmed into the secondary slot, counting a rewrite after a resume again. */
    agentImageBytesWritten: number;
    /** The flash timing in force ('typical', 'worst', 'none'; tools/devkit/parts/sim-flash.ts). */
    timing: string;
    /** Device busy time of every flash operation after the factory's, ms. */
    busyMs: number;
    /** Virtual ms of each MCUboot run (validation reads, the swap), in boot order. */
    bootloaderMs: number[];
  };
  /** Key-value writes (the journal: data parts and headers, 255 bytes at most each). */
  keyValue: { writes: number };
  /** Verifications, and data bytes over I2C in ACKed transactions (host->SE, SE->host). */
  a5000: { verifications: number; i2cBytesToSe: number; i2cBytesFromSe: number; signatures: number; agreements: number };
  xs: SimDevice['meter'];
  reports: RecordedReport[];
  /** IoTConnect: the acknowledgements the cloud double recorded, in order. */
  acks?: RecordedAck[];
  logs: LogEntry[];
  /** The secondary slot's MCUboot trailer at the end (magic 'unset': nothing pending). */
  secondary: SwapState;
  /** The update history in the key-value store at the end (src/agent/history.ts), oldest first. */
  history: HistoryEntry[];
  /** Why the device reset, in order ('power cut' or the agent's reboot reason). */
  resets: string[];
  /**
   * Indices (into `faults`) of download-fraction and event faults that never took effect: the
   * event never came, or a power cut was scheduled N flash operations on and the device never
   * did that many. A fault that never fired means the run did not test what was asked.
   */
  faultsNotFired: number[];
  /** Power cuts that landed inside MCUboot's swap (a pending cut is not cleared at reset). */
  cutsInBootloader: number;
}

export interface Devkit {
  time: VirtualTime;
  server: ReferenceServer;
  flash: DevkitFlash;
  a5000: SimA5000;
  modem: SimModemKit;
  keyValue: SimKeyValue;
  device: SimDevice;
}

/**
 * Version of a signed image, from its header (MCUboot image_header: ih_ver at offset 20, major,
 * minor, revision u16 LE, build u32 LE). Read directly, so that the dev kit can offer images the
 * agent must refuse (too large for the slot, say).
 */
export function imageVersion(image: Uint8Array): string {
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (image.length < 32 || view.getUint32(0, true) !== 0x96f3b83d) throw new Error('not an MCUboot image');
  return formatVersion({ major: image[20], minor: image[21], revision: view.getUint16(22, true), build: view.getUint32(24, true) });
}

/** The raw 04||X||Y point of a P-256 key in PEM (public or private). */
export function rawPublicPoint(pem: string): Uint8Array {
  const spki = createPublicKey(pem).export({ format: 'der', type: 'spki' });
  // P-256 SubjectPublicKeyInfo: a fixed 26-byte prefix, then the 65-byte point.
  if (spki.length !== 91) throw new Error('the key is not an ECDSA P-256 key');
  return new Uint8Array(spki.subarray(26));
}

/**
 * Program `image` into an erased partition as a factory would: no trailer (a confirmed image), or
 * with `trailer` 'test' only the boot magic at the slot's end (image_ok unset: unconfirmed).
 */
function factoryFlash(slot: FlashPort, image: Uint8Array, trailer?: 'test'): void {
  const s = slot.status();
  const padded = new Uint8Array(Math.ceil(image.length / s.writeAlign) * s.writeAlign).fill(s.eraseValue);
  padded.set(image);
  for (let b = 0; b < s.size / s.blockLength; b++) slot.eraseBlock(b);
  for (let o = 0; o < padded.length; o += s.blockLength) slot.write(o, padded.subarray(o, Math.min(o + s.blockLength, padded.length)));
  if (trailer === 'test') slot.write(s.size - BOOT_MAGIC_SIZE, BOOT_MAGIC);
}

export async function runDevkitUpdate(options: DevkitOptions): Promise<DevkitSummary> {
  const realStart = Date.now();
  const faults = options.faults ?? [];
  // agentTls: the agent checks the broker certificate's validity, and the broker's test PKI is
  // issued for two days from the real now (tools/node/mosquitto.ts): the device clock starts there.
  const time = new VirtualTime(options.agentTls ? Math.floor(Date.now() / 1000) : undefined);
  if (options.server !== undefined) {
    // A server started elsewhere: every name the device asks for is resolved here, by name.
    const hosts = options.hosts ?? {};
    const resolve = (host: string, port: number) => ({ host: hosts[host] ?? host, port });
    const settings: Partial<StartConfig> = { deviceId: options.deviceId ?? DEVKIT_DEVICE_ID, token: options.authToken ?? DEVKIT_TOKEN };
    return runPrepared(options, time, undefined, { backendUrl: options.server, resolve, settings }, realStart);
  }
  // hawkBit with agentTls: the reference server's TLS runs through counting taps, so the modem's
  // plain DDI sockets (TLS records) wait on counts, never on real silence (tools/devkit/parts/mqtt-tls-tap.ts).
  const serverTaps = options.agentTls && (options.backend ?? 'hawkbit') === 'hawkbit' ? new TlsTaps() : undefined;
  const server = await startReferenceServer({
    ...(serverTaps ? { tlsTap: serverTlsTap(serverTaps) } : {}),
    port: 0,
    // https:// URLs: the modem runs TLS to the server, verified against DEVKIT_CA.
    scheme: 'https',
    controllerId: DEVKIT_DEVICE_ID,
    token: DEVKIT_TOKEN,
    gatewayToken: DEVKIT_GATEWAY_TOKEN,
    pollingSleep: '00:01:00',
    clockSource: () => time.epochS + time.now() / 1000,
    // hawkBit with agentTls: the DDI API wants the device's client certificate (docs/tls.md).
    ...((options.requireClientCertificate ?? options.agentTls) && (options.backend ?? 'hawkbit') === 'hawkbit' ? { clientCertificates: { caPem: TEST_CA_PEM } } : {}),
  });
  serverTaps?.listening(server.port);
  const targetVersion = imageVersion(options.image);
  const backend = options.backend ?? 'hawkbit';
  let prepared: PreparedBackend;
  try {
    const delta = options.delta && { bytes: options.delta.bytes, ...deltaSourceOf(options.delta.from ?? options.baseImage) };
    const setup = { server, image: options.image, version: targetVersion, faults, nowS: () => time.epochS + time.now() / 1000, deployment: options.deployment, hawkbit: options.hawkbit, iotconnect: options.iotconnect, manifestVersion: options.manifestVersion, delta, agentTls: options.agentTls, mqttTlsListener: options.mqttTlsListener };
    if (options.offerAfterS !== undefined) {
      // The device boots into an idle fleet: its polls find nothing until the operator assigns
      // the update (hawkBit: the action is created then), as a device in the field meets one.
      if (backend === 'hawkbit') prepared = { backendUrl: server.url };
      else if (backend === 'manifest') prepared = { backendUrl: server.manifest.publish({ name: 'devkit', version: imageVersion(options.baseImage), image: options.baseImage }).url };
      else throw new Error(`offerAfterS: hawkBit or the manifest (backend ${backend})`);
      time.after(options.offerAfterS * 1000, () => prepareBackend(backend, setup));
    } else {
      prepared = await prepareBackend(backend, setup);
    }
  } catch (error) {
    await server.close();
    throw error;
  }
  if (serverTaps) prepared = { ...prepared, tlsTaps: serverTaps };
  options.onBackend?.(prepared);
  try {
    return await runPrepared(options, time, server, prepared, realStart);
  } finally {
    await prepared.close?.();
    await server.close();
  }
}

async function runPrepared(options: DevkitOptions, time: VirtualTime, server: ReferenceServer | undefined, prepared: PreparedBackend, realStart: number): Promise<DevkitSummary> {
  const faults = options.faults ?? [];
  const backend = options.backend ?? 'hawkbit';
  const layout = options.layout ?? DEVKIT_LAYOUT;
  const flash = createDevkitFlash({ file: options.flashFile, seed: options.seed, layout, timing: flashTiming(options.flashTiming ?? 'typical') });
  if (!readSlotSummary(flash.primary)) factoryFlash(flash.primary, options.baseImage, options.baseTrailer);
  // perf (issue 15): from here on, flash operations block the MCU (or the bootloader) for the
  // part's erase/program/read times (the factory's programming above took none of the device's).
  const cpu = new CpuBusy(time);
  flash.device.onBusy = (us) => cpu.occupy(us / 1000);
  const bootloaderMs: number[] = [];
  const versionBefore = formatVersion(readSlotSummary(flash.primary)!.header.version);

  const provisioned = options.a5000StoreFile && existsSync(options.a5000StoreFile) ? loadSimA5000Store(options.a5000StoreFile) : undefined;
  const a5000 = new SimA5000({ clock: time, objects: provisioned ?? new Map([[DEVKIT_KEY_OBJECT, { type: 'ec-p256-public', value: rawPublicPoint(options.trustedKeyPem) }]]) });
  // agentTls: the factory's step, the device key born in the A5000 and its certificate written
  // into the A5000's certificate object (tools/devkit/device-identity.ts).
  const agentTls = prepared.controlTls ? await provisionDeviceIdentity(time, a5000, prepared.controlTls, `CN=${prepared.settings?.deviceId ?? DEVKIT_DEVICE_ID}`, options.deviceCertificate) : undefined;
  const modem = createSimModem(time, {
    model: (options.modem ?? 'sim7080') === 'sim7080' ? 'sim7080g' : 'sim7600',
    server: server ? { host: '127.0.0.1', port: server.port } : undefined,
    resolve: prepared.resolve,
    uart: { baud: options.baud ?? 115200, flowControl: options.flowControl ?? 'rts-cts', burstBytes: options.uartBurstBytes },
    cloudWork: prepared.cloudWork,
    tlsTaps: prepared.tlsTaps,
    tlsObserve: prepared.observedTlsPorts ? { ports: prepared.observedTlsPorts.ports, ecdhFor: (point) => a5000.ecdhFor(point), ticketsAfterFinished: prepared.observedTlsPorts.ticketsAfterFinished } : undefined,
    urlMax: options.modemUrlMax,
  });
  const keyValue = new SimKeyValue({ file: options.keyValueFile });
  const digest = new NodeDigest();

  // A power cut: the flash tears its current operation, the MCU stops; everything after it fails.
  let powerLost = false;
  // Faults that took effect; a power cut scheduled N flash operations on counts once it tears.
  const effective = new Set<DevkitFault>();
  let scheduledCut: DevkitFault | undefined;
  const cutLanded = (): void => {
    if (scheduledCut) effective.add(scheduledCut);
    scheduledCut = undefined;
  };
  const powered = <T>(fn: () => T): T => {
    if (powerLost) throw new PowerCut(flash.powerCut.ops);
    try {
      return fn();
    } catch (error) {
      if (isPowerCut(error)) {
        powerLost = true;
        cutLanded();
      }
      throw error;
    }
  };
  if (server) options.onReady?.({ time, server, flash });
  const fired = new Set<DevkitFault>();
  const eventCounts = new Map<string, number>();
  // The operator cancels the action on the server (hawkBit: the device then sees cancelAction).
  const cancelOnServer = (): void => {
    try {
      server?.hawkbit.cancel();
    } catch {
      // no open action any more (it ended first): nothing to cancel
    }
  };
  const onAgentLog = (entry: LogEntry): void => {
    options.onLog?.(entry);
    const count = (eventCounts.get(entry.event) ?? 0) + 1;
    eventCounts.set(entry.event, count);
    for (const fault of faults) {
      if (!fault.event || fired.has(fault) || fault.event.event !== entry.event || count < (fault.event.occurrence ?? 1)) continue;
      fired.add(fault);
      if (fault.kind === 'cancel') {
        cancelOnServer();
        effective.add(fault);
      } else if (fault.event.afterFlashOps === undefined) {
        powerLost = true;
        effective.add(fault);
      } else {
        scheduledCut = fault;
        flash.powerCut.afterOps(fault.event.afterFlashOps, 'random');
      }
    }
  };
  const resets: string[] = [];
  let written = 0;
  let imageBytesWritten = 0;
  let swapSeen = false;
  let heapMark = 0;
  const agentSecondaryErases = new Array<number>(layout.secondary.size / layout.sectorSize).fill(0);
  const onSecondaryWrite = (offset: number, length: number): void => {
    if (offset + length > written) written = offset + length;
    if (offset < options.image.length) imageBytesWritten += Math.min(length, options.image.length - offset);
    // Live XS heap (after a full collection) at every sixteenth of the image: does the agent's
    // memory grow with the download? Sampled from a virtual-time event, between cranks.
    const mark = Math.floor((written / options.image.length) * HEAP_SAMPLES);
    if (mark > heapMark) {
      heapMark = mark;
      time.after(0, () => device.sampleLiveHeap());
    }
    options.onProgress?.(Math.min(written, options.image.length), options.image.length);
    const fraction = written / options.image.length;
    for (const fault of faults) {
      if (fault.at === undefined || fired.has(fault) || fraction < fault.at) continue;
      fired.add(fault);
      if (fault.kind === 'power-cut') {
        scheduledCut = fault;
        flash.powerCut.afterOps(1, 'random');
      } else effective.add(fault);
      if (fault.kind === 'link-drop') modem.modem.dropLink();
      else if (fault.kind === 'modem-reboot') modem.modem.setFaults({ rebootAt: 0 });
      else if (fault.kind === 'uart-noise') modem.modem.setFaults({ garbageAt: 64, garbageBytes: 16 });
      else if (fault.kind === 'cancel') cancelOnServer();
    }
  };
  const guardFlash = (slot: FlashPort, watch: boolean): FlashPort => ({
    status: () => slot.status(),
    read: (offset, into) => powered(() => slot.read(offset, into)),
    write: (offset, bytes) =>
      powered(() => {
        slot.write(offset, bytes);
        if (watch) onSecondaryWrite(offset, bytes.length);
      }),
    eraseBlock: (block) =>
      powered(() => {
        if (watch && !swapSeen) agentSecondaryErases[block]++;
        slot.eraseBlock(block);
      }),
    eraseBlocks: (first, end) =>
      powered(() => {
        if (watch && !swapSeen) for (let b = first; b < end; b++) agentSecondaryErases[b]++;
        eraseRange(slot, first, end);
      }),
    close: () => undefined,
  });
  const guardedKeyValue: KeyValuePort = {
    get maxValueLength() {
      return keyValue.maxValueLength;
    },
    read: (key) => powered(() => keyValue.read(key)),
    write: (key, value) => powered(() => keyValue.write(key, value)),
    delete: (key) => powered(() => keyValue.delete(key)),
  };

  const trustedKeyPem = options.trustedKeyPem;
  const mcubootOutcomes: McubootResult['outcome'][] = [];
  let cutsInBootloader = 0;
  const runMcuboot = async (): Promise<void> => {
    let result: McubootResult;
    cpu.clear();
    const before = cpu.blockedMs;
    // A cut still scheduled (power-cut@event:reboot.swap+N: more flash operations than the agent
    // did before its reset) lands in the bootloader's swap: MCUboot dies mid-swap, the board
    // powers up again and MCUboot resumes from its swap status, as on hardware.
    for (;;) {
      if (!flash.device.powered) flash.powerCut.powerOn();
      powerLost = false;
      try {
        result = bootMcuboot(flash, { trustedKeyPem, maxSectors: layout.maxSectors, eraseCalls: options.mcubootEraseCalls });
        break;
      } catch (error) {
        if (!isPowerCut(error)) throw error;
        cutLanded();
        cutsInBootloader++;
        resets.push('power cut (in MCUboot)');
        flash.powerCut.powerOn();
      }
    }
    // The bootloader's flash work (validation reads, the swap's erases and programs) takes time.
    bootloaderMs.push(cpu.blockedMs - before);
    if (cpu.deferUntil > time.now()) await time.advance(cpu.deferUntil - time.now());
    mcubootOutcomes.push(result.outcome);
    options.onBoot?.(mcubootOutcomes.length, result);
    if (result.booted === null) throw new Error(`the device does not boot: MCUboot says ${result.outcome}`);
  };
  let swapped = false;
  const settings: StartConfig = {
    backend,
    url: prepared.backendUrl,
    tenant: 'DEFAULT',
    deviceId: DEVKIT_DEVICE_ID,
    token: options.authToken ?? DEVKIT_TOKEN,
    caCert: 'ca.pem',
    caPem: DEVKIT_CA,
    modem: options.modem ?? 'sim7080',
    uartFlowControl: options.flowControl ?? 'rts-cts',
    keyId: DEVKIT_KEY_OBJECT,
    pollIntervalS: 60,
    healthDeadlineS: 120,
    retryBaseS: 10,
    retryCapS: 600,
    trailerSize: layout.trailerSize,
    maxBytesPerDeployment: 4 * layout.secondary.size,
    ...prepared.settings,
    // The device settings otaControlTls agent, otaDeviceKeyId and otaDeviceCert: the agent reads
    // the certificate from the A5000 object at boot, as a fleet device does.
    ...(agentTls ? { controlTls: 'agent', deviceKeyId: agentTls.deviceKeyId, deviceCert: agentTls.deviceCert, controlCaPem: agentTls.caPem, ...(options.tlsVersions ? { tlsVersions: options.tlsVersions } : {}) } : {}),
    ...options.policy,
  };
  const device = new SimDevice({
    time,
    bundle: 'agent',
    platform: {
      modemSerial: modem.serial,
      modemPowerKey: modem.powerKey,
      ...(options.modemStatusPin ? { modemStatus: modem.status } : {}),
      seI2c: a5000,
      primarySlot: guardFlash(flash.primary, false),
      secondarySlot: guardFlash(flash.secondary, true),
      keyValue: guardedKeyValue,
      digest,
      tlsCrypto: new NodeTlsCrypto(),
    },
    startArgs: () => ({
      settings,
      // health-fail: the image under test is unhealthy (after a swap, or the factory's test-trailer image).
      healthy: !((swapped || options.baseTrailer === 'test') && faults.some((f) => f.kind === 'health-fail')),
      randomSeed: (options.seed ?? 1) + mcubootOutcomes.length,
      modemStatus: options.modemStatusPin === true,
      confirmVersions: options.confirmVersions,
    }),
    onReset: async () => {
      await runMcuboot();
      if (mcubootOutcomes.at(-1) === 'test-swap') swapped = true;
      if (mcubootOutcomes.at(-1) !== 'none') swapSeen = true;
    },
    onLog: onAgentLog,
    cpu,
  });

  const wanted = options.deployments ?? 1;
  const until = options.until;
  // An offer the agent already ended (HistoryRecorder.endedBefore) is not taken again: nothing
  // more happens for it, so the run ends there (outcome 'already-ended').
  const finalReport = (): LogEntry | undefined =>
    device.logs.filter((e) => e.event === 'deployment.reported')[wanted - 1] ?? (until ? device.logs.find(until) : undefined) ?? device.logs.find((e) => e.event === 'deployment.already-ended');
  const limit = options.maxVirtualMs ?? 6 * 3600_000;
  try {
    await runMcuboot();
    await device.boot();
    while (!finalReport()) {
      await time.runUntil(() => device.resetPending || powerLost || finalReport() !== undefined, { untilMs: limit });
      if (finalReport()) break;
      if (!device.resetPending && !powerLost) throw new Error(`no outcome within ${limit} ms of device time`);
      const reason = powerLost ? 'power cut' : undefined;
      resets.push(reason ?? 'reboot');
      // A power cut is the board's: the modem shares the supply and loses its state too (else its
      // answer to a command in flight would meet the next boot's first command).
      if (powerLost) modem.modem.powerOff(false);
      await device.reset(reason);
    }
    await device.sampleLiveHeap();
  } finally {
    await device.close();
  }
  const report = finalReport()!;
  const after = readSlotSummary(flash.primary);
  const downloadMs = downloadTime(device.logs);
  const summary: DevkitSummary = {
    outcome: report.event === 'deployment.already-ended' ? 'already-ended' : String(report.fields?.phase),
    reason: report.fields?.reason === undefined ? undefined : String(report.fields.reason),
    versionBefore,
    versionAfter: after ? formatVersion(after.header.version) : 'none',
    imageBytes: options.image.length,
    boots: device.boots,
    mcuboot: mcubootOutcomes,
    virtualMs: time.now(),
    realMs: Date.now() - realStart,
    downloadGoodputBps: downloadMs > 0 ? (options.image.length * 1000) / downloadMs : 0,
    // The agent's own TLS handshakes (hawkBit with agentTls) come with the device certificate: not the modem's.
    tlsHandshakes: (server ? server.tls.handshakes - server.tls.clientAuthenticated : 0) + (prepared.tlsHandshakes?.() ?? 0),
    artifactBytesSent: (server?.requests() ?? [])
      .filter((r) => r.path.includes('/artifacts/') || r.path.endsWith('.bin'))
      .reduce((n, r) => n + r.bytesSent, 0),
    artifactRequests: (server?.requests() ?? [])
      .filter((r) => r.path.includes('/artifacts/') || r.path.endsWith('.bin'))
      .map((r) => ({ status: r.status, range: r.headers.range, bytesSent: r.bytesSent, clientCertificateCn: r.clientCertificateCn })),
    controlRequests: (server?.requests() ?? [])
      .filter((r) => !(r.path.includes('/artifacts/') || r.path.endsWith('.bin')))
      .map((r) => ({ method: r.method, path: r.path, status: r.status, clientCertificateCn: r.clientCertificateCn })),
    uart: {
      bytesToModem: modem.counters().uart.toModemBytes,
      bytesFromModem: modem.counters().uart.toHostBytes,
      overrunBytes: modem.counters().uart.overrunBytes,
      ctsHolds: modem.counters().uart.ctsHolds,
    },
    network: { rxBytes: modem.counters().netRxBytes, txBytes: modem.counters().netTxBytes },
    mqttSent: modem.counters().mqttSent.slice(),
    flash: {
      erases: flash.device.stats.erases,
      blockErases: flash.device.stats.blockErases,
      writes: flash.device.stats.writes,
      agentSecondaryErases,
      agentImageBytesWritten: imageBytesWritten,
      timing: flash.device.timing.name,
      busyMs: flash.device.stats.busyUs / 1000,
      bootloaderMs,
    },
    keyValue: { writes: keyValue.writes },
    a5000: { verifications: a5000.stats.verifications, i2cBytesToSe: a5000.stats.bytesIn, i2cBytesFromSe: a5000.stats.bytesOut, signatures: a5000.stats.signatures, agreements: a5000.stats.agreements },
    xs: { ...device.meter },
    reports: server?.reports() ?? [],
    acks: prepared.acks?.(),
    logs: device.logs,
    secondary: readSwapState(flash.secondary),
    history: new UpdateHistory(keyValue).entries(),
    resets,
    faultsNotFired: faults.flatMap((f, i) => ((f.at !== undefined || f.event !== undefined) && !effective.has(f) ? [i] : [])),
    cutsInBootloader,
  };
  return summary;
}

/** Virtual ms from the first download start to the last download's end (entering verify). */
function downloadTime(logs: LogEntry[]): number {
  const start = logs.find((e) => e.event === 'download.start');
  const end = [...logs].reverse().find((e) => e.event === 'download.done');
  return start && end ? end.at - start.at : 0;
}

