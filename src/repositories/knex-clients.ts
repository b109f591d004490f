import { createRequire } from 'node:module';
import type { Knex } from 'knex';

/**
 * knex's own dialect clients, each changed in one respect. knex takes a
 * client class in place of a client name (`client: SomeClient`); its typings
 * do not declare the members overridden here, hence the narrow types.
 */
const require = createRequire(import.meta.url);

interface CompiledQuery {
  sql: string;
  options?: Record<string, unknown>;
}
interface DialectClient extends Knex.Client {
  _query(connection: unknown, query: CompiledQuery): Promise<unknown>;
}
/** A knex dialect client class: what knex's `client` option takes. */
type DialectClientClass = Omit<typeof Knex.Client, 'prototype'> & (new (config: Knex.Config) => DialectClient);
type SqliteTransactionClass = new (client: Knex.Client, ...rest: unknown[]) => { query(connection: unknown, sql: string): Promise<unknown> };

const BetterSqlite3Client = require('knex/lib/dialects/better-sqlite3/index.js') as DialectClientClass;
const SqliteTransaction = require('knex/lib/dialects/sqlite3/execution/sqlite-transaction.js') as SqliteTransactionClass;
const Mysql2Client = require('knex/lib/dialects/mysql2/index.js') as DialectClientClass;

/**
 * knex opens SQLite transactions with a deferred `BEGIN`: the write lock is
 * taken at the first write. When another process has written the file since
 * this transaction's first read, SQLite cannot upgrade its snapshot and fails
 * at once with SQLITE_BUSY, without calling the busy handler
 * (https://sqlite.org/lang_transaction.html, "Read transactions versus
 * write transactions"; https://sqlite.org/wal.html, "Sometimes Queries Return
 * SQLITE_BUSY In WAL Mode"). `BEGIN IMMEDIATE` takes the write lock up front,
 * where a lock held by another process makes it wait (busy_timeout) instead.
 * Every knex transaction here writes (the methods, the CLI commands, the
 * migrations, with the outbox rows of their events), as the hot writer's
 * transactions do (writer.ts).
 */
class ImmediateSqliteTransaction extends SqliteTransaction {
  begin(connection: unknown): Promise<unknown> {
    return this.query(connection, 'BEGIN IMMEDIATE;');
  }
}

export class ImmediateSqliteClient extends BetterSqlite3Client {
  override transaction(...args: unknown[]): Knex.Transaction {
    return new ImmediateSqliteTransaction(this, ...args) as unknown as Knex.Transaction;
  }
}

interface Mysql2Connection {
  destroy(): void;
}

/** mysql2's error code when a statement got no answer within its `timeout`. */
const STATEMENT_TIMEOUT = 'PROTOCOL_SEQUENCE_TIMEOUT';

export const isStatementTimeout = (err: unknown): boolean => (err as { code?: unknown } | null)?.code === STATEMENT_TIMEOUT;

const statementTimeout = (message: string): Error => Object.assign(new Error(message), { code: STATEMENT_TIMEOUT });

/**
 * A connection whose statement timed out may still get that statement's
 * answer later (a frozen server that wakes up): mysql2 would then keep the
 * connection busy with the old statement and read its late answer first. It
 * is closed, socket and all, never reused; the pools drop closed connections.
 */
export function discardConnection(connection: Mysql2Connection): void {
  connection.destroy();
  // destroy() only half-closes (FIN) and waits for the peer, which may never answer.
  (connection as { stream?: { destroy(): void } }).stream?.destroy();
}

/**
 * knex's mysql2 client with a time limit on every statement (mysql2's
 * per-query `timeout`, which knex has no global setting for). A connection
 * whose statement timed out is discarded, and any later statement of its
 * transaction (the ROLLBACK knex sends) fails with the same error, so the
 * caller sees the timeout, not a closed connection.
 */
export function mysql2ClientWithStatementTimeout(timeout: number): DialectClientClass {
  const timedOut = new WeakSet<object>();
  return class TimedMysql2Client extends Mysql2Client {
    override async _query(connection: Mysql2Connection, query: CompiledQuery): Promise<unknown> {
      if (timedOut.has(connection)) throw statementTimeout('an earlier statement on this connection timed out');
      query.options = { timeout, ...query.options };
      try {
        return await super._query(connection, query);
      } catch (err) {
        if (isStatementTimeout(err)) {
          timedOut.add(connection);
          discardConnection(connection);
        }
        throw err;
      }
    }
  };
}
