/**
 * The device settings of TLS in the agent (otaControlTls agent, build option OTA_OPTIONS -tls): part of CONFIG_SCHEMA (src/agent/config.ts) only in a bundle that
 * carries it; a bundle without it resolves this module to settings-tls.absent.ts (rollup.config.mjs), which
 * has none of them, so that build neither carries nor reads them (docs/device-build.md, "Settings of a
 * part the build leaves out").
 */
import { ID, type ConfigSpec } from './setting-spec.js';
import { DEFAULT_DEVICE_KEY_ID, DEFAULT_EPHEMERAL_KEY_ID, DEFAULT_PEER_KEY_ID, deviceCertObject, objectName } from '../se/objects.js';
import { OtaError } from '../util/errors.js';

/** otaDeviceCert: `se:0x<object id>` or a resource name (LABEL characters, no ':'). */
function checkDeviceCert(value: string): string | undefined {
  const object = deviceCertObject(value);
  if (object === undefined) return value.includes(':') ? "neither 'se:0x<A5000 object id>' nor a resource name" : undefined;
  return Number.isNaN(object) ? "'se:' takes an A5000 object id 0x1..0x7FFEFFFF in hex" : undefined;
}

export const TLS_SETTINGS = {
  /**
   * TLS versions the agent offers with otaControlTls agent: 1.3,1.2 (one ClientHello, the server
   * picks; the RFC 8446 downgrade sentinel is checked), or one alone: 1.3 (TLS_AES_128_GCM_SHA256,
   * secp256r1) or 1.2 (ECDHE-ECDSA-AES128-GCM-SHA256). Both by default: a broker that changes its
   * TLS versions in the device's lifetime must not cut off the channel that brings updates.
   */
  otaTlsVersions: {
    type: 'choice',
    default: '1.3,1.2',
    choices: ['1.3,1.2', '1.3', '1.2'],
  },
  /**
   * A5000 object id of the device key pair (generated in the A5000, never exported) that signs the
   * client CertificateVerify with otaControlTls agent.
   */
  otaDeviceKeyId: {
    type: 'int',
    default: DEFAULT_DEVICE_KEY_ID,
    min: 0x00000001,
    max: 0x7ffeffff, // 0x7FFF0000..0x7FFFFFFF is reserved for the SE05x applet
  },
  /**
   * Where the device certificate chain for otaDeviceKeyId is, read once at boot only with
   * otaControlTls agent: `se:0x7B000304` an A5000 binary object (DER certificates back to back,
   * leaf first, written at provisioning beside the key: one fleet image for every device), or
   * the name of a build resource (PEM, leaf first: one certificate per image, for a lab build).
   */
  otaDeviceCert: {
    type: 'text',
    default: 'se:0x7B000304',
    maxLength: 64,
    charset: ID,
    required: true,
    check: checkDeviceCert,
  },
} as const satisfies Record<string, ConfigSpec>;

/** What resolveConfig hands checkTlsSettings: the resolved settings it reads. */
export interface TlsSettingsView {
  readonly controlTls: string;
  readonly keyId: number;
  readonly deviceKeyId: number;
  readonly deviceCert: string;
}

/** resolveConfig's check of the settings together (each one alone is checked by the schema). */
export function checkTlsSettings(c: TlsSettingsView): void {
  const certObject = deviceCertObject(c.deviceCert);
  if (certObject === undefined) return;
  // The certificate object must not be one the agent writes or deletes: TLS's transient keys
  // would delete it, and the key objects hold keys, not a certificate.
  const why = certObject === c.deviceKeyId
    ? 'the same A5000 object as otaDeviceKeyId (the device key pair)'
    : certObject === c.keyId
      ? 'the same A5000 object as otaKeyId (the image-signing public key)'
      : certObject === DEFAULT_EPHEMERAL_KEY_ID || certObject === DEFAULT_PEER_KEY_ID
        ? `${objectName(certObject)} is a transient key object of the agent's TLS (created and deleted by every handshake)`
        : undefined;
  if (why !== undefined) throw new OtaError('config-invalid', `otaDeviceCert: ${why}`);
}
