import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Knex } from 'knex';
import type { Database } from './connection.js';
import { retrying } from './retry.js';

/**
 * One kind of row that is no longer needed: where it lives, its primary key,
 * and the condition (on an indexed column, see migration 019) that makes it
 * deletable. The condition is checked again by the DELETE itself, so a row
 * that came back to use between the read and the delete (a guard row an
 * attempt just claimed) stays.
 */
export interface PruneRule {
  /** The metric and report label: the table, or `table:why` when a table has several rules. */
  name: string;
  table: string;
  key: string[];
  /** Narrows a query on `table` to the deletable rows; must be served by an index. */
  deletable: (q: Knex.QueryBuilder) => Knex.QueryBuilder;
}

export interface PruneLimits {
  /** Rows per DELETE: each is its own short transaction. */
  batchSize: number;
  /** Batches per rule per pass; what is left waits for the next pass. */
  maxBatches: number;
}

type KeyRow = Record<string, string | number>;

/** `key IN (...)` for one column, `(a = ? AND b = ?) OR ...` for several (row-value IN is not range-optimized on every MariaDB). */
function whereKeys(q: Knex.QueryBuilder, key: string[], rows: KeyRow[]): Knex.QueryBuilder {
  const [only] = key;
  if (key.length === 1 && only !== undefined)
    return q.whereIn(
      only,
      rows.map((r) => r[only] as string | number),
    );
  return q.where((any) => {
    for (const row of rows) any.orWhere(Object.fromEntries(key.map((k) => [k, row[k]])));
  });
}

/**
 * Deletes the rows of `rule` in batches: a plain read of up to `batchSize`
 * keys (no locks: a consistent read on InnoDB), then one autocommit DELETE
 * of exactly those keys that still meet the condition. A DELETE therefore
 * locks only rows it deletes, by primary key (no range or gap locks that
 * would hold up inserts), for the moment of one statement; one that lost to
 * contention runs again under the service's one retry policy.
 *
 * Several replicas may run it at once on the same rows: both may read the
 * same keys, the first DELETE removes them and the second finds nothing
 * left (0 rows), so each row is deleted, and counted, once.
 */
export async function prune(db: Pick<Database, 'knex' | 'retry'>, rule: PruneRule, limits: PruneLimits, onDeleted?: (rows: number) => void): Promise<number> {
  const { knex } = db;
  let deleted = 0;
  for (let batch = 0; batch < limits.maxBatches; batch++) {
    const rows = (await rule.deletable(knex(rule.table).select(rule.key)).limit(limits.batchSize)) as KeyRow[];
    if (rows.length === 0) break;
    const n = await retrying(db.retry, () => whereKeys(rule.deletable(knex(rule.table)), rule.key, rows).delete());
    deleted += n;
    if (n > 0) onDeleted?.(n);
    if (rows.length < limits.batchSize) break;
    // Between batches the calls waiting for the connection (SQLite has one) go first.
    await nextTurn();
  }
  return deleted;
}
