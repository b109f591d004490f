import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { configSchema } from '../config/schema.js';

const SECRET_SETTINGS = new Set(['JWT_SECRET', 'BOOTSTRAP_ADMIN_PASSWORD']);

function maskUrlPassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '********';
  return parsed.toString();
}

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
        console.log(`${key}=${SECRET_SETTINGS.has(key) ? '********' : key === 'SMTP_URL' ? maskUrlPassword(String(value)) : String(value)}`);
      }
      console.log('configuration is valid');
    });
}
