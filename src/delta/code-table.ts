/**
 * RFC 3284 §5.6: the default instruction code table, built the way the RFC lists it. Each of the
 * 256 opcodes names up to two instructions (type, size, mode); size 0 means the size follows in
 * the instructions section as a varint. xdelta3 uses this table unless told otherwise (a custom
 * table, VCD_CODETABLE, is refused with `delta-unsupported`).
 *
 * Stored as 6 bytes per opcode in one 1536-byte table (type1, size1, mode1, type2, size2, mode2).
 */
export const NOOP = 0;
export const ADD = 1;
export const RUN = 2;
export const COPY = 3;

/** Address cache sizes of the default table (RFC 3284 §5.1: s_near 4, s_same 3). */
export const S_NEAR = 4;
export const S_SAME = 3;

function build(): Uint8Array {
  const t = new Uint8Array(256 * 6);
  let i = 0;
  const put = (t1: number, s1: number, m1: number, t2: number, s2: number, m2: number) => {
    t.set([t1, s1, m1, t2, s2, m2], i * 6);
    i++;
  };
  put(RUN, 0, 0, NOOP, 0, 0);
  for (let size = 0; size <= 17; size++) put(ADD, size, 0, NOOP, 0, 0);
  for (let mode = 0; mode <= 8; mode++) {
    put(COPY, 0, mode, NOOP, 0, 0);
    for (let size = 4; size <= 18; size++) put(COPY, size, mode, NOOP, 0, 0);
  }
  for (let mode = 0; mode <= 5; mode++) {
    for (let add = 1; add <= 4; add++) for (let copy = 4; copy <= 6; copy++) put(ADD, add, 0, COPY, copy, mode);
  }
  for (let mode = 6; mode <= 8; mode++) for (let add = 1; add <= 4; add++) put(ADD, add, 0, COPY, 4, mode);
  for (let mode = 0; mode <= 8; mode++) put(COPY, 4, mode, ADD, 1, 0);
  return t;
}

export const DEFAULT_CODE_TABLE: Uint8Array = build();
