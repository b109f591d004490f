import type BetterSqlite3 from 'better-sqlite3';
import type { Knex } from 'knex';
import type { Dialect } from './connection.js';
import { retrying, type RetryPolicy } from './retry.js';
import type { SessionNotices } from './session-notices.js';
import type { Statement, Values } from './statements.js';
import { countStatement } from './statement-count.js';

const EXECUTOR: unique symbol = Symbol('executor');
const COMMITTED: unique symbol = Symbol('committed');

/** Runs compiled statements inside one open transaction. */
export interface Executor {
  readonly [EXECUTOR]: true;
  /** Resolves once the transaction ended: true when it committed, false when it rolled back. Never rejects. */
  readonly [COMMITTED]: Promise<boolean>;
  /** Rows the statement changed (for an UPDATE on MySQL: rows it matched). */
  run(statement: Statement, values?: Values): Promise<number>;
  first<T>(statement: Statement, values?: Values): Promise<T | undefined>;
}

/** A knex transaction or a writer's executor: either way, the caller's open transaction. */
export type Transaction = Knex.Transaction | Executor;

/**
 * Transactions of compiled statements (see statements.ts) on the service's
 * own write connection, for the hot write paths (the session of a login, a
 * refresh, brute-force counters). They share knex's pool, so they queue
 * behind knex transactions and never run beside them on one connection.
 */
export interface Writer {
  /**
   * Commits everything `fn` ran, or nothing when it throws. Inside `fn`, pass
   * the executor on: a second transaction started there would wait for the
   * connection `fn` holds. `fn` may run more than once (a transaction that
   * lost to contention is run again whole, see retry.ts), so it acts only
   * through the executor.
   */
  transaction<T>(fn: (ex: Executor) => Promise<T>): Promise<T>;
  /** Runs `fn` in the caller's transaction when there is one, else in a new one. */
  within<T>(trx: Transaction | undefined, fn: (ex: Executor) => Promise<T>): Promise<T>;
}

const NO_VALUES: Values = {};

export const isExecutor = (trx: Transaction): trx is Executor => EXECUTOR in trx;

/** Whether a knex transaction committed: knex settles its execution promise after COMMIT or ROLLBACK. */
const knexCommitted = (trx: Knex.Transaction): Promise<boolean> =>
  trx.executionPromise.then(
    () => true,
    () => false,
  );

/**
 * Resolves once `trx` ended: true when it committed, false when it rolled
 * back (a transaction run again after contention is a new one). Never
 * rejects. For what must happen only if a write really took effect, such as
 * an attempt's outcome that, rolled back, must give its slot back.
 */
export function committed(trx: Transaction): Promise<boolean> {
  return isExecutor(trx) ? trx[COMMITTED] : knexCommitted(trx);
}

/** Statements inside a knex transaction (the cold paths that already hold one). */
function knexExecutor(trx: Knex.Transaction, dialect: Dialect): Executor {
  const raw = (statement: Statement, values: Values) => trx.raw(statement.sql, statement.bind(values) as Knex.RawBinding[]);
  return {
    [EXECUTOR]: true,
    [COMMITTED]: knexCommitted(trx),
    async run(statement, values = NO_VALUES) {
      const result = (await raw(statement, values)) as unknown;
      return dialect === 'sqlite' ? (result as { changes: number }).changes : (result as [{ affectedRows: number }])[0].affectedRows;
    },
    async first<T>(statement: Statement, values = NO_VALUES) {
      const result = (await raw(statement, values)) as unknown;
      return (dialect === 'sqlite' ? (result as T[]) : (result as [T[]])[0])[0];
    },
  };
}

function withinFor(writer: Pick<Writer, 'transaction'>, dialect: Dialect): Writer['within'] {
  const adapted = new WeakMap<Knex.Transaction, Executor>();
  return (trx, fn) => {
    if (!trx) return writer.transaction(fn);
    if (isExecutor(trx)) return fn(trx);
    let ex = adapted.get(trx);
    if (!ex) adapted.set(trx, (ex = knexExecutor(trx, dialect)));
    return fn(ex);
  };
}

type SqliteConnection = BetterSqlite3.Database;

/** better-sqlite3 wants numbers for booleans and NULL for nothing. */
const sqliteValue = (v: unknown): unknown => (typeof v === 'boolean' ? Number(v) : v);

interface Job {
  fn: (ex: Executor) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/** A promise and its resolver: the outcome of one job, told to whoever holds its executor. */
function outcome(): { promise: Promise<boolean>; settle: (committed: boolean) => void } {
  let settle!: (committed: boolean) => void;
  const promise = new Promise<boolean>((resolve) => (settle = resolve));
  return { promise, settle };
}

/**
 * SQLite: statements run synchronously on knex's single connection, so a
 * transaction holds it for microseconds, not across event-loop turns as a
 * knex transaction does (it awaits its pool and runner for every statement).
 *
 * Group commit: the transactions asked for while the connection is busy (or
 * within one event-loop turn) run back to back inside one database
 * transaction, each in its own savepoint, so each still commits or rolls
 * back whole. A commit costs more than the statements of a refresh or a
 * login, and readers drop their page cache after every commit. Nobody hears
 * back before the shared COMMIT has succeeded: a failed commit fails every
 * transaction of the batch.
 *
 * `BEGIN IMMEDIATE` takes the write lock up front: another process writing
 * the same file makes this one wait (busy_timeout) rather than fail halfway.
 */
export function sqliteWriter(knex: Knex): Writer {
  const client = knex.client as { acquireConnection(): Promise<SqliteConnection>; releaseConnection(c: SqliteConnection): unknown };
  // The connection keeps its statements prepared (see connection.ts). Every statement run is counted (statement-count.ts).
  const prepare = (conn: SqliteConnection, statement: Statement): BetterSqlite3.Statement => {
    countStatement();
    return conn.prepare(statement.sql);
  };
  const control = (conn: SqliteConnection, sql: string): void => {
    countStatement();
    conn.prepare(sql).run();
  };
  // One per job: each job commits (its savepoint released, then the batch's COMMIT) or rolls back on its own.
  const executor = (conn: SqliteConnection, committed: Promise<boolean>): Executor => ({
    [EXECUTOR]: true,
    [COMMITTED]: committed,
    async run(statement, values = NO_VALUES) {
      return prepare(conn, statement).run(statement.bind(values).map(sqliteValue)).changes;
    },
    async first<R>(statement: Statement, values = NO_VALUES) {
      return prepare(conn, statement).get(statement.bind(values).map(sqliteValue)) as R | undefined;
    },
  });

  let queue: Job[] = [];
  let flushing = false;

  /** One database transaction for every job queued so far. */
  async function runBatch(jobs: Job[]): Promise<void> {
    const settled: Array<() => void> = [];
    const outcomes = jobs.map(() => outcome());
    let conn: SqliteConnection | undefined;
    try {
      conn = await client.acquireConnection();
      control(conn, 'BEGIN IMMEDIATE');
      try {
        for (const [i, job] of jobs.entries()) {
          const ex = executor(conn, outcomes[i]!.promise);
          control(conn, 'SAVEPOINT job');
          try {
            const value = await job.fn(ex);
            control(conn, 'RELEASE job');
            settled.push(() => job.resolve(value));
          } catch (err) {
            control(conn, 'ROLLBACK TO job');
            control(conn, 'RELEASE job');
            outcomes[i]!.settle(false);
            settled.push(() => job.reject(err));
          }
        }
        control(conn, 'COMMIT');
      } catch (err) {
        if (conn.inTransaction) control(conn, 'ROLLBACK');
        throw err;
      }
    } catch (err) {
      for (const o of outcomes) o.settle(false);
      for (const job of jobs) job.reject(err);
      return;
    } finally {
      if (conn) client.releaseConnection(conn);
    }
    // A job rolled back to its savepoint was settled false above; settling again changes nothing.
    for (const o of outcomes) o.settle(true);
    for (const settle of settled) settle();
  }

  async function flush(): Promise<void> {
    flushing = true;
    while (queue.length > 0) {
      const jobs = queue;
      queue = [];
      await runBatch(jobs);
    }
    flushing = false;
  }

  const writer = {
    transaction<T>(fn: (ex: Executor) => Promise<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ fn, resolve: resolve as (value: unknown) => void, reject });
        // Wait one turn so the calls that arrived together share the commit.
        if (!flushing && queue.length === 1) setImmediate(() => void flush());
      });
    },
  };
  return { ...writer, within: withinFor(writer, 'sqlite') };
}

/**
 * A knex transaction run again from the start on contention (see retry.ts): the one retry policy of every transaction that writes.
 * The session notices its writes noted (see session-notices.ts) are sent after it committed and before it resolves.
 */
export function retryingTransaction<T>(db: { knex: Knex; retry: RetryPolicy; notices?: SessionNotices }, fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  const notices = db.notices;
  if (!notices?.active) return retrying(db.retry, () => db.knex.transaction(fn));
  return retrying(db.retry, async () => {
    let attempt: Knex.Transaction | undefined;
    const value = await db.knex.transaction((trx) => {
      attempt = trx;
      notices.begin(trx);
      return fn(trx);
    });
    if (attempt) await notices.committed(attempt);
    return value;
  });
}

/**
 * MySQL: the time goes to the network, not to knex, so compiled statements
 * run in a knex transaction. Concurrent attempts on one login take the same
 * counter rows in one transaction, which InnoDB may resolve as a deadlock
 * (an `INSERT IGNORE` that met the row holds a shared lock that both then
 * want to upgrade); the victim is rolled back whole and simply run again, as
 * the MySQL manual advises. That is why `fn` must act only through its
 * executor.
 */
export function knexWriter(db: { knex: Knex; retry: RetryPolicy; notices?: SessionNotices }, dialect: Dialect): Writer {
  const writer = {
    transaction<T>(fn: (ex: Executor) => Promise<T>): Promise<T> {
      return retryingTransaction(db, (trx) => fn(knexExecutor(trx, dialect)));
    },
  };
  return { ...writer, within: withinFor(writer, dialect) };
}
