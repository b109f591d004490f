import type { Database } from './connection.js';
import { compile, param } from './statements.js';
import type { Transaction } from './writer.js';

export type GuardScope = 'login' | 'ip';

const STALE_CLAIM_MS = 60_000;

export interface GuardRow {
  scope: GuardScope;
  guard_key: string;
  failures: number;
  lock_count: number;
  locked_until: number | null;
  updated_at: number;
}

/**
 * Consecutive-failure counters with locks, in the database so every replica
 * sees the same counts. An attempt claims a slot *before* its password or
 * code is checked (atomic UPDATE with the limit in its WHERE), so any number
 * of parallel attempts gets at most `threshold` evaluations.
 */
export function createLoginGuardsRepository({ knex, writer }: Database) {
  const table = () => knex('login_guards');
  const which = { scope: param('scope'), guard_key: param('key') };
  const ensure = compile(
    table()
      .insert({ ...which, failures: 0, lock_count: 0, locked_until: null, updated_at: param('now') })
      .onConflict(['scope', 'guard_key'])
      .ignore(),
  );
  const take = compile(
    table()
      .where(which)
      .andWhere((q) =>
        q
          .where((open) => open.whereNull('locked_until').andWhere('failures', '<', param('threshold')))
          .orWhere('locked_until', '<=', param('now'))
          // All slots taken but nothing locked for a minute: claims whose calls died (a replica
          // crashed mid-attempt). An attempt never takes that long, so start over.
          .orWhere((stale) => stale.whereNull('locked_until').andWhere('updated_at', '<=', param('staleBefore'))),
      )
      // An expired lock (or stale claims) starts a fresh count at this attempt.
      .update({
        failures: knex.raw('CASE WHEN locked_until IS NULL AND failures < ? THEN failures + 1 ELSE 1 END', [param('threshold')]),
        locked_until: null,
        updated_at: param('now'),
      }),
  );
  const read = compile(table().where(which).first());
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
      .andWhere('failures', '>', 0)
      .update({ failures: knex.raw('failures - 1'), updated_at: param('now') }),
  );
  const reset = compile(
    table()
      .where(which)
      .update({ failures: 0, lock_count: 0, locked_until: null, updated_at: param('now') }),
  );
  return {
    /** Reserves one attempt; returns the row when refused (locked, or all slots taken). */
    async claim(
      scope: GuardScope,
      key: string,
      threshold: number,
      now: number,
      trx?: Transaction,
    ): Promise<{ ok: true } | { ok: false; row: GuardRow | undefined }> {
      return writer.within(trx, async (ex) => {
        await ex.run(ensure, { scope, key, now });
        if ((await ex.run(take, { scope, key, threshold, now, staleBefore: now - STALE_CLAIM_MS })) === 1) return { ok: true };
        return { ok: false, row: await ex.first<GuardRow>(read, { scope, key }) };
      });
    },

    /** The attempt failed: its claimed slot stays counted; the last slot locks. Returns the lock end when this call locked. */
    async failed(
      scope: GuardScope,
      key: string,
      threshold: number,
      now: number,
      lockMs: (lockNumber: number) => number,
      trx?: Transaction,
    ): Promise<number | undefined> {
      return writer.within(trx, async (ex) => {
        const row = await ex.first<GuardRow>(read, { scope, key });
        if (!row || row.failures < threshold || row.locked_until !== null) return undefined;
        const until = now + lockMs(row.lock_count + 1);
        const n = await ex.run(lock, { scope, key, threshold, now, until, lockCount: row.lock_count, nextLockCount: row.lock_count + 1 });
        return n === 1 ? until : undefined;
      });
    },

    /** The password was right but another factor is pending: give the slot back without forgiving earlier failures. */
    async release(scope: GuardScope, key: string, now: number, trx?: Transaction): Promise<void> {
      await writer.within(trx, (ex) => ex.run(release, { scope, key, now }));
    },

    /** A full success forgives everything. */
    async reset(scope: GuardScope, key: string, now: number, trx?: Transaction): Promise<void> {
      await writer.within(trx, (ex) => ex.run(reset, { scope, key, now }));
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
