import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { toFault } from '../../src/rpc/errors.js';

const log = pino({ level: 'silent' });

/** A server error as mysql2 raises it: message, code and errno. */
function serverError(errno: number, code: string): Error {
  return Object.assign(new Error(`${code}: from the server`), { errno, code });
}

test('database errors that mean "this server cannot take it now" are 503 Server.Unavailable, never 500', () => {
  const cases: [number, string][] = [
    [1047, 'ER_UNKNOWN_COM_ERROR'], // Galera node outside the Primary component
    [1180, 'ER_ERROR_DURING_COMMIT'],
    [1290, 'ER_OPTION_PREVENTS_STATEMENT'], // --read-only
    [1836, 'ER_READ_ONLY_MODE'],
    [1053, 'ER_SERVER_SHUTDOWN'],
    [1927, 'ER_CONNECTION_KILLED'],
    [2006, 'CR_SERVER_GONE_ERROR'],
    [2013, 'CR_SERVER_LOST'],
  ];
  for (const [errno, code] of cases) {
    const fault = toFault(serverError(errno, code), log);
    assert.equal(fault.faultcode, 'Server.Unavailable', `${errno} ${code}`);
    assert.equal(fault.http, 503);
  }
});

test('other database errors stay internal errors', () => {
  assert.equal(toFault(serverError(1064, 'ER_PARSE_ERROR'), log).faultcode, 'Server.Internal.error');
});
