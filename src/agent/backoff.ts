/**
 * Retry timing: exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff
 * and Jitter": sleep = random(0, min(cap, base * 2^attempt))), so a fleet that lost the server at
 * the same moment does not come back at the same moment. A server's Retry-After wins when longer.
 */
export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
}

/** Delay before retry number `attempt` (1 = first retry). `random` returns [0, 1). */
export function backoffDelayMs(policy: BackoffPolicy, attempt: number, random: () => number, retryAfterMs?: number): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(30, Math.max(0, attempt - 1)));
  const jittered = Math.floor(random() * ceiling);
  return retryAfterMs !== undefined ? Math.max(jittered, Math.min(retryAfterMs, policy.capMs)) : jittered;
}

/** A small deterministic PRNG (xorshift32) for jitter; the device seeds it from the A5000's GetRandom. */
export function xorshift32(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}
