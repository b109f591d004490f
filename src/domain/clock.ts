/**
 * The service's one source of time. Production uses the system clock; tests
 * pass their own so they move time (TOTP steps, expiries, lockouts) instead of
 * sleeping. Everything that compares against "now" must read it from here.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
