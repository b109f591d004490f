import type { Command } from 'commander';
import { withApp } from './with-app.js';

const positive = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new Error(`--batch-size must be an integer from 1 to 10000 (got ${v})`);
  return n;
};

/** `billing-auth housekeeping run`: one pass of what every replica runs on its timer (README, Retention). */
export function registerHousekeepingCommands(program: Command): void {
  const housekeeping = program.command('housekeeping').description('retention: delete rows that are no longer needed');
  housekeeping
    .command('run')
    .description('run one housekeeping pass now, to the end (safe beside running replicas); prints the rows deleted per table')
    .option('--batch-size <n>', 'rows per DELETE (each its own short transaction)', positive, 500)
    .action(async (opts: { batchSize: number }) => {
      await withApp(async (app) => {
        // To the end: the timer's per-pass bound only keeps one pass short.
        const deleted = await app.housekeeping.runOnce({ batchSize: opts.batchSize, maxBatches: Number.MAX_SAFE_INTEGER });
        const tables = Object.entries(deleted);
        for (const [table, rows] of tables) console.log(`${table}\t${rows}`);
        if (tables.length === 0) console.log('nothing to delete');
      });
    });
}
