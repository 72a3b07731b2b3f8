/**
 * The dev kit's factory step for TLS in the agent (docs/provisioning-a5000.md, "The device's own
 * key"): the simulated A5000 generates the device key pair (WriteECKey through the agent's SE05x
 * driver, in virtual time), a CSR is signed by the SE, the broker's CA issues the certificate,
 * and the certificate chain is written into the A5000's certificate object as `xs-ota se cert`
 * writes it (tools/devkit/device-cert.ts). The device then reads it from there at boot
 * (`otaDeviceCert` `se:0x7B000304`), not from a build resource.
 */
import { Se05x } from '../../src/se/se05x.js';
import { T1Link } from '../../src/se/t1-link.js';
import { DEFAULT_DEVICE_CERT_ID, DEFAULT_DEVICE_KEY_ID } from '../../src/se/objects.js';
import { buildCsr } from './pkcs10.js';
import type { SimA5000 } from './parts/sim-a5000.js';
import type { VirtualTime } from './parts/virtual-time.js';
import { ecdsaSign, generateEcKey } from '../../src/se/se05x-keys.js';
import { pemChainDer, writeDeviceCertificate } from './device-cert.js';

/** The device key object the dev kit provisions (next to the image key 0x7B000201). */
export const DEVKIT_DEVICE_KEY_OBJECT = DEFAULT_DEVICE_KEY_ID;
/** The certificate object it writes the chain into (otaDeviceCert's default). */
export const DEVKIT_DEVICE_CERT_OBJECT = DEFAULT_DEVICE_CERT_ID;

export interface DeviceIdentity {
  deviceKeyId: number;
  /** The A5000 object holding the chain, and the otaDeviceCert value naming it. */
  deviceCertObject: number;
  deviceCert: string;
  /** The issued chain as written (PEM), for servers and checks; the device reads the object. */
  certificatePem: Uint8Array;
  caPem: Uint8Array;
}

/**
 * Provisions the device identity; `certificate` (default: the issued one) may replace what is
 * written into the object, for the specs of a wrong, garbage or missing (null) certificate.
 */
export async function provisionDeviceIdentity(
  time: VirtualTime,
  a5000: SimA5000,
  ca: { caPem: string; issue(csrDer: Uint8Array): string },
  subject: string,
  certificate?: (issued: Uint8Array) => Uint8Array | null,
): Promise<DeviceIdentity> {
  const se = new Se05x({ link: new T1Link({ i2c: a5000, clock: time.clockPort() }) });
  const issuedPem = await time.runFor(
    (async () => {
      await generateEcKey(se, DEVKIT_DEVICE_KEY_OBJECT);
      const point = await se.readObject(DEVKIT_DEVICE_KEY_OBJECT);
      const request = await buildCsr(point, subject, (digest) => ecdsaSign(se, DEVKIT_DEVICE_KEY_OBJECT, digest));
      const pem = ca.issue(request);
      const issued = pemChainDer(pem, 'issued certificate');
      const stored = certificate ? certificate(issued) : issued;
      // A stand-in that is no chain is written raw (WriteBinary), as a faulty station might.
      if (stored !== null) await (stored === issued ? writeDeviceCertificate(se, DEVKIT_DEVICE_CERT_OBJECT, stored) : se.writeBinary(DEVKIT_DEVICE_CERT_OBJECT, stored));
      await se.close();
      return pem;
    })(),
    { maxEvents: 200_000 },
  );
  const encode = (text: string) => new TextEncoder().encode(text);
  return {
    deviceKeyId: DEVKIT_DEVICE_KEY_OBJECT,
    deviceCertObject: DEVKIT_DEVICE_CERT_OBJECT,
    deviceCert: `se:0x${DEVKIT_DEVICE_CERT_OBJECT.toString(16).toUpperCase()}`,
    certificatePem: encode(issuedPem),
    caPem: encode(ca.caPem),
  };
}
