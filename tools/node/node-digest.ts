/** The Digest port on node:crypto: what the dev kit gives agent code running in Node. */
import { createHash } from 'node:crypto';
import type { DigestPort, Sha256 } from '../../src/platform/digest.js';

export class NodeDigest implements DigestPort {
  /** Bytes hashed so far (a deterministic cost figure for the bench). */
  bytesHashed = 0;

  sha256(): Sha256 {
    const hash = createHash('sha256');
    let done = false;
    return {
      update: (bytes: Uint8Array) => {
        if (done) throw new Error('sha256: update after digest');
        this.bytesHashed += bytes.length;
        hash.update(bytes);
      },
      digest: () => {
        if (done) throw new Error('sha256: digest twice');
        done = true;
        return new Uint8Array(hash.digest());
      },
    };
  }
}
