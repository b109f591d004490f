import type { Knex } from 'knex';
import { bindingFor } from '../domain/crypto/envelope.js';
import type { Keyring } from '../domain/crypto/keyring.js';
import { ENTITIES } from '../entities/descriptors.js';
import { hasReadableCopy } from '../entities/passwords.js';
import type { Row } from './entities.js';
import { countRows } from './connection.js';

/** A column holding encrypted values, with the row key each value is bound to. */
export interface EncryptedColumn {
  table: string;
  column: string;
  keyColumns: [string] | [string, string];
  rowId(row: Row): string | number;
}

/** The binding of a TOTP secret: one key per principal. */
export const twoFactorRowId = (realm: string, principalId: number) => `${realm}:${principalId}`;

/** Every encrypted column in the schema: what `keyring rotate` walks. */
export const ENCRYPTED_COLUMNS: EncryptedColumn[] = [
  ...ENTITIES.filter(hasReadableCopy).map((d): EncryptedColumn => ({
    table: d.table,
    column: 'password_enc',
    keyColumns: [d.idField],
    rowId: (r) => Number(r[d.idField]),
  })),
  { table: 'accounts', column: 'h323_password_enc', keyColumns: ['i_account'], rowId: (r) => Number(r.i_account) },
  {
    table: 'two_factor_keys',
    column: 'secret_enc',
    keyColumns: ['realm', 'principal_id'],
    rowId: (r) => twoFactorRowId(String(r.realm), Number(r.principal_id)),
  },
  // Reset links of mails still waiting to be sent (see notifications/notify.ts).
  { table: 'notifications', column: 'secret_enc', keyColumns: ['id'], rowId: (r) => Number(r.id) },
];

export interface ColumnReport {
  table: string;
  column: string;
  rotated: number;
  /** Changed by the service while we worked: left alone (the newer value wins). */
  raced: number;
  failed: Array<{ row: string; error: string }>;
  /** Values still under a non-primary key after the pass. */
  remaining: number;
}

/** Values not (yet) under the primary key. `substr` rather than LIKE: key ids may contain `_`. */
function notPrimary(q: Knex.QueryBuilder, col: EncryptedColumn, prefix: string): Knex.QueryBuilder {
  return q.whereNotNull(col.column).andWhereRaw('substr(??, 1, ?) <> ?', [col.column, prefix.length, prefix]);
}

/** Keyset paging on one or two key columns, so a pass visits each row once and can be resumed. */
function after(q: Knex.QueryBuilder, col: EncryptedColumn, last: Row | undefined): Knex.QueryBuilder {
  if (!last) return q;
  const [a, b] = col.keyColumns;
  if (b === undefined) return q.andWhere(a, '>', last[a] as number);
  return q.andWhere((w) => w.where(a, '>', last[a] as string).orWhere((w2) => w2.where(a, last[a] as string).andWhere(b, '>', last[b] as number)));
}

/**
 * Re-encrypts, under the primary key, every value that names another key.
 * Online-safe: each value is replaced only if it is still the value read
 * (compare-and-set in the UPDATE), so a value the service wrote meanwhile is
 * never overwritten with an older one. Resumable: a new run picks up what is
 * still under an old key.
 */
export async function rotateColumn(
  knex: Knex,
  ring: Keyring,
  col: EncryptedColumn,
  batchSize: number,
  onBatch: (report: ColumnReport) => void = () => {},
): Promise<ColumnReport> {
  const prefix = `v1.${ring.primaryId}.`;
  const report: ColumnReport = { table: col.table, column: col.column, rotated: 0, raced: 0, failed: [], remaining: 0 };
  let last: Row | undefined;
  for (;;) {
    const q = knex(col.table).select([...col.keyColumns, col.column]);
    notPrimary(q, col, prefix);
    after(q, col, last);
    const rows = (await q.orderBy(col.keyColumns).limit(batchSize)) as Row[];
    if (rows.length === 0) break;
    for (const row of rows) {
      const old = String(row[col.column]);
      const binding = bindingFor(col.table, col.column, col.rowId(row));
      let fresh: string;
      try {
        fresh = ring.encrypt(ring.decrypt(old, binding), binding);
      } catch (err) {
        report.failed.push({ row: String(col.rowId(row)), error: (err as Error).message });
        continue;
      }
      const where = Object.fromEntries(col.keyColumns.map((k) => [k, row[k]]));
      const n = await knex(col.table)
        .where(where)
        .andWhere(col.column, old)
        .update({ [col.column]: fresh });
      if (n === 1) report.rotated++;
      else report.raced++;
    }
    last = rows[rows.length - 1];
    onBatch(report);
  }
  report.remaining = await countRows(notPrimary(knex(col.table), col, prefix));
  return report;
}

export async function rotateAll(knex: Knex, ring: Keyring, batchSize: number, onBatch?: (report: ColumnReport) => void): Promise<ColumnReport[]> {
  const reports: ColumnReport[] = [];
  for (const col of ENCRYPTED_COLUMNS) reports.push(await rotateColumn(knex, ring, col, batchSize, onBatch));
  return reports;
}
