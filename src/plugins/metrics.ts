import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import { extraListeners } from '../extra-listeners.js';
import { errorCodeLabel, faultCodeOf, loginOutcome, loginStep, otpFailureReason } from '../metrics/outcomes.js';
import { createMetricsRegistry, knexPoolStats, type MetricsRegistry } from '../metrics/registry.js';

/** Reports the end of one call: its result, or what it threw. */
export type CallObserver = (end: { result: unknown } | { error: unknown }) => void;

export interface Metrics {
  /** Called by rpc/dispatch.ts when a call starts; the returned function when it ends. */
  callStarted(method: string): CallObserver;
  /** A failure locked a login in `trx`: counted once that transaction commits (not when it rolls back or runs again). */
  lockoutCommitted(trx: Knex.Transaction): void;
  /** The session cache's hook: one session read answered from the cache (`hit`) or the database (`miss`). */
  sessionCacheLookup(result: 'hit' | 'miss' | 'bypass', count: number): void;
  /** Housekeeping deleted `rows` rows of `table`. */
  housekeepingDeleted(table: string, rows: number): void;
  /** A timed housekeeping pass ended. */
  housekeepingPass(result: 'ok' | 'error'): void;
  /**
   * Opens the METRICS_PORT listener on `host` (the server calls this after
   * the main port listens); returns its port, or undefined when there is
   * none (METRICS off, or served on PORT). It closes with the app.
   */
  listen(host: string): Promise<number | undefined>;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics;
  }
}

const ignoreEnd: CallObserver = () => undefined;
const OFF: Metrics = {
  callStarted: () => ignoreEnd,
  lockoutCommitted: () => undefined,
  sessionCacheLookup: () => undefined,
  housekeepingDeleted: () => undefined,
  housekeepingPass: () => undefined,
  listen: async () => undefined,
};

/** Mails still to send per status, with the oldest one's queue time: an index range on (status, created_at) (migration 019). */
async function outboxBacklog(app: FastifyInstance): Promise<Array<{ status: string; n: number; oldest: number | null }>> {
  const rows = (await app.db
    .knex('notifications')
    .whereIn('status', ['pending', 'sending'])
    .groupBy('status')
    .select('status')
    .count({ n: '*' })
    .min({ oldest: 'created_at' })) as Array<{ status: string; n: number | string; oldest: number | string | null }>;
  return rows.map((r) => ({ status: r.status, n: Number(r.n), oldest: r.oldest === null ? null : Number(r.oldest) }));
}

function observerFor(app: FastifyInstance, m: MetricsRegistry): Metrics['callStarted'] {
  return (name) => {
    const started = process.hrtime.bigint();
    return (end) => {
      // Unknown names collapse into one label: a caller cannot mint series.
      const method = app.methods.get(name) ? name : 'unknown';
      const faultcode = 'error' in end ? faultCodeOf(end.error) : undefined;
      const result = 'result' in end ? end.result : undefined;
      const labels = { method, faultcode: faultcode ?? 'none' };
      m.calls.inc(labels);
      m.callSeconds.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
      const step = loginStep(method);
      if (step) m.logins.inc({ step, outcome: loginOutcome(result, faultcode) });
      const reason = otpFailureReason(faultcode);
      if (reason) m.otpFailures.inc({ method, reason });
    };
  };
}

/**
 * Prometheus metrics (README, Metrics), off unless METRICS=true. Always
 * decorates `app.metrics`, as no-ops when off, so the hooks in other code
 * need no checks. With METRICS_PORT the exposition is served by a listener
 * of its own and not on PORT, so it need not be reachable with the API.
 */
export default fp(
  async (app) => {
    const { config } = app;
    if (!config.METRICS) {
      app.decorate('metrics', OFF);
      return;
    }
    const m = createMetricsRegistry({
      outbox: () => outboxBacklog(app),
      now: () => app.clock.now(),
      pool: () => knexPoolStats(app.db.knex),
    });
    app.db.knex.on('query-error', (err: unknown) => m.statementErrors.inc({ code: errorCodeLabel(err) }));

    const exposition = async () => ({ contentType: m.registry.contentType, body: await m.registry.metrics() });
    const listeners = extraListeners(app);
    app.decorate('metrics', {
      callStarted: observerFor(app, m),
      lockoutCommitted(trx) {
        trx.executionPromise.then(
          () => m.lockouts.inc(),
          () => undefined,
        );
      },
      sessionCacheLookup: (result, count) => m.sessionCache.inc({ result }, count),
      housekeepingDeleted: (table, rows) => m.housekeepingDeleted.inc({ table }, rows),
      housekeepingPass: (result) => m.housekeepingPasses.inc({ result }),
      async listen(host) {
        if (config.METRICS_PORT === undefined) return undefined;
        const port = await listeners.open(config.METRICS_PORT, host, (req, res) => {
          const path = (req.url ?? '/').split('?')[0];
          if (req.method !== 'GET' || path !== '/metrics') {
            res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found: GET /metrics\n');
            return;
          }
          exposition().then(
            ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body),
            (err: unknown) => {
              app.log.error({ err }, 'metrics scrape failed');
              res.writeHead(503, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
            },
          );
        });
        app.log.info({ port }, 'metrics listener open');
        return port;
      },
    } satisfies Metrics);

    if (config.METRICS_PORT === undefined) {
      app.get('/metrics', async (_request, reply) => {
        const { contentType, body } = await exposition();
        return reply.type(contentType).send(body);
      });
    }
  },
  { name: 'metrics', dependencies: ['config', 'database'] },
);
