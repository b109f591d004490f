import fp from 'fastify-plugin';
import { isDatabaseReady } from '../repositories/connection.js';

/** Liveness says the process answers; readiness says it can serve (the database answers). */
export default fp(
  async (app) => {
    app.get('/health/live', async () => ({ status: 'ok' }));
    app.get('/health/ready', async (_request, reply) => {
      if (await isDatabaseReady(app.db)) return { status: 'ok' };
      return reply.code(503).send({ status: 'unavailable', faultcode: 'Server.Unavailable', faultstring: 'The database does not answer' });
    });
  },
  { name: 'health', dependencies: ['database'] },
);
