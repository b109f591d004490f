import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { createDatabase } from '../repositories/connection.js';

export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('bring the database schema up to date (the service also does this on start)')
    .action(async () => {
      const config = loadConfig();
      const db = createDatabase(config);
      try {
        const applied = await db.migrate();
        console.log(applied.length ? `applied: ${applied.join(', ')}` : 'already up to date');
      } finally {
        await db.knex.destroy();
      }
    });
}
