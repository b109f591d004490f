import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Knex } from 'knex';

/** What a scrape reads from the database (both cheap: an index range each, see metrics plugin). */
export interface ScrapeSources {
  /** Mails pending or being sent, and when the oldest of them was queued (epoch ms), per status. */
  outbox(): Promise<Array<{ status: string; n: number; oldest: number | null }>>;
  now(): number;
  /** knex's pool (tarn): connections in use, idle, and callers waiting for one. */
  pool(): { used: number; free: number; pending: number; max: number } | undefined;
}

/**
 * Every metric the service exposes, in a registry of its own per app (tests
 * build several apps in one process). Names and labels: README, Metrics.
 * Label values come from fixed sets only: method names of the registry (or
 * `unknown`), fault codes of the fault list, step and outcome names, table
 * names, driver error codes. Never a login, IP, token or session id.
 */
export function createMetricsRegistry(sources: ScrapeSources) {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry });

  const calls = new Counter({
    name: 'billing_auth_calls_total',
    help: 'Method calls, by method and the fault they answered (`none`: a result).',
    labelNames: ['method', 'faultcode'] as const,
    registers,
  });
  const callSeconds = new Histogram({
    name: 'billing_auth_call_duration_seconds',
    help: 'Time from dispatch to the result or fault of a call, by method and fault (`none`: a result).',
    labelNames: ['method', 'faultcode'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const logins = new Counter({
    name: 'billing_auth_logins_total',
    help: 'Login steps (`password`: Session/login, `otp`: Session/verify_otp) by outcome.',
    labelNames: ['step', 'outcome'] as const,
    registers,
  });
  const lockouts = new Counter({
    name: 'billing_auth_lockouts_total',
    help: 'Failures that locked a login (committed `login.lockout` audit rows).',
    registers,
  });
  const otpFailures = new Counter({
    name: 'billing_auth_otp_failures_total',
    help: 'Calls refused for a wrong (`invalid`) or already used (`replayed`) one-time code, by method.',
    labelNames: ['method', 'reason'] as const,
    registers,
  });
  const sessionCache = new Counter({
    name: 'billing_auth_session_cache_lookups_total',
    help: 'Session lookups (REDIS_URL only): answered from the in-process session cache (`hit`), read from the database and kept (`miss`), or read because the cache could not be trusted at that moment (`bypass`).',
    labelNames: ['result'] as const,
    registers,
  });
  const statementErrors = new Counter({
    name: 'billing_auth_db_statement_errors_total',
    help: "Statements run through knex that failed, by the driver's error code.",
    labelNames: ['code'] as const,
    registers,
  });
  const housekeepingDeleted = new Counter({
    name: 'billing_auth_housekeeping_deleted_rows_total',
    help: 'Rows deleted by housekeeping, by table.',
    labelNames: ['table'] as const,
    registers,
  });
  const housekeepingPasses = new Counter({
    name: 'billing_auth_housekeeping_passes_total',
    help: 'Timed housekeeping passes of this process, by result (`ok`, `error`).',
    labelNames: ['result'] as const,
    registers,
  });
  // Both outbox gauges come from one query: the scrape collects them together, and the second shares the first's.
  let outboxRead: ReturnType<ScrapeSources['outbox']> | undefined;
  const outbox = () => {
    outboxRead ??= sources.outbox().finally(() => {
      outboxRead = undefined;
    });
    return outboxRead;
  };
  new Gauge({
    name: 'billing_auth_outbox_backlog',
    help: 'Mails in the outbox still to send (pending or being sent), read at scrape time.',
    registers,
    async collect() {
      // A database that does not answer makes the value unknown (NaN), not the whole scrape fail.
      const rows = await outbox().catch(() => undefined);
      this.set(rows ? rows.reduce((sum, r) => sum + r.n, 0) : Number.NaN);
    },
  });
  new Gauge({
    name: 'billing_auth_outbox_oldest_pending_age_seconds',
    help: 'Age of the oldest mail still to send (0: none), read at scrape time.',
    registers,
    async collect() {
      const rows = await outbox().catch(() => undefined);
      const oldest = (rows ?? []).map((r) => r.oldest).filter((v): v is number => v !== null);
      this.set(!rows ? Number.NaN : oldest.length > 0 ? Math.max(0, (sources.now() - Math.min(...oldest)) / 1000) : 0);
    },
  });
  new Gauge({
    name: 'billing_auth_db_pool_connections',
    help: "Connections of the service's knex pool, by state (`used`, `free`, `pending`: callers waiting for one, `max`).",
    labelNames: ['state'] as const,
    registers,
    collect() {
      const pool = sources.pool();
      if (!pool) return;
      for (const [state, n] of Object.entries(pool)) this.set({ state }, n);
    },
  });

  return {
    registry,
    calls,
    callSeconds,
    logins,
    lockouts,
    otpFailures,
    sessionCache,
    statementErrors,
    housekeepingDeleted,
    housekeepingPasses,
  };
}

export type MetricsRegistry = ReturnType<typeof createMetricsRegistry>;

/** knex's tarn pool, which knex's typings do not declare. */
export function knexPoolStats(knex: Knex): ReturnType<ScrapeSources['pool']> {
  const pool = (
    knex.client as {
      pool?: { numUsed(): number; numFree(): number; numPendingAcquires(): number; max: number };
    }
  ).pool;
  if (!pool) return undefined;
  return { used: pool.numUsed(), free: pool.numFree(), pending: pool.numPendingAcquires(), max: pool.max };
}
