import Fastify from 'fastify';

/**
 * The ceiling for any method: a bare Fastify server in the same Node version
 * answering a JSON POST with a small JSON body, no logging, no database.
 */
const app = Fastify({ logger: false });
app.post('/echo', async (request) => ({ ok: true, echo: (request.body as { n?: number } | undefined)?.n ?? 0 }));
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
process.stdout.write('ready\n');
