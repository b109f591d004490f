import type { Knex } from 'knex';
import type { PointReader } from './point-reader.js';
import type { RetryPolicy } from './retry.js';
import { retryingTransaction } from './writer.js';

/** What changed: one session, or every session of a principal (`session_id` null). */
export interface SessionChange {
  session_id: string | null;
  realm: string | null;
  principal_id: number | null;
}

export interface SessionChangeRow extends SessionChange {
  seq: number;
}

/** How long feed rows are kept: far longer than any replica trusts a cached session without reading the feed. */
export const SESSION_CHANGE_RETENTION_MS = 60 * 60_000;

/** At most this many rows per read; a replica further behind drops its whole cache. */
export const SESSION_CHANGE_PAGE = 500;

export function createSessionChangesRepository(db: { knex: Knex; retry: RetryPolicy; reads: PointReader }) {
  const { knex, reads } = db;
  // Plain SQL that both engines read the same way: this runs before every cache hit.
  const columns = 'select seq, session_id, realm, principal_id from session_changes';
  const since = `${columns} where seq > ? order by seq limit ${SESSION_CHANGE_PAGE}`;
  const sinceOrIn = (holes: number) => `${columns} where seq > ? or seq in (${Array(holes).fill('?').join(', ')}) order by seq limit ${SESSION_CHANGE_PAGE}`;
  return {
    /**
     * Written with the change itself (`trx` is the change's transaction), so
     * no replica can see the change without its feed row. Retention is
     * bookkeeping, not business time: the process clock is used.
     */
    async record(change: SessionChange, trx: Knex.Transaction): Promise<void> {
      await trx('session_changes').insert({ ...change, created_at: Date.now() });
    },

    /**
     * Runs a write that can end sessions or alter what they may do, and
     * records `change` in the same transaction (the caller's, or a new one)
     * when the write touched any row.
     */
    async recording(trx: Knex.Transaction | undefined, change: SessionChange, act: (trx: Knex.Transaction) => Promise<number>): Promise<number> {
      const run = async (t: Knex.Transaction) => {
        const n = await act(t);
        if (n > 0) await this.record(change, t);
        return n;
      };
      return trx ? run(trx) : retryingTransaction(db, run);
    },

    async latestSeq(): Promise<number> {
      const row = await reads.first<{ seq: number | null }>('select max(seq) as seq from session_changes', []);
      return Number(row?.seq ?? 0);
    },

    /** Rows after `seq`, and those numbered `holes` (see session-cache.ts), oldest first. */
    async since(seq: number, holes: readonly number[] = []): Promise<SessionChangeRow[]> {
      const rows = await (holes.length === 0
        ? reads.all<SessionChangeRow>(since, [seq])
        : reads.all<SessionChangeRow>(sinceOrIn(holes.length), [seq, ...holes]));
      return rows.map((r) => ({ ...r, seq: Number(r.seq) }));
    },

    async prune(): Promise<number> {
      return knex('session_changes')
        .where('created_at', '<', Date.now() - SESSION_CHANGE_RETENTION_MS)
        .delete();
    },
  };
}

export type SessionChangesRepository = ReturnType<typeof createSessionChangesRepository>;
