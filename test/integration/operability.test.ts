import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildTestApp, describeEachDatabase, ROOT_PASSWORD } from '../helpers/app.js';
import { databaseTargets } from '../helpers/databases.js';
import { call, rest } from '../helpers/rpc.js';

describeEachDatabase('health', (get) => {
  test('live and ready answer 200 while the database answers', async () => {
    const live = await get().app.inject({ method: 'GET', url: '/health/live' });
    assert.equal(live.statusCode, 200);
    const ready = await get().app.inject({ method: 'GET', url: '/health/ready' });
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json(), { status: 'ok' });
  });
});

for (const target of databaseTargets()) {
  test(`ready answers 503 when the database does not [${target}]`, async () => {
    const t = await buildTestApp(target);
    try {
      await t.app.db.knex.destroy();
      const ready = await t.app.inject({ method: 'GET', url: '/health/ready' });
      assert.equal(ready.statusCode, 503);
      assert.equal(ready.json().faultcode, 'Server.Unavailable');
      const live = await t.app.inject({ method: 'GET', url: '/health/live' });
      assert.equal(live.statusCode, 200, 'the process itself is still alive');
    } finally {
      await t.close();
    }
  });

  test(`bootstrap: a generated root password is announced once and works [${target}]`, async () => {
    const first = await buildTestApp(target, { BOOTSTRAP_ADMIN_PASSWORD: undefined, BOOTSTRAP_ADMIN_LOGIN: 'Boss' });
    try {
      assert.equal(first.announced.length, 1);
      const password = /^ {3}(\S+)$/m.exec(first.announced[0] ?? '')?.[1];
      assert.ok(password && password.length >= 20);
      assert.ok(!first.logs.join('').includes(password), 'the generated password never reaches the log');
      const result = await call(first.app, 'Session/login', { login: 'boss', password, realm: 'admin' });
      assert.equal(result.status, 'password_change_required', 'a password shown on a console must be replaced');
      assert.equal(result.reason, 'must_change');

      const secretFile = statSync(join(first.db.dataDir, 'jwt-secret'));
      assert.equal(secretFile.mode & 0o777, 0o600);
      assert.equal(statSync(join(first.db.dataDir, 'keyring.json')).mode & 0o777, 0o600);

      await first.app.close();
      const second = await buildTestApp(target, { BOOTSTRAP_ADMIN_PASSWORD: undefined, BOOTSTRAP_ADMIN_LOGIN: 'Boss' }, first.db);
      assert.equal(second.announced.length, 0, 'a second start creates nothing and shows nothing');
      await second.app.close();
    } finally {
      await first.db.drop();
    }
  });
}

describeEachDatabase('logging', (get) => {
  test('secrets never reach the log, request ids do', async () => {
    const { app, logs } = get();
    const result = await call<{ access_token: string; refresh_token: string }>(app, 'Session/login', {
      login: 'root',
      password: ROOT_PASSWORD,
      realm: 'admin',
    });
    await rest(app, 'Session/login', { login: 'root', password: 'Wrong-guess-9', realm: 'admin' });
    await rest(app, 'Session/ping', {}, result.access_token);
    // Log something shaped like a call with secrets, as a handler might by mistake.
    app.log.info({ params: { password: 'Hunter2-plain', otp: '123456', nested: { refresh_token: result.refresh_token } } }, 'diagnostic');
    const text = logs.join('');
    for (const secret of [ROOT_PASSWORD, 'Wrong-guess-9', 'Hunter2-plain', result.access_token, result.refresh_token, '123456']) {
      assert.ok(!text.includes(secret), `log leaks ${secret.slice(0, 6)}…`);
    }
    assert.match(text, /\[REDACTED\]/);
    assert.match(text, /"reqId":"[0-9a-f-]{36}"/);
  });
});
