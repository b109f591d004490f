import type { Knex } from 'knex';

/**
 * Indexes the housekeeping job (src/plugins/housekeeping.ts) finds its rows
 * by: each batch is a range read on one of these, then a DELETE by primary
 * key, so neither reads (nor, on InnoDB, locks) more than the batch it
 * deletes. `audit_log.at` and `password_resets.expires_at` were
 * indexed already.
 *
 * What each costs on the write paths: `sessions.expires_at` is written once
 * per session, `sessions.revoked_at` once when it ends; `mfa_challenges` and
 * `notifications` rows are written a handful of times; `rate_windows`
 * never change `window_start`. Only `login_guards.updated_at` changes on
 * every attempt, one index entry beside the row.
 */
const INDEXES: Array<[table: string, columns: string[]]> = [
  ['sessions', ['expires_at']],
  // Not `revoked_at` alone: InnoDB appends the primary key to it, so `WHERE id = ? AND revoked_at IS
  // NULL` (logout, revoke, refresh) became a one-row range on (revoked_at, id) that MariaDB preferred
  // to the primary key, and its next-key lock then also took the neighbouring live session's entry:
  // a logout waited for an unrelated revocation still open (test/integration/session-cache.test.ts).
  // With `expires_at` between them, those statements take the primary key again.
  ['sessions', ['revoked_at', 'expires_at']],
  ['mfa_challenges', ['expires_at']],
  ['rate_windows', ['window_start']],
  ['login_guards', ['updated_at']],
  ['notifications', ['status', 'created_at']],
];

export async function up(knex: Knex): Promise<void> {
  for (const [table, columns] of INDEXES) {
    await knex.schema.alterTable(table, (t) => {
      t.index(columns);
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const [table, columns] of [...INDEXES].reverse()) {
    await knex.schema.alterTable(table, (t) => {
      t.dropIndex(columns);
    });
  }
}
