import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import type { Config } from '../config/schema.js';
import { ImmediateSqliteClient, mysql2ClientWithStatementTimeout } from './knex-clients.js';
import { knexPointReader, mysqlPointReader, sqlitePointReader, type PointReader } from './point-reader.js';
import { migrateLatest } from './schema-migration.js';
import { cachePreparedStatements } from './statements.js';
import { retryPolicy, type RetryPolicy } from './retry.js';
import { SessionNotices } from './session-notices.js';
import { countStatement } from './statement-count.js';
import { knexWriter, sqliteWriter, type Writer } from './writer.js';

export type Dialect = 'sqlite' | 'mysql';

export interface Database {
  knex: Knex;
  dialect: Dialect;
  /** Committed single-row reads outside knex, for the hot paths (see point-reader.ts). */
  reads: PointReader;
  /** Transactions of compiled statements for the hot write paths (see writer.ts). */
  writer: Writer;
  /** How transactions that lost to contention are run again (see retry.ts, `retryingTransaction`). */
  retry: RetryPolicy;
  /** Tells replicas that cache sessions what committed writes changed about them (see session-notices.ts). */
  notices: SessionNotices;
  /** Brings the schema up to date; returns the migrations applied. */
  migrate(): Promise<string[]>;
}

/** Where knex's own warnings go (the service's log). */
export interface DatabaseLog {
  warn(message: string): void;
  error(message: string): void;
}

/** What opening a database takes from the configuration. */
export type DatabaseSettings = Pick<Config, 'DATABASE_URL' | 'DB_CONNECT_TIMEOUT' | 'DB_ACQUIRE_TIMEOUT' | 'DB_QUERY_TIMEOUT' | 'DB_RETRY_TIME'>;

/** `sqlite:./data/x.sqlite`, `sqlite:/abs/x.sqlite`, `sqlite::memory:`. */
function sqliteFile(url: string): string {
  const path = url.slice('sqlite:'.length).replace(/^\/\//, '');
  return path === ':memory:' ? path : resolve(path);
}

/**
 * Every wait on the database is bounded, so a database that stops answering
 * (a frozen server, a network that drops packets) makes calls fail with 503
 * within seconds instead of hanging them: connecting (DB_CONNECT_TIMEOUT),
 * waiting for a pooled connection (DB_ACQUIRE_TIMEOUT), and each statement
 * (DB_QUERY_TIMEOUT; on SQLite the wait for another process's lock).
 */
export function createDatabase(settings: DatabaseSettings, log?: DatabaseLog): Database {
  const url = settings.DATABASE_URL;
  // knex prints its warnings (each failed connection attempt, with a stack) on the console otherwise.
  const knexLog = log && { warn: (message: string) => log.warn(message), error: (message: string) => log.error(message) };
  // SQLite's busy timeout is a whole number of milliseconds.
  const busyTimeout = Math.ceil(settings.DB_QUERY_TIMEOUT);
  const retry = retryPolicy(settings.DB_RETRY_TIME);
  if (url.startsWith('sqlite:')) {
    const filename = sqliteFile(url);
    if (filename !== ':memory:') mkdirSync(dirname(filename), { recursive: true, mode: 0o700 });
    const knex = knexFactory({
      client: ImmediateSqliteClient,
      connection: { filename },
      useNullAsDefault: true,
      log: knexLog,
      acquireConnectionTimeout: settings.DB_ACQUIRE_TIMEOUT,
      pool: {
        min: 1,
        max: 1,
        afterCreate(conn: { pragma(sql: string): unknown; prepare(sql: string): unknown }, done: (err: Error | null, conn: unknown) => void) {
          cachePreparedStatements(conn);
          // WAL lets readers (CLI, a second process) work while the service writes;
          // busy_timeout makes a concurrent writer wait instead of failing.
          if (filename !== ':memory:') conn.pragma('journal_mode = WAL');
          conn.pragma('foreign_keys = ON');
          conn.pragma(`busy_timeout = ${busyTimeout}`);
          conn.pragma('synchronous = NORMAL');
          done(null, conn);
        },
      },
    });
    knex.on('query', countStatement);
    return {
      knex,
      dialect: 'sqlite',
      retry,
      notices: new SessionNotices(),
      reads: filename === ':memory:' ? knexPointReader(knex) : sqlitePointReader(filename, busyTimeout),
      writer: sqliteWriter(knex),
      migrate: () => migrateLatest(knex),
    };
  }
  const connection = {
    uri: url.replace(/^mariadb:/, 'mysql:'),
    charset: 'utf8mb4',
    // BIGINT epoch-millisecond columns come back as JS numbers (safe up to 2^53).
    supportBigNumbers: true,
    bigNumberStrings: false,
    timezone: 'Z',
    // Queries use the text protocol, never server-side prepared statements, yet mysql2 sizes each
    // connection's statement cache up front (16,000 slots by default: about 0.5 MB per connection).
    maxPreparedStatements: 16,
    connectTimeout: settings.DB_CONNECT_TIMEOUT,
  };
  const mysqlKnex = (statementTimeout: number | undefined) =>
    knexFactory({
      client: statementTimeout === undefined ? 'mysql2' : mysql2ClientWithStatementTimeout(statementTimeout),
      connection: connection as Knex.MySql2ConnectionConfig & { uri: string },
      pool: { min: 0, max: 10 },
      log: knexLog,
      acquireConnectionTimeout: settings.DB_ACQUIRE_TIMEOUT,
    });
  const knex = mysqlKnex(settings.DB_QUERY_TIMEOUT);
  knex.on('query', countStatement);
  const notices = new SessionNotices();
  return {
    knex,
    dialect: 'mysql',
    retry,
    notices,
    reads: mysqlPointReader(connection, 10, { acquire: settings.DB_ACQUIRE_TIMEOUT, query: settings.DB_QUERY_TIMEOUT }),
    writer: knexWriter({ knex, retry, notices }, 'mysql'),
    // Migrations get connections of their own with no statement timeout: MySQL cannot roll DDL
    // back, so an ALTER of a big table cut off midway would leave the schema (and knex's
    // migration lock) half done while the server goes on with it.
    async migrate() {
      const migrations = mysqlKnex(undefined);
      try {
        return await migrateLatest(migrations);
      } finally {
        await migrations.destroy();
      }
    },
  };
}

/** COUNT(*) of a query, as a number on every engine (mysql2 may answer BIGINT counts as strings). */
export async function countRows(query: Knex.QueryBuilder): Promise<number> {
  const row = (await query.count({ n: '*' }).first()) as { n: number | string } | undefined;
  return Number(row?.n ?? 0);
}

/**
 * Why the database cannot take the service's writes now, or undefined when it
 * can: both ways the service reaches it answer (each bounded by the timeouts
 * above, so an exhausted pool counts once DB_ACQUIRE_TIMEOUT passed), the
 * server is not read-only, and a Galera node is a synced member of the Primary
 * component (a node that lost quorum answers every statement with 1047; a donor
 * or joiner blocks or refuses writes).
 */
export async function databaseUnreadiness(db: Database): Promise<string | undefined> {
  try {
    await Promise.all([db.knex.raw('select 1'), db.reads.first('select 1', [])]);
    if (db.dialect === 'mysql') return await mysqlUnwritable(db.knex);
    return undefined;
  } catch {
    return 'The database does not answer';
  }
}

async function mysqlUnwritable(knex: Knex): Promise<string | undefined> {
  const settings = await showGlobal(knex, 'VARIABLES', ['read_only', 'innodb_read_only', 'wsrep_on']);
  if (settings.read_only === 'ON' || settings.innodb_read_only === 'ON') return 'The database is read-only';
  if (settings.wsrep_on !== 'ON') return undefined;
  const wsrep = await showGlobal(knex, 'STATUS', ['wsrep_ready', 'wsrep_cluster_status', 'wsrep_local_state']);
  if (wsrep.wsrep_cluster_status !== 'Primary') return 'The Galera node is not part of the Primary component';
  // 4 = Synced (galera's wsrep_local_state numbering; 2 Donor, 1 Joining, 3 Joined).
  if (wsrep.wsrep_ready !== 'ON' || wsrep.wsrep_local_state !== '4') return 'The Galera node is not synced';
  return undefined;
}

/** SHOW GLOBAL VARIABLES/STATUS for the named entries (absent ones are missing): same on MariaDB and MySQL. */
async function showGlobal(knex: Knex, what: 'VARIABLES' | 'STATUS', names: string[]): Promise<Record<string, string>> {
  const [rows] = (await knex.raw(`SHOW GLOBAL ${what} WHERE Variable_name IN (${names.map(() => '?').join(', ')})`, names)) as [
    { Variable_name: string; Value: string }[],
  ];
  return Object.fromEntries(rows.map((row) => [row.Variable_name.toLowerCase(), String(row.Value).toUpperCase() === 'ON' ? 'ON' : String(row.Value)]));
}
