import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { UNPARSABLE } from './body.js';
import { dispatch } from './dispatch.js';
import { rpcError, toFault } from './errors.js';
import { Fault } from './faults.js';

type Id = string | number | null;

interface RpcResponse {
  jsonrpc: '2.0';
  id: Id;
  result?: unknown;
  error?: ReturnType<typeof rpcError>;
}

function errorResponse(id: Id, fault: Fault): RpcResponse {
  return { jsonrpc: '2.0', id, error: rpcError(fault) };
}

function isValidId(id: unknown): id is Id {
  return id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));
}

/**
 * One request object of a single call or a batch (JSON-RPC 2.0, section 4-6).
 * Returns undefined for a notification (no `id` member), which gets no answer
 * even when it fails.
 */
async function handleCall(app: FastifyInstance, request: FastifyRequest, call: unknown): Promise<RpcResponse | undefined> {
  if (typeof call !== 'object' || call === null || Array.isArray(call)) {
    return errorResponse(null, new Fault('Client.Request.invalid_request', 'Invalid Request: expected a request object'));
  }
  const c = call as Record<string, unknown>;
  const hasId = Object.hasOwn(c, 'id');
  const id = hasId && isValidId(c.id) ? c.id : null;
  const problem =
    c.jsonrpc !== '2.0'
      ? 'jsonrpc must be exactly "2.0"'
      : typeof c.method !== 'string'
        ? 'method must be a string'
        : hasId && !isValidId(c.id)
          ? 'id must be a string, a number or null'
          : c.params !== undefined && (typeof c.params !== 'object' || c.params === null)
            ? 'params must be an object or an array'
            : undefined;
  if (problem) return errorResponse(id, new Fault('Client.Request.invalid_request', `Invalid Request: ${problem}`));

  try {
    const result = await dispatch(app, request, c.method as string, c.params);
    return hasId ? { jsonrpc: '2.0', id, result: result ?? null } : undefined;
  } catch (err) {
    const fault = toFault(err, request.log);
    return hasId ? errorResponse(id, fault) : undefined;
  }
}

export async function handleRpc(app: FastifyInstance, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const body = request.body;
  if (body === UNPARSABLE) return errorResponse(null, new Fault('Client.Request.parse_error'));
  if (body === undefined) return errorResponse(null, new Fault('Client.Request.invalid_request', 'Invalid Request: empty body'));
  if (Array.isArray(body)) {
    if (body.length === 0) return errorResponse(null, new Fault('Client.Request.invalid_request', 'Invalid Request: empty batch'));
    // Sequential, in order: a batch behaves like the same calls sent one by one.
    const responses: RpcResponse[] = [];
    for (const call of body) {
      const response = await handleCall(app, request, call);
      if (response) responses.push(response);
    }
    if (responses.length === 0) return reply.code(204).send();
    return responses;
  }
  const response = await handleCall(app, request, body);
  if (!response) return reply.code(204).send();
  return response;
}
