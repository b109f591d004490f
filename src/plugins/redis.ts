import fp from 'fastify-plugin';
import { Redis } from 'ioredis';

declare module 'fastify' {
  interface FastifyInstance {
    /** Undefined unless `REDIS_URL` is set: callers then keep their state in the database. */
    redis: Redis | undefined;
  }
}

/**
 * One Redis connection for the whole process, when `REDIS_URL` is set.
 *
 * Failure policy: a command never waits in an offline queue and is tried once
 * per reconnect, bounded by the database timeouts, so a Redis that went away
 * turns calls into 503 `Server.Unavailable` (rpc/errors.ts) quickly instead of
 * hanging them; the client reconnects by itself. The URL (it may carry a
 * password) is never logged.
 */
export default fp(
  async (app) => {
    const url = app.config.REDIS_URL;
    if (!url) {
      app.decorate('redis', undefined);
      return;
    }
    const redis = new Redis(url, {
      lazyConnect: true,
      // Keys only: pub/sub channel names are not prefixed by ioredis, so users of channels add it themselves.
      keyPrefix: app.config.REDIS_KEY_PREFIX,
      connectTimeout: app.config.DB_CONNECT_TIMEOUT,
      commandTimeout: app.config.DB_QUERY_TIMEOUT,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2000),
    });
    let reported = false;
    redis.on('error', (err: Error) => {
      // Reported once per outage: ioredis emits an error on every reconnect attempt.
      if (!reported) app.log.error({ err: { message: err.message, code: (err as NodeJS.ErrnoException).code } }, 'redis unavailable');
      reported = true;
    });
    redis.on('ready', () => {
      if (reported) app.log.info('redis available again');
      reported = false;
    });
    // A configured Redis that cannot be reached at start stops the start: the
    // operator asked for it, and starting without it would silently split state.
    try {
      await redis.connect();
    } catch (err) {
      redis.disconnect();
      throw new Error(`REDIS_URL: Redis does not answer (${(err as Error).message})`, { cause: err });
    }
    app.decorate('redis', redis);
    app.addHook('onClose', async () => {
      await redis.quit().catch(() => redis.disconnect());
    });
  },
  { name: 'redis', dependencies: ['config'] },
);
