/** TlsCryptoPort on node:crypto (the dev kit's; the device binds Moddable's `crypt`). */
import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';
import type { TlsCryptoPort } from '../../src/platform/tls-crypto.js';

export class NodeTlsCrypto implements TlsCryptoPort {
  /** Calls, for budgets (AES-GCM records sealed/opened, HMACs). */
  readonly counts = { seal: 0, open: 0, hmac: 0 };

  hmacSha256(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
    this.counts.hmac++;
    const h = createHmac('sha256', key);
    for (const p of parts) h.update(p);
    return new Uint8Array(h.digest());
  }

  aes128GcmSeal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    this.counts.seal++;
    const c = createCipheriv('aes-128-gcm', key, nonce);
    c.setAAD(aad);
    const body = c.update(plaintext);
    c.final();
    const out = new Uint8Array(body.length + 16);
    out.set(body);
    out.set(c.getAuthTag(), body.length);
    return out;
  }

  aes128GcmOpen(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | undefined {
    this.counts.open++;
    if (sealed.length < 16) return undefined;
    const d = createDecipheriv('aes-128-gcm', key, nonce);
    d.setAAD(aad);
    d.setAuthTag(sealed.subarray(sealed.length - 16));
    const body = d.update(sealed.subarray(0, sealed.length - 16));
    try {
      d.final();
    } catch {
      return undefined;
    }
    return new Uint8Array(body);
  }
}
