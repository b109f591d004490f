import type { Knex } from 'knex';
import type { AuditRow } from './audit.js';

const PAGE = 1000;

/** One exported audit row: the columns as stored, `time` beside the epoch-ms `at`, `details` as the object it holds. */
function exported(row: AuditRow): string {
  let details: unknown = row.details;
  try {
    if (typeof row.details === 'string') details = JSON.parse(row.details);
  } catch {
    // Kept as the text it is.
  }
  const at = Number(row.at);
  return JSON.stringify({ ...row, i_event: Number(row.i_event), at, time: new Date(at).toISOString(), details });
}

/**
 * Hands every audit row with `at` before `before` to `emit`, one JSON text
 * each, in (at, i_event) order. Pages of PAGE rows by keyset on the `at`
 * index (which holds the primary key on both engines), each a short read of
 * its own, so memory stays constant and no snapshot or lock is held across
 * the export however large the log; `emit` may wait (backpressure).
 */
export async function exportAuditRows(knex: Knex, before: number, emit: (line: string) => Promise<void>): Promise<number> {
  let last: { at: number; id: number } | undefined;
  let count = 0;
  for (;;) {
    const q = knex<AuditRow>('audit_log').where('at', '<', before);
    if (last) {
      const { at, id } = last;
      // One range on the index (`at >= ?`), the tie broken by a filter: an OR at the top would make SQLite
      // merge two index scans and sort everything after the cursor for every page.
      q.andWhere('at', '>=', at).andWhere((k) => k.where('at', '>', at).orWhere('i_event', '>', id));
    }
    const rows = (await q.orderBy([{ column: 'at' }, { column: 'i_event' }]).limit(PAGE)) as AuditRow[];
    for (const row of rows) await emit(exported(row));
    count += rows.length;
    const tail = rows[rows.length - 1];
    if (!tail || rows.length < PAGE) return count;
    last = { at: Number(tail.at), id: Number(tail.i_event) };
  }
}
