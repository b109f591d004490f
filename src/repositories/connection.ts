import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { migrationSource } from '../../db/migrations/index.js';

export type Dialect = 'sqlite' | 'mysql';

export interface Database {
  knex: Knex;
  dialect: Dialect;
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
        afterCreate(conn: { pragma(sql: string): unknown }, done: (err: Error | null, conn: unknown) => void) {
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
    return { knex, dialect: 'sqlite' };
  }
  const connection = url.replace(/^mariadb:/, 'mysql:');
  const knex = knexFactory({
    client: 'mysql2',
    connection: {
      uri: connection,
      charset: 'utf8mb4',
      // BIGINT epoch-millisecond columns come back as JS numbers (safe up to 2^53).
      supportBigNumbers: true,
      bigNumberStrings: false,
      timezone: 'Z',
    } as Knex.MySql2ConnectionConfig & { uri: string },
    pool: { min: 0, max: 10 },
    acquireConnectionTimeout: 10_000,
  });
  return { knex, dialect: 'mysql' };
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
