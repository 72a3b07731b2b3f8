/**
 * XS guest for the bench's decoder figures: the agent's VCDIFF decoder inside the XS engine over
 * bytes handed in by the host, so the meter counts the decoder's own computation per target byte.
 */
import { bytesSource } from '../../src/delta/byte-source.js';
import { VcdiffDecoder } from '../../src/delta/decoder.js';
import { expose } from '../xs/guest/bridge.js';

let held: { delta: Uint8Array; source: Uint8Array; targetLength: number } | undefined;
let target = new Uint8Array(0);
let kept: VcdiffDecoder | undefined;

function decoderFor(h: { delta: Uint8Array; source: Uint8Array; targetLength: number }, onLength: (n: number) => void): VcdiffDecoder {
  let length = 0;
  return new VcdiffDecoder({
    delta: bytesSource(h.delta),
    deltaLength: h.delta.length,
    source: bytesSource(h.source),
    sourceLength: h.source.length,
    targetLimit: h.targetLength,
    targetLength: h.targetLength,
    target: {
      write(bytes) {
        target.set(bytes, length);
        length += bytes.length;
        onLength(length);
      },
      read(offset, into) {
        into.set(target.subarray(offset, offset + into.length));
      },
    },
  });
}

expose({
  /** Keep the inputs (a separate crank, so `decode`'s meter is the decoder's work). */
  hold: (args: { delta: Uint8Array; source: Uint8Array; targetLength: number }) => {
    held = args;
    target = new Uint8Array(args.targetLength);
    return args.delta.length;
  },
  /** Build a decoder and keep it (the host measures the live heap before and after). */
  keep: () => {
    kept = decoderFor(held!, () => undefined);
    return true;
  },
  /**
   * Let the kept decoder go; says whether there was one. It also reads `kept`: a variable only
   * written is dropped by rollup's tree-shaking, and `keep` would then keep nothing.
   */
  drop: () => {
    const had = kept !== undefined;
    kept = undefined;
    return had;
  },
  decode: async () => {
    const r = await decoderFor(held!, () => undefined).decode();
    return { windows: r.windows, targetLength: r.targetLength };
  },
  /** The rebuilt target, for the host's byte-for-byte check. */
  target: () => target,
});
