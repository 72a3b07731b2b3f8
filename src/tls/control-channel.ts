/**
 * The control channel's connector from the agent's settings: with otaControlTls agent, TLS is
 * terminated in the agent over the modem's plain sockets (src/tls/connector.ts) with the device
 * key in the A5000; without it, the modem's own TLS. docs/tls.md says which channel uses which.
 */
import type { ByteStreamConnector } from '../net/byte-stream.js';
import type { ClockPort } from '../platform/clock.js';
import type { DigestPort } from '../platform/digest.js';
import type { TlsCryptoPort } from '../platform/tls-crypto.js';
import type { Se05x } from '../se/se05x.js';
import { DEFAULT_EPHEMERAL_KEY_ID, DEFAULT_PEER_KEY_ID } from '../se/objects.js';
import { OtaError } from '../util/errors.js';
import { AGENT_TLS_VERSIONS, agentTlsConnector, type AgentTlsVersion } from './connector.js';
import type { DeviceCertificate } from './device-certificate.js';
import { pemBlocks } from './pem.js';
import { SeKeyOps } from './se-key-ops.js';

export interface AgentTlsSettings {
  /** A5000 object of the device key pair (generated there at provisioning). */
  readonly deviceKeyId: number;
  /**
   * The device certificate chain for that key (DER, leaf first) as read at boot
   * (readDeviceCertificate), or why it could not be read: then every connect fails with that
   * error, so the agent still runs, logs it and retries, and the device stays bootable.
   */
  readonly certificate: DeviceCertificate;
  /** CA certificate(s), PEM, the broker's chain must lead to; default the agent's `caCert`. */
  readonly caPem?: Uint8Array;
  /** Free object ids for the transient ECDHE key and a peer key being verified. */
  readonly ephemeralKeyId?: number;
  readonly peerKeyId?: number;
  /**
   * The TLS versions offered (otaTlsVersions): '1.3,1.2' (default: one hello, the server picks),
   * '1.3' or '1.2' alone to pin one.
   */
  readonly version?: AgentTlsVersion;
}

export interface ControlChannelParts {
  plain: ByteStreamConnector;
  se: Se05x;
  clock: ClockPort;
  digest: DigestPort;
  crypto: TlsCryptoPort | undefined;
  /** The CA certificate(s), PEM: the broker's chain must lead to one. */
  caPem: Uint8Array | undefined;
}

/** Object ids the agent uses for transient keys by default (src/se/objects.ts). */
export { DEFAULT_EPHEMERAL_KEY_ID, DEFAULT_PEER_KEY_ID };

export function agentTlsControlConnector(settings: AgentTlsSettings, parts: ControlChannelParts): ByteStreamConnector {
  if (!parts.crypto) throw new OtaError('config-invalid', 'otaControlTls agent: the platform has no TlsCryptoPort (modules/ota-tls-crypto.ts)');
  const caPem = settings.caPem ?? parts.caPem;
  if (!caPem || caPem.length === 0) throw new OtaError('config-invalid', 'otaControlTls agent: otaCaCert is required');
  const version = settings.version ?? '1.3,1.2';
  if (!AGENT_TLS_VERSIONS.includes(version)) throw new OtaError('config-invalid', `otaTlsVersions: one of ${AGENT_TLS_VERSIONS.join(' ')}, not '${String(version)}'`);
  const certificate = settings.certificate;
  if ('error' in certificate) {
    // No certificate to present: no handshake is attempted (no A5000 command, no socket).
    const error = certificate.error;
    return { connect: () => Promise.reject(error) };
  }
  const keys = new SeKeyOps({
    se: parts.se,
    deviceKeyId: settings.deviceKeyId,
    certificateChain: certificate.chain,
    ephemeralKeyId: settings.ephemeralKeyId ?? DEFAULT_EPHEMERAL_KEY_ID,
    peerKeyId: settings.peerKeyId ?? DEFAULT_PEER_KEY_ID,
  });
  return agentTlsConnector(parts.plain, { trustAnchors: pemBlocks(caPem), keys, crypto: parts.crypto, digest: parts.digest, now: () => parts.clock.wallClock() }, version);
}
