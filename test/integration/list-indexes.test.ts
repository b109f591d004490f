import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { Knex } from 'knex';
import { ENTITIES } from '../../src/entities/descriptors.js';
import { describeEachDatabase } from '../helpers/app.js';
import { call, loginRoot } from '../helpers/rpc.js';

/**
 * Every statement a list method runs is read from an index, in the list's order: proved with the
 * engine's own plan (SQLite `EXPLAIN QUERY PLAN`, MariaDB `EXPLAIN`) of the very statements the
 * methods ran, over tables big enough (and analyzed) that a planner would rather scan them if no
 * index served: no full scan where there is a condition, no sort of the rows (filesort, temp
 * B-tree). How fast that is at a million rows is measured by `npm run bench -- --scale=1m`.
 */
const ROWS = 3000;
const LIST_TABLES = ['users', 'customer_classes', 'customers', 'customer_individuals', 'accounts', 'representatives', 'vendors', 'audit_log', 'sessions', 'portal_clients'];

async function bulk(knex: Knex, table: string, rows: Array<Record<string, unknown>>): Promise<void> {
  for (let i = 0; i < rows.length; i += 200) await knex(table).insert(rows.slice(i, i + 200));
}

const principal = (prefix: string, i: number, now: number) => ({
  login: `${prefix}${i}`,
  login_key: `${prefix}${i}`,
  created_at: now,
  updated_at: now,
});

async function seed(knex: Knex, now: number, mysql: boolean): Promise<void> {
  const n = Array.from({ length: ROWS }, (_, i) => i);
  await bulk(knex, 'customer_classes', n.slice(0, 300).map((i) => ({ name: `ix-class-${i}`, login_key: `ix-class-${i}`, created_at: now, updated_at: now })));
  const classes = (await knex('customer_classes').pluck('i_customer_class')) as number[];
  await bulk(knex, 'customers', n.map((i) => ({ ...principal('ix-co-', i, now), customer_type: i < 50 ? 'reseller' : 'retail', i_customer_class: classes[i % 30] })));
  const customers = (await knex('customers').orderBy('i_customer').pluck('i_customer')) as number[];
  await knex('customers').where('i_customer', '>', customers[50] as number).update({ i_parent: knex.raw('? + (i_customer % 50)', [customers[0] as number]) });
  for (const table of ['accounts', 'customer_individuals']) {
    await bulk(knex, table, n.map((i) => ({ ...principal(`ix-${table}-`, i, now), i_customer: customers[i % 200] })));
  }
  for (const table of ['representatives', 'vendors']) await bulk(knex, table, n.map((i) => principal(`ix-${table}-`, i, now)));
  await bulk(knex, 'users', n.map((i) => ({ ...principal('ix-user-', i, now), permissions: '[]', password_hash: 'x', password_set_at: now })));
  const realms = ['account', 'customer', 'vendor', 'admin', 'representative', 'customer_individual'];
  await bulk(
    knex,
    'audit_log',
    n.map((i) => ({ at: now - ROWS + i, event: `ix.event${i % 40}`, realm: realms[i % realms.length], entity: realms[i % 5], entity_id: i % 100, actor_realm: 'admin', actor_id: 1 })),
  );
  await bulk(
    knex,
    'sessions',
    n.map((i) => ({ id: `ix-session-${String(i).padStart(6, '0')}`, realm: 'account', principal_id: i % 500, amr: '["pwd"]', created_at: now - i, last_seen_at: now, expires_at: now + 3_600_000 })),
  );
  await bulk(knex, 'portal_clients', n.map((i) => ({ portal_client_id: `pc_${i.toString(16).padStart(16, "0")}`, name: `ix ${i}`, secret_hash: 'x', created_at: now - i, revoked_at: i % 3 ? null : now })));
  for (const table of LIST_TABLES) await knex.raw(mysql ? 'ANALYZE TABLE ??' : 'ANALYZE ??', [table]);
}

interface Plan {
  sql: string;
  bindings: readonly Knex.RawBinding[];
  plan: unknown[];
}

/** What is wrong with a statement's plan, if anything. */
function problems(engine: 'sqlite' | 'mariadb', { sql, plan }: Plan): string[] {
  const found: string[] = [];
  if (engine === 'sqlite') {
    for (const { detail } of plan as Array<{ detail: string }>) {
      if (/TEMP B-TREE/.test(detail)) found.push(`sorts: ${detail}`);
      // A bare SCAN reads the table in rowid (primary key) order: fine for an unfiltered first page.
      if (/^SCAN \w+$/.test(detail) && / where /i.test(sql)) found.push(`scans the table: ${detail}`);
    }
  } else {
    for (const row of plan as Array<{ type: string; key: string | null; Extra: string | null }>) {
      if (row.type === 'ALL') found.push('full table scan');
      if (row.key === null && row.type !== 'const') found.push('no index');
      if (/filesort|temporary/i.test(row.Extra ?? '')) found.push(`sorts: ${row.Extra}`);
    }
  }
  return found;
}

describeEachDatabase('list queries use an index', (get, target) => {
  let root: string;
  const ran: Array<{ sql: string; bindings: readonly Knex.RawBinding[] }> = [];

  before(async () => {
    const { app } = get();
    root = await loginRoot(app);
    await seed(app.db.knex, app.clock.now(), target === 'mariadb');
    app.db.knex.on('query', (q: { sql: string; bindings?: readonly Knex.RawBinding[] }) => {
      const sql = q.sql.toLowerCase();
      if (sql.startsWith('select') && LIST_TABLES.some((t) => sql.includes(`from \`${t}\``) || sql.includes(`from "${t}"`))) {
        if (sql.includes('order by') || sql.includes('count(')) ran.push({ sql: q.sql, bindings: q.bindings ?? [] });
      }
    });
  });

  /** Calls a list method: first page (with total), then the page its cursor names. */
  async function pages(method: string, params: Record<string, unknown>, token = root): Promise<void> {
    const { app } = get();
    const first = await call<{ next_cursor: string | null }>(app, method, { ...params, limit: 10, with_total: true }, token);
    assert.ok(first.next_cursor, `${method} ${JSON.stringify(params)} has a second page`);
    await call(app, method, { ...params, limit: 10, cursor: first.next_cursor }, token);
  }

  test('every list method, with each documented filter, first page and by cursor', async () => {
    const { app } = get();
    const knex = app.db.knex;
    const { i_customer_class: cls } = (await knex('customer_classes').where('login_key', 'ix-class-0').first('i_customer_class')) as { i_customer_class: number };
    const { i_customer: parent } = (await knex('customers').where('login_key', 'ix-co-1').first('i_customer')) as { i_customer: number };
    const { i_customer: owner } = (await knex('accounts').where('login_key', 'ix-accounts-0').first('i_customer')) as { i_customer: number };
    for (const d of ENTITIES) {
      const method = `${d.service}/get_${d.name}_list`;
      const prefixParam = `${d.keyField}_prefix`;
      const prefix = d.name === 'customer_class' ? 'ix-class-1' : d.name === 'customer' ? 'ix-co-1' : d.name === 'user' ? 'ix-user-1' : `ix-${d.table}-1`;
      await pages(method, {});
      await pages(method, { [prefixParam]: prefix.toUpperCase() });
      for (const r of d.references) {
        const id = r.field === 'i_customer_class' ? cls : r.field === 'i_parent' ? parent : owner;
        await pages(method, { [r.field]: id });
        await pages(method, { [r.field]: id, [prefixParam]: r.field === 'i_customer' ? `ix-${d.table}-` : 'ix-co-' });
      }
    }
    const from = new Date(app.clock.now() - ROWS / 2).toISOString();
    const to = new Date(app.clock.now() - 10).toISOString();
    for (const filter of [
      {},
      { realm: 'vendor' },
      { entity: 'account' },
      { entity: 'account', entity_id: 10 },
      { event: 'ix.event3' },
      { from, to },
      { realm: 'customer', from },
      { event: 'ix.event3', to },
    ]) {
      await pages('AuditLog/get_event_list', filter);
    }
    await pages('PortalClient/get_portal_client_list', {});
    await pages('PortalClient/get_portal_client_list', { include_revoked: true });

    const checked: Plan[] = [];
    for (const q of ran.splice(0)) {
      const plan = target === 'sqlite' ? await knex.raw(`EXPLAIN QUERY PLAN ${q.sql}`, q.bindings) : ((await knex.raw(`EXPLAIN ${q.sql}`, q.bindings)) as [unknown[]])[0];
      checked.push({ ...q, plan: plan as unknown[] });
    }
    const bad = checked.map((p) => ({ sql: p.sql, bindings: p.bindings, plan: p.plan, problems: problems(target, p) })).filter((p) => p.problems.length > 0);
    assert.deepEqual(bad, [], JSON.stringify(bad, null, 1));
    // Each list call ran (at least) its page statement: 2 pages per call, plus counts.
    assert.ok(checked.length >= 60, `checked ${checked.length} statements`);
  });

  test("a principal's session list is read from an index too", async () => {
    const { app } = get();
    // Root's own sessions, among the 3,000 seeded for accounts.
    for (let i = 0; i < 11; i++) await loginRoot(app);
    const token = await loginRoot(app);
    await pages('Session/get_session_list', {}, token);
    const knex = app.db.knex;
    const statements = ran.splice(0).filter((q) => q.sql.includes('sessions'));
    assert.ok(statements.length >= 3);
    for (const q of statements) {
      const plan = target === 'sqlite' ? await knex.raw(`EXPLAIN QUERY PLAN ${q.sql}`, q.bindings) : ((await knex.raw(`EXPLAIN ${q.sql}`, q.bindings)) as [unknown[]])[0];
      assert.deepEqual(problems(target, { ...q, plan: plan as unknown[] }), [], JSON.stringify({ q, plan }));
    }
  });
});
