import type { Knex } from 'knex';

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
export function createLoginGuardsRepository(knex: Knex) {
  const table = () => knex<GuardRow>('login_guards');
  return {
    /** Reserves one attempt; returns the row when refused (locked, or all slots taken). */
    async claim(scope: GuardScope, key: string, threshold: number, now: number): Promise<{ ok: true } | { ok: false; row: GuardRow | undefined }> {
      await table()
        .insert({ scope, guard_key: key, failures: 0, lock_count: 0, locked_until: null, updated_at: now })
        .onConflict(['scope', 'guard_key'])
        .ignore();
      const n = await table()
        .where({ scope, guard_key: key })
        .andWhere((q) =>
          q
            .where((open) => open.whereNull('locked_until').andWhere('failures', '<', threshold))
            .orWhere('locked_until', '<=', now)
            // All slots taken but nothing locked for a minute: claims whose calls died (a replica
            // crashed mid-attempt). An attempt never takes that long, so start over.
            .orWhere((stale) => stale.whereNull('locked_until').andWhere('updated_at', '<=', now - STALE_CLAIM_MS)),
        )
        // An expired lock (or stale claims) starts a fresh count at this attempt.
        .update({
          failures: knex.raw('CASE WHEN locked_until IS NULL AND failures < ? THEN failures + 1 ELSE 1 END', [threshold]),
          locked_until: null,
          updated_at: now,
        });
      if (n === 1) return { ok: true };
      return { ok: false, row: await table().where({ scope, guard_key: key }).first() };
    },

    /** The attempt failed: its claimed slot stays counted; the last slot locks. Returns the lock end when this call locked. */
    async failed(scope: GuardScope, key: string, threshold: number, now: number, lockMs: (lockNumber: number) => number): Promise<number | undefined> {
      const row = await table().where({ scope, guard_key: key }).first();
      if (!row || row.failures < threshold || row.locked_until !== null) return undefined;
      const until = now + lockMs(row.lock_count + 1);
      const n = await table()
        .where({ scope, guard_key: key, lock_count: row.lock_count })
        .whereNull('locked_until')
        .andWhere('failures', '>=', threshold)
        .update({ locked_until: until, lock_count: row.lock_count + 1, failures: 0, updated_at: now });
      return n === 1 ? until : undefined;
    },

    /** The password was right but another factor is pending: give the slot back without forgiving earlier failures. */
    async release(scope: GuardScope, key: string, now: number): Promise<void> {
      await table()
        .where({ scope, guard_key: key })
        .andWhere('failures', '>', 0)
        .update({ failures: knex.raw('failures - 1'), updated_at: now });
    },

    /** A full success forgives everything. */
    async reset(scope: GuardScope, key: string, now: number): Promise<void> {
      await table().where({ scope, guard_key: key }).update({ failures: 0, lock_count: 0, locked_until: null, updated_at: now });
    },
  };
}

export type LoginGuardsRepository = ReturnType<typeof createLoginGuardsRepository>;

/** Fixed-window hit counters shared by replicas (per-IP login rate limit). */
export function createRateWindowsRepository(knex: Knex) {
  const table = () => knex('rate_windows');
  return {
    /** Counts one hit in the window containing `now`; returns the hits so far in it. */
    async hit(key: string, windowMs: number, now: number): Promise<{ hits: number; windowEnd: number }> {
      const windowStart = now - (now % windowMs);
      await table()
        .insert({ rate_key: key, window_start: windowStart, hits: 1 })
        .onConflict(['rate_key', 'window_start'])
        .merge({ hits: knex.raw('?? + 1', ['rate_windows.hits']) });
      const row = (await table().where({ rate_key: key, window_start: windowStart }).first()) as { hits: number } | undefined;
      await table().where({ rate_key: key }).andWhere('window_start', '<', windowStart).delete();
      return { hits: Number(row?.hits ?? 1), windowEnd: windowStart + windowMs };
    },
  };
}

export type RateWindowsRepository = ReturnType<typeof createRateWindowsRepository>;
