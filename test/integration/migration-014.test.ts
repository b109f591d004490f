import assert from 'node:assert/strict';
import { test } from 'node:test';
import { migrationSource } from '../../db/migrations/index.js';
import { loadConfig } from '../../src/config/load.js';
import { createDatabase } from '../../src/repositories/connection.js';
import { createTestDatabase, databaseTargets } from '../helpers/databases.js';

for (const target of databaseTargets()) {
  test(`migration 014 drops the unused session change feed, and down brings it back empty [${target}]`, async () => {
    const db = await createTestDatabase(target);
    const database = createDatabase(loadConfig({}, { DATABASE_URL: db.url }));
    const { knex } = database;
    try {
      // A database as an older release left it: feed rows still in it.
      const names = await migrationSource.getMigrations([]);
      for (const name of names.slice(0, names.indexOf('014_drop_session_changes'))) await knex.migrate.up({ migrationSource, name });
      await knex('session_changes').insert({ session_id: null, realm: 'account', principal_id: 1, created_at: Date.now() });

      await knex.migrate.latest({ migrationSource });
      assert.equal(await knex.schema.hasTable('session_changes'), false);

      while (
        ((await knex.migrate.list({ migrationSource })) as [Array<{ name: string }>, unknown])[0].some((m) => (m.name ?? m) === '014_drop_session_changes')
      )
        await knex.migrate.down({ migrationSource });
      assert.equal(await knex.schema.hasTable('session_changes'), true);
      assert.deepEqual(await knex('session_changes').select(), []);
      await knex.migrate.latest({ migrationSource });
      assert.equal(await knex.schema.hasTable('session_changes'), false);
    } finally {
      await knex.destroy();
      await database.reads.close();
      await db.drop();
    }
  });
}
