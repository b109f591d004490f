import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { startServer, type RunningServer } from '../helpers/cli.js';
import { createTestDatabase, databaseTargets } from '../helpers/databases.js';

for (const target of databaseTargets()) {
  test(`serve opens the PORTABILLING_PORTS listeners and closes them on SIGTERM [${target}]`, async () => {
    const db = await createTestDatabase(target);
    let server: RunningServer | undefined;
    try {
      server = await startServer({
        DATA_DIR: db.dataDir,
        DATABASE_URL: db.url,
        BOOTSTRAP_ADMIN_PASSWORD: 'Root-pass-1',
        BCRYPT_COST: '4',
        PORTABILLING_PORTS: 'admin:0',
      });
      const listener = /"realm":"admin","port":(\d+)[^\n]*PortaBilling listener open/;
      await server.waitFor(listener);
      const port = listener.exec(server.output())?.[1];
      const exited = once(server.child, 'exit');
      const login = await fetch(`http://127.0.0.1:${port}/rest/Session/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ params: { login: 'root', password: 'Root-pass-1' } }),
      });
      assert.equal(login.status, 200);
      assert.equal(((await login.json()) as { status: string }).status, 'authenticated');
      server.child.kill('SIGTERM');
      const [code] = await exited;
      assert.equal(code, 0, server.output());
    } finally {
      await server?.kill();
      await db.drop();
    }
  });
}
