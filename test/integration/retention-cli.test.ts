import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildTestApp, ROOT_PASSWORD } from '../helpers/app.js';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase, databaseTargets } from '../helpers/databases.js';
import { countLeft, RETENTION, seedRetentionRows } from '../helpers/retention.js';

const DAY = 86_400_000;

for (const target of databaseTargets()) {
  test(`audit export writes the rows before DATE as JSON lines; housekeeping run then prunes them [${target}]`, async () => {
    const db = await createTestDatabase(target);
    const env = { DATABASE_URL: db.url, DATA_DIR: db.dataDir, BOOTSTRAP_ADMIN_PASSWORD: ROOT_PASSWORD, BCRYPT_COST: '4', LOG_LEVEL: 'warn' };
    try {
      // Migrated and seeded by the application itself; the CLI runs on the real clock, so the rows are laid out around now.
      const t = await buildTestApp(target, {}, db);
      const now = Date.now();
      const seeded = await seedRetentionRows(t.app.db.knex, now, 700, 'cli');
      await t.close();

      const before = new Date(now - 90 * DAY).toISOString();
      const exported = runCli(['audit', 'export', '--before', before], env);
      assert.equal(exported.status, 0, exported.stderr);
      const lines = exported.stdout.trimEnd().split('\n');
      assert.equal(lines.length, 700, 'the old rows, across pages of 1000 and less');
      const rows = lines.map((line) => JSON.parse(line) as { i_event: number; at: number; time: string; event: string; details: { marker: string } });
      assert.ok(rows.every((r) => r.event === 'test.old' && r.details.marker.startsWith('gone-') && r.at < now - 90 * DAY));
      assert.ok(
        rows.every((r, i) => i === 0 || r.at > (rows[i - 1]?.at ?? 0)),
        'oldest first',
      );
      assert.equal(rows[0]?.time, new Date(rows[0]?.at ?? 0).toISOString());
      assert.match(exported.stderr, /exported 700 audit rows/);

      const file = join(db.dataDir, 'audit.jsonl');
      const toFile = runCli(['audit', 'export', '--before', before, '--out', file], env);
      assert.equal(toFile.status, 0, toFile.stderr);
      assert.equal(toFile.stdout, '');
      assert.equal(readFileSync(file, 'utf8'), exported.stdout);
      assert.equal(statSync(file).mode & 0o777, 0o600);

      const refused = runCli(['audit', 'export', '--before', 'last tuesday'], env);
      assert.equal(refused.status, 1);
      assert.match(refused.stderr, /--before must be a date/);
      assert.equal(refused.stdout, '');

      const run = runCli(['housekeeping', 'run', '--batch-size', '100'], { ...env, ...RETENTION });
      assert.equal(run.status, 0, run.stderr);
      const reported = Object.fromEntries(
        run.stdout
          .trimEnd()
          .split('\n')
          .map((line) => line.split('\t')),
      );
      const check = await buildTestApp(target, {}, db);
      try {
        for (const s of seeded) {
          assert.deepEqual(await countLeft(check.app.db.knex, s), { gone: 0, kept: s.kept }, s.table);
          assert.ok(Number(reported[s.table]) >= s.gone, `${s.table} in ${run.stdout}`);
        }
      } finally {
        await check.close();
      }
      const again = runCli(['housekeeping', 'run'], { ...env, ...RETENTION });
      assert.equal(again.stdout.trim(), 'nothing to delete', again.stderr);

      const bad = runCli(['housekeeping', 'run', '--batch-size', '0'], env);
      assert.notEqual(bad.status, 0);
      assert.match(bad.stderr, /--batch-size must be an integer from 1 to 10000/);
    } finally {
      await db.drop();
    }
  });
}
