/**
 * TlsKeyOps in the A5000 (src/se/se05x.ts): the ECDHE key is a transient key pair generated in
 * the SE (WriteECKey generate, ReadObject for the public point, ECDH, DeleteSecureObject), the
 * client CertificateVerify is ECDSASign with the device's key object, and the server's
 * signatures are checked with ECDSAVerify on a transient public-key object. No private key is
 * ever in the MCU's RAM. A5000 operations per handshake: 1 GetRandom + 4 (ECDHE) + 1 (sign) +
 * 3 per server signature (write, verify, delete; a leaf under the CA and the CertificateVerify: 6).
 */
import type { Se05x } from '../se/se05x.js';
import type { TlsKeyOps } from './connection.js';
import { deleteObject, ecdh, ecdsaSign, generateEcKey, writeEcPublicKey } from '../se/se05x-keys.js';

export interface SeKeyOpsOptions {
  se: Se05x;
  /** The device's key pair (generated at provisioning: docs/provisioning-a5000.md). */
  deviceKeyId: number;
  /** The device certificate chain (DER, leaf first) issued for that key. */
  certificateChain: Uint8Array[];
  /** A free object id for the ephemeral ECDHE key pair (transient). */
  ephemeralKeyId: number;
  /** A free object id for a peer public key being verified (transient). */
  peerKeyId: number;
}

export class SeKeyOps implements TlsKeyOps {
  readonly #o: SeKeyOpsOptions;
  /** A5000 commands sent (deterministic budget figure). */
  commands = 0;

  constructor(options: SeKeyOpsOptions) {
    this.#o = options;
  }

  async random(n: number): Promise<Uint8Array> {
    this.commands++;
    return this.#o.se.getRandom(n);
  }

  async ephemeralPublicKey(): Promise<Uint8Array> {
    const { se, ephemeralKeyId } = this.#o;
    // A leftover from a handshake cut short (the chip was not reset since): start clean.
    this.commands++;
    if (await se.checkObjectExists(ephemeralKeyId)) {
      this.commands++;
      await deleteObject(se, ephemeralKeyId);
    }
    this.commands += 2;
    await generateEcKey(se, ephemeralKeyId, { transient: true });
    return se.readObject(ephemeralKeyId);
  }

  async agree(peer: Uint8Array): Promise<Uint8Array> {
    this.commands++;
    return ecdh(this.#o.se, this.#o.ephemeralKeyId, peer);
  }

  async dropEphemeral(): Promise<void> {
    this.commands++;
    await deleteObject(this.#o.se, this.#o.ephemeralKeyId);
  }

  certificateChain(): Uint8Array[] {
    return this.#o.certificateChain;
  }

  async sign(digest: Uint8Array): Promise<Uint8Array> {
    this.commands++;
    return ecdsaSign(this.#o.se, this.#o.deviceKeyId, digest);
  }

  async verify(publicKey: Uint8Array, digest: Uint8Array, signature: Uint8Array): Promise<boolean> {
    const { se, peerKeyId } = this.#o;
    this.commands += 3;
    await writeEcPublicKey(se, peerKeyId, publicKey, { transient: true });
    try {
      return await se.ecdsaVerify(peerKeyId, digest, signature);
    } finally {
      await deleteObject(se, peerKeyId);
    }
  }
}
