/**
 * The dev kit's factory step for TLS in the agent (docs/provisioning-a5000.md, "The device's own
 * key"): the simulated A5000 generates the device key pair (WriteECKey through the agent's SE05x
 * driver, in virtual time), a CSR is signed by the SE, and the broker's CA issues the certificate.
 */
import type { AgentTlsSettings } from '../../src/tls/control-channel.js';
import { Se05x } from '../../src/se/se05x.js';
import { T1Link } from '../../src/se/t1-link.js';
import { buildCsr } from './pkcs10.js';
import type { SimA5000 } from './parts/sim-a5000.js';
import type { VirtualTime } from './parts/virtual-time.js';
import { ecdsaSign, generateEcKey } from '../../src/se/se05x-keys.js';

/** The device key object the dev kit provisions (next to the image key 0x7B000201). */
export const DEVKIT_DEVICE_KEY_OBJECT = 0x7b000301;

export async function provisionDeviceIdentity(
  time: VirtualTime,
  a5000: SimA5000,
  ca: { caPem: string; issue(csrDer: Uint8Array): string },
  subject: string,
): Promise<AgentTlsSettings> {
  const se = new Se05x({ link: new T1Link({ i2c: a5000, clock: time.clockPort() }) });
  const csr = await time.runFor(
    (async () => {
      await generateEcKey(se, DEVKIT_DEVICE_KEY_OBJECT);
      const point = await se.readObject(DEVKIT_DEVICE_KEY_OBJECT);
      const request = await buildCsr(point, subject, (digest) => ecdsaSign(se, DEVKIT_DEVICE_KEY_OBJECT, digest));
      await se.close();
      return request;
    })(),
    { maxEvents: 200_000 },
  );
  const encode = (text: string) => new TextEncoder().encode(text);
  return { deviceKeyId: DEVKIT_DEVICE_KEY_OBJECT, certificatePem: encode(ca.issue(csr)), caPem: encode(ca.caPem) };
}
