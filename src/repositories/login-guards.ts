import type { Database } from './connection.js';
import { compile, param } from './statements.js';
import type { Transaction } from './writer.js';

export type GuardScope = 'login' | 'ip';

/** No attempt takes this long: claims older than this, with nothing changed since, were made by calls that died. */
export const STALE_CLAIM_MS = 60_000;

export interface GuardRow {
  scope: GuardScope;
  guard_key: string;
  /** Consecutive failures since the last success or lock. */
  failures: number;
  /** Attempts claimed and still being evaluated. */
  in_flight: number;
  lock_count: number;
  locked_until: number | null;
  updated_at: number;
}

/** Why a claim was refused: the key is locked, or every free slot is held by attempts still being evaluated. */
export type ClaimRefusal = { locked: true; row: GuardRow } | { locked: false; row: GuardRow | undefined };

/**
 * Consecutive-failure counters with locks, in the database so every replica
 * sees the same counts (NIST SP 800-63B 5.2.2: limit failed attempts).
 *
 * Invariant, per key, while it is not locked:
 *
 *     failures + in_flight <= threshold
 *
 * An attempt claims a slot *before* its password or code is checked (an
 * atomic UPDATE with the invariant in its WHERE), and every claim resolves
 * exactly once: a failure turns its slot into a failure; a success, a
 * right password still waiting for its code, or an error gives the slot
 * back (a success also forgives the failures). So however many attempts run
 * in parallel, at most `threshold - failures` are evaluated at once, and a
 * run of wrong guesses gets at most `threshold` evaluations: the failure
 * that reaches it locks the key (and, by the invariant, nothing else is then
 * in flight).
 *
 * Only failures lock. A claim refused while the key is not locked found its
 * slots held by attempts in flight, which may all turn out right: the caller
 * waits for them to resolve and claims again (see auth/guard.ts) rather than
 * refuse a right password because others were being checked beside it.
 */
export function createLoginGuardsRepository({ knex, writer }: Database) {
  const table = () => knex('login_guards');
  const which = { scope: param('scope'), guard_key: param('key') };
  const ensure = compile(
    table()
      .insert({ ...which, failures: 0, in_flight: 0, lock_count: 0, locked_until: null, updated_at: param('now') })
      .onConflict(['scope', 'guard_key'])
      .ignore(),
  );
  // Claims older than a minute with nothing resolved since belong to calls that died (a replica crashed mid-attempt).
  const liveInFlight = knex.raw('CASE WHEN updated_at <= ? THEN 0 ELSE in_flight END', [param('staleBefore')]);
  // Failures beyond the threshold (it was lowered since) count as one short of it: the next failure locks.
  const countedFailures = knex.raw('CASE WHEN failures < ? THEN failures ELSE ? - 1 END', [param('threshold'), param('threshold')]);
  const take = compile(
    table()
      .where(which)
      .andWhere((q) => q.whereNull('locked_until').orWhere('locked_until', '<=', param('now')))
      .andWhere(knex.raw('? + ? < ?', [countedFailures, liveInFlight, param('threshold')]))
      // MySQL assigns left to right: in_flight first, while updated_at is still the old one.
      .update({
        in_flight: knex.raw('? + 1', [liveInFlight]),
        // An expired lock ends here (its failures were cleared when it was set).
        locked_until: null,
        updated_at: param('now'),
      }),
  );
  const read = compile(table().where(which).first());
  const giveBack = knex.raw('CASE WHEN in_flight > 0 THEN in_flight - 1 ELSE 0 END');
  const fail = compile(
    table()
      .where(which)
      .update({
        failures: knex.raw('CASE WHEN locked_until IS NULL THEN failures + 1 ELSE failures END'),
        in_flight: giveBack,
        updated_at: param('now'),
      }),
  );
  const lock = compile(
    table()
      .where({ ...which, lock_count: param('lockCount') })
      .whereNull('locked_until')
      .andWhere('failures', '>=', param('threshold'))
      .update({ locked_until: param('until'), lock_count: param('nextLockCount'), failures: 0, updated_at: param('now') }),
  );
  const release = compile(
    table()
      .where(which)
      .update({ in_flight: giveBack, updated_at: param('now') }),
  );
  const forgiveAll = { failures: 0, lock_count: 0, locked_until: null, updated_at: param('now') };
  const succeed = compile(
    table()
      .where(which)
      .update({ in_flight: giveBack, ...forgiveAll }),
  );
  const forgive = compile(table().where(which).update(forgiveAll));
  return {
    /** Reserves one attempt, or says why not (see ClaimRefusal). */
    async claim(scope: GuardScope, key: string, threshold: number, now: number, trx?: Transaction): Promise<{ ok: true } | ({ ok: false } & ClaimRefusal)> {
      return writer.within(trx, async (ex) => {
        const values = { scope, key, threshold, now, staleBefore: now - STALE_CLAIM_MS };
        // The row usually exists: UPDATE it first, so that parallel claims queue on its lock. (INSERT
        // IGNORE first would take a shared lock on it that two claims then both want to upgrade: a deadlock.)
        if ((await ex.run(take, values)) === 1) return { ok: true };
        let row = await ex.first<GuardRow>(read, { scope, key });
        if (!row) {
          await ex.run(ensure, { scope, key, now });
          if ((await ex.run(take, values)) === 1) return { ok: true };
          row = await ex.first<GuardRow>(read, { scope, key });
        }
        if (row && row.locked_until != null && Number(row.locked_until) > now) return { ok: false, locked: true, row };
        return { ok: false, locked: false, row };
      });
    },

    /** The attempt failed: its slot becomes a failure; the one that reaches the threshold locks. Returns the lock end when this call locked. */
    async failed(
      scope: GuardScope,
      key: string,
      threshold: number,
      now: number,
      lockMs: (lockNumber: number) => number,
      trx?: Transaction,
    ): Promise<number | undefined> {
      return writer.within(trx, async (ex) => {
        await ex.run(fail, { scope, key, now });
        // Read after this transaction's own write to the row: current on both engines (InnoDB holds its lock).
        const row = await ex.first<GuardRow>(read, { scope, key });
        if (!row || row.failures < threshold || row.locked_until !== null) return undefined;
        const until = now + lockMs(row.lock_count + 1);
        const n = await ex.run(lock, { scope, key, threshold, now, until, lockCount: row.lock_count, nextLockCount: row.lock_count + 1 });
        return n === 1 ? until : undefined;
      });
    },

    /** The attempt ends without a verdict on it (a right password whose code is still to come, or an error): its slot is given back. */
    async release(scope: GuardScope, key: string, now: number, trx?: Transaction): Promise<void> {
      await writer.within(trx, (ex) => ex.run(release, { scope, key, now }));
    },

    /** A full success gives its slot back and forgives every failure and lock. */
    async succeeded(scope: GuardScope, key: string, now: number, trx?: Transaction): Promise<void> {
      await writer.within(trx, (ex) => ex.run(succeed, { scope, key, now }));
    },

    /** Forgives every failure and lock, outside any attempt (an operator's decision). */
    async forgive(scope: GuardScope, key: string, now: number, trx?: Transaction): Promise<void> {
      await writer.within(trx, (ex) => ex.run(forgive, { scope, key, now }));
    },
  };
}

export type LoginGuardsRepository = ReturnType<typeof createLoginGuardsRepository>;

/** Fixed-window hit counters shared by replicas (per-IP login rate limit). */
export function createRateWindowsRepository({ knex, writer }: Database) {
  const table = () => knex('rate_windows');
  const which = { rate_key: param('key'), window_start: param('windowStart') };
  const count = compile(
    table()
      .insert({ ...which, hits: 1 })
      .onConflict(['rate_key', 'window_start'])
      .merge({ hits: knex.raw('?? + 1', ['rate_windows.hits']) }),
  );
  const read = compile(table().where(which).first('hits'));
  const forget = compile(table().where('rate_key', param('key')).andWhere('window_start', '<', param('windowStart')).delete());
  return {
    /** Counts one hit in the window containing `now`; returns the hits so far in it. */
    async hit(key: string, windowMs: number, now: number, trx?: Transaction): Promise<{ hits: number; windowEnd: number }> {
      const windowStart = now - (now % windowMs);
      return writer.within(trx, async (ex) => {
        await ex.run(count, { key, windowStart });
        const row = await ex.first<{ hits: number }>(read, { key, windowStart });
        const hits = Number(row?.hits ?? 1);
        // The first hit of a window: the windows before it are over, and nothing counts them any more.
        if (hits === 1) await ex.run(forget, { key, windowStart });
        return { hits, windowEnd: windowStart + windowMs };
      });
    },
  };
}

export type RateWindowsRepository = ReturnType<typeof createRateWindowsRepository>;
