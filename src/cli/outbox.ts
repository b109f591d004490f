import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { createDatabase } from '../repositories/connection.js';
import { createNotificationsRepository, type NotificationStatus } from '../repositories/notifications.js';

export function registerOutboxCommands(program: Command): void {
  const outbox = program.command('outbox').description('the notification outbox');
  outbox
    .command('list')
    .description('show notification mails (newest first) and the backlog still to send')
    .option('--status <status...>', 'only these statuses: pending, sending, sent, failed')
    .option('--limit <n>', 'rows to show', (v) => Number.parseInt(v, 10), 50)
    .action(async (opts: { status?: NotificationStatus[]; limit: number }) => {
      const config = loadConfig();
      const { knex } = createDatabase(config);
      try {
        const repo = createNotificationsRepository(knex);
        const rows = await repo.list(opts.status, opts.limit);
        console.log(`backlog (pending or sending): ${await repo.backlog()}`);
        for (const r of rows) {
          const when = new Date(Number(r.created_at)).toISOString();
          const error = r.last_error ? `  last error: ${r.last_error}` : '';
          console.log(`#${r.id}  ${when}  ${r.status.padEnd(7)}  ${r.kind.padEnd(24)}  ${r.recipient}  attempts ${r.attempts}${error}`);
        }
      } finally {
        await knex.destroy();
      }
    });
}
