import type { GuardScope } from '../repositories/login-guards.js';
import { committed, type Transaction } from '../repositories/writer.js';
import type { CallContext } from '../rpc/registry.js';

/**
 * A claimed attempt: exactly one of its outcomes is reported. Each outcome
 * takes the caller's transaction, so that it commits with what it concludes
 * (a success with its session), or runs in one of its own.
 */
export interface Attempt {
  /** Wrong password or code. Returns the lock end when this failure locked the login. */
  failed(trx?: Transaction): Promise<number | undefined>;
  /** Right password, another factor still to come. */
  passed(trx?: Transaction): Promise<void>;
  /** Fully logged in. */
  succeeded(trx?: Transaction): Promise<void>;
  /**
   * Call in `finally`: gives the slot back if no outcome was reported (the
   * call failed for another reason), or if the one reported rolled back for
   * good (a failure is then counted on its own), so a slot can never leak and
   * leave the counter full without a lock; and waits for the outcome's Redis
   * steps, which follow its commit.
   */
  abandon(): Promise<void>;
}

/**
 * One brute-force counter an attempt claimed a slot of: the per-IP one in
 * Redis when REDIS_URL is set (see auth/guard.ts), the others rows. Steps in
 * the database commit with the transaction given, or one of their own; steps
 * in Redis are named by the attempt (repeating one changes nothing) and are
 * only ever run outside a database transaction.
 */
export interface Counter {
  claim(now: number, trx: Transaction | undefined): Promise<{ ok: true } | { ok: false; locked: boolean; lockedUntil?: number }>;
  failed(now: number, trx: Transaction | undefined): Promise<number | undefined>;
  release(now: number, trx: Transaction | undefined): Promise<void>;
  succeeded(now: number, trx: Transaction | undefined): Promise<void>;
  inDatabase: boolean;
}

export type Claimed = Array<{ scope: GuardScope; counter: Counter }>;

type Outcome = 'failed' | 'passed' | 'succeeded';

/**
 * The Attempt over the claimed counters.
 *
 * An outcome counts once the transaction it was reported in commits. One
 * reported in a transaction that rolled back counts for nothing: the same
 * transaction run again reports it again, and if it is not run again (it
 * answered 503 when the retry bound ran out, or failed otherwise) `abandon`
 * settles the attempt at once rather than leaving its slots held until they
 * go stale: a failure is still counted (the guess was evaluated, NIST SP
 * 800-63B 5.2.2), anything else gives its slots back.
 *
 * Redis steps never run inside a database transaction: they follow its
 * commit (or `abandon`), so a transaction never holds its locks while it
 * waits for another server. Redis failing there is logged and leaves the
 * claim to expire as stale (STALE_CLAIM_MS): never given back early, so Redis
 * going away can never let a guess through uncounted.
 */
export function attemptOf(ctx: CallContext, claimed: Claimed): Attempt {
  const { app } = ctx;
  const database = claimed.filter((c) => c.counter.inDatabase).map((c) => c.counter);
  const redis = claimed.filter((c) => !c.counter.inDatabase).map((c) => c.counter);
  const step: Record<Outcome, (c: Counter, trx: Transaction | undefined) => Promise<unknown>> = {
    failed: (c, t) => c.failed(app.clock.now(), t),
    passed: (c, t) => c.release(app.clock.now(), t),
    succeeded: (c, t) => c.succeeded(app.clock.now(), t),
  };

  const inRedis = async (outcome: Outcome): Promise<void> => {
    for (const counter of redis) {
      try {
        await step[outcome](counter, undefined);
      } catch (err) {
        ctx.log.error({ err: { message: (err as Error).message } }, 'redis: a brute-force claim stays held until it expires');
      }
    }
  };

  /** The last outcome reported: whether its transaction committed, and its Redis steps once it did. */
  let reported: { outcome: Outcome; trx: Transaction | undefined; committed: Promise<boolean>; redisDone: Promise<void> } | undefined;
  let settled = false;

  /** Runs the database steps of `outcome` in `trx`, or in a transaction of their own (then the Redis steps at once). */
  const report = async (outcome: Outcome, trx: Transaction | undefined): Promise<unknown[]> => {
    if (settled) return [];
    if (reported) {
      if (reported.trx !== undefined && reported.trx === trx) throw new Error('an attempt reports one outcome per transaction');
      // Committed: this attempt is settled. Rolled back: this report replaces it (the transaction run again, or what the caller did next).
      if (await reported.committed) return [];
    }
    const run = async (t: Transaction | undefined) => {
      const results: unknown[] = [];
      for (const counter of database) results.push(await step[outcome](counter, t));
      return results;
    };
    if (trx !== undefined) {
      const done = committed(trx);
      reported = { outcome, trx, committed: done, redisDone: done.then((ok) => (ok ? inRedis(outcome) : undefined)) };
      return run(trx);
    }
    try {
      const results = database.length > 0 ? await app.db.writer.transaction(run) : [];
      reported = { outcome, trx, committed: Promise.resolve(true), redisDone: inRedis(outcome) };
      await reported.redisDone;
      return results;
    } catch (err) {
      reported = { outcome, trx, committed: Promise.resolve(false), redisDone: Promise.resolve() };
      throw err;
    }
  };

  const loginLock = (results: unknown[]): number | undefined =>
    results.find((until, i) => database[i] === claimed.find((c) => c.scope === 'login')?.counter && until !== undefined) as number | undefined;

  return {
    async failed(trx) {
      return loginLock(await report('failed', trx));
    },
    async passed(trx) {
      await report('passed', trx);
    },
    async succeeded(trx) {
      await report('succeeded', trx);
    },
    async abandon() {
      if (settled) return;
      const last = reported;
      if (last && (await last.committed)) {
        settled = true;
        await last.redisDone;
        return;
      }
      // Nothing reported, or its transaction rolled back for good: settle in a transaction of its own.
      reported = undefined;
      const outcome: Outcome = last?.outcome === 'failed' ? 'failed' : 'passed';
      const lockedUntil = loginLock(await report(outcome, undefined));
      // Its audit rows rolled back with the transaction the caller reported in; the lock itself holds.
      if (lockedUntil !== undefined)
        ctx.log.warn({ until: new Date(lockedUntil).toISOString() }, 'a login locked by a failure counted after its transaction gave up');
      settled = true;
    },
  };
}
