import type { Command } from 'commander';
import { displayValue, loadConfig } from '../config/load.js';
import { configSchema } from '../config/schema.js';

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('inspect the configuration');
  config
    .command('check')
    .description('validate the configuration from the environment (and CONFIG_FILE) and print it, secrets masked')
    .action(() => {
      const loaded = loadConfig() as unknown as Record<string, unknown>;
      for (const key of Object.keys(configSchema.properties)) {
        const value = loaded[key];
        if (value === undefined) continue;
        console.log(`${key}=${displayValue(key, value)}`);
      }
      console.log('configuration is valid');
    });
}
