import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { describeEachDatabase } from '../helpers/app.js';
import { call, firstLogin, login, loginRoot, rest } from '../helpers/rpc.js';

type Page = Record<string, unknown> & { next_cursor: string | null; total?: number };

/** Every row of a list, page by page through next_cursor; between pages `between(n)` may change the table. */
async function walk(
  get: (params: Record<string, unknown>) => Promise<Page>,
  listField: string,
  params: Record<string, unknown>,
  between: (pageNo: number) => Promise<void> = async () => undefined,
): Promise<{ rows: Array<Record<string, unknown>>; pages: number }> {
  const rows: Array<Record<string, unknown>> = [];
  let cursor: string | undefined;
  let pages = 0;
  for (;;) {
    const page = await get({ ...params, ...(cursor ? { cursor } : {}) });
    pages++;
    assert.equal(page.total, undefined, 'no total unless with_total');
    rows.push(...(page[listField] as Array<Record<string, unknown>>));
    if (page.next_cursor === null) return { rows, pages };
    assert.equal(typeof page.next_cursor, 'string');
    cursor = page.next_cursor;
    await between(pages);
  }
}

async function expectCursorRefused(answer: Promise<{ status: number; body: Record<string, unknown> }>) {
  const { status, body } = await answer;
  assert.equal(status, 400, JSON.stringify(body));
  assert.equal(body.faultcode, 'Client.Request.invalid_params');
  const errors = body.errors as Array<{ path: string }>;
  assert.ok(errors.some((e) => e.path === '/cursor'), JSON.stringify(body));
}

describeEachDatabase('list paging by cursor', (get) => {
  let root: string;
  let customer: number;
  let other: number;
  const accounts = (params: Record<string, unknown>) => call<Page>(get().app, 'Account/get_account_list', params, root);

  before(async () => {
    const { app } = get();
    root = await loginRoot(app);
    customer = (await call(app, 'Customer/add_customer', { login: 'paging-co' }, root)).i_customer as number;
    other = (await call(app, 'Customer/add_customer', { login: 'paging-other' }, root)).i_customer as number;
    // Logins whose key order differs from their id order, so the two orders are both exercised.
    for (let i = 0; i < 23; i++) {
      await call(app, 'Account/add_account', { login: `pg-${String((i * 7) % 23).padStart(2, '0')}`, i_customer: i % 3 === 0 ? other : customer }, root);
    }
  });

  test('every account exactly once, by id, in pages of limit; total only with with_total', async () => {
    const all = await accounts({ limit: 1000, with_total: true });
    const ids = (all.account_list as Array<{ i_account: number }>).map((a) => a.i_account);
    assert.equal(all.total, ids.length);
    assert.equal(all.next_cursor, null);
    const { rows, pages } = await walk(accounts, 'account_list', { limit: 5 });
    assert.deepEqual(
      rows.map((r) => r.i_account),
      ids,
    );
    assert.equal(pages, Math.ceil(ids.length / 5));
    assert.deepEqual([...ids].sort((a, b) => a - b), ids, 'ordered by id');
  });

  test('a prefix search pages by login key, filtered by parent too', async () => {
    const { rows } = await walk(accounts, 'account_list', { login_prefix: 'PG-', limit: 4 });
    const logins = rows.map((r) => r.login as string);
    assert.equal(logins.length, 23);
    assert.deepEqual([...logins].sort(), logins, 'ordered by key');
    const mine = await walk(accounts, 'account_list', { login_prefix: 'pg-1', i_customer: customer, limit: 2 });
    const expected = (await accounts({ login_prefix: 'pg-1', limit: 1000 })).account_list as Array<{ login: string; i_customer: number }>;
    assert.deepEqual(
      mine.rows.map((r) => r.login),
      expected.filter((a) => a.i_customer === customer).map((a) => a.login),
    );
    assert.ok(mine.rows.length > 0);
  });

  test('pages stay stable when rows are added and removed between them', async () => {
    const { app } = get();
    const before = ((await accounts({ limit: 1000 })).account_list as Array<{ i_account: number }>).map((a) => a.i_account);
    let added = 0;
    // A row added at the end while paging shows up once; a row added before the cursor never shifts a page.
    const { rows } = await walk(accounts, 'account_list', { limit: 4 }, async () => {
      await call(app, 'Account/add_account', { login: `pg-new-${added++}`, i_customer: customer }, root);
    });
    const seen = rows.map((r) => r.i_account as number);
    assert.equal(new Set(seen).size, seen.length, 'no row twice');
    for (const id of before) assert.ok(seen.includes(id), `row ${id} was not skipped`);

    const byKey = await walk(accounts, 'account_list', { login_prefix: 'pg-', limit: 3 }, async (n) => {
      // Sorts before every cursor ('pg-0...'): with offset paging it would shift the next page back by one.
      await call(app, 'Account/add_account', { login: `pg-!${n}`, i_customer: customer }, root);
    });
    const keys = byKey.rows.map((r) => r.login as string);
    assert.equal(new Set(keys).size, keys.length, 'no row twice');
    for (let i = 0; i < 23; i++) assert.ok(keys.includes(`pg-${String(i).padStart(2, '0')}`));
  });

  test('the audit log pages newest first and new events do not shift later pages', async () => {
    const { app } = get();
    const events = (params: Record<string, unknown>) => call<Page>(app, 'AuditLog/get_event_list', params, root);
    const all = await events({ event: 'account.add', limit: 1000, with_total: true });
    const ids = (all.event_list as Array<{ i_event: number }>).map((e) => e.i_event);
    assert.equal(all.total, ids.length);
    let n = 0;
    const { rows } = await walk(events, 'event_list', { event: 'account.add', limit: 4 }, async () => {
      get().clock.advance(1);
      await call(app, 'Account/add_account', { login: `pg-audit-${n++}`, i_customer: customer }, root);
    });
    assert.deepEqual(
      rows.map((r) => r.i_event),
      ids,
      'exactly the events there were when paging began (new ones are newer: before the first page)',
    );
    const byEntity = await walk(events, 'event_list', { entity: 'account', realm: 'account', limit: 3 });
    const ats = byEntity.rows.map((r) => Date.parse(r.at as string));
    assert.deepEqual([...ats].sort((a, b) => b - a), ats, 'newest first');
  });

  test('sessions and portal clients page by cursor too', async () => {
    const { app } = get();
    await call(app, 'Account/add_account', { login: 'pg-sessions', i_customer: customer, password: 'Paging-pass-1' }, root);
    await firstLogin(app, 'account', 'pg-sessions', 'Paging-pass-1');
    let token = '';
    for (let i = 0; i < 5; i++) {
      get().clock.advance(1000);
      token = await login(app, 'account', 'pg-sessions', 'Paging-pass-1Z');
    }
    const listSessions = (p: Record<string, unknown>) => call<Page>(app, 'Session/get_session_list', p, token);
    const all = await listSessions({ limit: 1000, with_total: true });
    assert.ok((all.total as number) >= 5);
    const sessions = await walk(listSessions, 'session_list', { limit: 2 });
    assert.deepEqual(sessions.rows, all.session_list);
    const created = sessions.rows.map((r) => Date.parse(r.created_at as string));
    assert.deepEqual([...created].sort((a, b) => b - a), created, 'newest first');

    for (let i = 0; i < 4; i++) await call(app, 'PortalClient/add_portal_client', { name: `paging ${i}` }, root);
    const clients = await walk((p) => call<Page>(app, 'PortalClient/get_portal_client_list', p, root), 'portal_client_list', { limit: 3 });
    assert.equal(clients.rows.length, 4);
  });

  test('a cursor that is not one of this list is refused and changes nothing', async () => {
    const { app } = get();
    const page = await accounts({ limit: 2 });
    const byKey = await accounts({ login_prefix: 'pg', limit: 2 });
    const tamper = (cursor: string, edit: (key: unknown[]) => unknown) =>
      Buffer.from(JSON.stringify(edit(JSON.parse(Buffer.from(cursor, 'base64url').toString()) as unknown[]))).toString('base64url');
    const id = page.next_cursor as string;
    for (const cursor of [
      'bm90IGpzb24', // "not json"
      tamper(id, () => ['id', 'one']),
      tamper(id, (k) => [...k, 7]),
      tamper(id, () => ({ id: 1 })),
      tamper(id, () => ['id', 1.5]),
      byKey.next_cursor as string, // a prefix search's cursor, on the list by id
    ]) {
      await expectCursorRefused(rest(app, 'Account/get_account_list', { cursor }, root));
    }
    await expectCursorRefused(rest(app, 'Account/get_account_list', { login_prefix: 'pg', cursor: id }, root));
    await expectCursorRefused(rest(app, 'Account/get_account_list', { cursor: id, offset: 2 }, root));
    await expectCursorRefused(rest(app, 'AuditLog/get_event_list', { cursor: id }, root));
    // Not even the shape of a cursor: the schema refuses it.
    const bad = await rest(app, 'Account/get_account_list', { cursor: 'not a cursor!' }, root);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.faultcode, 'Client.Request.invalid_params');
    // offset still pages, as before.
    const third = await accounts({ limit: 1, offset: 2 });
    const firstThree = await accounts({ limit: 3 });
    assert.deepEqual((third.account_list as unknown[])[0], (firstThree.account_list as unknown[])[2]);
  });
});
