import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyError } from 'fastify';
import fp from 'fastify-plugin';
import type { DestinationStream } from 'pino';
import type { Config } from './config/schema.js';
import type { Clock } from './domain/clock.js';
import { httpServerOptions } from './http-options.js';
import { lazyChildLogger, loggerOptions } from './logger.js';
import bootstrapPlugin from './plugins/bootstrap.js';
import configPlugin from './plugins/config.js';
import corsPlugin from './plugins/cors.js';
import databasePlugin from './plugins/database.js';
import healthPlugin from './plugins/health.js';
import housekeepingPlugin from './plugins/housekeeping.js';
import keyringPlugin from './plugins/keyring.js';
import metricsPlugin from './plugins/metrics.js';
import notificationsPlugin from './plugins/notifications.js';
import passwordsPlugin from './plugins/passwords.js';
import portabillingPlugin from './plugins/portabilling.js';
import redisPlugin from './plugins/redis.js';
import rpcPlugin from './plugins/rpc.js';
import secretsPlugin from './plugins/secrets.js';
import sessionsPlugin from './plugins/sessions.js';
import { trustProxyOption } from './rpc/client-ip.js';
import { frameworkFault, rpcError, sendRestFault } from './rpc/errors.js';

export interface AppOptions {
  config: Config;
  /** Tests pass a clock they can move; production uses the system clock. */
  clock?: Clock;
  /** Where logs go (tests capture them to check redaction). */
  logStream?: DestinationStream;
  /** Where the generated bootstrap password is shown. */
  announce?: (text: string) => void;
}

/** The application as a plugin: the server and the tests build it the same way. */
async function application(fastify: FastifyInstance, opts: AppOptions): Promise<void> {
  // Errors raised before a route handler runs (body too large, a body that is
  // not JSON, bad content length): answered in the shape of the transport
  // that was called. Refusals of the HTTP message itself keep their HTTP
  // status on /rpc too (JSON-RPC over HTTP: 413, 415); the body is the
  // JSON-RPC error object.
  fastify.setErrorHandler((error: FastifyError, request, reply) => {
    const fault = frameworkFault(error, request.log);
    if (request.url.startsWith('/rpc')) {
      const status = fault.http === 413 || fault.http === 415 ? fault.http : 200;
      return reply.code(status).send({ jsonrpc: '2.0', id: null, error: rpcError(fault) });
    }
    return sendRestFault(reply, fault);
  });

  await fastify.register(configPlugin, { config: opts.config, clock: opts.clock });
  // Before the transports: a preflight is answered ahead of their body parsers and not-found handlers.
  await fastify.register(corsPlugin);
  // Secrets first: a bad JWT key or keyring file stops the start before the database is touched.
  await fastify.register(secretsPlugin);
  await fastify.register(databasePlugin);
  await fastify.register(metricsPlugin);
  await fastify.register(redisPlugin);
  await fastify.register(keyringPlugin);
  await fastify.register(passwordsPlugin);
  await fastify.register(sessionsPlugin);
  await fastify.register(rpcPlugin);
  await fastify.register(portabillingPlugin);
  await fastify.register(healthPlugin);
  await fastify.register(notificationsPlugin);
  await fastify.register(housekeepingPlugin);
  await fastify.register(bootstrapPlugin, { announce: opts.announce });
}

export const app = fp(application, { name: 'billing-auth' });

/** A configured Fastify instance with the application registered and ready. */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const fastify = Fastify({
    logger: loggerOptions(opts.config, opts.logStream),
    bodyLimit: opts.config.BODY_LIMIT,
    // Slow clients are cut off (see http-options.ts).
    requestTimeout: opts.config.REQUEST_TIMEOUT,
    http: httpServerOptions(opts.config),
    trustProxy: trustProxyOption(opts.config.TRUST_PROXY),
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    childLoggerFactory: lazyChildLogger,
    return503OnClosing: true,
    // Start-up migrates (a batched rewrite of a large table takes as long as it takes) and hashes the
    // bootstrap password at BCRYPT_COST: Fastify's 10 s plugin limit would stop a slow machine's start.
    // Waits on the database are bounded by the DB_*_TIMEOUT settings instead.
    pluginTimeout: 0,
  });
  // While shutting down, answers close their keep-alive connection so that
  // in-flight calls finish and the server can actually stop.
  let closing = false;
  fastify.addHook('preClose', async () => {
    closing = true;
  });
  fastify.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (closing) reply.header('connection', 'close');
  });
  try {
    await fastify.register(app, opts);
    await fastify.ready();
  } catch (err) {
    // A plugin failed at start-up (bad keyring, database down): release what
    // the others opened (the connection pool) so the process can exit.
    await fastify.close().catch(() => undefined);
    throw err;
  }
  return fastify;
}
