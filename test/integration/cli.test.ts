import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createTestDatabase, databaseTargets } from '../helpers/databases.js';
import { runCli, startServer } from '../helpers/cli.js';

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

test('SIGTERM lets an in-flight call finish, then the process exits 0', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ba-serve-'));
  const server = await startServer({
    DATA_DIR: dataDir,
    DATABASE_URL: `sqlite:${join(dataDir, 'db.sqlite')}`,
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
  await new Promise((r) => setTimeout(r, 200));
  server.child.kill('SIGTERM');
  const response = await inFlight;
  assert.equal(response.status, 200);
  assert.equal(((await response.json()) as { status: string }).status, 'authenticated');
  const [code] = await exited;
  assert.equal(code, 0, server.output());
  assert.match(server.output(), /shutting down/);
});
