/**
 * Whether a built-in HTTP client's answer to its URL command (SIM7600 `AT+HTTPPARA="URL"`,
 * SIM7080 `AT+SHREQ=<path>`) says "this URL is too long for me", so the agent may send the same
 * request over the modem's socket instead and remember the lower limit (issue 13).
 *
 * Neither manual lists an error for a long URL: M7600 13.2.3 states no URL limit, M7080 13.2.10
 * only "path ≤ 512 bytes" and no modem error codes for SHREQ (simcom-at.md §4.1, §4.2, §11 "SIM7080
 * SHREQ modem error codes other than 602"). What a firmware answers to a value it cannot take is
 * a plain `ERROR`, or with `AT+CMEE` on the 3GPP TS 27.007 §9.2 codes for it: 24 "text string too
 * long" and 50 "incorrect parameters" (numeric with CMEE=1 as the SIM7080 driver sets, text with
 * CMEE=2 as the SIM7600's). Anything else (`operation not allowed`, `SIM busy`, no network, ...)
 * is not about the URL: it stands as the error it is, and the built-in client keeps its limit.
 */
import { isOtaError } from '../util/errors.js';

/**
 * A URL (or SHREQ path) of at most this many characters refused is not taken for a length limit:
 * 256 is the shortest value limit either manual documents for the HTTP commands (`AT+HTTPPARA`
 * CONTENT/ACCEPT/UA ≤ 256, A76xx USERDATA ≤ 256, M7600 13.2.3; SHREQ's path limit is 512), so no
 * SIMCom stack is known to take fewer, and an error to a shorter one says something else is wrong.
 */
export const URL_REFUSAL_SURE = 256;

/** 3GPP TS 27.007 §9.2.1 codes that name a value too long or wrong, numeric and verbose. */
const LENGTH_CODES = ['24', '50', 'text string too long', 'incorrect parameters'];

/** `error` is the firmware refusing a URL of `length` characters for its length (see the module comment). */
export function refusesUrlLength(error: unknown, length: number): boolean {
  if (length <= URL_REFUSAL_SURE) return false;
  if (isOtaError(error, 'at-error')) return true;
  return isOtaError(error, 'cme-error') && LENGTH_CODES.includes((error.detail ?? '').trim().toLowerCase());
}
