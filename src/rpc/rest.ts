import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { UNPARSABLE } from './body.js';
import { dispatch } from './dispatch.js';
import { sendRestFault, toFault } from './errors.js';
import { Fault } from './faults.js';

/** `POST /rest/<Service>/<method>`: the params object is the body; a fault is an HTTP status plus `{faultcode, faultstring, ...}`. */
export async function handleRest(
  app: FastifyInstance,
  request: FastifyRequest<{ Params: { service: string; method: string } }>,
  reply: FastifyReply,
): Promise<unknown> {
  try {
    if (request.body === UNPARSABLE) throw new Fault('Client.Request.parse_error');
    const { service, method } = request.params;
    return await dispatch(app, request, `${service}/${method}`, request.body);
  } catch (err) {
    return sendRestFault(reply, toFault(err, request.log));
  }
}

/**
 * Anything else under `/rest` (a path that names no method, another HTTP
 * method than POST): a fault like any unknown method, not Fastify's own 404.
 */
export function restNotFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const what = `${request.method} ${request.url}`.slice(0, 100);
  return sendRestFault(reply, new Fault('Client.Request.method_not_found', `Method not found: ${what}; methods are called as POST /rest/<Service>/<method>`));
}
