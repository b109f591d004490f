/**
 * Brute-force lock length (NIST SP 800-63B 5.2.2, rate limiting): the first
 * lock lasts `base`, each further consecutive lock doubles it, never beyond
 * `max`. `lockNumber` counts from 1.
 */
export function lockDuration(lockNumber: number, base: number, max: number): number {
  const exponent = Math.min(Math.max(lockNumber - 1, 0), 30);
  return Math.min(base * 2 ** exponent, max);
}

/** Whole seconds to wait, rounded up, at least 1: what `retry_after` tells a client. */
export function retryAfterSeconds(untilMs: number, nowMs: number): number {
  return Math.max(1, Math.ceil((untilMs - nowMs) / 1000));
}
