import BetterSqlite3 from 'better-sqlite3';
import type { Knex } from 'knex';
import { createPool as createCallbackPool, type Pool as CallbackPool, type PoolConnection as CallbackPoolConnection, type RowDataPacket } from 'mysql2';
import { countStatement } from './statement-count.js';
import { discardConnection, isStatementTimeout } from './knex-clients.js';
import { cachePreparedStatements, compile, param, type Values } from './statements.js';
import type { Transaction, Writer } from './writer.js';

/**
 * Reads of one committed row by key, outside knex: the hot path of every
 * authenticated call (the session check) and of self-care reads. knex's
 * builder, runner and pool cost about 15 times the query itself on SQLite
 * (measured: ~75 µs against ~5 µs for a primary-key lookup), which is most of
 * an authenticated call.
 *
 * Only committed data is ever seen, exactly as a knex query outside a
 * transaction would see it: SQLite gets a second, read-only connection to the
 * same file (WAL readers never wait for the writer), MySQL its own small pool
 * with the same connection settings, so rows come back in the same shapes.
 * Callers pass fixed SQL strings with `?` placeholders, so statements are
 * prepared once.
 */
export interface PointReader {
  first<T>(sql: string, bindings: readonly unknown[]): Promise<T | undefined>;
  all<T>(sql: string, bindings: readonly unknown[]): Promise<T[]>;
  /**
   * SQLite only: a number that changes whenever another connection (this
   * process's writer, another process) has committed since the last call;
   * undefined where the engine has no such thing.
   */
  dataVersion(): number | undefined;
  close(): Promise<void>;
}

/** `busyTimeout`: milliseconds a read waits while another connection holds a lock it must wait for. */
export function sqlitePointReader(filename: string, busyTimeout: number): PointReader {
  let db: BetterSqlite3.Database | undefined;
  // Opened on first use, after the service's own connection has created the file and migrated it.
  const prepared = (sql: string): BetterSqlite3.Statement => {
    if (!db) {
      db = new BetterSqlite3(filename, { readonly: true, fileMustExist: true });
      db.pragma(`busy_timeout = ${busyTimeout}`);
      cachePreparedStatements(db);
    }
    return db.prepare(sql);
  };
  return {
    async first<T>(sql: string, bindings: readonly unknown[]) {
      countStatement();
      return prepared(sql).get(...bindings) as T | undefined;
    },
    async all<T>(sql: string, bindings: readonly unknown[]) {
      countStatement();
      return prepared(sql).all(...bindings) as T[];
    },
    dataVersion() {
      return prepared('PRAGMA data_version').pluck().get() as number;
    },
    async close() {
      db?.close();
      db = undefined;
    },
  };
}

export interface PointReaderTimeouts {
  /** Milliseconds to wait for a free (or new) connection of the pool. */
  acquire: number;
  /** Milliseconds to wait for one statement's answer; its connection is then discarded. */
  query: number;
}

/**
 * mysql2's pool waits for a free connection for ever, and hands a connection
 * whose statement timed out straight back to the next caller, who then waits
 * behind the old statement: connections are taken and given back here, with
 * both waits bounded (see knex-clients.ts for why a timed-out one is discarded).
 *
 * The callback API, not mysql2/promise: its wrapper captures a stack trace
 * (`new Error()`) for every statement, a cost paid on every authenticated
 * call (measured: 21 µs of client CPU a session read against 32 µs). Not
 * `execute` either: server-side prepared statements cost the client more
 * than the text protocol for these one-row reads (measured: 25-27 µs).
 */
export function mysqlPointReader(
  options: { uri: string } & Record<string, unknown>,
  connectionLimit: number,
  timeouts: PointReaderTimeouts,
): PointReader {
  let pool: CallbackPool | undefined;
  const acquire = (): Promise<CallbackPoolConnection> => {
    pool ??= createCallbackPool({ ...options, connectionLimit, maxIdle: connectionLimit });
    const from = pool;
    return new Promise((resolve, reject) => {
      let late = false;
      const timer = setTimeout(() => {
        late = true;
        reject(Object.assign(new Error(`no database connection within ${timeouts.acquire} ms`), { code: 'ETIMEDOUT' }));
      }, timeouts.acquire);
      from.getConnection((err, conn) => {
        clearTimeout(timer);
        if (err) reject(err);
        else if (late) conn.release();
        else resolve(conn);
      });
    });
  };
  const run = (conn: CallbackPoolConnection, sql: string, bindings: readonly unknown[]): Promise<RowDataPacket[]> =>
    new Promise((resolve, reject) => {
      conn.query<RowDataPacket[]>({ sql, values: bindings as unknown[], timeout: timeouts.query }, (err, rows) => (err ? reject(err) : resolve(rows)));
    });
  return {
    async first<T>(sql: string, bindings: readonly unknown[]) {
      return (await this.all<T>(sql, bindings))[0];
    },
    async all<T>(sql: string, bindings: readonly unknown[]) {
      const conn = await acquire();
      countStatement();
      try {
        const rows = await run(conn, sql, bindings);
        conn.release();
        return rows as T[];
      } catch (err) {
        // A timed-out or broken connection never goes back to the pool.
        if (isStatementTimeout(err) || (err as { fatal?: boolean }).fatal) discardConnection(conn);
        else conn.release();
        throw err;
      }
    },
    dataVersion: () => undefined,
    async close() {
      const open = pool;
      pool = undefined;
      if (open) await new Promise<void>((resolve) => open.end(() => resolve()));
    },
  };
}

/** An in-memory SQLite database cannot be opened twice: reads go through knex (tests only). */
export function knexPointReader(knex: Knex): PointReader {
  return {
    async first<T>(sql: string, bindings: readonly unknown[]) {
      return (await this.all<T>(sql, bindings))[0];
    },
    async all<T>(sql: string, bindings: readonly unknown[]) {
      return (await knex.raw(sql, bindings as Knex.RawBinding[])) as T[];
    },
    dataVersion: () => undefined,
    async close() {},
  };
}

/** Where a point query can run: the point reader, or the caller's transaction through the writer. */
type PointQuerySources = { reads: PointReader; writer: Writer };

/**
 * A knex query compiled once (see statements.ts) into a lookup of one row by
 * its named parameters (`param(name)`). Outside a transaction it reads
 * committed rows on the point reader; inside one, the same statement runs in
 * that transaction.
 */
export function pointQueryOf<T>({ reads, writer }: PointQuerySources, query: Knex.QueryBuilder): (values: Values, trx?: Transaction) => Promise<T | undefined> {
  const statement = compile(query);
  return (values, trx) => (trx ? writer.within(trx, (ex) => ex.first<T>(statement, values)) : reads.first<T>(statement.sql, statement.bind(values)));
}

/** The same for a query by one key (`build` gets the key's placeholder). */
export function pointQuery<T>(
  sources: PointQuerySources,
  build: (key: string) => Knex.QueryBuilder,
): (key: unknown, trx?: Transaction) => Promise<T | undefined> {
  const query = pointQueryOf<T>(sources, build(param('key')));
  return (key, trx) => query({ key }, trx);
}
