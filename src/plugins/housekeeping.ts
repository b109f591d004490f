import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { prune, type PruneLimits, type PruneRule } from '../repositories/housekeeping.js';

declare module 'fastify' {
  interface FastifyInstance {
    housekeeping: {
      /** One pass over every rule; returns the rows deleted per rule (only rules that deleted any). */
      runOnce(limits?: Partial<PruneLimits>): Promise<Record<string, number>>;
    };
  }
}

const DEFAULT_LIMITS: PruneLimits = { batchSize: 500, maxBatches: 200 };

/** The login rate window (auth/guard.ts): the shortest window a `rate_windows` row counts for. */
const LOGIN_RATE_WINDOW_MS = 60_000;
/**
 * Replicas' clocks differ a little: a row is deleted only this long after the
 * last moment any replica could still count on it.
 */
const CLOCK_MARGIN_MS = 60_000;
/** A guard row untouched this long with nothing counted in it is what a missing row means (see below). */
const IDLE_GUARD_MS = 10 * 60_000;

/**
 * What each table keeps and for how long (README, Retention). Every rule
 * compares with `now` from the service clock, on an indexed column.
 */
function rules(app: FastifyInstance, now: number): PruneRule[] {
  const { config } = app;
  const list: PruneRule[] = [];
  if (config.SESSION_RETENTION > 0) {
    const before = now - config.SESSION_RETENTION;
    // Past its absolute end every session has ended (idle ones earlier: they go with these, SESSION_TTL later at most).
    list.push({ name: 'sessions', table: 'sessions', key: ['id'], deletable: (q) => q.where('expires_at', '<', before) });
    list.push({ name: 'sessions', table: 'sessions', key: ['id'], deletable: (q) => q.where('revoked_at', '<', before) });
  }
  // Used or not, a challenge past its expiry answers like an unknown one (Server.Session.mfa_token_invalid).
  list.push({ name: 'mfa_challenges', table: 'mfa_challenges', key: ['token_hash'], deletable: (q) => q.where('expires_at', '<', now) });
  // The same for reset tokens; how often one may be asked for is a rate window, not this row.
  list.push({ name: 'password_resets', table: 'password_resets', key: ['token_hash'], deletable: (q) => q.where('expires_at', '<', now) });
  // Fixed windows of at most the longest length any counter uses: one that began before that is over.
  const longestWindow = Math.max(LOGIN_RATE_WINDOW_MS, config.PASSWORD_RESET_INTERVAL);
  list.push({
    name: 'rate_windows',
    table: 'rate_windows',
    key: ['rate_key', 'window_start'],
    deletable: (q) => q.where('window_start', '<', now - longestWindow - CLOCK_MARGIN_MS),
  });
  // Only rows that say nothing a missing row would not: no failures, no lock ever counted since the
  // last success, and any claim in flight long stale (repositories/login-guards.ts treats claims
  // older than a minute as 0). A claim re-creates the row as it was. Failures and lock counts are
  // never forgotten here: that would change what locks.
  list.push({
    name: 'login_guards',
    table: 'login_guards',
    key: ['scope', 'guard_key'],
    deletable: (q) =>
      q
        .where('updated_at', '<', now - IDLE_GUARD_MS)
        .andWhere({ failures: 0, lock_count: 0 })
        .andWhere((l) => l.whereNull('locked_until').orWhere('locked_until', '<=', now)),
  });
  if (config.NOTIFY_RETENTION > 0) {
    const before = now - config.NOTIFY_RETENTION;
    list.push({
      name: 'notifications',
      table: 'notifications',
      key: ['id'],
      deletable: (q) => q.whereIn('status', ['sent', 'failed']).andWhere('created_at', '<', before),
    });
  }
  if (config.AUDIT_RETENTION > 0) {
    const before = now - config.AUDIT_RETENTION;
    list.push({ name: 'audit_log', table: 'audit_log', key: ['i_event'], deletable: (q) => q.where('at', '<', before) });
  }
  return list;
}

/**
 * Retention: deletes rows that nothing will read again, so that no table
 * grows with every login (README, Retention). Every replica runs it on its
 * own timer (HOUSEKEEPING_INTERVAL, first pass at a random point of the
 * first interval so replicas started together do not run in step); the
 * batches are safe when several run at once (repositories/housekeeping.ts).
 */
export default fp(
  async (app) => {
    const { config } = app;

    async function runOnce(limits: Partial<PruneLimits> = {}): Promise<Record<string, number>> {
      const effective = { ...DEFAULT_LIMITS, ...limits };
      const deleted: Record<string, number> = {};
      const now = app.clock.now();
      for (const rule of rules(app, now)) {
        const n = await prune(app.db, rule, effective, (rows) => app.metrics.housekeepingDeleted(rule.name, rows));
        if (n > 0) deleted[rule.name] = (deleted[rule.name] ?? 0) + n;
      }
      // The log itself says that history was cut, up to when and how much (the row is as old as the pass).
      if (deleted.audit_log) {
        const before = new Date(now - config.AUDIT_RETENTION).toISOString();
        await app.repos.audit.record(
          {
            event: 'audit.pruned',
            actor_realm: 'housekeeping',
            actor_id: null,
            session_id: null,
            realm: null,
            entity: null,
            entity_id: null,
            ip: null,
            details: { before, rows: deleted.audit_log },
          },
          app.clock.now(),
        );
      }
      if (Object.keys(deleted).length > 0) app.log.info({ deleted }, 'housekeeping deleted rows');
      return deleted;
    }

    app.decorate('housekeeping', { runOnce });

    if (config.HOUSEKEEPING_INTERVAL > 0) {
      let timer: NodeJS.Timeout | undefined;
      let running: Promise<unknown> | undefined;
      let closed = false;
      const schedule = (delay: number) => {
        timer = setTimeout(() => {
          running = runOnce()
            .then(() => app.metrics.housekeepingPass('ok'))
            .catch((err: unknown) => {
              app.metrics.housekeepingPass('error');
              app.log.error({ err }, 'housekeeping pass failed');
            })
            .finally(() => {
              running = undefined;
              if (!closed) schedule(config.HOUSEKEEPING_INTERVAL);
            });
        }, delay);
        timer.unref();
      };
      app.addHook('onReady', async () => schedule(Math.floor(Math.random() * config.HOUSEKEEPING_INTERVAL)));
      app.addHook('onClose', async () => {
        closed = true;
        clearTimeout(timer);
        await running;
      });
    }
  },
  { name: 'housekeeping', dependencies: ['config', 'database', 'metrics'] },
);
