import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { migrationSource } from '../../db/migrations/index.js';
import { knexPointReader, mysqlPointReader, sqlitePointReader, type PointReader } from './point-reader.js';
import { cachePreparedStatements } from './statements.js';
import { knexWriter, sqliteWriter, type Writer } from './writer.js';

export type Dialect = 'sqlite' | 'mysql';

export interface Database {
  knex: Knex;
  dialect: Dialect;
  /** Committed single-row reads outside knex, for the hot paths (see point-reader.ts). */
  reads: PointReader;
  /** Transactions of compiled statements for the hot write paths (see writer.ts). */
  writer: Writer;
}

/** `sqlite:./data/x.sqlite`, `sqlite:/abs/x.sqlite`, `sqlite::memory:`. */
function sqliteFile(url: string): string {
  const path = url.slice('sqlite:'.length).replace(/^\/\//, '');
  return path === ':memory:' ? path : resolve(path);
}

export function createDatabase(url: string): Database {
  if (url.startsWith('sqlite:')) {
    const filename = sqliteFile(url);
    if (filename !== ':memory:') mkdirSync(dirname(filename), { recursive: true, mode: 0o700 });
    const knex = knexFactory({
      client: 'better-sqlite3',
      connection: { filename },
      useNullAsDefault: true,
      pool: {
        min: 1,
        max: 1,
        afterCreate(conn: { pragma(sql: string): unknown; prepare(sql: string): unknown }, done: (err: Error | null, conn: unknown) => void) {
          cachePreparedStatements(conn);
          // WAL lets readers (CLI, a second process) work while the service writes;
          // busy_timeout makes a concurrent writer wait instead of failing.
          if (filename !== ':memory:') conn.pragma('journal_mode = WAL');
          conn.pragma('foreign_keys = ON');
          conn.pragma('busy_timeout = 5000');
          conn.pragma('synchronous = NORMAL');
          done(null, conn);
        },
      },
    });
    return {
      knex,
      dialect: 'sqlite',
      reads: filename === ':memory:' ? knexPointReader(knex) : sqlitePointReader(filename),
      writer: sqliteWriter(knex),
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
  };
  const knex = knexFactory({
    client: 'mysql2',
    connection: connection as Knex.MySql2ConnectionConfig & { uri: string },
    pool: { min: 0, max: 10 },
    acquireConnectionTimeout: 10_000,
  });
  return { knex, dialect: 'mysql', reads: mysqlPointReader(connection, 10), writer: knexWriter(knex, 'mysql') };
}

/** COUNT(*) of a query, as a number on every engine (mysql2 may answer BIGINT counts as strings). */
export async function countRows(query: Knex.QueryBuilder): Promise<number> {
  const row = (await query.count({ n: '*' }).first()) as { n: number | string } | undefined;
  return Number(row?.n ?? 0);
}

export async function migrateLatest(knex: Knex): Promise<string[]> {
  const [, applied] = (await knex.migrate.latest({ migrationSource })) as [number, string[]];
  return applied;
}

export async function isDatabaseReady(knex: Knex): Promise<boolean> {
  try {
    await knex.raw('select 1');
    return true;
  } catch {
    return false;
  }
}
