import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger, FastifyError, FastifyReply } from 'fastify';
import { Fault } from './faults.js';

/**
 * The database cannot be reached or did not answer in time: refused, dropped,
 * connect/statement timeouts (PROTOCOL_SEQUENCE_TIMEOUT is mysql2's statement
 * timeout), too many connections, and a SQLite file still locked by another
 * process after the busy timeout (SQLITE_BUSY and its extended codes).
 */
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ER_CON_COUNT_ERROR']);

/**
 * Server errors that say "this server cannot take the call now", not "the
 * call is wrong": another node or a restarted server will take it.
 * 1047 ER_UNKNOWN_COM_ERROR: a Galera node outside the Primary component (lost
 * quorum, or still joining) refuses every statement.
 * 1180 ER_ERROR_DURING_COMMIT: the commit failed (Galera: replication aborted it).
 * 1290 ER_OPTION_PREVENTS_STATEMENT and 1836 ER_READ_ONLY_MODE: read-only server.
 * 1053 ER_SERVER_SHUTDOWN and 1927 ER_CONNECTION_KILLED: the server is stopping.
 * 2002/2003 cannot connect, 2006 server gone away, 2013 lost connection during a query.
 */
const UNAVAILABLE_ERRNOS = new Set([1047, 1053, 1180, 1290, 1836, 1927, 2002, 2003, 2006, 2013]);

export function isUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const { code, errno } = err as NodeJS.ErrnoException;
  if (code !== undefined && (UNAVAILABLE_CODES.has(code) || code.startsWith('SQLITE_BUSY'))) return true;
  if (errno !== undefined && UNAVAILABLE_ERRNOS.has(errno)) return true;
  // ioredis: a command refused while disconnected, timed out, or retried out (REDIS_URL).
  if (err.name === 'MaxRetriesPerRequestError' || err.message === 'Command timed out' || err.message.startsWith('Connection is closed')) return true;
  if (err.message === "Stream isn't writeable and enableOfflineQueue options is false") return true;
  return err.name === 'KnexTimeoutError';
}

/**
 * The single place where any thrown value becomes what a caller sees.
 * A `Fault` passes through as it is. Anything else is logged in full with a
 * fresh error id and replaced by a fault that carries only that id: stack
 * traces, SQL and driver messages never leave the process.
 */
export function toFault(err: unknown, log: FastifyBaseLogger): Fault {
  if (err instanceof Fault) return err;
  const errorId = randomUUID();
  if (isUnavailable(err)) {
    log.error({ err, error_id: errorId }, 'storage unavailable');
    return new Fault('Server.Unavailable', undefined, { error_id: errorId });
  }
  log.error({ err, error_id: errorId }, 'internal error');
  return new Fault('Server.Internal.error', `Internal error (error id ${errorId})`, { error_id: errorId });
}

/**
 * An error Fastify raised before a route handler ran (body too large, bad
 * content length, a parser's refusal), as the fault every transport answers.
 */
export function frameworkFault(error: FastifyError, log: FastifyBaseLogger): Fault {
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new Fault('Client.Request.too_large');
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new Fault('Client.Request.unsupported_media_type');
  if (error.statusCode && error.statusCode < 500) return new Fault('Client.Request.invalid_request', `Invalid Request: ${error.message}`);
  return toFault(error, log);
}

/** `/rpc` error member. */
export function rpcError(fault: Fault): { code: number; message: string; data: Record<string, unknown> } {
  return { code: fault.rpcCode, message: fault.message, data: { faultcode: fault.faultcode, ...fault.detail } };
}

/** `/rest` error body. */
export function restError(fault: Fault): Record<string, unknown> {
  return { faultcode: fault.faultcode, faultstring: fault.message, ...fault.detail };
}

/**
 * A fault answered over `/rest`: its status and body, and `Retry-After` in
 * seconds when the fault says when to come back (`retry_after`: the 429s,
 * RFC 6585 section 4, RFC 9110 section 10.2.3), so HTTP clients and proxies
 * that know the header back off without reading the body.
 */
export function sendRestFault(reply: FastifyReply, fault: Fault): FastifyReply {
  const retryAfter = fault.detail.retry_after;
  if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
  return reply.code(fault.http).send(restError(fault));
}
