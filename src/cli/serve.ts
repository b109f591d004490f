import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { serve } from '../server.js';

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run the service (migrates the database first)')
    .action(async () => {
      await serve(loadConfig());
    });
}
