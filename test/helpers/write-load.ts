import { pathToFileURL } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { buildTestApp } from './app.js';
import { loginRoot, rest } from './rpc.js';

/** Answers other than 200, each with its status and fault. */
export type Refusals = Array<{ method: string; status: number; faultcode: unknown }>;

/**
 * `rounds` admin writes one after the other, each a knex transaction that
 * reads before it writes (add a user, change it), as an operator's script
 * would send them. `prefix` keeps the logins of concurrent callers apart.
 */
export async function writeLoad(app: FastifyInstance, prefix: string, rounds: number): Promise<Refusals> {
  const token = await loginRoot(app);
  const refusals: Refusals = [];
  const note = (method: string, answer: { status: number; body: Record<string, unknown> }) => {
    if (answer.status !== 200) refusals.push({ method, status: answer.status, faultcode: answer.body.faultcode });
    return answer;
  };
  for (let i = 0; i < rounds; i++) {
    const added = note('User/add_user', await rest(app, 'User/add_user', { login: `${prefix}-${i}`, password: 'Admin-pass1', permissions: [] }, token));
    if (added.status === 200) note('User/update_user', await rest(app, 'User/update_user', { i_user: added.body.i_user, name: `${prefix} ${i}` }, token));
  }
  return refusals;
}

/**
 * As a script: a second worker process of the service on the same database
 * (a SQLite file, or a MariaDB database), running writeLoad once its parent says go (a line on stdin), and
 * printing its refusals as JSON.
 * Usage: node --import tsx test/helpers/write-load.ts <database url> <data dir> <prefix> <rounds>
 */
async function main(): Promise<void> {
  const [url, dataDir, prefix, rounds] = process.argv.slice(2);
  if (!url || !dataDir || !prefix || !rounds) throw new Error('usage: write-load.ts <database url> <data dir> <prefix> <rounds>');
  const target = url.startsWith('sqlite:') ? 'sqlite' : 'mariadb';
  const t = await buildTestApp(target, {}, { target, url, dataDir, drop: async () => undefined });
  try {
    process.stdout.write('ready\n');
    await new Promise((resolve) => process.stdin.once('data', resolve));
    process.stdin.destroy();
    process.stdout.write(`${JSON.stringify(await writeLoad(t.app, prefix, Number(rounds)))}\n`);
  } finally {
    await t.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
