/**
 * `npm run bench -- --scale=1m`: the benchmark at 10,000 rows and again at 1,000,000, in one run
 * on one database, side by side (issue 19). See BENCHMARKS.md, "1,000,000 rows".
 *
 * 1. The database starts empty (MariaDB: BENCH_DATABASE_URL's database is dropped and created).
 * 2. Rows are bulk-inserted up to 10,000 audit rows and sessions; `bench/run.ts` then runs as
 *    usual (seeding its own 10,000 accounts) and measures every case plus the admin lists.
 * 3. Rows are bulk-inserted up to the scale (accounts, audit rows and sessions; multi-row
 *    INSERTs with one precomputed bcrypt hash, never bcrypt per row), and `bench/run.ts` runs
 *    again on the grown database, with 10,000 fresh accounts of its own among them.
 * 4. Both runs are printed side by side with the database size at each.
 *
 * Also exports the admin list cases that `bench/run.ts` measures in every run.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcrypt';
import { loadConfig } from '../src/config/load.js';
import { packageRoot } from '../src/paths.js';
import { createDatabase, type Database } from '../src/repositories/connection.js';
import { encodeCursor } from '../src/rpc/page.js';
import { accountRow } from './seed-rows.js';

const SMALL = 10_000;
/** Rows per INSERT: knex writes a multi-row INSERT for SQLite as a compound SELECT, at most 500 terms. */
const BATCH = { sqlite: 400, mysql: 1_000 } as const;
/** Rows per transaction of the bulk load: big enough to amortise the commit, small enough for the undo log. */
const PER_TRANSACTION = 50_000;
const DAY = 86_400_000;

/** `--scale=1m`, `--scale=250k`, `--scale=20000`: the row count asked for, or undefined. */
export function scaleArg(argv = process.argv): number | undefined {
  const raw = argv.find((a) => a.startsWith('--scale='))?.slice('--scale='.length);
  if (raw === undefined) return undefined;
  const match = /^(\d+(?:\.\d+)?)([km]?)$/i.exec(raw);
  if (!match) throw new Error(`--scale=${raw}: give a count such as 1m, 250k or 20000`);
  const n = Number(match[1]) * ({ k: 1e3, m: 1e6 }[match[2]?.toLowerCase() as 'k' | 'm'] ?? 1);
  if (n < SMALL * 2) throw new Error(`--scale must be at least ${SMALL * 2}`);
  return Math.round(n);
}

/** Its own connection, with statements as long as a bulk load or a deep OFFSET needs. */
function connect(url: string): Database {
  return createDatabase(loadConfig({ DATABASE_URL: url, DB_QUERY_TIMEOUT: '600s', JWT_SECRET: 'x'.repeat(48), DATA_DIR: tmpdir() }));
}

/** One admin list case: its name and the request body (sent with root's token). */
export interface ListCase {
  name: string;
  path: string;
  body: string;
}

/**
 * The admin lists as an operator pages them: the first page of accounts and of the audit log, a
 * page deep in each (after 90 % of the rows: 900,000 at 1M) by the cursor a walk there would have
 * been handed, and a prefix search. `loginPrefix` names at least a page of `bench/run.ts`'s logins.
 */
export async function listCases(databaseUrl: string, loginPrefix: string): Promise<ListCase[]> {
  const db = connect(databaseUrl);
  try {
    const { knex } = db;
    const accounts = Number(((await knex('accounts').count({ n: '*' })) as Array<{ n: number }>)[0]?.n);
    const events = Number(((await knex('audit_log').count({ n: '*' })) as Array<{ n: number }>)[0]?.n);
    const deepAccount = (await knex('accounts').orderBy('i_account').offset(Math.floor(accounts * 0.9)).first('i_account')) as { i_account: number };
    const deepEvent = (await knex('audit_log')
      .orderBy([
        { column: 'at', order: 'desc' },
        { column: 'i_event', order: 'desc' },
      ])
      .offset(Math.floor(events * 0.9))
      .first('at', 'i_event')) as { at: number; i_event: number } | undefined;
    const rest = (method: string) => `/rest/${method}`;
    const deep = (n: number) => `after ${Math.floor(n * 0.9).toLocaleString('en-US')} rows, by cursor`;
    return [
      { name: 'Account/get_account_list: first page', path: rest('Account/get_account_list'), body: '{}' },
      {
        name: `Account/get_account_list: ${deep(accounts)}`,
        path: rest('Account/get_account_list'),
        body: JSON.stringify({ cursor: encodeCursor('id', [Number(deepAccount.i_account)]) }),
      },
      { name: 'Account/get_account_list: login_prefix', path: rest('Account/get_account_list'), body: JSON.stringify({ login_prefix: loginPrefix }) },
      { name: 'AuditLog/get_event_list: first page', path: rest('AuditLog/get_event_list'), body: '{}' },
      // No audit rows yet (the cluster bench seeds before any replica has written one): no deep page to ask for.
      ...(deepEvent
        ? [
            {
              name: `AuditLog/get_event_list: ${deep(events)}`,
              path: rest('AuditLog/get_event_list'),
              body: JSON.stringify({ cursor: encodeCursor('at', [Number(deepEvent.at), Number(deepEvent.i_event)]) }),
            },
          ]
        : []),
    ];
  } finally {
    await db.knex.destroy();
  }
}

async function count(db: Database, table: string): Promise<number> {
  return Number(((await db.knex(table).count({ n: '*' })) as Array<{ n: number }>)[0]?.n);
}

/** Inserts `n` rows made by `row(i)` in multi-row INSERTs, a transaction per PER_TRANSACTION rows. */
async function bulk(db: Database, table: string, n: number, row: (i: number) => Record<string, unknown>, label: string): Promise<void> {
  const started = Date.now();
  for (let done = 0; done < n; ) {
    const upto = Math.min(n, done + PER_TRANSACTION);
    await db.knex.transaction(async (trx) => {
      const batch = BATCH[db.dialect];
      for (let i = done; i < upto; i += batch) {
        const rows = [];
        for (let j = i; j < Math.min(upto, i + batch); j++) rows.push(row(j));
        await trx(table).insert(rows);
      }
    });
    done = upto;
    process.stdout.write(`\r  ${label}: ${done.toLocaleString('en-US')} / ${n.toLocaleString('en-US')} (${Math.round((Date.now() - started) / 1000)} s)`);
  }
  if (n > 0) process.stdout.write('\n');
}

/**
 * Grows the tables to `accounts`, `audit` and `sessions` rows. Ids and keys are generated in
 * ascending order (a bulk load is then an append to every B-tree); what the service looks up
 * by key costs the same whatever order the keys were inserted in.
 */
async function grow(db: Database, target: { accounts: number; audit: number; sessions: number }, hash: string, run: string): Promise<void> {
  const { knex } = db;
  const now = Date.now();
  const missing = {
    accounts: Math.max(0, target.accounts - (await count(db, 'accounts'))),
    audit: Math.max(0, target.audit - (await count(db, 'audit_log'))),
    sessions: Math.max(0, target.sessions - (await count(db, 'sessions'))),
  };
  // 1,000 accounts per customer, as a billing platform's customers hold a few or many.
  const customerCount = Math.max(1, Math.ceil(missing.accounts / 1_000));
  const [first] = (await knex('customers').insert({
    login: `scale-${run}-co-0`,
    login_key: `scale-${run}-co-0`,
    customer_type: 'retail',
    two_factor_auth: 'inherit',
    created_at: now,
    updated_at: now,
  })) as number[];
  await bulk(
    db,
    'customers',
    customerCount - 1,
    (i) => ({ login: `scale-${run}-co-${i + 1}`, login_key: `scale-${run}-co-${i + 1}`, customer_type: 'retail', two_factor_auth: 'inherit', created_at: now, updated_at: now }),
    'customers',
  );
  const customers = (await knex('customers').where('i_customer', '>=', Number(first)).orderBy('i_customer').pluck('i_customer')) as number[];
  const pad = (i: number) => String(i).padStart(7, '0');
  await bulk(
    db,
    'accounts',
    missing.accounts,
    (i) => accountRow(`scale-${run}-${pad(i)}`, customers[Math.floor(i / 1_000)], hash, now, 'inherit'),
    'accounts',
  );
  const accountIds = (await knex('accounts').max({ max: 'i_account' }).min({ min: 'i_account' })) as Array<{ max: number; min: number }>;
  const { min, max } = { min: Number(accountIds[0]?.min ?? 1), max: Number(accountIds[0]?.max ?? 1) };
  const accountOf = (i: number) => min + ((i * 7919) % (max - min + 1));
  // A month of history before the service's own rows, in time order like a real log.
  const start = now - 30 * DAY;
  const step = (30 * DAY) / Math.max(1, missing.audit);
  const kinds = ['login.success', 'login.success', 'login.success', 'session.refresh', 'login.failure', 'account.update'];
  await bulk(
    db,
    'audit_log',
    missing.audit,
    (i) => {
      const event = kinds[i % kinds.length] as string;
      return {
        at: Math.floor(start + i * step),
        event,
        actor_realm: event === 'account.update' ? 'admin' : 'account',
        actor_id: event === 'account.update' ? 1 : accountOf(i),
        session_id: null,
        realm: 'account',
        entity: 'account',
        entity_id: accountOf(i),
        ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
        details: null,
      };
    },
    'audit rows',
  );
  // Sessions of the past month: most have ended (expired or logged out), as in a live system.
  const sessionStep = (30 * DAY) / Math.max(1, missing.sessions);
  const hex = (i: number) => i.toString(16).padStart(12, '0');
  await bulk(
    db,
    'sessions',
    missing.sessions,
    (i) => {
      const created = Math.floor(start + i * sessionStep);
      return {
        id: `5ca1e000-${run.slice(0, 4).padStart(4, '0')}-4000-8000-${hex(i)}`,
        realm: 'account',
        principal_id: accountOf(i),
        amr: '["pwd"]',
        restricted: false,
        ip: '10.0.0.1',
        user_agent: 'bench-scale',
        created_at: created,
        last_seen_at: created + 60_000,
        expires_at: created + DAY,
        revoked_at: i % 3 === 0 ? created + 120_000 : null,
        revoke_reason: i % 3 === 0 ? 'logout' : null,
      };
    },
    'sessions',
  );
  if (db.dialect === 'mysql') for (const t of ['accounts', 'customers', 'audit_log', 'sessions']) await knex.raw('ANALYZE TABLE ??', [t]);
  else await knex.raw('ANALYZE');
}

/** Bytes the database takes: the SQLite file with its WAL, or InnoDB's data and indexes. */
async function databaseBytes(db: Database, url: string): Promise<number> {
  if (db.dialect === 'sqlite') {
    const file = url.slice('sqlite:'.length);
    return [file, `${file}-wal`].filter((f) => existsSync(f)).reduce((s, f) => s + statSync(f).size, 0);
  }
  const [rows] = (await db.knex.raw('SELECT SUM(data_length + index_length) AS bytes FROM information_schema.tables WHERE table_schema = DATABASE()')) as [
    Array<{ bytes: number | string }>,
  ];
  return Number(rows[0]?.bytes ?? 0);
}

interface Snapshot {
  rows: Record<string, number>;
  bytes: number;
}

async function snapshot(url: string): Promise<Snapshot> {
  const db = connect(url);
  try {
    const rows: Record<string, number> = {};
    for (const t of ['accounts', 'audit_log', 'sessions']) rows[t] = await count(db, t);
    return { rows, bytes: await databaseBytes(db, url) };
  } finally {
    await db.knex.destroy();
  }
}

interface Case {
  case: string;
  measure: { requests_per_sec: number; latency_p50_ms?: number; latency_p99_ms?: number; errors?: number; non_2xx?: number };
  ratio: number;
}

/** `bench/run.ts` on this database, its results as it writes them (BENCH_RESULT_FILE). */
function phase(url: string, dataDir: string, label: string): Promise<{ cases: Case[] }> {
  const resultFile = join(dataDir, `result-${label}.json`);
  const args = ['--import', 'tsx', 'bench/run.ts', ...process.argv.slice(2).filter((a) => !a.startsWith('--scale='))];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: packageRoot,
      env: { ...process.env, BENCH_DATABASE_URL: url, BENCH_DATA_DIR: dataDir, BENCH_RESULT_FILE: resultFile },
      stdio: 'inherit',
    });
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(readFileSync(resultFile, 'utf8')) as { cases: Case[] }) : reject(new Error(`bench/run.ts (${label}) exited ${code}`)),
    );
  });
}

/** A fresh, empty database for the run: MariaDB's is dropped and created, SQLite's is a new file. */
async function freshDatabase(dataDir: string): Promise<string> {
  const url = process.env.BENCH_DATABASE_URL;
  if (!url || url.startsWith('sqlite:')) return `sqlite:${join(dataDir, 'scale.sqlite')}`;
  const parsed = new URL(url);
  const name = parsed.pathname.slice(1);
  if (!/^\w+$/.test(name)) throw new Error(`BENCH_DATABASE_URL must name a database of its own (got "${name}"): it is dropped and created`);
  const server = new URL(url);
  server.pathname = '/';
  const db = connect(server.toString().replace(/\/$/, ''));
  try {
    await db.knex.raw(`DROP DATABASE IF EXISTS \`${name}\``);
    await db.knex.raw(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`);
  } finally {
    await db.knex.destroy();
  }
  return url;
}

/** An access token of root (BOOTSTRAP_ADMIN_PASSWORD of bench/run.ts), for the admin list cases. */
export async function rootToken(baseUrl: string, password: string): Promise<string> {
  const res = await fetch(`${baseUrl}/rest/Session/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ login: 'root', password, realm: 'admin' }),
  });
  const body = (await res.json()) as { access_token?: string };
  if (!body.access_token) throw new Error(`root login answered ${res.status}: ${JSON.stringify(body)}`);
  return body.access_token;
}

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);

export async function runScaled(target: number): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'billing-auth-scale-'));
  const url = await freshDatabase(dataDir);
  const storage = url.startsWith('sqlite:') ? 'sqlite' : 'mariadb';
  console.log(`billing-auth benchmark at ${SMALL.toLocaleString('en-US')} and ${target.toLocaleString('en-US')} rows on ${storage}`);
  const hash = await bcrypt.hash('Scale-pass-1', 12);
  const timings: Record<string, number> = {};
  try {
    const db = connect(url);
    try {
      await db.migrate();
      const t = Date.now();
      await grow(db, { accounts: 0, audit: SMALL, sessions: SMALL }, hash, 'a');
      timings.seed_small_s = (Date.now() - t) / 1000;
    } finally {
      await db.knex.destroy();
    }
    const small = await phase(url, dataDir, 'small');
    const smallSize = await snapshot(url);

    const grower = connect(url);
    try {
      const t = Date.now();
      console.log(`growing to ${target.toLocaleString('en-US')} rows...`);
      // run.ts adds its own 10,000 accounts (and a few thousand sessions and audit rows) next.
      await grow(grower, { accounts: target - SMALL, audit: target - SMALL, sessions: target - SMALL }, hash, 'b');
      timings.seed_large_s = (Date.now() - t) / 1000;
    } finally {
      await grower.knex.destroy();
    }
    const large = await phase(url, dataDir, 'large');
    const largeSize = await snapshot(url);
    report(storage, target, small.cases, large.cases, smallSize, largeSize, timings);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function report(storage: string, target: number, small: Case[], large: Case[], smallSize: Snapshot, largeSize: Snapshot, timings: Record<string, number>): void {
  const fmt = (n: number | undefined, d = 0) => (n === undefined || Number.isNaN(n) ? '-' : n.toFixed(d));
  const key = (c: string) => c.replace(/after [\d,]+ rows/, 'after 90 % of the rows');
  const bigLabel = target >= 1e6 ? `${target / 1e6}M` : `${target / 1e3}k`;
  const lines = [
    `| case | 10k req/s | 10k p50 ms | 10k p99 ms | ${bigLabel} req/s | ${bigLabel} p50 ms | ${bigLabel} p99 ms | p50 ${bigLabel} / 10k | target ≤ 1.5 |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const s of small) {
    const l = large.find((c) => key(c.case) === key(s.case));
    const p50s = s.measure.latency_p50_ms;
    const p50l = l?.measure.latency_p50_ms;
    const growth = p50s !== undefined && p50l !== undefined ? Math.max(p50l, 1) / Math.max(p50s, 1) : Number.NaN;
    const baselineRow = s.case.startsWith('baseline') || s.case.startsWith('bcrypt bound');
    const verdict = baselineRow || Number.isNaN(growth) ? '-' : growth <= 1.5 ? 'met' : 'MISSED';
    lines.push(
      `| ${key(s.case)} | ${fmt(s.measure.requests_per_sec)} | ${fmt(p50s)} | ${fmt(s.measure.latency_p99_ms)} | ${fmt(l?.measure.requests_per_sec)} | ${fmt(p50l)} | ${fmt(l?.measure.latency_p99_ms)} | ${fmt(growth, 2)} | ${verdict} |`,
    );
  }
  const rows = (s: Snapshot) => Object.entries(s.rows).map(([t, n]) => `${t} ${n.toLocaleString('en-US')}`).join(', ');
  const summary = [
    `storage: ${storage}`,
    `at 10k: ${rows(smallSize)}; database ${mb(smallSize.bytes)} MB`,
    `at ${bigLabel}: ${rows(largeSize)}; database ${mb(largeSize.bytes)} MB`,
    `bulk seeding: ${fmt(timings.seed_small_s)} s to 10k, ${fmt(timings.seed_large_s)} s to ${bigLabel} (bench/scale.ts; plus bench/run.ts's own 10k accounts each time)`,
    'p50 ratio: the 1M p50 over the 10k p50 (a p50 under 1 ms counts as 1 ms)',
  ];
  console.log(`\n${lines.join('\n')}\n\n${summary.join('\n')}`);
  mkdirSync(join(packageRoot, 'bench', 'results'), { recursive: true });
  writeFileSync(join(packageRoot, 'bench', 'results', `latest-scale-${storage}.md`), `${lines.join('\n')}\n\n${summary.map((s) => `- ${s}`).join('\n')}\n`);
  writeFileSync(
    join(packageRoot, 'bench', 'results', `${new Date().toISOString().replace(/[:.]/g, '-')}-scale-${storage}.json`),
    JSON.stringify({ storage, target, small, large, smallSize, largeSize, timings }, null, 2),
  );
}
