import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDatabase } from '../../src/repositories/connection.js';
import { loadConfig } from '../../src/config/load.js';
import { createTestDatabase, databaseTargets } from '../helpers/databases.js';
import { announcements, replicaSettings, startReplicas } from '../helpers/replicas.js';
import type { RunningServer } from '../helpers/cli.js';

for (const target of databaseTargets()) {
  test(`three replicas started at once on an empty database all come up; root is created once [${target}]`, async () => {
    const db = await createTestDatabase(target);
    let servers: RunningServer[] = [];
    try {
      servers = await startReplicas([db.url, db.url, db.url], replicaSettings(db.dataDir));
      for (const server of servers) {
        const ready = await fetch(`${server.url}/health/ready`);
        assert.equal(ready.status, 200, server.output());
      }
      assert.equal(announcements(servers), 1, 'exactly one replica created (and announced) root');
      const { knex } = createDatabase(loadConfig({}, { DATABASE_URL: db.url }));
      try {
        const [row] = (await knex('users').count({ n: '*' })) as { n: number | string }[];
        assert.equal(Number(row?.n), 1, 'one user: root');
        const [migrations] = (await knex('knex_migrations').count({ n: '*' }).countDistinct({ d: 'name' })) as { n: number | string; d: number | string }[];
        assert.equal(Number(migrations?.n), Number(migrations?.d), 'no migration recorded twice');
      } finally {
        await knex.destroy();
      }
    } finally {
      await Promise.all(servers.map((s) => s.kill()));
      await db.drop();
    }
  });
}

for (const target of databaseTargets()) {
  test(`a replica waits while another holds the migration lock, then migrates [${target}]`, async () => {
    const db = await createTestDatabase(target);
    const holder = createDatabase(loadConfig({}, { DATABASE_URL: db.url }));
    const waiter = createDatabase(loadConfig({}, { DATABASE_URL: db.url }));
    try {
      // Another replica's committed lock, as it stands while that replica migrates.
      await holder.knex.raw('CREATE TABLE schema_migration_lock (id integer NOT NULL PRIMARY KEY, is_locked integer NOT NULL)');
      await holder.knex('schema_migration_lock').insert({ id: 1, is_locked: 1 });
      let settled = false;
      const migrating = waiter.migrate().finally(() => (settled = true));
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      assert.equal(settled, false, 'the waiter does not migrate while the lock is held');
      assert.equal(await holder.knex.schema.hasTable('knex_migrations'), false, 'nothing migrated under a held lock');
      await holder.knex('schema_migration_lock').update({ is_locked: 0 });
      const applied = await migrating;
      assert.ok(applied.includes('001_foundation'), applied.join(', '));
      assert.equal((await holder.knex('schema_migration_lock').first())?.is_locked, 0, 'released after migrating');
      assert.deepEqual(await waiter.migrate(), [], 'an up-to-date schema needs no lock');
    } finally {
      await holder.knex.destroy();
      await waiter.knex.destroy();
      await db.drop();
    }
  });
}
