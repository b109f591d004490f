import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { createDatabase } from '../repositories/connection.js';
import { exportAuditRows } from '../repositories/audit-export.js';

/** `2025-01-31` (midnight UTC) or an ISO 8601 date and time with its offset; epoch ms, or undefined. */
export function parseExportDate(text: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : undefined;
}

async function write(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}

/** `billing-auth audit export`: archive audit rows (JSON lines) before AUDIT_RETENTION deletes them. */
export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('the audit log');
  audit
    .command('export')
    .description('write the audit rows from before DATE as JSON lines, oldest first (streamed: any number of rows in constant memory)')
    .requiredOption('--before <date>', 'rows strictly before this: 2025-01-31 (midnight UTC) or 2025-01-31T12:00:00Z')
    .option('--out <file>', 'write to this file (created 0600, replaced if it exists) instead of stdout')
    .action(async (opts: { before: string; out?: string }) => {
      const before = parseExportDate(opts.before);
      if (before === undefined) {
        console.error(
          `--before must be a date (2025-01-31) or an ISO 8601 date and time with its offset (2025-01-31T12:00:00Z); got ${JSON.stringify(opts.before)}`,
        );
        process.exitCode = 1;
        return;
      }
      const config = loadConfig();
      const { knex } = createDatabase(config);
      // Audit rows name people and their IPs: the archive is readable by its owner only.
      const out: Writable = opts.out ? createWriteStream(opts.out, { mode: 0o600 }) : process.stdout;
      try {
        const rows = await exportAuditRows(knex, before, (line) => write(out, `${line}\n`));
        console.error(`exported ${rows} audit rows from before ${new Date(before).toISOString()}`);
      } finally {
        await knex.destroy();
        if (opts.out) {
          out.end();
          await once(out, 'finish');
        }
      }
    });
}
