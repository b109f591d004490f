import type { Knex } from 'knex';

/**
 * Logins become unique by their normalized form (Unicode NFKC, lower case,
 * NFKC: see src/domain/login.ts), so that fullwidth `ｒｏｏｔ` is `root`. The
 * existing `login_key` column (unique per table, and so per realm) holds that
 * form from now on; this migration rewrites it for existing rows.
 *
 * It never fails on existing data: where two rows of a table normalize alike,
 * the row that already holds the form (an ASCII `root`), else the oldest,
 * gets it; every other row keeps its old lower-cased key, can still log in
 * with what it typed, and is named in an audit row
 * (`<entity>.login_key_kept`, with the holder's id) so that an admin can
 * rename it. New logins that normalize alike are refused from now on.
 *
 * On MySQL/MariaDB the column becomes a binary collation without padding:
 * uniqueness is then exact string equality of the normalized forms, as on
 * SQLite, instead of what the server's collation happens to equate (the
 * default ones equate `ß` with `s` or `ss`, and ignore trailing spaces).
 */
const TABLES = [
  { table: 'users', id: 'i_user', key: 'login', entity: 'user', realm: 'admin' },
  { table: 'customer_classes', id: 'i_customer_class', key: 'name', entity: 'customer_class', realm: null },
  { table: 'customers', id: 'i_customer', key: 'login', entity: 'customer', realm: 'customer' },
  { table: 'customer_individuals', id: 'i_customer_individual', key: 'login', entity: 'customer_individual', realm: 'customer_individual' },
  { table: 'accounts', id: 'i_account', key: 'login', entity: 'account', realm: 'account' },
  { table: 'representatives', id: 'i_representative', key: 'login', entity: 'representative', realm: 'representative' },
  { table: 'vendors', id: 'i_vendor', key: 'login', entity: 'vendor', realm: 'vendor' },
] as const;

type Table = (typeof TABLES)[number];
type Row = Record<string, unknown>;

/** The normalized form as this migration defines it (a migration must not change with later code). */
const normalized = (typed: string) => typed.normalize('NFKC').toLowerCase().normalize('NFKC');
/** The column's width, in characters. */
const KEY_MAX = 64;
const BATCH = 500;

const isMysql = (knex: Knex) => knex.client.config.client === 'mysql2';

/** MariaDB's binary collation without padding, or MySQL 8's. */
async function exactCollation(knex: Knex): Promise<string> {
  const [rows] = (await knex.raw("SHOW COLLATION WHERE Collation IN ('utf8mb4_nopad_bin', 'utf8mb4_0900_bin')")) as [Array<{ Collation: string }>];
  const names = rows.map((r) => r.Collation);
  return names.includes('utf8mb4_nopad_bin') ? 'utf8mb4_nopad_bin' : names.includes('utf8mb4_0900_bin') ? 'utf8mb4_0900_bin' : 'utf8mb4_bin';
}

async function setCollation(knex: Knex, collation: string): Promise<void> {
  for (const t of TABLES) {
    await knex.raw(`ALTER TABLE ?? MODIFY login_key VARCHAR(${KEY_MAX}) CHARACTER SET utf8mb4 COLLATE ${collation} NOT NULL`, [t.table]);
  }
}

function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code;
  return code === 'ER_DUP_ENTRY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/** Sets the key unless another row holds it (the engine's unique index decides, row by row). */
async function tryKey(knex: Knex, t: Table, id: number, key: string): Promise<boolean> {
  try {
    await knex(t.table).where(t.id, id).update({ login_key: key });
    return true;
  } catch (err) {
    if (isUniqueViolation(err)) return false;
    throw err;
  }
}

/** Every row of a table, in id order, a batch at a time (a table may hold millions). */
async function rekey(knex: Knex, t: Table, key: (row: Row) => string, kept: (row: Row, key: string) => Promise<void>): Promise<void> {
  let after = 0;
  for (;;) {
    const rows = (await knex(t.table).where(t.id, '>', after).orderBy(t.id).limit(BATCH).select(t.id, t.key, 'login_key')) as Row[];
    if (rows.length === 0) return;
    for (const row of rows) {
      const wanted = key(row);
      if (wanted === row.login_key) continue;
      if ([...wanted].length <= KEY_MAX && (await tryKey(knex, t, Number(row[t.id]), wanted))) continue;
      await kept(row, wanted);
    }
    after = Number(rows[rows.length - 1]?.[t.id]);
  }
}

export async function up(knex: Knex): Promise<void> {
  if (isMysql(knex)) await setCollation(knex, await exactCollation(knex));
  const at = Date.now();
  for (const t of TABLES) {
    await rekey(
      knex,
      t,
      (row) => normalized(String(row[t.key])),
      async (row, wanted) => {
        const holder = (await knex(t.table).where('login_key', wanted).first(t.id)) as Row | undefined;
        await knex('audit_log').insert({
          at,
          event: `${t.entity}.login_key_kept`,
          actor_realm: 'migration',
          realm: t.realm,
          entity: t.entity,
          entity_id: row[t.id],
          details: JSON.stringify(holder ? { reason: 'normalized_login_taken', taken_by: holder[t.id] } : { reason: 'normalized_login_too_long' }),
        });
      },
    );
  }
}

/** Back to lower-cased keys (refused by the unique index if logins were added since that differ only in their compatibility forms). */
export async function down(knex: Knex): Promise<void> {
  for (const t of TABLES) {
    await rekey(
      knex,
      t,
      (row) => String(row[t.key]).toLowerCase(),
      async () => {
        throw new Error(`${t.table}: two logins are the same in lower case; rename one before migrating down`);
      },
    );
  }
  if (isMysql(knex)) {
    const [[db]] = (await knex.raw('SELECT @@collation_database AS collation')) as [[{ collation: string }]];
    await setCollation(knex, db.collation);
  }
}
