import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { databaseTargets } from '../helpers/databases.js';
import { redisOverrides, testRedisUrl } from '../helpers/redis.js';
import { call, firstLogin, loginRoot, rest } from '../helpers/rpc.js';
import type { SessionLookup } from '../../src/auth/session-cache.js';

/**
 * Two replicas on one database and one Redis, with their session caches on
 * (auth/session-cache.ts): B has served each session before, so it holds it
 * in its cache. Whatever ends a session on A must end it on B at B's very
 * next call, with no waiting.
 */
for (const target of databaseTargets()) {
  describe(`session cache with Redis across replicas [${target}]`, { skip: testRedisUrl() ? false : 'TEST_REDIS_URL is not set (CI always sets it)' }, () => {
    let a: TestApp;
    let b: TestApp;
    let root: string;
    let customer: number;
    let redis: Redis;
    const lookups: Record<SessionLookup, number> = { hit: 0, miss: 0, bypass: 0 };
    const ping = async (app: TestApp, token: string) => (await rest(app.app, 'Session/ping', {}, token)).status;
    /** B answers `token` from its cache: the next call reads nothing from the database. */
    const servedFromCache = async (token: string) => {
      const hits = lookups.hit;
      assert.equal(await ping(b, token), 200);
      return lookups.hit > hits;
    };
    /** A fresh account with a session opened on A, held in B's cache. */
    const accountSession = async (login: string) => {
      const acc = await call<{ i_account: number }>(a.app, 'Account/add_account', { login, i_customer: customer, password: 'Cache-pass1' }, root);
      const token = await firstLogin(a.app, 'account', login, 'Cache-pass1');
      assert.equal(await ping(b, token), 200);
      assert.ok(await servedFromCache(token), 'B holds the session in its cache');
      return { id: acc.i_account, token };
    };

    before(async () => {
      const shared = redisOverrides();
      a = await buildTestApp(target, { ACCESS_TOKEN_TTL: '1d', SESSION_CACHE_MAX_AGE: '1h', ...shared });
      b = await buildTestApp(target, { ACCESS_TOKEN_TTL: '1d', SESSION_CACHE_MAX_AGE: '1h', ...shared }, a.db);
      assert.ok(b.app.sessionCache, 'B caches sessions');
      b.app.sessionCache.observe((outcome, n) => {
        lookups[outcome] += n;
      });
      redis = new Redis(testRedisUrl() as string);
      root = await loginRoot(a.app);
      customer = (await call<{ i_customer: number }>(a.app, 'Customer/add_customer', { login: 'redis-cache-co' }, root)).i_customer;
    });
    after(async () => {
      redis.disconnect();
      await b.app.close();
      await a.close();
    });

    test('a cached session is answered without reading the database', async () => {
      const { token } = await accountSession('rc-hit');
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
      assert.equal(reads, 0);
    });

    test('logout on A ends the session on B at once', async () => {
      const { token } = await accountSession('rc-logout');
      await call(a.app, 'Session/logout', {}, token);
      assert.equal(await ping(b, token), 401);
    });

    test('revoking one session on A ends it on B, and leaves the others cached', async () => {
      const { token } = await accountSession('rc-revoke');
      const other = await firstLogin(a.app, 'account', 'rc-revoke', 'Cache-pass1Z');
      assert.equal(await ping(b, other), 200);
      const sid = (await call<{ session_id: string }>(b.app, 'Session/ping', {}, token)).session_id;
      await call(a.app, 'Session/revoke_session', { session_id: sid }, other);
      assert.equal(await ping(b, token), 401);
      assert.ok(await servedFromCache(other));
    });

    test('a password change on A ends the other sessions on B', async () => {
      const { token } = await accountSession('rc-password');
      const other = await firstLogin(a.app, 'account', 'rc-password', 'Cache-pass1Z');
      assert.equal(await ping(b, other), 200);
      // The first login changed the admin-set password to this one (see firstLogin).
      await call(a.app, 'Session/change_password', { old_password: 'Cache-pass1Z', new_password: 'Cache-pass2-new' }, token);
      assert.equal(await ping(b, other), 401);
    });

    test('blocking or deleting a principal on A ends its sessions on B', async () => {
      const blocked = await accountSession('rc-block');
      await call(a.app, 'Account/update_account', { i_account: blocked.id, blocked: true }, root);
      assert.equal(await ping(b, blocked.token), 401);
      const deleted = await accountSession('rc-delete');
      await call(a.app, 'Account/delete_account', { i_account: deleted.id }, root);
      assert.equal(await ping(b, deleted.token), 401);
    });

    test("an admin's lost permission takes effect on B at once", async () => {
      const admin = await call<{ i_user: number }>(a.app, 'User/add_user', { login: 'rc-admin', password: 'Cache-adm1', permissions: ['accounts.manage'] }, root);
      const token = await firstLogin(a.app, 'admin', 'rc-admin', 'Cache-adm1');
      assert.equal((await rest(b.app, 'Account/get_account_list', {}, token)).status, 200);
      assert.equal((await rest(b.app, 'Account/get_account_list', {}, token)).status, 200);
      await call(a.app, 'User/update_user', { i_user: admin.i_user, permissions: [] }, root);
      assert.equal((await rest(b.app, 'Account/get_account_list', {}, token)).body.faultcode, 'Server.AccessControl.forbidden');
    });

    test('an impersonated session cached on B ends when its admin is blocked on A', async () => {
      const person = await accountSession('rc-imp-target');
      const admin = await call<{ i_user: number }>(a.app, 'User/add_user', { login: 'rc-imp', password: 'Cache-imp1', permissions: ['sessions.impersonate'] }, root);
      const adminToken = await firstLogin(a.app, 'admin', 'rc-imp', 'Cache-imp1');
      const imp = await call<{ access_token: string }>(a.app, 'Session/impersonate', { realm: 'account', id: person.id }, adminToken);
      assert.equal(await ping(b, imp.access_token), 200);
      assert.ok(await servedFromCache(imp.access_token));
      await call(a.app, 'User/update_user', { i_user: admin.i_user, blocked: true }, root);
      assert.equal(await ping(b, imp.access_token), 401);
      assert.equal(await ping(b, person.token), 200);
    });

    test('a session kept alive on A is not ended as idle by B from a cached row', async () => {
      const { token } = await accountSession('rc-idle');
      const idle = a.config.SESSION_IDLE_TTL;
      a.clock.advance(idle - 1_000);
      b.clock.advance(idle - 1_000);
      assert.equal(await ping(a, token), 200);
      a.clock.advance(2_000);
      b.clock.advance(2_000);
      assert.equal(await ping(b, token), 200);
    });

    test("with B's subscription gone, B reads every session and still refuses a revocation made on A", async () => {
      const { token } = await accountSession('rc-unsubscribed');
      const name = `${b.config.REDIS_KEY_PREFIX}session-notices:subscriber`;
      // Both replicas' subscriber connections (they share the prefix): A's notice then reaches nobody.
      const ids = String(await redis.client('LIST'))
        .split('\n')
        .filter((line) => line.includes(`name=${name} `))
        .map((line) => /\bid=(\d+)/.exec(line)?.[1]);
      assert.equal(ids.length, 2, "the replicas' subscriber connections are found by their name");
      for (const id of ids) await redis.client('KILL', 'ID', String(id));
      await call(a.app, 'Session/logout', {}, token);
      assert.equal(await ping(b, token), 401);
      const bypassed = lookups.bypass + lookups.miss;
      const second = await accountSession('rc-resubscribed').catch(() => undefined);
      // Once B has subscribed again it caches anew (accountSession asserts a hit); until then it read the database.
      assert.ok(second || lookups.bypass + lookups.miss > bypassed);
    });
  });
}
