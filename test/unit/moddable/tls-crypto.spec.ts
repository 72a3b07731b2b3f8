/**
 * modules/ota-tls-crypto.ts (the device's TlsCryptoPort on Moddable's crypt) against node:crypto
 * (tools/node/node-tls-crypto.ts, the dev kit's): the same seals, opens and MACs, with stand-ins
 * for the SDK classes that keep their calling contract (modules/crypt/etc/gcm.js `process(data,
 * buf, iv, aad, encrypt)`: ArrayBuffer in, ciphertext concatenated with the tag out, `undefined`
 * for a bad tag; hmac.js `new HMAC(hash, key)`, `update`, `close`). What this checks is the
 * adapter: exact ArrayBuffers handed in (never a larger view's buffer), results copied out.
 * The SDK's own GCM and HMAC run only on a device (docs/tls.md, "Not done yet").
 */
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';
import { ModdableTlsCrypto, type ModdableTlsCryptoClasses } from '../../../modules/ota-tls-crypto.js';
import { NodeTlsCrypto } from '../../../tools/node/node-tls-crypto.js';

const exact = (b: unknown, what: string): Buffer => {
  assert.ok(b instanceof ArrayBuffer, `${what}: an ArrayBuffer, as gcm.js concatenates them`);
  return Buffer.from(b);
};

class FakeBlockCipher {
  readonly blockSize = 16;
  constructor(readonly name: 'AES', readonly key: ArrayBuffer) {
    assert.equal(key.byteLength, 16, 'an AES-128 key of exactly 16 bytes');
  }
}

class FakeGcm {
  constructor(readonly cipher: FakeBlockCipher, readonly tagLength = 16) {}
  process(data: ArrayBuffer | Uint8Array, _buf: undefined, iv: ArrayBuffer, aad: ArrayBuffer, encrypt: boolean): ArrayBuffer | Uint8Array | undefined {
    const key = Buffer.from(this.cipher.key);
    if (encrypt) {
      const c = createCipheriv('aes-128-gcm', key, exact(iv, 'iv'));
      c.setAAD(exact(aad, 'aad'));
      const out = Buffer.concat([c.update(exact(data, 'plaintext')), c.final(), c.getAuthTag()]);
      return out.buffer.slice(out.byteOffset, out.byteOffset + out.length);
    }
    const bytes = Buffer.from(data instanceof Uint8Array ? data : new Uint8Array(data));
    const d = createDecipheriv('aes-128-gcm', key, exact(iv, 'iv'));
    d.setAAD(exact(aad, 'aad'));
    d.setAuthTag(bytes.subarray(bytes.length - this.tagLength));
    const plain = d.update(bytes.subarray(0, bytes.length - this.tagLength));
    try {
      d.final();
    } catch {
      return undefined;
    }
    // gcm.js decrypts into a subarray of its input: a view into a larger buffer.
    const view = new Uint8Array(bytes.length);
    view.set(plain);
    return view.subarray(0, plain.length);
  }
}

class FakeDigest {
  readonly blockSize = 64;
  constructor(readonly type: 'SHA256') {}
}

class FakeHmac {
  readonly #parts: Buffer[] = [];
  readonly #key: Buffer;
  constructor(_hash: FakeDigest, key: ArrayBuffer | Uint8Array) {
    this.#key = exact(key, 'hmac key');
  }
  update(...data: (ArrayBuffer | Uint8Array)[]): void {
    for (const d of data) this.#parts.push(exact(d, 'hmac data'));
  }
  close(): ArrayBuffer {
    const out = createHmac('sha256', this.#key).update(Buffer.concat(this.#parts)).digest();
    return out.buffer.slice(out.byteOffset, out.byteOffset + out.length);
  }
}

describe('modules/ota-tls-crypto: TlsCryptoPort on crypt (GCM, HMAC)', () => {
  const device = new ModdableTlsCrypto({ BlockCipher: FakeBlockCipher, GCM: FakeGcm, HMAC: FakeHmac, Digest: FakeDigest } as unknown as ModdableTlsCryptoClasses);
  const node = new NodeTlsCrypto();
  // Views into larger buffers, as the record layer hands them (subarrays of the record buffer).
  const within = (bytes: number[], pad = 7) => {
    const big = new Uint8Array(bytes.length + 2 * pad).fill(0xaa);
    big.set(bytes, pad);
    return big.subarray(pad, pad + bytes.length);
  };
  const key = within([...Array(16).keys()]);
  const nonce = within([...Array(12).keys()].map((i) => 100 + i));
  const aad = within([23, 3, 3, 0, 33]);
  const plain = within([...new TextEncoder().encode('GET / HTTP/1.1\r\n')]);

  it('seals as node:crypto does, and opens what it sealed', () => {
    const sealed = device.aes128GcmSeal(key, nonce, aad, plain);
    assert.deepEqual([...sealed], [...node.aes128GcmSeal(key, nonce, aad, plain)]);
    const opened = device.aes128GcmOpen(key, nonce, aad, within([...sealed]));
    assert.deepEqual([...opened!], [...plain]);
    assert.equal(opened!.byteOffset, 0, 'a copy of its own, not a view into the decrypt buffer');
  });

  it('a flipped byte or a short record does not open', () => {
    const sealed = device.aes128GcmSeal(key, nonce, aad, plain);
    sealed[3] ^= 1;
    assert.equal(device.aes128GcmOpen(key, nonce, aad, sealed), undefined);
    assert.equal(device.aes128GcmOpen(key, nonce, aad, new Uint8Array(15)), undefined);
  });

  it('MACs as node:crypto does, over parts given separately', () => {
    const parts = [within([1, 2, 3]), within([]), within([4, 5])];
    assert.deepEqual([...device.hmacSha256(key, ...parts)], [...node.hmacSha256(key, ...parts)]);
  });
});
