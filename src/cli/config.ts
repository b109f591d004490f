import type { Command } from 'commander';
import { displayValue, loadConfig } from '../config/load.js';
import { configSchema } from '../config/schema.js';
import { checkSecrets } from '../plugins/secrets.js';

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('inspect the configuration');
  config
    .command('check')
    .description(
      'validate the configuration from the environment (and CONFIG_FILE) and the secret files it names, as serve does before it starts, and print it, secrets masked',
    )
    .action(async () => {
      const config = loadConfig();
      const secrets = await checkSecrets(config);
      const loaded = config as unknown as Record<string, unknown>;
      for (const key of Object.keys(configSchema.properties)) {
        const value = loaded[key];
        if (value === undefined) continue;
        console.log(`${key}=${displayValue(key, value)}`);
      }
      if (secrets.jwtSecretFile) {
        console.log(secrets.jwtSecret ? `JWT key: ${secrets.jwtSecretFile}` : `JWT key: ${secrets.jwtSecretFile} does not exist yet; serve generates it`);
      }
      console.log(
        secrets.keyring
          ? `keyring: ${secrets.keyringFile}, primary key ${secrets.keyring.primary}, keys ${Object.keys(secrets.keyring.keys).join(', ')}`
          : `keyring: ${secrets.keyringFile} does not exist yet; serve generates it`,
      );
      console.log('configuration is valid');
    });
}
