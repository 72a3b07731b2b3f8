/**
 * Host services an XS guest running the agent's TLS needs: SHA-256 contexts (digest.*), the
 * simulated A5000 on I2C (i2c.*), and the TlsCryptoPort (tls.*) on node:crypto, as the device's
 * native `crypt` would provide it.
 */
import type { XsSession } from '../../tools/xs/session.js';
import { NodeDigest } from '../../tools/node/node-digest.js';
import { NodeTlsCrypto } from '../../tools/node/node-tls-crypto.js';
import type { SimA5000 } from '../../tools/devkit/parts/sim-a5000.js';

export function serveTlsHost(session: XsSession, sim: SimA5000): void {
  const crypto = new NodeTlsCrypto();
  const digest = new NodeDigest();
  const digests = new Map<number, ReturnType<NodeDigest['sha256']>>();
  let next = 1;
  session.provide('digest.create', () => {
    digests.set(next, digest.sha256());
    return next++;
  });
  session.provide('digest.update', (a: { id: number; bytes: Uint8Array }) => digests.get(a.id)!.update(a.bytes));
  session.provide('digest.finish', (a: { id: number }) => {
    const d = digests.get(a.id)!.digest();
    digests.delete(a.id);
    return d;
  });
  session.provide('i2c.write', (a: { address: number; bytes: Uint8Array }) => (a.address === sim.address ? sim.write(a.bytes) : false));
  session.provide('i2c.read', (a: { address: number; length: number }) => {
    const into = new Uint8Array(a.length);
    return a.address === sim.address && sim.read(into) ? into : null;
  });
  session.provide('tls.hmac', (a: { key: Uint8Array; parts: Uint8Array[] }) => crypto.hmacSha256(a.key, ...a.parts));
  session.provide('tls.seal', (a: { key: Uint8Array; nonce: Uint8Array; aad: Uint8Array; plaintext: Uint8Array }) => crypto.aes128GcmSeal(a.key, a.nonce, a.aad, a.plaintext));
  session.provide('tls.open', (a: { key: Uint8Array; nonce: Uint8Array; aad: Uint8Array; sealed: Uint8Array }) => crypto.aes128GcmOpen(a.key, a.nonce, a.aad, a.sealed) ?? null);
}
