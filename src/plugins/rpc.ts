import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { allMethods } from '../methods/index.js';
import { buildOpenRpc } from '../docs/openrpc.js';
import { openApiYaml } from '../docs/openapi.js';
import { listenUrl } from '../config/public-url.js';
import { registerJsonBodyParser } from '../rpc/body.js';
import { handleRpc } from '../rpc/jsonrpc.js';
import { MethodRegistry } from '../rpc/registry.js';
import { handleRest, restNotFound } from '../rpc/rest.js';

declare module 'fastify' {
  interface FastifyInstance {
    methods: MethodRegistry;
    /** The generated documents, built once on first use: the registry does not change after start-up. */
    apiDocuments: { openRpc(): ReturnType<typeof buildOpenRpc>; openApiYaml(): string };
  }
}

/** The two transports over one registry, and the documents generated from it. */
export default fp(
  async (app) => {
    const registry = new MethodRegistry();
    for (const method of allMethods()) registry.add(method);
    app.decorate('methods', registry);

    // Encapsulated: the JSON-only body parsing applies to /rpc and /rest only; a sibling
    // transport plugin registers the parsers it needs in its own scope.
    await app.register(async (scope: FastifyInstance) => {
      registerJsonBodyParser(scope);
      scope.post('/rpc', (request, reply) => handleRpc(app, request, reply));
      await scope.register(
        async (rest: FastifyInstance) => {
          rest.post<{ Params: { service: string; method: string } }>('/:service/:method', (request, reply) => handleRest(app, request, reply));
          rest.setNotFoundHandler(restNotFound);
        },
        { prefix: '/rest' },
      );
    });

    // PUBLIC_URL, or else where this process listens (the bound port when PORT is 0; the configured one before listening).
    const publicUrl = (): string => {
      if (app.config.PUBLIC_URL) return app.config.PUBLIC_URL;
      const bound = app.server.address();
      return typeof bound === 'object' && bound !== null ? listenUrl(app.config.HOST, bound.port) : listenUrl(app.config.HOST, app.config.PORT);
    };
    let openRpcDoc: ReturnType<typeof buildOpenRpc> | undefined;
    let yamlDoc: string | undefined;
    app.decorate('apiDocuments', {
      openRpc: () => (openRpcDoc ??= buildOpenRpc(registry.list(), publicUrl())),
      openApiYaml: () => (yamlDoc ??= openApiYaml(registry.list(), publicUrl())),
    });
    app.get('/openapi.yaml', async (_request, reply) => reply.type('application/yaml').send(app.apiDocuments.openApiYaml()));
    app.get('/openrpc.json', async () => app.apiDocuments.openRpc());
  },
  { name: 'rpc', dependencies: ['config', 'sessions'] },
);
