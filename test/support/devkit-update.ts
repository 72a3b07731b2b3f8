/**
 * Building blocks for slot/MCUboot scenario tests: images signed with the vector set's trusted
 * key, a factory-flashed dev kit, and the agent's update steps (write, verify from flash, stage,
 * confirm) over the simulated flash.
 */
import { createHash, sign as cryptoSign } from 'node:crypto';
import { readSlotImage } from '../../src/slot/slot-reader.js';
import { SlotWriter } from '../../src/slot/slot-writer.js';
import { markPending } from '../../src/slot/boot-state.js';
import type { FlashPort } from '../../src/platform/flash.js';
import { NodeDigest } from '../../tools/node/node-digest.js';
import { NodeSignatureVerifier } from '../../tools/node/node-signature-verifier.js';
import { createDevkitFlash, type DevkitFlash, SMALL_SLOT_LAYOUT } from '../../tools/devkit/parts/sim-flash.js';
import { signImage } from '../../tools/image/imgtool-sign.js';
import { loadMcubootVectors, privatePem, regenerateBody, trustedPublicPem } from './mcuboot-vectors.js';

export const vectors = loadMcubootVectors();
export const trustedKeyPem = trustedPublicPem(vectors);
export const signingKeyPem = privatePem(vectors, vectors.trusted_key);
export const verifier = new NodeSignatureVerifier(trustedKeyPem);
export const digest = new NodeDigest();

const sha = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());

/**
 * A signed image of `bodySize` deterministic bytes. ECDSA signatures are randomized, so the
 * signature is drawn until its DER is 71 bytes: the image length, and with it every flash
 * operation count in the tests, is then the same on every run.
 */
export function makeImage(version: string, bodySize: number, label = `xs-ota-test:${version}:${bodySize}`): Uint8Array {
  const input = new Uint8Array(0x200 + bodySize);
  input.set(regenerateBody(label, bodySize, sha), 0x200);
  for (;;) {
    let sigLength = 0;
    const image = signImage(input, {
      keyPem: signingKeyPem,
      version,
      slotSize: 0x60000,
      signFn: (region, key) => {
        const sig = new Uint8Array(cryptoSign('sha256', region, key));
        sigLength = sig.length;
        return sig;
      },
    });
    if (sigLength === 71) return image;
  }
}

export function imageSha(image: Uint8Array): string {
  const h = new DataView(image.buffer, image.byteOffset);
  const region = h.getUint16(8, true) + h.getUint32(12, true) + h.getUint16(10, true);
  return createHash('sha256').update(image.subarray(0, region)).digest('hex');
}

/** Programs bytes raw at offset 0 of a partition (a factory programmer / a test shortcut). */
export function programRaw(port: FlashPort, bytes: Uint8Array): void {
  const s = port.status();
  for (let b = 0; b < Math.ceil(bytes.length / s.blockLength); b++) port.eraseBlock(b);
  const padded = new Uint8Array(Math.ceil(bytes.length / s.writeAlign) * s.writeAlign).fill(s.eraseValue);
  padded.set(bytes);
  port.write(0, padded);
}

export const OLD_IMAGE = makeImage('0.0.1', 2000);

/**
 * A dev kit with the factory image (v0.0.1) in the primary slot, nothing else. On the 0x60000
 * slots the images here are signed for (SMALL_SLOT_LAYOUT, MCUboot's default 128 sectors), not the
 * board's default layout: the specs using it count operations and offsets on those slots.
 */
export function factoryDevkit(seed = 1): DevkitFlash {
  const dk = createDevkitFlash({ seed, layout: SMALL_SLOT_LAYOUT });
  programRaw(dk.primary, OLD_IMAGE);
  return dk;
}

/** The agent's download + verify-from-flash + stage steps, synchronous (verifier via verifySync). */
export function writeAndStage(secondary: FlashPort, image: Uint8Array, options: { permanent?: boolean; chunk?: number; allowLastSector?: boolean } = {}): void {
  // As the agent: the offer states the image's size, and no erase goes past it.
  const writer = new SlotWriter({ flash: secondary, eraseEnd: image.length });
  writer.begin();
  const chunk = options.chunk ?? 512;
  for (let o = 0; o < image.length; o += chunk) writer.write(image.subarray(o, o + chunk));
  writer.flush();
  const parsed = readSlotImage(secondary, { digest, allowLastSector: options.allowLastSector });
  const sig = parsed.check({ trustedKeyHash: verifier.keyHash });
  verifier.verifySync({ algorithm: 'ecdsa-p256', imageHash: parsed.computedHash, keyHash: sig.keyHash, signature: sig.signature });
  markPending(secondary, { permanent: options.permanent, verified: parsed });
}
