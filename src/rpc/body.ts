import type { FastifyInstance } from 'fastify';
import secureJson from 'secure-json-parse';

/** Marks a body that is not JSON, so each transport answers it its own way. */
export const UNPARSABLE = Symbol('unparsable body');

/**
 * JSON body parsing for the RPC routes, scoped to their plugin. A body that
 * does not parse is handed on as `UNPARSABLE` (JSON-RPC must answer -32700,
 * not a generic 400), an empty body is "no params", and any content type is
 * read as JSON so `curl -d` works without a header. `__proto__` and
 * `constructor.prototype` keys are refused (prototype poisoning).
 */
export function registerJsonBodyParser(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }));
    } catch {
      done(null, UNPARSABLE);
    }
  });
}
