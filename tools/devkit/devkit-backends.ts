/**
 * The dev kit's update backends: what the reference server is told to offer, and the settings
 * the agent needs to reach it. One function per backend kind.
 */
import { CloudWork } from '../node/cloud-work.js';
import { startMqttTlsTap, TlsTaps } from './parts/mqtt-tls-tap.js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { StartConfig } from '../../src/agent/start.js';
import type { DeploymentSpec, ReferenceServer } from '../server/index.js';
import { startIotConnectSim, type IotConnectSim, type RecordedAck } from '../server/iotconnect.js';
import type { DevkitFault } from './devkit.js';
import type { Endpoint } from './parts/sim-modem/types.js';
import { startTlsFront, TEST_CA_KEY_PEM, TEST_CA_PEM } from '../node/test-pki.js';
import { deltaFilename } from '../../src/delta/offer-fields.js';
import { createHash } from 'node:crypto';

export type DevkitBackend = 'hawkbit' | 'manifest' | 'iotconnect';

export interface BackendSetup {
  server: ReferenceServer;
  image: Uint8Array;
  version: string;
  faults: DevkitFault[];
  /** Seconds since 1970 on the dev kit's virtual clock (URL expiry, timestamps). */
  nowS: () => number;
  deployment?: { update?: 'skip' | 'attempt' | 'forced'; maintenanceWindow?: 'available' | 'unavailable' };
  /** hawkBit: more of the deployment (a label as `version`, extra chunks, a redirecting artifact). */
  hawkbit?: Partial<DeploymentSpec>;
  /**
   * IoTConnect: more of the OTA command. `extraFiles` go into urls[] before the image (another
   * module's `.bin`, a signature file), each behind its own pre-signed URL; `hw` is the command's
   * hardware field (the SDK fixture's is '1'); `sw` its version label (default `version`).
   */
  iotconnect?: { extraFiles?: { fileName: string; bytes: Uint8Array }[]; hw?: string; sw?: string };
  /** Static manifest: the document's `version` string (default `version`, the image header's). */
  manifestVersion?: string;
  /** A VCDIFF delta to offer beside the image (docs/delta.md), and the image it was made from. */
  delta?: { bytes: Uint8Array; fromVersion: string; fromImageHash: string };
  /**
   * The control channel over TLS terminated in the agent: IoTConnect MQTT (plain modem socket to
   * mosquitto's TLS listener), hawkBit DDI (plain modem socket to the reference server, started
   * with `clientCertificates`: it wants the device's certificate; the download keeps the modem's TLS).
   */
  agentTls?: boolean;
  /**
   * IoTConnect with agentTls: which TLS listener the modem's plain sockets reach. 'tap' (default):
   * the dev kit's counting tap in front of mosquitto's plain listener (waits end on counts);
   * 'mosquitto': mosquitto's own TLS listener (require_certificate true, CA made with openssl for
   * the run), whose records the modem's sockets read with the device's key (`observedTlsPorts`,
   * tools/devkit/parts/tls13-observer.ts), so those waits end on counts too.
   */
  mqttTlsListener?: 'tap' | 'mosquitto';
}

export interface PreparedBackend {
  /**
   * TLS listeners the dev kit does not terminate (mosquitto's own) whose sockets it reads with the
   * device's key, and the NewSessionTickets each sends after the client's Finished.
   */
  observedTlsPorts?: { ports: number[]; ticketsAfterFinished: number };
  /** agentTls: the server's CA (PEM) and a signer for the device's CSR (DER) → certificate PEM. */
  controlTls?: { caPem: string; issue(csrDer: Uint8Array): string };
  backendUrl: string;
  /** hawkBit: the action the server offers. */
  actionId?: string;
  /** Settings that override the dev kit's defaults for this backend. */
  settings?: Partial<StartConfig>;
  /**
   * The modem's name resolution when the backend needs more than the reference server (the
   * modem simulator's `resolve`): host and port the device asked for → loopback endpoint.
   */
  resolve?: (host: string, port: number) => Endpoint | undefined;
  /** TLS handshakes the backend's other servers completed (the reference server counts its own). */
  tlsHandshakes?: () => number;
  /** What the backend recorded of the device's acknowledgements (IoTConnect). */
  acks?: () => RecordedAck[];
  /** The IoTConnect broker, double and device, for tests that talk to the cloud side. */
  iotconnect?: IotConnectSim;
  /** IoTConnect: what the cloud double still owes the device, for the modem's sockets (tools/node/cloud-work.ts). */
  cloudWork?: CloudWork;
  /** IoTConnect with agentTls: the MQTT TLS tap the modem's plain sockets reach (tools/devkit/parts/mqtt-tls-tap.ts). */
  tlsTaps?: TlsTaps;
  close?: () => Promise<void>;
}

/** The IoTConnect OTA the dev kit's cloud offers (ack ids are UUIDs [IOTC-C2D]). */
export const DEVKIT_IOTC_ACK = '5f0c1e2a-7b3d-4c8e-9a1f-d3e4c5b6a7f8';
export const DEVKIT_IOTC_FILE = 'app.signed.bin';

export async function prepareBackend(kind: DevkitBackend, setup: BackendSetup): Promise<PreparedBackend> {
  const { server, image, version, faults, deployment } = setup;
  const expiresInS = faults.some((f) => f.kind === 'expired-url') ? 60 : undefined;
  if (faults.some((f) => f.kind === 'server-503')) server.misbehave({ status: 503, count: 2, retryAfterS: 30, path: '/artifacts/' });
  if (faults.some((f) => f.kind === 'server-429')) server.misbehave({ status: 429, count: 1, retryAfterS: 120, path: '/artifacts/' });
  if (kind !== 'hawkbit' && faults.some((f) => f.kind === 'cancel')) throw new Error(`cancel: only hawkBit can cancel an action (backend ${kind})`);
  switch (kind) {
    case 'hawkbit':
      // A delta rides as a second artifact named by convention (src/delta/offer-fields.ts).
      const extraArtifacts = setup.delta && [{ filename: deltaFilename('app', setup.delta.fromVersion, setup.delta.fromImageHash), bytes: setup.delta.bytes }];
      const { actionId } = server.hawkbit.createDeployment({ version, image, filename: 'app.signed.bin', download: 'forced', update: deployment?.update ?? 'forced', maintenanceWindow: deployment?.maintenanceWindow, expiresInS, extraArtifacts, ...setup.hawkbit });
      // agentTls: the test CA that signed the server's certificate issues the device's too.
      return { backendUrl: server.url, actionId, ...(setup.agentTls ? { controlTls: { caPem: TEST_CA_PEM, issue: (csrDer: Uint8Array) => issueFromTestCa(csrDer, server.hawkbit.controllerId) } } : {}) };
    case 'manifest':
      return { backendUrl: server.manifest.publish({ name: 'devkit', version: setup.manifestVersion ?? version, image, expiresInS, deltas: setup.delta && [setup.delta] }).url };
    case 'iotconnect':
      return prepareIotConnect(setup, expiresInS !== undefined);
  }
}

/**
 * IoTConnect: mosquitto (throws with the install line when it is absent), the IoTConnect double
 * (discovery, identity, the cloud on the broker recording acks) and the image on the reference
 * server behind expiring pre-signed URLs, freshly signed for every command the cloud publishes.
 *
 * Every connection is TLS, verified by the simulated modem against the dev kit's test CA
 * (docs/modem-simulator.md): discovery, identity and the artifact are https:// on loopback ports
 * that speak TLS; the device asks for the broker's TLS port under its identity host name, and
 * `resolve` sends that socket to a TLS front (test CA certificate, for `localhost`) piped to the
 * broker's plain listener, as the modem has no client certificate to offer mosquitto's own TLS
 * listener.
 */
async function prepareIotConnect(setup: BackendSetup, expireFirst: boolean): Promise<PreparedBackend> {
  const { server, image, version, faults } = setup;
  const artifactPath = `/artifacts/iotconnect/${DEVKIT_IOTC_FILE}`;
  // IoTConnect signs the URLs when it publishes the command; the download is one GET that starts
  // a few seconds later. With `expired-url` the first command's URL lives 1 s (stale when used:
  // 403, the agent asks again with mt 205), the fresh ones an hour.
  let published = 0;
  // What the cloud double owes the device, counted by both (the modem's MQTT waits end on it).
  const cloudWork = new CloudWork();
  // A delta rides as a further file named with its source, size and SHA-256 (src/delta/offer-fields.ts).
  const delta = setup.delta;
  const deltaFile = delta && deltaFilename('app', delta.fromVersion, delta.fromImageHash, { size: delta.bytes.length, sha256: createHash('sha256').update(delta.bytes).digest('hex') });
  const extraFiles = setup.iotconnect?.extraFiles ?? [];
  const sim = await startIotConnectSim({
    fileUrl: (fileName) => {
      const extra = extraFiles.find((f) => f.fileName === fileName);
      if (extra) return server.artifacts.put(`/artifacts/iotconnect/${extra.fileName}`, extra.bytes, { expiresInS: 3600 });
      return delta && fileName === deltaFile
        ? server.artifacts.put(`/artifacts/iotconnect/${deltaFile}`, delta.bytes, { expiresInS: 3600 })
        : server.artifacts.put(artifactPath, image, { expiresInS: expireFirst ? (published++ === 0 ? 1 : 3600) : 3600 });
    },
    now: () => Math.floor(setup.nowS()),
    scheme: 'https',
    work: cloudWork,
  });
  const { double, broker, device } = sim;
  if (faults.some((f) => f.kind === 'duplicate-command')) double.faults.copiesPer205 = 2;
  const files = [...extraFiles.map((f) => ({ fileName: f.fileName })), { fileName: DEVKIT_IOTC_FILE }, ...(deltaFile ? [{ fileName: deltaFile }] : [])];
  await double.startOta(device.duid, { ack: DEVKIT_IOTC_ACK, sw: setup.iotconnect?.sw ?? version, hw: setup.iotconnect?.hw, files });
  const mqttHost = 'localhost'; // what identity names (the broker certificate's name)
  const mqttFront = await startTlsFront({ host: broker.host, port: broker.plainPort }).catch(async (error: unknown) => {
    await sim.stop();
    throw error;
  });
  // agentTls: the broker's TLS listener as the dev kit's tap terminates it (its certificate, key
  // and CA, a client certificate required), so the waits can count the MQTT inside.
  const tlsTaps = setup.agentTls && setup.mqttTlsListener !== 'mosquitto' ? new TlsTaps() : undefined;
  const tap = tlsTaps
    ? await startMqttTlsTap({
        broker: { host: broker.host, port: broker.plainPort },
        key: readFileSync(broker.pki.serverKeyPath, 'utf8'),
        cert: readFileSync(broker.pki.serverCertPath, 'utf8'),
        ca: broker.pki.caPem,
        taps: tlsTaps,
        work: cloudWork,
      })
    : undefined;
  return {
    backendUrl: double.discoveryUrl,
    settings: { deviceId: device.duid, token: undefined, tenant: sim.settings.cpid, iotcEnv: sim.settings.env },
    // With agentTls the modem's plain socket goes to a TLS listener with the broker's certificate
    // wanting a client certificate (the tap's, or mosquitto's own with mqttTlsListener
    // 'mosquitto'), and the broker's CA issues the device certificate for the SE's key.
    ...(setup.agentTls ? { controlTls: { caPem: broker.pki.caPem, issue: (csrDer: Uint8Array) => issueFromCa(broker.pki.dir, csrDer, device.duid) } } : {}),
    resolve: (host, port) => {
      if (host === mqttHost && port === broker.tlsPort) return tap ? tap.endpoint : setup.agentTls ? { host: broker.host, port: broker.tlsPort } : mqttFront.endpoint;
      if (host === '127.0.0.1') return { host, port };
      return undefined; // a DNS failure, as the modem reports it
    },
    acks: () => double.acks(device.duid),
    tlsHandshakes: () => mqttFront.tls.handshakes,
    iotconnect: sim,
    cloudWork,
    tlsTaps,
    // mosquitto leaves OpenSSL's default of two TLS 1.3 session tickets (SSL_CTX_set_num_tickets).
    ...(setup.agentTls && !tap ? { observedTlsPorts: { ports: [broker.tlsPort], ticketsAfterFinished: 2 } } : {}),
    close: async () => {
      await tap?.close();
      await mqttFront.close();
      await sim.stop();
    },
  };
}

/** The test CA in `dir` (tools/node/mosquitto.ts makeTestPki) signs a client certificate for `csrDer`, CN = `cn`. */
function issueFromCa(dir: string, csrDer: Uint8Array, cn: string): string {
  const base = `agent-tls-${cn.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
  writeFileSync(path.join(dir, `${base}.csr`), csrDer);
  writeFileSync(path.join(dir, `${base}.ext`), 'extendedKeyUsage=clientAuth\n');
  execFileSync('openssl', ['x509', '-req', '-inform', 'DER', '-in', `${base}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${base}.ext`, '-out', `${base}.crt`], { cwd: dir, stdio: 'pipe' });
  return readFileSync(path.join(dir, `${base}.crt`), 'utf8');
}

/** The dev kit's test CA (tools/node/test-pki) signs a client certificate for `csrDer`, CN = `cn`. */
export function issueFromTestCa(csrDer: Uint8Array, cn: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'xs-ota-device-cert-'));
  try {
    writeFileSync(path.join(dir, 'ca.crt'), TEST_CA_PEM);
    writeFileSync(path.join(dir, 'ca.key'), TEST_CA_KEY_PEM);
    return issueFromCa(dir, csrDer, cn);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
