import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { packageRoot } from '../../src/paths.js';
import { buildTestApp } from '../helpers/app.js';
import { databaseTargets } from '../helpers/databases.js';
import { writeLoad, type Refusals } from '../helpers/write-load.js';

const ROUNDS = 150;

for (const target of databaseTargets()) {
  test(`two processes writing one database at once: every write waits its turn, none is refused [${target}]`, async () => {
    const t = await buildTestApp(target);
    const worker = spawn(
      process.execPath,
      ['--import', 'tsx', join(packageRoot, 'test/helpers/write-load.ts'), t.db.url, t.db.dataDir, 'worker', String(ROUNDS)],
      {
        cwd: packageRoot,
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    const exited = once(worker, 'exit');
    try {
      const lines = createInterface({ input: worker.stdout })[Symbol.asyncIterator]();
      assert.equal((await lines.next()).value, 'ready');
      // Both start together: the worker on its line, this process at once.
      worker.stdin.write('go\n');
      const [here, there] = await Promise.all([writeLoad(t.app, 'service', ROUNDS), lines.next().then((line) => JSON.parse(String(line.value)) as Refusals)]);
      assert.deepEqual(here, [], 'the service refused none of its writes');
      assert.deepEqual(there, [], 'the other process refused none of its writes');
      const [code] = await exited;
      assert.equal(code, 0);
      const users = await t.app.db.knex('users').where('login', 'like', '%-%').count({ n: '*' });
      assert.equal(Number(users[0]?.n), 2 * ROUNDS, 'every user of both processes is there');
    } finally {
      worker.kill();
      await t.close();
    }
  });
}
