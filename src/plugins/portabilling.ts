import fp from 'fastify-plugin';
import type { FastifyError, FastifyInstance } from 'fastify';
import type { Realm } from '../entities/descriptors.js';
import { extraListeners } from '../extra-listeners.js';
import { frameworkFault } from '../rpc/errors.js';
import { Fault } from '../rpc/faults.js';
import { parseJson, type RawBody } from '../rpc/portabilling/envelope.js';
import { handlePortaBilling, sendPortaFault, type PortaRequest } from '../rpc/portabilling/handler.js';

declare module 'fastify' {
  interface FastifyInstance {
    portabilling: {
      /**
       * Opens the PORTABILLING_PORTS listeners on `host` (the server calls
       * this after the main port listens); they close with the app.
       */
      listen(host: string): Promise<Array<{ realm: Realm; port: number }>>;
    };
  }
}

/**
 * Body parsing of this transport only, in its own encapsulated scope: JSON
 * for `application/json`, the legacy form for
 * `application/x-www-form-urlencoded`, anything else refused by the handler
 * (`text/plain` and multipart are what cross-site forms send besides the
 * urlencoded one; see rpc/portabilling/caller.ts for why that one is safe).
 */
function registerBodyParsers(scope: FastifyInstance): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, { kind: 'json', value: parseJson(text) } satisfies RawBody);
    } catch {
      done(null, { kind: 'unparsable' } satisfies RawBody);
    }
  });
  scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, { kind: 'form', text: String(body) } satisfies RawBody);
  });
  scope.addContentTypeParser('*', { parseAs: 'string' }, (request, _body, done) => {
    done(null, { kind: 'unsupported', contentType: request.headers['content-type'] ?? '(none)' } satisfies RawBody);
  });
}

/** The PortaBilling transport at `/portabilling/<realm>/rest/<Service>/<method>`, and its per-realm listeners. */
export default fp(
  async (app) => {
    await app.register(
      async (scope: FastifyInstance) => {
        registerBodyParsers(scope);
        // Everything that goes wrong before the handler (body too large, bad length) is a PortaBilling fault too.
        scope.setErrorHandler((error: FastifyError, request, reply) => sendPortaFault(reply, frameworkFault(error, request.log)));
        scope.setNotFoundHandler((request, reply) =>
          sendPortaFault(
            reply,
            new Fault(
              'Client.Request.method_not_found',
              `No such endpoint: ${request.method} ${request.url.slice(0, 100)}; use POST /portabilling/<realm>/rest/<Service>/<method>`,
            ),
          ),
        );
        const route = (request: PortaRequest, reply: Parameters<typeof handlePortaBilling>[2]) => handlePortaBilling(app, request, reply);
        // Some clients add a trailing slash (`.../Session/login/`).
        scope.post('/:realm/rest/:service/:method', route);
        scope.post('/:realm/rest/:service/:method/', route);
      },
      { prefix: '/portabilling' },
    );

    const listeners = extraListeners(app);
    app.decorate('portabilling', {
      async listen(host: string) {
        const opened: Array<{ realm: Realm; port: number }> = [];
        for (const { realm, port } of app.config.PORTABILLING_PORTS) {
          // The realm is what the port means: every path is taken below that realm's prefix, so none can name another.
          const bound = await listeners.open(port, host, (req, res) => {
            req.url = `/portabilling/${realm}${req.url ?? '/'}`;
            app.routing(req, res);
          });
          app.log.info({ realm, port: bound }, 'PortaBilling listener open');
          opened.push({ realm, port: bound });
        }
        return opened;
      },
    });
  },
  { name: 'portabilling', dependencies: ['rpc', 'sessions', 'config'] },
);
