import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { UNPARSABLE } from './body.js';
import { dispatch } from './dispatch.js';
import { restError, toFault } from './errors.js';
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
    const fault = toFault(err, request.log);
    return reply.code(fault.http).send(restError(fault));
  }
}
