import fp from 'fastify-plugin';
import { databaseUnreadiness } from '../repositories/connection.js';

/**
 * Liveness says the process answers; readiness says it can serve: the database
 * answers and can take writes. A balancer's HTTP check on `/health/ready`
 * (deploy/galera/haproxy.cfg) thereby moves traffic off a replica whose Galera
 * node lost quorum or is read-only.
 */
export default fp(
  async (app) => {
    app.get('/health/live', async () => ({ status: 'ok' }));
    app.get('/health/ready', async (_request, reply) => {
      const reason = await databaseUnreadiness(app.db);
      if (reason === undefined) return { status: 'ok' };
      return reply.code(503).send({ status: 'unavailable', faultcode: 'Server.Unavailable', faultstring: reason });
    });
  },
  { name: 'health', dependencies: ['database'] },
);
