/**
 * Buffer sizes and time limits of the AT link. Each buffer is allocated once, at its maximum
 * (style rules 4 and 5); the comment says why the value is what it is and what happens past it.
 */
export const LIMITS = {
  /**
   * Longest AT line kept (bytes, without CR/LF). The longest line the drivers expect is
   * `+CNACT: 0,1,"<ipv6>"` / `+CDNSGIP: 1,"<host>","<ip>","<ipv6>"` (< 200 with a 64-byte host).
   * Past it the line is dropped whole (counted in `AtStats.linesDropped`) and never matched.
   */
  atLineMax: 256,
  /**
   * Bytes pulled from the UART per `read`. Larger means fewer binding calls per payload byte (one
   * host call per read on the simulated dev kit); 1024 covers one +CARECV/+HTTPREAD block.
   */
  atReadChunk: 1024,
  /** Information lines kept per response (e.g. 4 `+CNACT:` lines). Past it: `limit-exceeded`. */
  atResponseLinesMax: 16,
  /** Default per-command timeout, ms: "generic command 10 s" (Zephyr SIM7080, Stima SIM7600). */
  atTimeoutMs: 10_000,
  /** Per-try timeout of the `AT` probe while resynchronising, ms (Zephyr: 500 ms, 5 tries). */
  atProbeMs: 500,
  atProbeTries: 5,
  /** Line rates tried when the modem does not answer at the board's rate (each try costs ~0.6 s). */
  baudFallbacksMax: 8,
  /**
   * Staging buffer for one data command's payload (bytes), allocated once per modem. A payload is
   * handed on only after its response ended cleanly (count, trailer, final result), so noise on
   * the UART never reaches flash. Reads per command are capped to it. 4 KiB: one flash sector per
   * `AT+SHREAD`/`AT+HTTPREAD`, and above every block the modems push or return on their own
   * (`+CAURC: "recv"` <= 1460, `+CCHRECV` <= 2048, `+SHREAD`/`+HTTPREAD` blocks <= 2048), so each
   * block is still proven whole; 16 KiB cost 12 KiB of RAM for 3 fewer round trips per 16 KiB.
   */
  atStageMax: 4_096,
  /**
   * Largest response header block read with `AT+HTTPHEAD` (SIM7600 HTTP*), bytes. It is staged
   * whole (so at most atStageMax) before the HTTP parser sees it: a redirect to a 1.4 KiB
   * pre-signed URL plus the usual fields is about 1.8 KiB. A longer block is skipped by count and
   * the request fails `header-too-long`.
   */
  httpHeadMax: 4_096,
  /** Largest length a binary header may announce (SIM7080 SHREAD range is 1-307200). */
  atBinaryMax: 307_200,
} as const;
