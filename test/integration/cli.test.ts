import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createTestDatabase, databaseTargets } from '../helpers/databases.js';
import { runCli, startServer, type RunningServer } from '../helpers/cli.js';
import { buildTestApp } from '../helpers/app.js';
import { call, loginRoot } from '../helpers/rpc.js';

test('config check prints the configuration with secrets masked', () => {
  const result = runCli(['config', 'check'], { JWT_SECRET: 'x'.repeat(40), PORT: '4100' });
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /PORT=4100/);
  assert.match(result.stdout, /JWT_SECRET=\*{8}/);
  assert.ok(!result.stdout.includes('x'.repeat(40)));
});

test('config check fails with a clear message and exit code 78 on bad values', () => {
  const result = runCli(['config', 'check'], { PORT: 'eighty', SESSION_TTL: 'forever' });
  assert.equal(result.status, 78);
  assert.match(result.stderr, /Invalid configuration/);
  assert.match(result.stderr, /PORT must be integer/);
  assert.match(result.stderr, /SESSION_TTL/);
});

for (const target of databaseTargets()) {
  test(`migrate brings an empty database up to date, then has nothing to do [${target}]`, async () => {
    const db = await createTestDatabase(target);
    try {
      const first = runCli(['migrate'], { DATABASE_URL: db.url });
      assert.equal(first.status, 0, first.stderr);
      assert.match(first.stdout, /applied: 001_foundation/);
      const second = runCli(['migrate'], { DATABASE_URL: db.url });
      assert.match(second.stdout, /already up to date/);
    } finally {
      await db.drop();
    }
  });
}

for (const target of databaseTargets()) {
  test(`SIGTERM lets an in-flight call finish, then the process exits 0 [${target}]`, async () => {
    const db = await createTestDatabase(target);
    let server: RunningServer | undefined;
    try {
      server = await startServer({
        DATA_DIR: db.dataDir,
        DATABASE_URL: db.url,
        BOOTSTRAP_ADMIN_PASSWORD: 'Root-pass-1',
        // A slow hash makes the login still running when the signal arrives.
        BCRYPT_COST: '14',
      });
      const exited = once(server.child, 'exit');
      const inFlight = fetch(`${server.url}/rest/Session/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ login: 'root', password: 'Root-pass-1', realm: 'admin' }),
      });
      // Signal only once the server has the call in hand (its request log line), however loaded the machine is.
      await server.waitFor(/"url":"\/rest\/Session\/login"/);
      server.child.kill('SIGTERM');
      const response = await inFlight;
      assert.equal(response.status, 200);
      assert.equal(((await response.json()) as { status: string }).status, 'authenticated');
      const [code] = await exited;
      assert.equal(code, 0, server.output());
      assert.match(server.output(), /shutting down/);
    } finally {
      await server?.kill();
      await db.drop();
    }
  });
}

for (const target of databaseTargets()) {
  test(`keyring rotate re-encrypts under the new primary and checks the result [${target}]`, async () => {
    const t = await buildTestApp(target);
    const keyring = join(t.db.dataDir, 'ring.json');
    writeFileSync(keyring, JSON.stringify({ primary: 'old', keys: { old: 'old-passphrase-0123456789' } }));
    await t.app.close();
    const before = await buildTestApp(target, { KEYRING_FILE: keyring }, t.db);
    try {
      const root = await loginRoot(before.app);
      const c = await call<{ i_customer: number }>(before.app, 'Customer/add_customer', { login: 'cli-co', password: 'Cli-pass-1' }, root);
      await call(before.app, 'Account/add_account', { login: 'cli-acc', i_customer: c.i_customer, h323_password: 'Cli-sip-2' }, root);
      await before.app.close();

      writeFileSync(keyring, JSON.stringify({ primary: 'new', keys: { old: 'old-passphrase-0123456789', new: 'new-passphrase-9876543210' } }));
      const result = runCli(['keyring', 'rotate', '--batch-size', '1'], { DATABASE_URL: t.db.url, KEYRING_FILE: keyring });
      assert.equal(result.status, 0, result.stderr + result.stdout);
      assert.match(result.stdout, /customers\.password_enc: rotated 1/);
      assert.match(result.stdout, /accounts\.h323_password_enc: rotated 1/);
      assert.match(result.stdout, /check passed/);
      const again = runCli(['keyring', 'rotate'], { DATABASE_URL: t.db.url, KEYRING_FILE: keyring });
      assert.match(again.stdout, /customers\.password_enc: rotated 0/, 'a second run has nothing left to do');

      writeFileSync(keyring, JSON.stringify({ primary: 'new', keys: { new: 'new-passphrase-9876543210' } }));
      const after = await buildTestApp(target, { KEYRING_FILE: keyring }, t.db);
      const token = await loginRoot(after.app);
      const info = (await call(after.app, 'Customer/get_customer_info', { login: 'cli-co', get_auth_info: 1 }, token)).customer_info as Record<string, unknown>;
      assert.equal(info.password, 'Cli-pass-1');
      await after.app.close();
    } finally {
      await t.db.drop();
    }
  });
}
