import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { keyringPath } from '../plugins/secrets.js';
import { deriveKeyring, readKeyringFile } from '../plugins/keyring.js';
import { createDatabase } from '../repositories/connection.js';
import { rotateAll } from '../repositories/encrypted-columns.js';

export function registerKeyringCommands(program: Command): void {
  const keyring = program.command('keyring').description('password-encryption keyring');
  keyring
    .command('rotate')
    .description('re-encrypt every value not under the primary key, online, in batches (resumable)')
    .option('--batch-size <n>', 'rows per batch', (v) => Number.parseInt(v, 10), 200)
    .action(async (opts: { batchSize: number }) => {
      const config = loadConfig();
      // A bad file is reported before the database is touched.
      const file = await readKeyringFile(keyringPath(config));
      const { knex } = createDatabase(config);
      try {
        const ring = await deriveKeyring(file, knex, Date.now());
        console.log(`primary key: ${ring.primaryId}; keys in ring: ${ring.keyIds.join(', ')}`);
        const reports = await rotateAll(knex, ring, opts.batchSize, (r) => console.log(`  ${r.table}.${r.column}: ${r.rotated} re-encrypted so far`));
        let problems = 0;
        for (const r of reports) {
          console.log(
            `${r.table}.${r.column}: rotated ${r.rotated}, changed meanwhile ${r.raced}, failed ${r.failed.length}, still under an old key ${r.remaining}`,
          );
          for (const f of r.failed) console.error(`  cannot re-encrypt ${r.table}.${r.column} row ${f.row}: ${f.error}`);
          problems += r.failed.length + r.remaining;
        }
        if (problems > 0) {
          console.error('rotation incomplete: some values are not under the primary key (see above); fix and run again');
          process.exitCode = 1;
        } else {
          console.log(`check passed: every encrypted value uses the primary key ${ring.primaryId}; the old keys can be removed from the ring`);
        }
      } finally {
        await knex.destroy();
      }
    });
}
