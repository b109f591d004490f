import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { buildTestApp, describeEachDatabase, describeEachGuardStore, ROOT_PASSWORD, type TestApp } from '../helpers/app.js';
import { migrationSource } from '../../db/migrations/index.js';
import { lastEvent, newPortalClient, restVia, rpcVia, storedState } from '../helpers/portal.js';
import { call, firstLogin, loginRoot, rest } from '../helpers/rpc.js';

const PASSWORD = 'Portal-pass1';
const USERS = 200;

/** `n` at a time, in order: a portal's users arrive together, not one by one. */
async function inParallel<T>(count: number, n: number, work: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array<T>(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await work(i);
      }
    }),
  );
  return results;
}

/** A distinct end-user address per index, IPv4 and IPv6 alike. */
const endUserIp = (i: number) => (i % 2 === 0 ? `203.0.113.${i % 250}` : `2001:db8::${i.toString(16)}`);

describeEachGuardStore(
  'portal clients: a portal signs in its users from one address',
  (get) => {
    let root: string;
    let portal: { id: string; credential: string };
    let customer: number;
    before(async () => {
      const t = get();
      root = await loginRoot(t.app);
      portal = await newPortalClient(t, root);
      customer = (await call<{ i_customer: number }>(t.app, 'Customer/add_customer', { login: 'portal-co' }, root)).i_customer;
      await inParallel(USERS, 4, (i) => call(t.app, 'Account/add_account', { login: `user-${i}`, i_customer: customer, password: PASSWORD }, root));
      await call(t.app, 'Account/add_account', { login: 'victim', i_customer: customer, password: PASSWORD }, root);
      await call(t.app, 'Account/add_account', { login: 'neighbour', i_customer: customer, password: PASSWORD }, root);
    });

    test(`${USERS} users signing in through one portal within a minute are not refused; without the credential its address is`, async () => {
      const t = get();
      const login = (i: number, password = PASSWORD) => ({ login: `user-${i}`, password, realm: 'account' });
      // Without a portal credential the portal's own address is one client: RATE_LIMIT_LOGIN stops it.
      const direct = [];
      for (let i = 0; i <= t.config.RATE_LIMIT_LOGIN; i++) direct.push(await restVia(t, 'Session/login', login(i), { from: '198.51.100.201' }));
      assert.deepEqual(
        direct.map((a) => a.status),
        [...Array<number>(t.config.RATE_LIMIT_LOGIN).fill(200), 429],
      );
      // Through the portal, each user counts under its own address, and every tenth types a wrong password first:
      // more failures than LOCKOUT_IP_THRESHOLD, more checks than RATE_LIMIT_LOGIN, all from one server, within one minute.
      const answers = await inParallel(USERS, 8, async (i) => {
        const via = { portal: portal.credential, endUserIp: endUserIp(i) };
        if (i % 10 === 0) assert.equal((await restVia(t, 'Session/login', login(i, 'Wrong-pass1'), via)).body.faultcode, 'Server.Session.auth_failed');
        return restVia(t, 'Session/login', login(i), via);
      });
      assert.ok(USERS / 10 > t.config.LOCKOUT_IP_THRESHOLD && USERS > t.config.RATE_LIMIT_LOGIN);
      for (const [i, answer] of answers.entries()) {
        assert.equal(answer.status, 200, `user-${i}: ${JSON.stringify(answer.body)}`);
        assert.equal(answer.body.status, 'password_change_required');
      }
      // The session and the audit log know the end user's address, and which portal vouched for it.
      const last = answers[USERS - 1]?.body as { session_id: string };
      const session = (await t.app.db.knex('sessions').where({ id: last.session_id }).first('ip')) as { ip: string };
      assert.equal(session.ip, endUserIp(USERS - 1));
      const account = (await call<{ account_info: { i_account: number } }>(t.app, 'Account/get_account_info', { login: `user-${USERS - 1}` }, root))
        .account_info;
      const events = await call<{ event_list: Array<Record<string, unknown>> }>(
        t.app,
        'AuditLog/get_event_list',
        { with_total: true, event: 'login.success', entity: 'account', entity_id: account.i_account },
        root,
      );
      assert.deepEqual(
        events.event_list.map((e) => [e.session_id, e.ip, e.portal_client_id, e.end_user_ip_ignored]),
        [[last.session_id, endUserIp(USERS - 1), portal.id, null]],
      );
    });

    test("one user's wrong passwords through the portal still lock that user, whatever addresses they come from", async () => {
      const t = get();
      for (let i = 0; i < t.config.LOCKOUT_THRESHOLD; i++) {
        const wrong = await restVia(
          t,
          'Session/login',
          { login: 'victim', password: 'Wrong-pass1', realm: 'account' },
          { portal: portal.credential, endUserIp: `192.0.2.${i + 1}` },
        );
        assert.equal(wrong.body.faultcode, 'Server.Session.auth_failed');
      }
      const right = await restVia(
        t,
        'Session/login',
        { login: 'victim', password: PASSWORD, realm: 'account' },
        { portal: portal.credential, endUserIp: '192.0.2.100' },
      );
      assert.deepEqual([right.status, right.body.faultcode], [429, 'Server.Session.cannot_login_brute_force_activity']);
      assert.ok(Number(right.body.retry_after) >= 1);
      const lockout = await lastEvent(t, root, 'login.lockout');
      assert.deepEqual([lockout.ip, lockout.portal_client_id], [`192.0.2.${t.config.LOCKOUT_THRESHOLD}`, portal.id]);
    });

    test("one end-user address's guesses through the portal still lock that address, and only it", async () => {
      const t = get();
      const guesser = { portal: portal.credential, endUserIp: '198.18.0.1' };
      for (let i = 0; i < t.config.LOCKOUT_IP_THRESHOLD; i++) {
        const wrong = await restVia(t, 'Session/login', { login: `nobody-${i}`, password: 'Wrong-pass1', realm: 'account' }, guesser);
        assert.equal(wrong.body.faultcode, 'Server.Session.auth_failed');
      }
      const fromGuesser = await restVia(t, 'Session/login', { login: 'neighbour', password: PASSWORD, realm: 'account' }, guesser);
      assert.deepEqual([fromGuesser.status, fromGuesser.body.faultcode], [429, 'Server.Session.cannot_login_brute_force_activity']);
      // The same user from another end user's address, through the same portal, signs in.
      const elsewhere = await restVia(
        t,
        'Session/login',
        { login: 'neighbour', password: PASSWORD, realm: 'account' },
        { ...guesser, endUserIp: '198.18.0.2' },
      );
      assert.equal(elsewhere.status, 200, JSON.stringify(elsewhere.body));
    });

    test('one end-user address through the portal is held to RATE_LIMIT_LOGIN', async () => {
      const t = get();
      const via = { portal: portal.credential, endUserIp: '198.18.0.3' };
      const answers = [];
      for (let i = 0; i <= t.config.RATE_LIMIT_LOGIN; i++) {
        answers.push(await restVia(t, 'Session/login', { login: `user-${i}`, password: PASSWORD, realm: 'account' }, via));
      }
      assert.deepEqual(
        answers.map((a) => a.status),
        [...Array<number>(t.config.RATE_LIMIT_LOGIN).fill(200), 429],
      );
      assert.equal(answers.at(-1)?.body.faultcode, 'Client.Request.rate_limited');
    });
  },
  { RATE_LIMIT_LOGIN: 20, LOCKOUT_IP_THRESHOLD: 3, PORTAL_RATE_LIMIT: 1000 },
);

describeEachGuardStore(
  "portal clients: the portal's own limit",
  (get) => {
    test('PORTAL_RATE_LIMIT bounds the checks through one portal client over all the addresses it names', async () => {
      const t = get();
      const root = await loginRoot(t.app);
      const portal = await newPortalClient(t, root, 'Busy portal');
      const other = await newPortalClient(t, root, 'Quiet portal');
      const guess = (i: number) => ({ login: `nobody-${i}`, password: 'Wrong-pass1', realm: 'account' });
      for (let i = 0; i < t.config.PORTAL_RATE_LIMIT; i++) {
        // With or without an end-user address, a check through the portal counts for it.
        const via = i === 0 ? { portal: portal.credential } : { portal: portal.credential, endUserIp: `203.0.113.${i}` };
        assert.equal((await restVia(t, 'Session/login', guess(i), via)).body.faultcode, 'Server.Session.auth_failed');
      }
      const before = await restVia(
        t,
        'Session/login',
        { login: 'root', password: ROOT_PASSWORD, realm: 'admin' },
        { portal: portal.credential, endUserIp: '203.0.113.99' },
      );
      assert.deepEqual([before.status, before.body.faultcode], [429, 'Client.Request.rate_limited']);
      assert.match(String(before.body.faultstring), /PORTAL_RATE_LIMIT/);
      const retryAfter = Number(before.body.retry_after);
      assert.ok(retryAfter >= 1 && retryAfter <= 60, String(retryAfter));
      const overRpc = await rpcVia(t, 'Session/login', guess(99), { portal: portal.credential, endUserIp: '203.0.113.98' });
      assert.equal(overRpc.error?.code, -32029);
      assert.equal(overRpc.error?.data.faultcode, 'Client.Request.rate_limited');
      assert.ok(Number(overRpc.error?.data.retry_after) >= 1);
      // Another portal client has a window of its own.
      const quiet = await restVia(
        t,
        'Session/login',
        { login: 'root', password: ROOT_PASSWORD, realm: 'admin' },
        { portal: other.credential, endUserIp: '203.0.113.99' },
      );
      assert.equal(quiet.status, 200);
      // The next minute the portal is let through again.
      t.clock.advance(retryAfter * 1000);
      const later = await restVia(
        t,
        'Session/login',
        { login: 'root', password: ROOT_PASSWORD, realm: 'admin' },
        { portal: portal.credential, endUserIp: '203.0.113.99' },
      );
      assert.equal(later.status, 200);
    });
  },
  { PORTAL_RATE_LIMIT: 5 },
);

describeEachGuardStore(
  'portal clients: credentials and headers',
  (get, target) => {
    let root: string;
    before(async () => {
      root = await loginRoot(get().app);
    });
    const rootLogin = { login: 'root', password: ROOT_PASSWORD, realm: 'admin' };

    test('X-End-User-IP without a portal credential is ignored and recorded on the audit rows as ignored', async () => {
      const t = get();
      const caller = '198.51.100.50';
      const answers = [];
      for (let i = 0; i <= t.config.RATE_LIMIT_LOGIN; i++) {
        answers.push(
          await restVia(
            t,
            'Session/login',
            { login: `nobody-${i}`, password: 'Wrong-pass1', realm: 'admin' },
            { from: caller, endUserIp: `203.0.113.${i + 1}` },
          ),
        );
      }
      // A fresh end-user address each time did not give the caller fresh counters.
      assert.deepEqual(
        answers.map((a) => a.body.faultcode),
        [...Array<string>(t.config.RATE_LIMIT_LOGIN).fill('Server.Session.auth_failed'), 'Client.Request.rate_limited'],
      );
      const failure = await lastEvent(t, root, 'login.failure');
      assert.deepEqual([failure.ip, failure.portal_client_id, failure.end_user_ip_ignored], [caller, null, `203.0.113.${t.config.RATE_LIMIT_LOGIN}`]);
      // What the header held is recorded as sent (at most 64 characters), whatever it is.
      t.clock.advance(60_000);
      await restVia(
        t,
        'Session/login',
        { login: 'nobody', password: 'Wrong-pass1', realm: 'admin' },
        { from: caller, endUserIp: `not-an-ip-${'x'.repeat(100)}` },
      );
      const odd = await lastEvent(t, root, 'login.failure');
      assert.deepEqual([odd.ip, odd.end_user_ip_ignored], [caller, `not-an-ip-${'x'.repeat(54)}`]);
      assert.ok(t.logs.some((line) => line.includes('X-End-User-IP ignored')));
    });

    test('a wrong, unknown, revoked or malformed portal credential is refused alike and changes nothing', async () => {
      const t = get();
      const live = await newPortalClient(t, root, 'Live portal');
      const revoked = await newPortalClient(t, root, 'Old portal');
      await call(t.app, 'PortalClient/revoke_portal_client', { portal_client_id: revoked.id }, root);
      const otherSecret = (await newPortalClient(t, root, 'Other portal')).secret;
      const credentials = [
        `${live.id}:${otherSecret}`,
        `${live.id}:${live.secret.slice(0, -1)}${live.secret.endsWith('A') ? 'B' : 'A'}`,
        `pc_0000000000000000:${live.secret}`,
        `${live.id.toUpperCase()}:${live.secret}`,
        revoked.credential,
        `${live.id}:`,
        `:${live.secret}`,
        live.secret,
        `${live.credential}:${live.secret}`,
        `Bearer ${live.credential}`,
        'x'.repeat(5000),
      ];
      const state = await storedState(t);
      const faultstrings = new Set<string>();
      for (const credential of credentials) {
        // The right root password, so that only the credential can have refused it.
        const answer = await restVia(t, 'Session/login', rootLogin, { portal: credential, endUserIp: '203.0.113.7' });
        assert.deepEqual([answer.status, answer.body.faultcode], [401, 'Server.Session.portal_client_auth_failed'], credential.slice(0, 40));
        assert.deepEqual(Object.keys(answer.body).sort(), ['faultcode', 'faultstring']);
        faultstrings.add(String(answer.body.faultstring));
        const overRpc = await rpcVia(t, 'Session/login', rootLogin, { portal: credential });
        assert.deepEqual([overRpc.error?.code, overRpc.error?.data.faultcode], [-32001, 'Server.Session.portal_client_auth_failed']);
      }
      assert.equal(faultstrings.size, 1, 'no hint which part was wrong');
      assert.deepEqual(await storedState(t), state);
      assert.ok(!t.logs.some((line) => line.includes(live.secret)), 'the secret never reaches the log');
      // The right one still works.
      assert.equal((await restVia(t, 'Session/login', rootLogin, { portal: live.credential, endUserIp: '203.0.113.7' })).status, 200);
    });

    test('a revocation is refused at once by every replica', async () => {
      const t = get();
      const portal = await newPortalClient(t, root, 'Revoked soon');
      const replica = await buildTestApp(target, {}, t.db);
      try {
        const on = (app: TestApp) => restVia(app, 'Session/ping', {}, { portal: portal.credential, endUserIp: '203.0.113.8', token: root });
        assert.equal((await on(replica)).status, 200);
        await call(t.app, 'PortalClient/revoke_portal_client', { portal_client_id: portal.id }, root);
        const after = await on(replica);
        assert.deepEqual([after.status, after.body.faultcode], [401, 'Server.Session.portal_client_auth_failed']);
      } finally {
        await replica.app.close();
      }
    });

    test('a malformed end-user IP is refused with a clear fault and changes nothing; valid ones are stored in one spelling', async () => {
      const t = get();
      const portal = await newPortalClient(t, root, 'Strict portal');
      const state = await storedState(t);
      for (const value of ['garbage', '', '203.0.113.1, 203.0.113.2', '01.02.03.04', '203.0.113.1:443', '203.0.113.0/24', '[2001:db8::1]', 'x'.repeat(1000)]) {
        const answer = await restVia(t, 'Session/login', rootLogin, { portal: portal.credential, endUserIp: value });
        assert.deepEqual([answer.status, answer.body.faultcode], [400, 'Client.Request.invalid_end_user_ip'], value.slice(0, 40));
        assert.match(String(answer.body.faultstring), /X-End-User-IP/);
        const overRpc = await rpcVia(t, 'Session/login', rootLogin, { portal: portal.credential, endUserIp: value });
        assert.deepEqual([overRpc.error?.code, overRpc.error?.data.faultcode], [-32600, 'Client.Request.invalid_end_user_ip']);
      }
      assert.deepEqual(await storedState(t), state);
      for (const [sent, stored] of [
        ['::ffff:198.51.100.3', '198.51.100.3'],
        ['2001:DB8:0:0:0:0:0:7', '2001:db8::7'],
        ['fe80::1%eth0', 'fe80::1'],
      ]) {
        const answer = await restVia(t, 'Session/login', rootLogin, { portal: portal.credential, endUserIp: sent });
        assert.equal(answer.status, 200);
        assert.equal((await lastEvent(t, root, 'login.success')).ip, stored);
      }
    });

    test("over JSON-RPC too, and with the end user's own token in Authorization", async () => {
      const t = get();
      const portal = await newPortalClient(t, root, 'RPC portal');
      const login = await rpcVia(t, 'Session/login', rootLogin, { portal: portal.credential, endUserIp: '2001:db8::42' });
      const success = await lastEvent(t, root, 'login.success');
      assert.deepEqual([success.ip, success.portal_client_id], ['2001:db8::42', portal.id]);
      // A refresh token presented again is theft: the audit row says through which portal and for which address.
      const refresh = { refresh_token: String(login.result?.refresh_token) };
      assert.equal((await rpcVia(t, 'Session/refresh_access_token', refresh, { portal: portal.credential, endUserIp: '2001:db8::44' })).error, undefined);
      const reused = await rpcVia(t, 'Session/refresh_access_token', refresh, { portal: portal.credential, endUserIp: '2001:db8::45' });
      assert.equal(reused.error?.data.faultcode, 'Server.Session.refresh_token_invalid');
      const theft = await lastEvent(t, root, 'session.refresh_token_reuse');
      assert.deepEqual([theft.ip, theft.portal_client_id], ['2001:db8::45', portal.id]);
      const again = await rpcVia(t, 'Session/login', rootLogin, { portal: portal.credential, endUserIp: '2001:db8::42' });
      const token = String(again.result?.access_token);
      const logout = await rpcVia(t, 'Session/logout', {}, { portal: portal.credential, endUserIp: '2001:db8::43', token });
      assert.equal(logout.result?.success, 1);
      const event = await lastEvent(t, root, 'logout');
      assert.deepEqual([event.ip, event.portal_client_id], ['2001:db8::43', portal.id]);
    });
  },
  { RATE_LIMIT_LOGIN: 3 },
);

describeEachDatabase('portal clients: admin methods', (get) => {
  let root: string;
  before(async () => {
    root = await loginRoot(get().app);
  });

  test('root creates, lists and revokes portal clients; each is audited and the secret is shown only once', async () => {
    const t = get();
    const created = await call<{ portal_client_id: string; secret: string }>(t.app, 'PortalClient/add_portal_client', { name: 'Shop portal' }, root);
    assert.match(created.portal_client_id, /^pc_[0-9a-f]{16}$/);
    assert.match(created.secret, /^[A-Za-z0-9_-]{43}$/);
    const added = await lastEvent(t, root, 'portal_client.add');
    assert.deepEqual([added.actor_realm, added.details], ['admin', { portal_client_id: created.portal_client_id, name: 'Shop portal' }]);

    const list = await call<{ portal_client_list: Array<Record<string, unknown>>; total: number }>(t.app, 'PortalClient/get_portal_client_list', { with_total: true }, root);
    const listed = list.portal_client_list.find((p) => p.portal_client_id === created.portal_client_id);
    assert.deepEqual(Object.keys(listed ?? {}).sort(), ['created_at', 'name', 'portal_client_id', 'revoked_at']);
    assert.equal(listed?.revoked_at, null);
    const stored = (await t.app.db.knex('portal_clients').where({ portal_client_id: created.portal_client_id }).first()) as Record<string, unknown>;
    assert.ok(!JSON.stringify(stored).includes(created.secret), 'only a hash is stored');

    assert.deepEqual(await call(t.app, 'PortalClient/revoke_portal_client', { portal_client_id: created.portal_client_id }, root), { success: 1 });
    const revokedEvent = await lastEvent(t, root, 'portal_client.revoke');
    assert.deepEqual(revokedEvent.details, { portal_client_id: created.portal_client_id, name: 'Shop portal' });
    const again = await rest(t.app, 'PortalClient/revoke_portal_client', { portal_client_id: created.portal_client_id }, root);
    assert.deepEqual([again.status, again.body.faultcode], [404, 'Server.NotFound']);
    const unknown = await rest(t.app, 'PortalClient/revoke_portal_client', { portal_client_id: 'pc_0123456789abcdef' }, root);
    assert.deepEqual([unknown.status, unknown.body.faultcode], [404, 'Server.NotFound']);

    const live = await call<{ portal_client_list: Array<{ portal_client_id: string }> }>(t.app, 'PortalClient/get_portal_client_list', { with_total: true }, root);
    assert.ok(!live.portal_client_list.some((p) => p.portal_client_id === created.portal_client_id));
    const all = await call<{ portal_client_list: Array<{ portal_client_id: string; revoked_at: string | null }> }>(
      t.app,
      'PortalClient/get_portal_client_list',
      { with_total: true, include_revoked: true },
      root,
    );
    assert.equal(typeof all.portal_client_list.find((p) => p.portal_client_id === created.portal_client_id)?.revoked_at, 'string');
    assert.ok(!t.logs.some((line) => line.includes(created.secret)), 'the secret never reaches the log');

    for (const name of ['', 'x'.repeat(101), 'tab\there']) {
      const bad = await rest(t.app, 'PortalClient/add_portal_client', { name }, root);
      assert.deepEqual([bad.status, bad.body.faultcode], [400, 'Client.Request.invalid_params']);
    }
  });

  test('an admin without portal_clients.manage, and any non-admin session, is refused and changes nothing', async () => {
    const t = get();
    const target = await call<{ portal_client_id: string }>(t.app, 'PortalClient/add_portal_client', { name: 'Target' }, root);
    await call(t.app, 'User/add_user', { login: 'auditor', password: 'Audit-pass1', permissions: ['audit.read', 'users.manage'] }, root);
    const auditor = await firstLogin(t.app, 'admin', 'auditor', 'Audit-pass1');
    const c = await call<{ i_customer: number }>(t.app, 'Customer/add_customer', { login: 'self-care-co' }, root);
    await call(t.app, 'Account/add_account', { login: 'self-care', i_customer: c.i_customer, password: 'Self-pass1' }, root);
    const account = await firstLogin(t.app, 'account', 'self-care', 'Self-pass1');
    const state = await storedState(t);
    for (const token of [auditor, account]) {
      for (const [method, params] of [
        ['PortalClient/add_portal_client', { name: 'Sneaky' }],
        ['PortalClient/get_portal_client_list', { with_total: true }],
        ['PortalClient/revoke_portal_client', { portal_client_id: target.portal_client_id }],
      ] as const) {
        const answer = await rest(t.app, method, params, token);
        assert.deepEqual([answer.status, answer.body.faultcode], [403, 'Server.AccessControl.forbidden'], method);
      }
    }
    assert.deepEqual(await storedState(t), state);

    // Granted the permission, the admin may.
    const me = (await call<{ user_info: { i_user: number } }>(t.app, 'User/get_user_info', { login: 'auditor' }, root)).user_info;
    await call(t.app, 'User/update_user', { i_user: me.i_user, permissions: ['audit.read', 'users.manage', 'portal_clients.manage'] }, root);
    assert.deepEqual(await call(t.app, 'PortalClient/revoke_portal_client', { portal_client_id: target.portal_client_id }, auditor), { success: 1 });
    const event = await lastEvent(t, root, 'portal_client.revoke');
    assert.equal(event.actor_id, me.i_user);
  });

  test('upgrading gives an existing root portal_clients.manage', async () => {
    const t = get();
    const { knex } = t.app.db;
    // Back to the schema before portal clients (and root's permissions as they were then), then up again.
    // Undo every migration from 012_portal_clients on (later ones are undone first).
    const completed = async () => ((await knex.migrate.list({ migrationSource })) as [Array<{ name: string }>, unknown])[0].map((m) => m.name ?? m);
    while ((await completed()).includes('012_portal_clients')) await knex.migrate.down({ migrationSource });
    const rootPermissions = async () =>
      (await call<{ user_info: { permissions: string[] } }>(t.app, 'User/get_user_info', { login: 'root' }, root)).user_info.permissions;
    assert.ok(!(await rootPermissions()).includes('portal_clients.manage'));
    await knex.migrate.latest({ migrationSource });
    assert.ok((await rootPermissions()).includes('portal_clients.manage'));
    assert.equal((await rest(t.app, 'PortalClient/get_portal_client_list', { with_total: true }, root)).status, 200);
  });
});
