import cors, { type FastifyCorsOptions } from '@fastify/cors';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

/** The paths a browser page may call: the three transports (the PORTABILLING_PORTS listeners route under `/portabilling/<realm>` too). */
const API_PATH = /^\/(?:rpc(?:[/?]|$)|rest\/|portabilling\/)/;

/**
 * What a page of a `CORS_ORIGINS` origin may do (Fetch standard, "CORS
 * protocol"): POST with the headers a browser client needs. Not the portal
 * client headers (`X-Portal-Client`, `X-End-User-IP`): their secret belongs on
 * a portal's server, and a page's visitors could read it; refusing them in
 * the preflight keeps a page from sending them at all. No credentials mode
 * (`Access-Control-Allow-Credentials` is never sent): the service reads no
 * cookie, tokens travel in `Authorization`.
 */
const GRANT = {
  methods: ['POST'],
  allowedHeaders: ['authorization', 'content-type', 'x-request-id'],
  // Retry-After says when a refused login may be tried again; x-request-id finds a call in the logs.
  exposedHeaders: ['retry-after', 'x-request-id'],
  credentials: false,
  // Chromium caps a cached preflight at 2 h; removing an origin still takes effect at once,
  // since every answer carries Access-Control-Allow-Origin only for a listed origin.
  maxAge: 7200,
} satisfies FastifyCorsOptions;

/**
 * Cross-origin access for the origins of `CORS_ORIGINS`, through @fastify/cors.
 * Any other origin, and any other path, gets no CORS header: its preflight
 * goes on to the 404 it always got, so the browser refuses the call before
 * it is sent. Empty (the default): the plugin is not even registered.
 */
export default fp(
  async (app) => {
    const allowed = new Set(app.config.CORS_ORIGINS);
    if (allowed.size === 0) return;
    await app.register(cors, {
      // Answered in onRequest: before body parsing (a preflight's content type is nobody's) and the not-found handlers.
      hook: 'onRequest',
      delegator: (request: FastifyRequest, done) => {
        const origin = request.headers.origin;
        const granted = origin !== undefined && allowed.has(origin) && API_PATH.test(request.url);
        done(null, { ...GRANT, origin: granted ? origin : false });
      },
    });
  },
  { name: 'cors', dependencies: ['config'] },
);
