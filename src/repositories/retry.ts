import { setTimeout as sleep } from 'node:timers/promises';
import { Fault } from '../rpc/faults.js';

/**
 * MySQL/MariaDB errors after which the whole transaction was (or must be)
 * rolled back and running it again from the start may succeed:
 * 1213 ER_LOCK_DEADLOCK (an InnoDB deadlock victim, and a Galera
 * certification failure, which can come at any statement including COMMIT),
 * 1205 ER_LOCK_WAIT_TIMEOUT, 1180 ER_ERROR_DURING_COMMIT, and 1047
 * ER_UNKNOWN_COM_ERROR (a Galera node that is joining or not Primary refuses
 * every statement until it is back). The MySQL manual's advice for deadlocks:
 * "always be prepared to re-issue a transaction if it fails due to deadlock".
 */
export const RETRIED_ERRNOS: ReadonlySet<number> = new Set([1213, 1205, 1180, 1047]);

export const isRetryable = (err: unknown): boolean => RETRIED_ERRNOS.has((err as { errno?: number } | null)?.errno ?? 0);

export interface RetryPolicy {
  /** Milliseconds: no attempt starts later than this after the first (DB_RETRY_TIME). */
  time: number;
  /** Milliseconds: the first delay's ceiling; each further attempt doubles it. */
  base: number;
  /** Milliseconds: no single delay is longer. */
  cap: number;
}

export const retryPolicy = (time: number): RetryPolicy => ({ time, base: 10, cap: 500 });

/**
 * The wait before attempt `attempt + 1`, after `attempt` failed attempts and
 * `elapsed` milliseconds since the first began, or undefined once the bound
 * is spent. "Full jitter" exponential backoff: a uniform wait below
 * min(cap, base * 2^(attempt-1)), so transactions that collided once spread
 * out instead of colliding again in step. `random` is in [0, 1).
 */
export function retryDelay(policy: RetryPolicy, attempt: number, elapsed: number, random: number): number | undefined {
  const left = policy.time - elapsed;
  if (left <= 0) return undefined;
  const ceiling = Math.min(policy.cap, policy.base * 2 ** Math.min(attempt - 1, 30));
  return Math.min(Math.floor(random * ceiling), left);
}

/**
 * Runs `unit` (a whole transaction: begin, its statements, commit) again from
 * the start whenever it failed with a retryable error, with backoff, until it
 * succeeds or the policy's time is spent: then the call answers 503
 * `Server.Unavailable`, never 500. `unit` must act only through its own
 * transaction, since it may run more than once.
 */
export async function retrying<T>(policy: RetryPolicy, unit: () => Promise<T>): Promise<T> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await unit();
    } catch (err) {
      if (!isRetryable(err)) throw err;
      const delay = retryDelay(policy, attempt, Date.now() - started, Math.random());
      if (delay === undefined) throw new Fault('Server.Unavailable', 'The database is too busy; try again');
      await sleep(delay);
    }
  }
}
