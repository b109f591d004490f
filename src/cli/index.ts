#!/usr/bin/env node
import { Command } from 'commander';
import { ConfigError } from '../config/load.js';
import { registerAuditCommands } from './audit.js';
import { registerConfigCommands } from './config.js';
import { registerDocsCommands } from './docs.js';
import { registerHousekeepingCommands } from './housekeeping.js';
import { registerKeyringCommands } from './keyring.js';
import { registerOutboxCommands } from './outbox.js';
import { registerMigrateCommand } from './migrate.js';
import { registerPortalClientCommands } from './portal-client.js';
import { registerServeCommand } from './serve.js';
import { registerTwoFactorCommands } from './two-factor.js';
import { packageVersion } from '../version.js';

const program = new Command('billing-auth').description('Headless authentication API for billing systems').version(packageVersion).showHelpAfterError();

registerServeCommand(program);
registerMigrateCommand(program);
registerConfigCommands(program);
registerDocsCommands(program);
registerKeyringCommands(program);
registerOutboxCommands(program);
registerTwoFactorCommands(program);
registerPortalClientCommands(program);
registerHousekeepingCommands(program);
registerAuditCommands(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(78); // EX_CONFIG
  }
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
