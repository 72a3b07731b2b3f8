/**
 * The T=1-over-I2C answer-to-reset (UM11225 §3.2, layout as Nitrokey's se05x `t1.rs` reads it):
 *
 *   PVER(1) VID(5) DLLP_LEN(1) [BWT(2) ms, IFSC(2)]
 *   PLID(1) PLP_LEN(1) [MCF(2) kHz, CONFIG(1), MPOT(1) ms, RFU(3), SEGT(2) µs, WUT(2) µs]
 *   HB_LEN(1) HB
 *
 * The SE returns it in S(GET ATR) and S(INTERFACE SOFT RESET) responses. The link takes its
 * timing (BWT, MPOT, SEGT) and the send block size (IFSC) from here instead of assuming them.
 */
import { OtaError } from '../util/errors.js';
import { T1_INF_MAX } from './t1-frame.js';

export interface Atr {
  pver: number;
  vendorId: Uint8Array;
  /** Block waiting time: how long the SE may take before its next block (ms). */
  bwtMs: number;
  /** Largest INF the SE accepts in one block. */
  ifsc: number;
  /** Maximum I2C clock (kHz). */
  mcfKhz: number;
  config: number;
  /** Minimum polling time between two reads (ms). */
  mpotMs: number;
  /** Guard time between the end of one transaction and the next write (µs). */
  segtUs: number;
  /** Wake-up time (µs). */
  wutUs: number;
  historical: Uint8Array;
}

/**
 * The longest BWT honoured. UM11225 leaves it to the SE; SE05x ATRs say 1000 ms. An ATR claiming
 * more than a minute is treated as corrupt (se-atr-invalid) rather than as a one-minute poll loop.
 */
export const ATR_BWT_MAX_MS = 60_000;
/** The longest ATR accepted (the S-block INF is at most 254 bytes anyway). */
export const ATR_MAX = T1_INF_MAX;

function u16(bytes: Uint8Array, at: number): number {
  return (bytes[at] << 8) | bytes[at + 1];
}

function invalid(detail: string): OtaError {
  return new OtaError('se-atr-invalid', detail);
}

/** Parses an ATR; throws se-atr-invalid when a field is missing or out of range. */
export function parseAtr(bytes: Uint8Array): Atr {
  if (bytes.length > ATR_MAX) throw invalid(`length ${bytes.length} > ${ATR_MAX}`);
  let at = 0;
  const need = (n: number, what: string): void => {
    if (at + n > bytes.length) throw invalid(`truncated at ${what} (offset ${at}, length ${bytes.length})`);
  };
  need(7, 'PVER/VID/DLLP_LEN');
  const pver = bytes[0];
  const vendorId = bytes.slice(1, 6);
  const dllpLength = bytes[6];
  at = 7;
  if (dllpLength < 4) throw invalid(`DLLP length ${dllpLength} < 4`);
  need(dllpLength, 'DLLP');
  const bwtMs = u16(bytes, at);
  const ifsc = u16(bytes, at + 2);
  at += dllpLength;
  need(2, 'PLID/PLP_LEN');
  at += 1; // PLID: 2 = I2C
  const plpLength = bytes[at++];
  if (plpLength < 11) throw invalid(`PLP length ${plpLength} < 11`);
  need(plpLength, 'PLP');
  const mcfKhz = u16(bytes, at);
  const config = bytes[at + 2];
  const mpotMs = bytes[at + 3];
  const segtUs = u16(bytes, at + 7);
  const wutUs = u16(bytes, at + 9);
  at += plpLength;
  need(1, 'HB_LEN');
  const hbLength = bytes[at++];
  need(hbLength, 'historical bytes');
  const historical = bytes.slice(at, at + hbLength);
  if (bwtMs === 0 || bwtMs > ATR_BWT_MAX_MS) throw invalid(`BWT ${bwtMs} ms outside 1..${ATR_BWT_MAX_MS}`);
  if (ifsc === 0 || ifsc > T1_INF_MAX) throw invalid(`IFSC ${ifsc} outside 1..${T1_INF_MAX}`);
  return { pver, vendorId, bwtMs, ifsc, mcfKhz, config, mpotMs, segtUs, wutUs, historical };
}
