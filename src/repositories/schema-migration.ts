import type { Knex } from 'knex';
import { migrationSource } from '../../db/migrations/index.js';

/** How long a replica waits for another one's migration before it gives up (and exits). */
const MIGRATION_WAIT_MS = 5 * 60_000;

/**
 * The service's own migration lock: one row (id 1), taken by a statement of
 * its own that commits before any migration runs. knex's lock cannot serve on
 * Galera: knex sets it inside the transaction of the first schema change, so
 * until that commits (and is certified) another node sees the lock free and
 * migrates too (issue 18: "Table 'customer_classes' already exists", then
 * "Duplicate column"). An autocommit `UPDATE ... WHERE is_locked = 0` is
 * certified cluster-wide at its commit: of two nodes taking it at once one
 * commits, the other matches no row or fails certification (1213). MariaDB's
 * GET_LOCK would not do: it is local to one node, not replicated.
 */
const LOCK_TABLE = 'schema_migration_lock';
const LOCK_ID = 1;

/**
 * Brings the schema up to date when any number of replicas start at once on
 * one database (SQLite file, MariaDB, Galera): one takes the lock and runs
 * knex's migrations (knex's own lock then has no contender); the others poll
 * with jittered backoff until the holder released it, take it in turn and
 * find nothing pending. A schema already up to date needs no lock, so a lock
 * left behind by a migrator that died blocks only starts that have something
 * to migrate, and those end after MIGRATION_WAIT_MS with an error saying so.
 */
export async function migrateLatest(knex: Knex): Promise<string[]> {
  const deadline = Date.now() + MIGRATION_WAIT_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      if ((await pendingMigrations(knex)).length === 0) return [];
      await ensureLockRow(knex);
      if (await takeLock(knex)) {
        try {
          const [, applied] = (await knex.migrate.latest({ migrationSource })) as [number, string[]];
          return applied;
        } finally {
          await knex(LOCK_TABLE).where({ id: LOCK_ID }).update({ is_locked: 0 });
        }
      }
    } catch (err) {
      if (!isLostMigrationRace(err) || Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `Another process has held the migration lock for ${MIGRATION_WAIT_MS / 1000} s; if none is migrating, clear it: UPDATE ${LOCK_TABLE} SET is_locked = 0`,
      );
    const backoff = Math.min(2_000, 50 * 2 ** attempt);
    await new Promise((resolve) => setTimeout(resolve, backoff / 2 + Math.random() * (backoff / 2)));
  }
}

/** The migrations not recorded in knex_migrations (all of them on an empty database). */
async function pendingMigrations(knex: Knex): Promise<string[]> {
  const all = await migrationSource.getMigrations([]);
  if (!(await knex.schema.hasTable('knex_migrations'))) return all;
  const done = new Set(((await knex('knex_migrations').select('name')) as { name: string }[]).map((row) => row.name));
  return all.filter((name) => !done.has(name));
}

async function ensureLockRow(knex: Knex): Promise<void> {
  // Only when missing: on Galera any DDL, even CREATE TABLE IF NOT EXISTS of a table that is
  // there, runs in total order and aborts open transactions on the table it names.
  if (!(await knex.schema.hasTable(LOCK_TABLE)))
    await knex.raw(`CREATE TABLE IF NOT EXISTS ${LOCK_TABLE} (id integer NOT NULL PRIMARY KEY, is_locked integer NOT NULL)`);
  // Inserted only when absent, so a start on a migrated database writes nothing; two inserts at
  // once collide on the fixed id (ignored on one server, a certification conflict on Galera).
  if (!(await knex(LOCK_TABLE).where({ id: LOCK_ID }).first()))
    await knex(LOCK_TABLE).insert({ id: LOCK_ID, is_locked: 0 }).onConflict('id').ignore();
}

/** One autocommit statement: true when this process now holds the lock. */
async function takeLock(knex: Knex): Promise<boolean> {
  const changed = (await knex(LOCK_TABLE).where({ id: LOCK_ID, is_locked: 0 }).update({ is_locked: 1 })) as number;
  return changed === 1;
}

/**
 * Another process got there first: it created a table a moment earlier (the
 * lock table, or knex's own when an older replica migrates), or, on Galera, the
 * losing node's insert or lock update fails certification (1213) and a joining
 * node refuses statements (1047); SQLite's file lock was held past the busy timeout.
 */
function isLostMigrationRace(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'MigrationLocked') return true;
  const { code, errno } = err as NodeJS.ErrnoException;
  if (errno === 1050 || errno === 1062 || errno === 1213 || errno === 1047) return true;
  if (code?.startsWith('SQLITE_BUSY')) return true;
  return code === 'SQLITE_ERROR' && /already exists/.test(err.message);
}
