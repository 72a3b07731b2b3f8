/**
 * XS guest: the agent's TLS 1.3 client (src/tls) inside the XS engine, over a plain socket served
 * by the host, with the A5000 on the host's I2C (the simulated SE, driven by the agent's T=1 and
 * SE05x code running here) and the TlsCryptoPort served by the host as the device's native
 * `crypt` would serve it. The spec is test/xs/tls.spec.ts.
 */
import type { TlsCryptoPort } from '../../../src/platform/tls-crypto.js';
import { Se05x } from '../../../src/se/se05x.js';
import { T1Link } from '../../../src/se/t1-link.js';
import { TlsClient } from '../../../src/tls/client.js';
import { SeKeyOps } from '../../../src/tls/se-key-ops.js';
import { readDeviceCertificate } from '../../../src/tls/device-certificate.js';
import { utf8Decode, utf8Encode } from '../../../src/util/bytes.js';
import { OtaError } from '../../../src/util/errors.js';
import { expose, hostCall } from '../../../tools/xs/guest/bridge.js';
import { remoteClock, remoteDigest, remoteI2c } from '../../../tools/xs/guest/ports.js';
import { remoteConnector } from '../../../tools/xs/guest/socket.js';

const crypto: TlsCryptoPort = {
  hmacSha256: (key, ...parts) => hostCall<Uint8Array>('tls.hmac', { key, parts }),
  aes128GcmSeal: (key, nonce, aad, plaintext) => hostCall<Uint8Array>('tls.seal', { key, nonce, aad, plaintext }),
  aes128GcmOpen: (key, nonce, aad, sealed) => hostCall<Uint8Array | null>('tls.open', { key, nonce, aad, sealed }) ?? undefined,
};
const clock = remoteClock();
const connector = remoteConnector();
let client: TlsClient | undefined;
let received = '';

expose({
  // startAgent's boot read on this engine: the chain from the A5000's certificate object.
  readCertificate: async (a: { object: number; deviceKeyId: number }) => {
    const se = new Se05x({ link: new T1Link({ i2c: remoteI2c(0x48), clock }) });
    try {
      const chain = await readDeviceCertificate(se, { object: a.object }, a.deviceKeyId);
      return { chain };
    } catch (error) {
      if (error instanceof OtaError) return { error: error.reason, message: error.message };
      throw error;
    } finally {
      await se.close();
    }
  },
  connect: async (a: { host: string; port: number; serverName: string; ca: Uint8Array; certObject: number; deviceKeyId: number; alsoTls12?: boolean }) => {
    const se = new Se05x({ link: new T1Link({ i2c: remoteI2c(0x48), clock }) });
    // The chain presented is the one the boot read takes from the A5000 object, here in XS.
    const certificateChain = await readDeviceCertificate(se, { object: a.certObject }, a.deviceKeyId);
    const keys = new SeKeyOps({ se, deviceKeyId: a.deviceKeyId, certificateChain, ephemeralKeyId: 0x7b000302, peerKeyId: 0x7b000303 });
    const stream = await connector.connect({ host: a.host, port: a.port, tls: false });
    try {
      client = await TlsClient.connect(stream, { host: a.serverName, trustAnchors: [a.ca], keys, crypto, digest: remoteDigest(), now: () => clock.wallClock() }, a.alsoTls12 === true);
    } catch (error) {
      if (error instanceof OtaError) return { error: error.reason, message: error.message };
      throw error;
    }
    received = '';
    client.onData((chunk) => (received += utf8Decode(chunk)));
    return { stats: client.stats, seCommands: keys.commands, version: client.version };
  },
  send: (a: { text: string }) => client!.write(utf8Encode(a.text)).then(() => true),
  received: () => received,
  close: () => {
    client?.close();
    client = undefined;
    return true;
  },
});
