/**
 * Why a VCDIFF delta was refused. Any of these makes the agent fall back to the full image in the
 * same deployment (src/delta/fallback.ts); none leaves anything pending in the secondary slot.
 */
export type DeltaReason =
  /** Not VCDIFF, a bad varint, an unknown indicator bit, section lengths that do not add up. */
  | 'delta-malformed'
  /** VCDIFF outside what the tools' xdelta3 flags produce: secondary compression, a custom code table. */
  | 'delta-unsupported'
  /** A COPY address or a source segment outside the bytes it may reference. */
  | 'delta-address'
  /** An instruction that runs past its target window, or a section read past its end. */
  | 'delta-overrun'
  /** A window's rebuilt bytes do not match its Adler-32 (xdelta3's VCD_ADLER32 extension). */
  | 'delta-checksum'
  /** The delta was made from another image than the one in the primary slot. */
  | 'delta-source-mismatch'
  /** The target, or the target plus the staged delta, does not fit the secondary slot. */
  | 'delta-no-room';
