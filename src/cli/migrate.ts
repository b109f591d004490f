import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { createDatabase, migrateLatest } from '../repositories/connection.js';

export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('bring the database schema up to date (the service also does this on start)')
    .action(async () => {
      const config = loadConfig();
      const { knex } = createDatabase(config.DATABASE_URL);
      try {
        const applied = await migrateLatest(knex);
        console.log(applied.length ? `applied: ${applied.join(', ')}` : 'already up to date');
      } finally {
        await knex.destroy();
      }
    });
}
