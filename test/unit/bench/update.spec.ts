/** The update bench's images: exact size, signed with the vectors' key, newer than the base image. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { benchImage, BASE_IMAGE_FILE, BENCH_VERSION } from '../../../tools/bench/update.js';
import { imageVersion } from '../../../tools/devkit/devkit.js';
import { ImageStream } from '../../../src/image/image-stream.js';
import { NodeDigest } from '../../../tools/node/node-digest.js';
import { NodeSignatureVerifier } from '../../../tools/node/node-signature-verifier.js';
import { SIGNING_KEY_FILE } from '../../../tools/bench/update.js';
import { compareVersions, parseVersion } from '../../../src/image/version.js';

describe('bench: update images', () => {
  it('signs an image of exactly the asked size that is newer than the base', async () => {
    const image = benchImage(64 * 1024);
    assert.equal(image.length, 64 * 1024);
    assert.equal(imageVersion(image), BENCH_VERSION);
    const stream = new ImageStream({ digest: new NodeDigest(), slotSize: 0x60000 });
    assert.equal(stream.push(image), image.length);
    await stream.finish().verify(new NodeSignatureVerifier(readFileSync(SIGNING_KEY_FILE, 'utf8')));
    assert.ok(compareVersions(parseVersion(imageVersion(image)), parseVersion(imageVersion(new Uint8Array(readFileSync(BASE_IMAGE_FILE))))) > 0);
  });
});
