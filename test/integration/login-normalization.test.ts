import { loadConfig } from '../../src/config/load.js';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import bcrypt from 'bcrypt';
import { migrationSource } from '../../db/migrations/index.js';
import { PERMISSIONS } from '../../src/domain/permissions.js';
import { createDatabase } from '../../src/repositories/connection.js';
import { buildTestApp, describeEachDatabase, ROOT_PASSWORD } from '../helpers/app.js';
import { createTestDatabase, databaseTargets } from '../helpers/databases.js';
import { call, firstLogin, loginRoot, rest } from '../helpers/rpc.js';

type Answer = Record<string, unknown>;

describeEachDatabase('logins: look-alikes are the same login', (get) => {
  test('fullwidth, upper-case and superscript forms of root are refused as duplicates, in every method that sets a login', async () => {
    const { app } = get();
    const root = await loginRoot(app);
    for (const login of ['ｒｏｏｔ', 'ＲＯＯＴ', 'Root', 'ʳᵒᵒᵗ']) {
      const added = await rest(app, 'User/add_user', { login, password: 'Look-alike1' }, root);
      assert.deepEqual([added.status, added.body.faultcode], [409, 'Server.Conflict.login_taken'], login);
    }
    const other = await call<{ i_user: number }>(app, 'User/add_user', { login: 'ﬁona', password: 'Fiona-pass1' }, root);
    for (const login of ['fiona', 'FIONA', 'ｆｉｏｎａ']) {
      const added = await rest(app, 'User/add_user', { login, password: 'Fiona-pass1' }, root);
      assert.equal(added.body.faultcode, 'Server.Conflict.login_taken', `${login} after the ligature ﬁona`);
    }
    const renamed = await rest(app, 'User/update_user', { i_user: other.i_user, login: 'ｒｏｏｔ' }, root);
    assert.deepEqual([renamed.status, renamed.body.faultcode], [409, 'Server.Conflict.login_taken']);

    // The same in every realm, and for class names.
    const co = await call<{ i_customer: number }>(app, 'Customer/add_customer', { login: 'acme' }, root);
    assert.equal((await rest(app, 'Customer/add_customer', { login: 'ＡＣＭＥ' }, root)).body.faultcode, 'Server.Conflict.login_taken');
    await call(app, 'Account/add_account', { login: '15550001', i_customer: co.i_customer }, root);
    assert.equal(
      (await rest(app, 'Account/add_account', { login: '１５５５０００１', i_customer: co.i_customer }, root)).body.faultcode,
      'Server.Conflict.login_taken',
    );
    await call(app, 'CustomerClass/add_customer_class', { name: 'Gold plan' }, root);
    assert.equal((await rest(app, 'CustomerClass/add_customer_class', { name: 'ＧＯＬＤ ＰＬＡＮ' }, root)).body.faultcode, 'Server.Conflict.login_taken');
  });

  test('any case or compatibility form logs in as the same principal; what was typed is kept for display', async () => {
    const { app } = get();
    for (const login of ['ROOT', 'ｒｏｏｔ', 'Ｒｏｏｔ']) {
      const answer = await rest(app, 'Session/login', { login, password: ROOT_PASSWORD, realm: 'admin' });
      assert.equal(answer.body.status, 'authenticated', login);
      const me = await call(app, 'Session/ping', {}, answer.body.access_token as string);
      assert.equal(me.realm, 'admin');
    }
    const root = await loginRoot(app);
    const added = await call<{ i_user: number }>(app, 'User/add_user', { login: 'Ｊｏｓé', password: 'Jose-pass1' }, root);
    const byId = (await call(app, 'User/get_user_info', { i_user: added.i_user }, root)).user_info as Answer;
    assert.equal(byId.login, 'Ｊｏｓé', 'shown as typed');
    const byLogin = (await call(app, 'User/get_user_info', { login: 'JOSÉ' }, root)).user_info as Answer;
    assert.equal(byLogin.i_user, added.i_user);
    const listed = await call<{ user_list: Answer[] }>(app, 'User/get_user_list', { login_prefix: 'ｊｏ' }, root);
    assert.deepEqual(
      listed.user_list.map((u) => u.i_user),
      [added.i_user],
    );
    await firstLogin(app, 'admin', 'JOSÉ', 'Jose-pass1');
  });

  test('failures of every form of a login count towards one lock', async () => {
    const { app, config } = get();
    const root = await loginRoot(app);
    await call(app, 'User/add_user', { login: 'locked-one', password: 'Locked-pass1' }, root);
    const forms = ['LOCKED-ONE', 'ｌｏｃｋｅｄ－ｏｎｅ', 'Locked-One', 'locked-one', 'ＬＯＣＫＥＤ-ONE'];
    for (let i = 0; i < config.LOCKOUT_THRESHOLD; i++) {
      const answer = await rest(app, 'Session/login', { login: forms[i % forms.length], password: 'Wrong-pass1', realm: 'admin' });
      assert.equal(answer.body.faultcode, 'Server.Session.auth_failed');
    }
    const right = await rest(app, 'Session/login', { login: 'locked-one', password: 'Locked-pass1', realm: 'admin' });
    assert.equal(right.body.faultcode, 'Server.Session.cannot_login_brute_force_activity');
  });

  test('a new login may not hold invisible, bidi, space, control, private-use or unassigned characters', async () => {
    const { app } = get();
    const root = await loginRoot(app);
    const bad = [
      'ad\u202Emin', // right-to-left override
      'ad\u2066min\u2069', // isolate
      'ro\u200Bot', // zero-width space
      'ro\u200Dot', // zero-width joiner
      'ro\u00ADot', // soft hyphen
      '\u00A0root', // no-break space at the start
      'root\u3000', // ideographic space at the end
      'ro\u0007ot', // control
      'ro\uE000ot', // private use
      'ro\u0378ot', // unassigned
      'root\uFE0F', // variation selector
      '\u3164root', // Hangul filler
      'ro\uFEFFot', // byte order mark
    ];
    for (const login of bad) {
      const added = await rest(app, 'User/add_user', { login, password: 'Bad-login1' }, root);
      assert.deepEqual([added.status, added.body.faultcode], [400, 'Client.Request.invalid_params'], JSON.stringify(login));
    }
    // Characters that are fine as typed but not once normalized: a spacing diaeresis is a space and a
    // combining mark, and ﷺ is 18 letters (four of them are longer than a login may be).
    for (const login of ['a\u00A8', 'ﷺﷺﷺﷺ']) {
      const added = await rest(app, 'User/add_user', { login, password: 'Bad-login1' }, root);
      assert.deepEqual([added.status, added.body.faultcode], [400, 'Client.Request.invalid_params'], login);
      const me = await call<{ user_list: Answer[] }>(app, 'User/get_user_list', { login_prefix: 'root' }, root);
      const renamed = await rest(app, 'User/update_user', { i_user: me.user_list[0]?.i_user, login }, root);
      assert.equal(renamed.body.faultcode, 'Client.Request.invalid_params', login);
    }
    // Logging in with such a login is just a failed login, on every engine.
    const long = await rest(app, 'Session/login', { login: 'ﷺ'.repeat(64), password: 'Wrong-pass1', realm: 'admin' });
    assert.deepEqual([long.status, long.body.faultcode], [401, 'Server.Session.auth_failed']);
  });

  test('lower-casing, not case folding: ß and ss, ς and σ stay distinct (RFC 8265)', async () => {
    const { app } = get();
    const root = await loginRoot(app);
    await call(app, 'User/add_user', { login: 'straße', password: 'Strasse-pass1' }, root);
    await call(app, 'User/add_user', { login: 'strasse', password: 'Strasse-pass1' }, root);
    assert.equal((await rest(app, 'User/add_user', { login: 'STRAẞE', password: 'Strasse-pass1' }, root)).body.faultcode, 'Server.Conflict.login_taken');
  });
});

/** A database as it was before migration 007: every earlier migration applied. */
async function databaseBefore007(target: 'sqlite' | 'mariadb') {
  const db = await createTestDatabase(target);
  const database = createDatabase(loadConfig({}, { DATABASE_URL: db.url }));
  const { knex } = database;
  const names = await migrationSource.getMigrations([]);
  for (const name of names.slice(0, names.indexOf('007_login_normalization'))) {
    await knex.migrate.up({ migrationSource, name });
  }
  return { db, knex, close: () => Promise.all([knex.destroy(), database.reads.close()]) };
}

for (const target of databaseTargets()) {
  describe(`migration 007: existing logins that normalize alike [${target}]`, () => {
    test('never fails: the normalized form goes to one row, the others keep their key, still log in, and are audited', async () => {
      const { db, knex, close } = await databaseBefore007(target);
      if (target === 'mariadb') {
        // MariaDB's default collation (utf8mb4_general_ci) told fullwidth and ASCII apart, so such rows exist.
        for (const table of ['users', 'customers']) {
          await knex.raw('ALTER TABLE ?? MODIFY login_key VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL', [table]);
        }
      }
      const now = Date.now();
      const hash = await bcrypt.hash('Legacy-pass1', 4);
      const user = (login: string, isRoot = false) => ({
        login,
        login_key: login.toLowerCase(),
        name: null,
        email: null,
        permissions: '[]',
        is_root: isRoot,
        password_hash: hash,
        password_set_at: now,
        created_at: now,
        updated_at: now,
      });
      // The look-alike came first; the plain root already holds the normalized form, so root keeps it.
      await knex('users').insert(user('ｒｏｏｔ'));
      await knex('users').insert({ ...user('root', true), permissions: JSON.stringify(PERMISSIONS), password_hash: await bcrypt.hash(ROOT_PASSWORD, 4) });
      const customer = (login: string) => ({
        login,
        login_key: login.toLowerCase(),
        password_hash: hash,
        password_set_at: now,
        created_at: now,
        updated_at: now,
      });
      // Neither holds the normalized form `fin`: the older one gets it.
      const [older] = await knex('customers').insert(customer('ﬁｎ'));
      await knex('customers').insert(customer('ＦＩＮ'));
      await knex('customers').insert(customer('ﷺﷺﷺﷺ'));
      await close();

      const t = await buildTestApp(target, {}, db);
      try {
        const { app } = t;
        const keys = async (table: string) =>
          Object.fromEntries(((await app.db.knex(table).select('login', 'login_key')) as Answer[]).map((r) => [r.login, r.login_key]));
        assert.deepEqual(await keys('users'), { ｒｏｏｔ: 'ｒｏｏｔ', root: 'root' });
        assert.deepEqual(await keys('customers'), { ﬁｎ: 'fin', ＦＩＮ: 'ｆｉｎ', ﷺﷺﷺﷺ: 'ﷺﷺﷺﷺ' });

        const root = await loginRoot(app);
        const kept = await call<{ event_list: Answer[] }>(app, 'AuditLog/get_event_list', {}, root);
        const events = kept.event_list
          .filter((e) => String(e.event).endsWith('.login_key_kept'))
          .map((e) => [e.event, e.actor_realm, (e.details as Answer).reason]);
        assert.deepEqual(events.sort(), [
          ['customer.login_key_kept', 'migration', 'normalized_login_taken'],
          ['customer.login_key_kept', 'migration', 'normalized_login_too_long'],
          ['user.login_key_kept', 'migration', 'normalized_login_taken'],
        ]);
        const taken = kept.event_list.find((e) => e.event === 'customer.login_key_kept' && (e.details as Answer).reason === 'normalized_login_taken');
        assert.equal((taken?.details as Answer).taken_by, Number(older));

        // Each row still logs in with what its owner types; root is root.
        const ids = Object.fromEntries(((await app.db.knex('users').select('login', 'i_user')) as Answer[]).map((r) => [r.login, r.i_user]));
        const as = async (login: string, password: string, realm = 'admin') => {
          const answer = await rest(app, 'Session/login', { login, password, realm });
          assert.equal(answer.body.status, 'authenticated', login);
          return (await call(app, 'Session/ping', {}, answer.body.access_token as string)).user_id;
        };
        assert.equal(await as('ｒｏｏｔ', 'Legacy-pass1'), ids['ｒｏｏｔ']);
        assert.equal(await as('root', ROOT_PASSWORD), ids.root);
        assert.equal(await as('Root', ROOT_PASSWORD), ids.root);
        assert.equal(await as('ＲＯＯＴ', 'Legacy-pass1'), ids['ｒｏｏｔ'], 'as before the migration: the same login in another case');
        assert.equal(await as('ﬁｎ', 'Legacy-pass1', 'customer'), Number(older));
        assert.notEqual(await as('ＦＩＮ', 'Legacy-pass1', 'customer'), Number(older));

        // A client that sends every field back can still edit the row; a new look-alike is refused.
        const legacy = (await call(app, 'User/get_user_info', { login: 'ｒｏｏｔ' }, root)).user_info as Answer;
        assert.equal(legacy.login, 'ｒｏｏｔ');
        await call(app, 'User/update_user', { i_user: legacy.i_user, login: 'ｒｏｏｔ', name: 'Renamed soon' }, root);
        assert.equal((await rest(app, 'User/add_user', { login: 'Ｒｏｏｔ', password: 'Look-alike1' }, root)).body.faultcode, 'Server.Conflict.login_taken');
        await call(app, 'User/update_user', { i_user: legacy.i_user, login: 'not-root' }, root);
        assert.equal(((await call(app, 'User/get_user_info', { i_user: legacy.i_user }, root)).user_info as Answer).login, 'not-root');
        const found = await call<{ customer_list: Answer[] }>(app, 'Customer/get_customer_list', { login_prefix: 'ＦＩ' }, root);
        assert.deepEqual(found.customer_list.map((c) => c.login).sort(), ['ﬁｎ', 'ＦＩＮ']);
      } finally {
        await t.close();
      }
    });
  });
}
