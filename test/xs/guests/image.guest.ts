/**
 * XS guest for the image and slot code: the streaming parser, slot writer, reader and trailer
 * functions run here inside the XS engine, with the Digest and Flash ports served by the dev kit
 * and the signature check by the host (the A5000 path is tested in the SE suite).
 */
import { ImageStream } from '../../../src/image/image-stream.js';
import { formatVersion } from '../../../src/image/version.js';
import { bootOutcome, confirmPrimary, markPending } from '../../../src/slot/boot-state.js';
import { readSlotImage } from '../../../src/slot/slot-reader.js';
import { SlotWriter } from '../../../src/slot/slot-writer.js';
import { hex, unhex } from '../../../src/util/bytes.js';
import { isOtaError } from '../../../src/util/errors.js';
import { expose } from '../../../tools/xs/guest/bridge.js';
import { remoteDigest, remoteFlash } from '../../../tools/xs/guest/ports.js';
import { remoteVerifier } from '../../../tools/xs/guest/remote-verifier.js';

const digest = remoteDigest();
const verifier = remoteVerifier();

async function verdictOf(bytes: Uint8Array, chunks: number[], trustedKeyHash: Uint8Array): Promise<{ verdict: string; info?: Record<string, unknown> }> {
  try {
    const s = new ImageStream({ digest });
    let o = 0;
    for (let i = 0; o < bytes.length; i++) {
      const size = chunks[Math.min(i, chunks.length - 1)];
      const part = bytes.subarray(o, o + size);
      const used = s.push(part);
      o += used;
      if (used < part.length) break;
    }
    const image = s.finish();
    const info = {
      version: formatVersion(image.version),
      imageSize: image.imageSize,
      computedHash: hex(image.computedHash),
      tlvs: image.tlvs.map((t) => [t.type, t.offset]),
      securityCounter: image.securityCounter ?? null,
    };
    try {
      await image.verify(verifier, { trustedKeyHash });
    } catch (error) {
      if (isOtaError(error)) return { verdict: error.reason, info };
      throw error;
    }
    return { verdict: 'valid', info };
  } catch (error) {
    if (isOtaError(error)) return { verdict: error.reason };
    throw error;
  }
}

expose({
  /** One verdict per feed (a feed is a list of chunk sizes; the last repeats). */
  verdicts: async (args: { bytes: Uint8Array; feeds: number[][]; trustedKeyHash: string }) => {
    const out: string[] = [];
    let info: Record<string, unknown> | undefined;
    for (const feed of args.feeds) {
      const r = await verdictOf(args.bytes, feed, unhex(args.trustedKeyHash));
      out.push(r.verdict);
      info ??= r.info;
    }
    return { verdicts: out, info: info ?? null };
  },

  /**
   * The agent's download path: write `image` (from `startOffset`) into the secondary slot in
   * chunks; stop after `stopAfter` bytes (an interrupted download) or flush, re-read and hash the
   * slot from flash, verify, and mark it pending.
   */
  install: async (args: { image: Uint8Array; chunk: number; startOffset?: number; stopAfter?: number; permanent?: boolean; trustedKeyHash: string }) => {
    const flash = remoteFlash('secondary');
    const start = args.startOffset ?? 0;
    const writer = new SlotWriter({ flash, startOffset: start });
    writer.begin();
    const end = args.stopAfter ?? args.image.length;
    for (let o = start; o < end; o += args.chunk) writer.write(args.image.subarray(o, Math.min(o + args.chunk, end)));
    if (args.stopAfter !== undefined) return { staged: false, durableOffset: writer.durableOffset, written: writer.written };
    writer.flush();
    const image = readSlotImage(flash, { digest });
    await image.verify(verifier, { trustedKeyHash: unhex(args.trustedKeyHash) });
    markPending(flash, { permanent: args.permanent, verified: image });
    return { staged: true, durableOffset: writer.durableOffset, written: writer.written, hash: hex(image.computedHash) };
  },

  confirm: () => confirmPrimary(remoteFlash('primary')),

  outcome: (args: { hash: string }) => bootOutcome(remoteFlash('primary'), remoteFlash('secondary'), unhex(args.hash)),
});
