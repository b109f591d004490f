import { loadConfig } from '../../src/config/load.js';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { keyIdOf } from '../../src/domain/crypto/envelope.js';
import { createDatabase } from '../../src/repositories/connection.js';
import { ROOT_PASSWORD } from '../helpers/app.js';
import { startServer, type RunningServer } from '../helpers/cli.js';
import { createTestDatabase, databaseTargets, type TargetName, type TestDatabase } from '../helpers/databases.js';

// The service as a process: real signals, real sockets, real timeouts.

/**
 * Runs `body` against a fresh `serve` process on a database of its own (low
 * bcrypt cost, known root password, plus `settings`); afterwards the process
 * and the database are gone, whatever happened.
 */
async function withServer(
  target: TargetName,
  settings: (db: TestDatabase) => Record<string, string>,
  body: (server: RunningServer, db: TestDatabase) => Promise<void>,
): Promise<void> {
  const db = await createTestDatabase(target);
  let server: RunningServer | undefined;
  try {
    server = await startServer({ DATA_DIR: db.dataDir, DATABASE_URL: db.url, BOOTSTRAP_ADMIN_PASSWORD: ROOT_PASSWORD, BCRYPT_COST: '4', ...settings(db) });
    await body(server, db);
  } finally {
    await server?.kill();
    await db.drop();
  }
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

async function restCall(server: RunningServer, method: string, params: object, token?: string): Promise<Answer> {
  const response = await fetch(`${server.url}/rest/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(params),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function loginRoot(server: RunningServer): Promise<string> {
  const answer = await restCall(server, 'Session/login', { login: 'root', password: ROOT_PASSWORD, realm: 'admin' });
  assert.equal(answer.body.status, 'authenticated', JSON.stringify(answer.body));
  return answer.body.access_token as string;
}

interface RawExchange {
  /** What the server wrote back. */
  answer: string;
  /** Whether the server closed the connection before the deadline. */
  closed: boolean;
}

/**
 * Writes `head`, then `drip` every `everyMs` (a slow client), until the server
 * closes the connection or `deadlineMs` passes (then the client gives up).
 */
function rawExchange(port: number, head: string, drip = '', everyMs = 500, deadlineMs = 10_000): Promise<RawExchange> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    let dripping: NodeJS.Timeout | undefined;
    const giveUp = setTimeout(() => finish(false), deadlineMs);
    const finish = (closed: boolean) => {
      clearTimeout(giveUp);
      clearInterval(dripping);
      socket.destroy();
      resolve({ answer, closed });
    };
    socket.on('connect', () => {
      socket.write(head);
      if (drip) dripping = setInterval(() => socket.writable && socket.write(drip), everyMs);
    });
    socket.on('data', (chunk) => (answer += String(chunk)));
    socket.on('error', () => undefined); // a reset is a close too
    socket.on('close', () => finish(true));
  });
}

for (const target of databaseTargets()) {
  test(`SIGHUP re-reads KEYRING_FILE and the service keeps serving; a bad file keeps the ring in force [${target}]`, async () => {
    const first = 'first-passphrase-0123456789';
    const second = 'second-passphrase-9876543210';
    const keyringOf = (db: TestDatabase) => join(db.dataDir, 'ring.json');
    const settings = (db: TestDatabase) => {
      writeFileSync(keyringOf(db), JSON.stringify({ primary: 'k1', keys: { k1: first } }));
      return { KEYRING_FILE: keyringOf(db) };
    };
    await withServer(target, settings, async (server, db) => {
      const { knex } = createDatabase(loadConfig({}, { DATABASE_URL: db.url }));
      try {
        const token = await loginRoot(server);
        // Which key sealed a new password's readable copy: the primary key of the ring in force.
        const sealedWith = async (login: string) => {
          const added = await restCall(server, 'Customer/add_customer', { login, password: 'Hup-pass-1' }, token);
          assert.equal(added.status, 200, JSON.stringify(added.body));
          const row = (await knex('customers').where({ login }).first()) as { password_enc: string };
          return keyIdOf(row.password_enc);
        };
        assert.equal(await sealedWith('before-hup'), 'k1');

        writeFileSync(keyringOf(db), JSON.stringify({ primary: 'k2', keys: { k1: first, k2: second } }));
        server.child.kill('SIGHUP');
        await server.waitFor(/keyring reloaded/);
        assert.equal(await sealedWith('after-hup'), 'k2', 'the new primary key is in force');
        const old = await restCall(server, 'Customer/get_customer_info', { login: 'before-hup', get_auth_info: 1 }, token);
        assert.equal((old.body.customer_info as Record<string, unknown>).password, 'Hup-pass-1', 'values under the old key still open');

        writeFileSync(keyringOf(db), '{"primary": "k3", "keys": ');
        server.child.kill('SIGHUP');
        await server.waitFor(/keyring reload failed; keeping the keyring in force/);
        assert.match(server.output(), /not valid JSON/);
        assert.equal(await sealedWith('after-bad-file'), 'k2', 'a bad file leaves the ring in force');

        assert.equal(server.child.exitCode, null, 'still running');
        assert.doesNotMatch(server.output(), /shutting down/);

        const exited = once(server.child, 'exit');
        server.child.kill('SIGTERM');
        const [code] = await exited;
        assert.equal(code, 0, server.output());
        assert.match(server.output(), /"signal":"SIGTERM","msg":"shutting down"/);
      } finally {
        await knex.destroy();
      }
    });
  });
}

test('at LOG_LEVEL=trace a 20 KB header is answered 431, malformed requests 400, and the service stays up', async () => {
  await withServer(
    'sqlite',
    () => ({ LOG_LEVEL: 'trace' }),
    async (server) => {
      const bearer = 'raw-request-credential-0123456789';
      const oversized = await rawExchange(
        server.port,
        `GET /health/live HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${bearer}\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`,
      );
      assert.match(oversized.answer, /^HTTP\/1\.1 431 /);
      // Fastify logs each of these client errors at trace level, with Node's parser error.
      const malformed = [
        'NOT A REQUEST\r\n\r\n',
        'GET /health/live HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n',
        'POST /rest/Session/login HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n',
        'POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n\r\n',
      ];
      for (const request of malformed) {
        const { answer } = await rawExchange(server.port, request);
        assert.match(answer, /^HTTP\/1\.1 400 /, JSON.stringify(request));
      }
      await server.waitFor(/client header_overflow/);
      assert.equal(server.child.exitCode, null, server.output());
      assert.ok(await loginRoot(server), 'a normal call still works');
      assert.ok(!server.output().includes(bearer), 'the raw request (with its credentials) is not logged');
    },
  );
});

test('slow clients are answered 408 and cut off after REQUEST_TIMEOUT / HEADERS_TIMEOUT; others are served meanwhile', async () => {
  await withServer(
    'sqlite',
    () => ({ REQUEST_TIMEOUT: '2s', HEADERS_TIMEOUT: '1s' }),
    async (server) => {
      const started = Date.now();
      // A body announced as 1000 bytes, sent one byte every half second (over 8 minutes if let be).
      const slowBody = rawExchange(
        server.port,
        'POST /rest/Session/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{',
        ' ',
      );
      // Headers that never end.
      const slowHeaders = rawExchange(server.port, 'POST /rest/Session/login HTTP/1.1\r\nHost: x\r\n', 'X');
      const silent = rawExchange(server.port, '');
      assert.ok(await loginRoot(server), 'a normal call is served while slow clients hold connections');

      for (const [name, exchange] of [
        ['slow body', slowBody],
        ['slow headers', slowHeaders],
        ['silent connection', silent],
      ] as const) {
        const { answer, closed } = await exchange;
        assert.ok(closed, `${name}: the server closed the connection (it stayed open ${Date.now() - started} ms)`);
        assert.match(answer, /^HTTP\/1\.1 408 /, name);
      }
      assert.ok(await loginRoot(server), 'and after them');
    },
  );
});
