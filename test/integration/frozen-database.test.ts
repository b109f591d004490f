import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { test } from 'node:test';
import { packageRoot } from '../../src/paths.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase, databaseTargets } from '../helpers/databases.js';
import { startFreezableProxy } from '../helpers/freezable-proxy.js';
import { loginRoot, rest, type RestAnswer } from '../helpers/rpc.js';

/** Short bounds, so a frozen database fails calls quickly. */
const TIMEOUTS = { DB_CONNECT_TIMEOUT: '1s', DB_ACQUIRE_TIMEOUT: '1s', DB_QUERY_TIMEOUT: '1s' };

/** Far longer than the bounds above: a call that has not answered by then hangs for as long as the freeze. */
const HUNG = 30_000;

/** `answer`, or a failure naming `what` if it does not come before HUNG. */
async function answered<T>(what: string, answer: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${HUNG} ms: it waits for the frozen database`)), HUNG);
  });
  try {
    return await Promise.race([answer, hung]);
  } finally {
    clearTimeout(timer);
  }
}

const readiness = async (t: TestApp): Promise<RestAnswer> => {
  const res = await t.app.inject({ method: 'GET', url: '/health/ready' });
  return { status: res.statusCode, body: res.json() as Record<string, unknown>, headers: res.headers };
};

const addUser = (t: TestApp, token: string, login: string) => rest(t.app, 'User/add_user', { login, password: 'Admin-pass1', permissions: [] }, token);

function assertUnavailable(what: string, answer: RestAnswer): void {
  assert.equal(answer.status, 503, `${what}: ${JSON.stringify(answer.body)}`);
  assert.equal(answer.body.faultcode, 'Server.Unavailable', what);
}

/** Every write answered 200 is there exactly once, with exactly one audit row. */
async function assertAcknowledgedWritesKept(t: TestApp, acknowledged: Map<string, number>): Promise<void> {
  const knex = t.app.db.knex;
  const users = await knex('users')
    .whereIn('login', [...acknowledged.keys()])
    .select('login', 'i_user');
  assert.deepEqual(users.map((u) => String(u.login)).sort(), [...acknowledged.keys()].sort(), 'every acknowledged user exists, once');
  for (const [login, id] of acknowledged) {
    const audits = await knex('audit_log').where({ event: 'user.add', entity_id: id }).count({ n: '*' });
    assert.equal(Number(audits[0]?.n), 1, `${login}: one audit row`);
  }
}

for (const target of databaseTargets()) {
  if (target === 'mariadb') {
    test('a frozen MariaDB: calls and readiness answer 503 while it lasts, the service recovers by itself, no acknowledged write lost or doubled [mariadb]', async () => {
      const db = await createTestDatabase('mariadb');
      const server = new URL(process.env.TEST_DATABASE_URL as string);
      // Only the proxy freezes: the shared server keeps serving everyone else.
      const proxy = await startFreezableProxy({ host: server.hostname, port: Number(server.port || 3306) });
      const t = await buildTestApp('mariadb', { DATABASE_URL: proxy.via(db.url), ...TIMEOUTS }, db);
      try {
        const token = await loginRoot(t.app);
        const acknowledged = new Map<string, number>();
        for (const login of ['before-1', 'before-2', 'before-3']) {
          const answer = await addUser(t, token, login);
          assert.equal(answer.status, 200, JSON.stringify(answer.body));
          acknowledged.set(login, Number(answer.body.i_user));
        }

        proxy.freeze();
        // Twice: first on the pooled connections the freeze caught open, then on new ones (connect timeout).
        for (const round of [1, 2]) {
          const [ping, add, login, ready] = await answered(
            `round ${round}`,
            Promise.all([
              rest(t.app, 'Session/ping', {}, token),
              addUser(t, token, `frozen-${round}`),
              rest(t.app, 'Session/login', { login: 'root', password: 'Root-pass-1', realm: 'admin' }),
              readiness(t),
            ]),
          );
          assertUnavailable(`round ${round}: Session/ping (session check)`, ping);
          assertUnavailable(`round ${round}: User/add_user (a knex transaction)`, add);
          assertUnavailable(`round ${round}: Session/login (the writer)`, login);
          assertUnavailable(`round ${round}: /health/ready`, ready);
        }
        const live = await t.app.inject({ method: 'GET', url: '/health/live' });
        assert.equal(live.statusCode, 200, 'the process itself answers');

        proxy.thaw();
        // No restart, no retry: the very next calls succeed, each with its own answer (not a late one
        // of a statement that timed out during the freeze).
        assert.equal((await readiness(t)).status, 200);
        assert.equal((await answered('ping after thaw', rest(t.app, 'Session/ping', {}, token))).status, 200);
        for (const [login, id] of acknowledged) {
          const info = await rest(t.app, 'User/get_user_info', { login }, token);
          assert.equal(info.status, 200, JSON.stringify(info.body));
          assert.equal((info.body.user_info as { i_user: number }).i_user, id);
        }
        const after = await addUser(t, token, 'after-1');
        assert.equal(after.status, 200, JSON.stringify(after.body));
        acknowledged.set('after-1', Number(after.body.i_user));
        const relogin = await rest(t.app, 'Session/login', { login: 'root', password: 'Root-pass-1', realm: 'admin' });
        assert.equal(relogin.status, 200, JSON.stringify(relogin.body));

        await assertAcknowledgedWritesKept(t, acknowledged);
      } finally {
        proxy.thaw();
        await t.close();
        await proxy.close();
      }
    });
  } else {
    test('a SQLite file locked by another process: writes answer 503 after the busy timeout, reads go on, writes resume when it lets go [sqlite]', async () => {
      const t = await buildTestApp('sqlite', TIMEOUTS);
      const token = await loginRoot(t.app);
      const holder = spawn(process.execPath, ['--import', 'tsx', join(packageRoot, 'test/helpers/sqlite-lock.ts'), join(t.db.dataDir, 'test.sqlite')], {
        cwd: packageRoot,
      });
      try {
        const [locked] = (await once(holder.stdout, 'data')) as [Buffer];
        assert.equal(String(locked).trim(), 'locked');

        assertUnavailable('User/add_user while another process holds the write lock', await answered('add_user', addUser(t, token, 'locked-out')));
        assert.equal((await rest(t.app, 'Session/ping', {}, token)).status, 200, 'reads do not wait for the writer (WAL)');
        assert.equal((await readiness(t)).status, 200);

        holder.stdin.end();
        await once(holder, 'exit');
        const answer = await addUser(t, token, 'after-unlock');
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        await assertAcknowledgedWritesKept(t, new Map([['after-unlock', Number(answer.body.i_user)]]));
      } finally {
        holder.kill();
        await t.close();
      }
    });
  }
}
