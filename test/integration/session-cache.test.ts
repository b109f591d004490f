import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { databaseTargets } from '../helpers/databases.js';
import { call, firstLogin, loginRoot, rest } from '../helpers/rpc.js';

/**
 * Two replicas of the service on one database, each having served the
 * session already: whatever ends a session on one must end it on the other
 * at its very next call, with no waiting, whatever order transactions commit
 * in (see auth/session-reads.ts).
 */
for (const target of databaseTargets()) {
  describe(`session cache across replicas [${target}]`, () => {
    let a: TestApp;
    let b: TestApp;
    let root: string;
    let customer: number;
    const ping = async (app: TestApp, token: string) => (await rest(app.app, 'Session/ping', {}, token)).status;
    /** A fresh account with a session on replica A, already cached by replica B. */
    const accountSession = async (login: string) => {
      const acc = await call<{ i_account: number }>(a.app, 'Account/add_account', { login, i_customer: customer, password: 'Cache-pass1' }, root);
      const token = await firstLogin(a.app, 'account', login, 'Cache-pass1');
      assert.equal(await ping(b, token), 200);
      assert.equal(await ping(b, token), 200);
      return { id: acc.i_account, token };
    };

    before(async () => {
      a = await buildTestApp(target, { ACCESS_TOKEN_TTL: '1d' });
      b = await buildTestApp(target, { ACCESS_TOKEN_TTL: '1d' }, a.db);
      root = await loginRoot(a.app);
      customer = (await call<{ i_customer: number }>(a.app, 'Customer/add_customer', { login: 'cache-co' }, root)).i_customer;
    });
    after(async () => {
      await b.app.close();
      await a.close();
    });

    test('calls that arrive together on B share one read of their sessions', async () => {
      const x = await accountSession('cache-together-x');
      const y = await accountSession('cache-together-y');
      let reads = 0;
      const original = b.app.repos.sessions.findManyWithPrincipal;
      b.app.repos.sessions.findManyWithPrincipal = async (ids, principal) => {
        reads++;
        return original(ids, principal);
      };
      try {
        const answers = await Promise.all([x.token, y.token, x.token, y.token].map((t) => ping(b, t)));
        assert.deepEqual(answers, [200, 200, 200, 200]);
      } finally {
        b.app.repos.sessions.findManyWithPrincipal = original;
      }
      assert.equal(reads, 1);
    });

    test('logout on A ends the session on B at once', async () => {
      const { token } = await accountSession('cache-logout');
      await call(a.app, 'Session/logout', {}, token);
      assert.equal(await ping(b, token), 401);
    });

    test('a revocation whose transaction stays open while many other session changes commit is refused on B as soon as it commits', async () => {
      const x = await accountSession('cache-late-x');
      const others = await Promise.all(['cache-late-1', 'cache-late-2', 'cache-late-3'].map((login) => accountSession(login)));
      const sid = (await call<{ session_id: string }>(b.app, 'Session/ping', {}, x.token)).session_id;
      // SQLite has one writer: the open revoking transaction would make every other change wait for it.
      const trx = target === 'sqlite' ? undefined : await a.app.db.knex.transaction();
      try {
        if (trx) {
          // Galera numbers auto-increment rows in steps of the cluster size: this transaction does too.
          await trx.raw('set session auto_increment_increment = 3');
          await a.app.repos.sessions.revoke(sid, a.clock.now(), 'logout', trx);
        }
        // Other changes committed meanwhile by others.
        for (const other of others) await call(a.app, 'Session/logout', {}, other.token);
        for (const other of others) assert.equal(await ping(b, other.token), 401, 'the others are refused on B');
        assert.equal(await ping(b, x.token), 200, 'X is not revoked yet');
        if (trx) await trx.commit();
        else await a.app.repos.sessions.revoke(sid, a.clock.now(), 'logout');
      } finally {
        if (trx && !trx.isCompleted()) await trx.rollback();
      }
      assert.equal(await ping(b, x.token), 401, "X's revocation took effect on B at its next call");
    });

    test('a block committed with a large auto-increment step is refused on B at once', async () => {
      const blocked = await accountSession('cache-step');
      await a.app.db.knex.transaction(async (trx) => {
        if (target === 'mariadb') await trx.raw('set session auto_increment_increment = 3');
        await a.app.repos.entities.account.update(blocked.id, { blocked: true }, trx);
      });
      assert.equal(await ping(b, blocked.token), 401);
    });

    test('revoking one session on A ends it on B, and leaves the others', async () => {
      const { token } = await accountSession('cache-revoke');
      const other = await firstLogin(a.app, 'account', 'cache-revoke', 'Cache-pass1Z');
      assert.equal(await ping(b, other), 200);
      const sid = (await call<{ session_id: string }>(b.app, 'Session/ping', {}, token)).session_id;
      await call(a.app, 'Session/revoke_session', { session_id: sid }, other);
      assert.equal(await ping(b, token), 401);
      assert.equal(await ping(b, other), 200);
    });

    test('blocking or deleting a principal on A ends its sessions on B', async () => {
      const blocked = await accountSession('cache-block');
      await call(a.app, 'Account/update_account', { i_account: blocked.id, blocked: true }, root);
      assert.equal(await ping(b, blocked.token), 401);
      const deleted = await accountSession('cache-delete');
      await call(a.app, 'Account/delete_account', { i_account: deleted.id }, root);
      assert.equal(await ping(b, deleted.token), 401);
    });

    test("an admin's lost permission takes effect on B at once", async () => {
      const admin = await call<{ i_user: number }>(
        a.app,
        'User/add_user',
        { login: 'cache-admin', password: 'Cache-adm1', permissions: ['accounts.manage'] },
        root,
      );
      const token = await firstLogin(a.app, 'admin', 'cache-admin', 'Cache-adm1');
      assert.equal((await rest(b.app, 'Account/get_account_list', {}, token)).status, 200);
      await call(a.app, 'User/update_user', { i_user: admin.i_user, permissions: [] }, root);
      assert.equal((await rest(b.app, 'Account/get_account_list', {}, token)).body.faultcode, 'Server.AccessControl.forbidden');
    });

    test('an impersonated session on B ends when its admin is blocked on A', async () => {
      const target = await accountSession('cache-imp-target');
      const admin = await call<{ i_user: number }>(
        a.app,
        'User/add_user',
        { login: 'cache-imp', password: 'Cache-imp1', permissions: ['sessions.impersonate'] },
        root,
      );
      const adminToken = await firstLogin(a.app, 'admin', 'cache-imp', 'Cache-imp1');
      const imp = await call<{ access_token: string }>(a.app, 'Session/impersonate', { realm: 'account', id: target.id }, adminToken);
      assert.equal(await ping(b, imp.access_token), 200);
      await call(a.app, 'User/update_user', { i_user: admin.i_user, blocked: true }, root);
      assert.equal(await ping(b, imp.access_token), 401);
      assert.equal(await ping(b, target.token), 200);
    });

    test('a session kept alive on A is not ended as idle by B', async () => {
      const { token } = await accountSession('cache-idle');
      const idle = a.config.SESSION_IDLE_TTL;
      // B saw the session last; A sees it used (and writes last_seen_at) just before B would call it idle.
      a.clock.advance(idle - 1_000);
      b.clock.advance(idle - 1_000);
      assert.equal(await ping(a, token), 200);
      a.clock.advance(2_000);
      b.clock.advance(2_000);
      assert.equal(await ping(b, token), 200);
    });

    test('every call reads its session from the database (nothing mutable is kept between calls)', async () => {
      const { token } = await accountSession('cache-off');
      let reads = 0;
      const original = b.app.repos.sessions.findManyWithPrincipal;
      b.app.repos.sessions.findManyWithPrincipal = async (ids, principal) => {
        reads++;
        return original(ids, principal);
      };
      try {
        for (let i = 0; i < 3; i++) assert.equal(await ping(b, token), 200);
      } finally {
        b.app.repos.sessions.findManyWithPrincipal = original;
      }
      assert.equal(reads, 3);
    });
  });
}
