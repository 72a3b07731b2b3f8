/**
 * Random-access bytes the decoder reads: the staged delta and the source image (flash regions on
 * the device, arrays in the tools). A FlashPort satisfies it.
 */
export interface ByteSource {
  /** Fill `into` with the bytes at `offset`. */
  read(offset: number, into: Uint8Array): void;
}

/** A ByteSource over bytes in memory (Node tools and tests only: the agent reads flash). */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return {
    read(offset, into) {
      into.set(bytes.subarray(offset, offset + into.length));
    },
  };
}

/** The bytes at [base, ...) of another source: the staging area inside the secondary slot. */
export function offsetSource(inner: ByteSource, base: number): ByteSource {
  return { read: (offset, into) => inner.read(base + offset, into) };
}
