/**
 * XS guest: the IoTConnect backend (src/backend/iotconnect.ts, unchanged) with its MQTT sessions
 * over TLS terminated in the agent (src/tls/connector.ts): plain host sockets, the device key in
 * the simulated A5000 on the host's I2C, the TlsCryptoPort served by the host. The spec is
 * test/xs/iotc-tls.spec.ts.
 */
import type { Report } from '../../../src/backend/backend.js';
import { IotConnectBackend } from '../../../src/backend/iotconnect.js';
import type { TlsCryptoPort } from '../../../src/platform/tls-crypto.js';
import { Se05x } from '../../../src/se/se05x.js';
import { T1Link } from '../../../src/se/t1-link.js';
import { agentTlsConnector } from '../../../src/tls/connector.js';
import { SeKeyOps } from '../../../src/tls/se-key-ops.js';
import { readDeviceCertificate } from '../../../src/tls/device-certificate.js';
import { expose, hostCall } from '../../../tools/xs/guest/bridge.js';
import { remoteClock, remoteDigest, remoteI2c } from '../../../tools/xs/guest/ports.js';
import { remoteConnector, remoteHttp } from '../../../tools/xs/guest/socket.js';

const crypto: TlsCryptoPort = {
  hmacSha256: (key, ...parts) => hostCall<Uint8Array>('tls.hmac', { key, parts }),
  aes128GcmSeal: (key, nonce, aad, plaintext) => hostCall<Uint8Array>('tls.seal', { key, nonce, aad, plaintext }),
  aes128GcmOpen: (key, nonce, aad, sealed) => hostCall<Uint8Array | null>('tls.open', { key, nonce, aad, sealed }) ?? undefined,
};
const clock = remoteClock();
let backend: IotConnectBackend | undefined;
let keys: SeKeyOps | undefined;

expose({
  create: async (a: { discoveryUrl: string; cpid: string; env: string; duid: string; ca: Uint8Array; certObject: number; deviceKeyId: number }) => {
    const se = new Se05x({ link: new T1Link({ i2c: remoteI2c(0x48), clock }) });
    // The chain as startAgent reads it at boot: from the A5000's certificate object, here in XS.
    const certificateChain = await readDeviceCertificate(se, { object: a.certObject }, a.deviceKeyId);
    keys = new SeKeyOps({ se, deviceKeyId: a.deviceKeyId, certificateChain, ephemeralKeyId: 0x7b000302, peerKeyId: 0x7b000303 });
    const connector = agentTlsConnector(remoteConnector(), { trustAnchors: [a.ca], keys, crypto, digest: remoteDigest(), now: () => clock.wallClock() });
    backend = new IotConnectBackend({ http: remoteHttp(), connector, clock, discoveryUrl: a.discoveryUrl, cpid: a.cpid, env: a.env, duid: a.duid, commandWaitMs: 3000 });
    return true;
  },
  poll: (a: { version: string }) => backend!.poll(a),
  report: (a: Report) => backend!.report(a).then(() => true),
  seCommands: () => keys!.commands,
});
