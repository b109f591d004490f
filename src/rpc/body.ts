import type { FastifyInstance } from 'fastify';
import secureJson from 'secure-json-parse';
import { Fault } from './faults.js';

/** Marks a body that is not JSON, so each transport answers it its own way. */
export const UNPARSABLE = Symbol('unparsable body');

/**
 * `application/json`, or a structured `+json` type (RFC 6839 section 3.1), in
 * any letter case. None of them is a type a cross-site HTML form or a "simple"
 * `fetch` may send (Fetch standard, CORS-safelisted request-header: only
 * `text/plain`, `application/x-www-form-urlencoded` and `multipart/form-data`
 * are), so a browser must ask first (a CORS preflight, granted only to the
 * origins of CORS_ORIGINS, see plugins/cors.ts) before it sends another site's
 * page's call.
 */
const JSON_MEDIA_TYPE = /^application\/(?:[\w!#$&^.-]+\+)?json\s*(?:;|$)/i;

/** JSON is UTF-8 on the wire (RFC 8259 section 8.1): any other declared charset would be misread. */
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)"?/i;

function assertUtf8(contentType: string | undefined): void {
  const charset = CHARSET.exec(contentType ?? '')?.[1]?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw new Fault('Client.Request.unsupported_media_type', 'Unsupported Media Type: a JSON body must be UTF-8');
  }
}

/**
 * JSON body parsing for the RPC routes, scoped to their plugin (a sibling
 * plugin registers its own parsers in its own scope). Only JSON media types
 * have a parser: any other body, or a body without a content type, is refused
 * by Fastify before a handler runs (415, answered as a
 * `Client.Request.unsupported_media_type` fault by the application's error
 * handler), so it changes nothing. A POST with no body at all is "no params"
 * (see README, "Calling it"). A body that does not parse is handed on as
 * `UNPARSABLE` (JSON-RPC must answer -32700, not a generic 400); an empty JSON
 * body is "no params". `__proto__` and `constructor.prototype` keys are
 * refused (prototype poisoning).
 */
export function registerJsonBodyParser(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(JSON_MEDIA_TYPE, { parseAs: 'string' }, (request, body, done) => {
    try {
      assertUtf8(request.headers['content-type']);
    } catch (err) {
      return done(err as Fault, undefined);
    }
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }));
    } catch {
      done(null, UNPARSABLE);
    }
  });
}
