import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { rotateAll } from '../../src/repositories/encrypted-columns.js';
import { buildTestApp, describeEachDatabase, ROOT_PASSWORD } from '../helpers/app.js';
import { databaseTargets } from '../helpers/databases.js';
import { call, firstLogin, loginRoot, rest, rpc } from '../helpers/rpc.js';

type Info = Record<string, unknown>;

describeEachDatabase('passwords: policy', (get) => {
  let root: string;
  let customer: number;
  before(async () => {
    root = await loginRoot(get().app);
    customer = (await call<{ i_customer: number }>(get().app, 'Customer/add_customer', { login: 'policy-co' }, root)).i_customer;
  });

  test('every broken rule is listed at once and nothing is written', async () => {
    const { app } = get();
    const cases: Array<[string, string[]]> = [
      ['abc', ['min_length', 'must_include_digits']],
      ['123456', ['must_include_latin']],
      ['a'.repeat(32) + '1', ['max_length']],
      ['pass word1', ['invalid_characters']],
      ['pässword1', ['invalid_characters']],
    ];
    for (const [password, violations] of cases) {
      const answer = await rest(app, 'Account/add_account', { login: `pol-${violations[0]}`, i_customer: customer, password }, root);
      assert.equal(answer.status, 422, password);
      assert.equal(answer.body.faultcode, 'Server.Password.policy_violation');
      assert.deepEqual(answer.body.violations, violations, password);
      const viaRpc = await rpc(app, 'Account/add_account', { login: `pol-rpc`, i_customer: customer, password }, root);
      assert.deepEqual(viaRpc.error?.data.violations, violations);
    }
    assert.equal((await call(app, 'Account/get_account_list', { with_total: true, login_prefix: 'pol-' }, root)).total, 0);
    const notString = await rpc(app, 'Account/add_account', { login: 'pol-x', i_customer: customer, password: 12345678 }, root);
    assert.equal(notString.error?.code, -32602);
  });

  test('the service password follows the policy too', async () => {
    const { app } = get();
    const answer = await rest(app, 'Account/add_account', { login: 'sip-weak', i_customer: customer, h323_password: 'short' }, root);
    assert.equal(answer.status, 422);
    assert.deepEqual(answer.body.violations, ['min_length', 'must_include_digits']);
  });

  test('a customer class overrides the rules for everything below it; get_password_policy shows them', async () => {
    const { app } = get();
    const global = await call(app, 'Session/get_password_policy', { realm: 'account' });
    assert.deepEqual(global, {
      min_length: 6,
      max_length: 32,
      rules: { latin: 'must', digits: 'must', lowercase: 'can', uppercase: 'can', special: 'can' },
      expires_after_days: 30,
    });
    const cls = await call<{ i_customer_class: number }>(
      app,
      'CustomerClass/add_customer_class',
      { name: 'Strict', password_min_length: 10, password_complexity_rules: { special: 'must' } },
      root,
    );
    const strictCo = await call<{ i_customer: number }>(app, 'Customer/add_customer', { login: 'strict-co', i_customer_class: cls.i_customer_class }, root);
    const refused = await rest(app, 'Account/add_account', { login: 'strict-acc', i_customer: strictCo.i_customer, password: 'abcdef12' }, root);
    assert.deepEqual(refused.body.violations, ['min_length', 'must_include_special']);
    const individual = await rest(
      app,
      'CustomerIndividual/add_customer_individual',
      { login: 'strict-ind', i_customer: strictCo.i_customer, password: 'abcdef12' },
      root,
    );
    assert.equal(individual.status, 422);
    assert.equal(individual.body.faultcode, 'Server.Password.policy_violation');
    await call(app, 'Account/add_account', { login: 'strict-acc', i_customer: strictCo.i_customer, password: 'abcdef12!x' }, root);

    const forAccount = await call(app, 'Session/get_password_policy', { realm: 'account', login: 'STRICT-ACC' }, root);
    assert.equal(forAccount.min_length, 10);
    assert.equal((forAccount.rules as Info).special, 'must');
    assert.equal((forAccount.rules as Info).digits, 'must', 'classes not overridden keep the global rule');
    const unknown = await call(app, 'Session/get_password_policy', { realm: 'account', login: 'nobody-here' }, root);
    assert.deepEqual(unknown, global, 'an admin naming an unknown login gets the global rules');

    // Its own session (restricted: the admin set the password) sees its rules, with or without naming itself.
    const first = await call<{ status: string; access_token: string }>(app, 'Session/login', { login: 'strict-acc', password: 'abcdef12!x', realm: 'account' });
    assert.equal(first.status, 'password_change_required');
    for (const params of [{ realm: 'account' }, { realm: 'account', login: 'strict-acc' }]) {
      assert.equal((await call(app, 'Session/get_password_policy', params, first.access_token)).min_length, 10, JSON.stringify(params));
    }
    // Nobody else learns whether a login exists: the same refusal for a real login and an unknown one.
    const other = await call<{ i_customer: number }>(app, 'Customer/add_customer', { login: 'plain-co' }, root);
    await call(app, 'Account/add_account', { login: 'plain-acc', i_customer: other.i_customer, password: 'abcdef12' }, root);
    const plain = (await call<{ access_token: string }>(app, 'Session/login', { login: 'plain-acc', password: 'abcdef12', realm: 'account' })).access_token;
    for (const [token, login] of [
      [undefined, 'strict-acc'],
      [undefined, 'nobody-here'],
      [plain, 'strict-acc'],
      [plain, 'nobody-here'],
    ] as const) {
      const answer = await rest(app, 'Session/get_password_policy', { realm: 'account', login }, token);
      assert.equal(answer.status, 403, `${login} ${token ? 'with' : 'without'} a session`);
      assert.equal(answer.body.faultcode, 'Server.AccessControl.forbidden');
    }
    assert.deepEqual(await call(app, 'Session/get_password_policy', { realm: 'account' }), global, 'without a session: the global rules');
    assert.deepEqual(await call(app, 'Session/get_password_policy', { realm: 'account' }, plain), global, "another class's principal: its own (global) rules");
  });
});

describeEachDatabase('passwords: expiry, forced change and change_password', (get) => {
  let root: string;
  let customer: number;
  before(async () => {
    root = await loginRoot(get().app);
    customer = (await call<{ i_customer: number }>(get().app, 'Customer/add_customer', { login: 'exp-co' }, root)).i_customer;
  });

  test('a password set by an admin gives a restricted session until it is changed', async () => {
    const { app } = get();
    await call(app, 'Account/add_account', { login: 'forced', i_customer: customer, password: 'Given-by-admin1' }, root);
    const other = await call<{ access_token: string; status: string }>(app, 'Session/login', {
      login: 'forced',
      password: 'Given-by-admin1',
      realm: 'account',
    });
    const first = await call<{ access_token: string; status: string; reason: string }>(app, 'Session/login', {
      login: 'forced',
      password: 'Given-by-admin1',
      realm: 'account',
    });
    assert.equal(first.status, 'password_change_required');
    assert.equal(first.reason, 'must_change');
    const ping = await call(app, 'Session/ping', {}, first.access_token);
    assert.equal(ping.restricted, true);
    const blocked = await rest(app, 'Session/get_password_policy', { realm: 'account' }, first.access_token);
    assert.equal(blocked.status, 200, 'public methods stay public');
    const refused = await rest(app, 'Account/get_account_list', { with_total: true }, first.access_token);
    assert.equal(refused.status, 403);
    assert.equal(refused.body.faultcode, 'Server.Session.alert_You_must_change_password');

    const changed = await call(app, 'Session/change_password', { old_password: 'Given-by-admin1', new_password: 'Mine-now-2' }, first.access_token);
    assert.equal(changed.success, 1);
    assert.equal(changed.sessions_ended, 1, 'the other session was ended');
    assert.equal((await call(app, 'Session/ping', {}, first.access_token)).restricted, false, 'the calling session is lifted');
    assert.equal((await rest(app, 'Session/ping', {}, other.access_token)).status, 401);
    const again = await call(app, 'Session/login', { login: 'forced', password: 'Mine-now-2', realm: 'account' });
    assert.equal(again.status, 'authenticated');
  });

  test('change_password refuses a wrong old password, the same password and policy breaks', async () => {
    const { app } = get();
    await call(app, 'Vendor/add_vendor', { login: 'chg-vendor', password: 'Vendor-pass1' }, root);
    const token = await firstLogin(app, 'vendor', 'chg-vendor', 'Vendor-pass1');
    const current = 'Vendor-pass1Z';
    const wrong = await rest(app, 'Session/change_password', { old_password: 'nope-123', new_password: 'Fresh-pass9' }, token);
    assert.equal(wrong.status, 403);
    assert.equal(wrong.body.faultcode, 'Server.Password.wrong_old_password');
    const same = await rest(app, 'Session/change_password', { old_password: current, new_password: current }, token);
    assert.equal(same.status, 422);
    assert.deepEqual(same.body.violations, ['same_as_current']);
    const weak = await rest(app, 'Session/change_password', { old_password: current, new_password: 'weak' }, token);
    assert.deepEqual(weak.body.violations, ['min_length', 'must_include_digits']);
    const tooLong = await rest(app, 'Session/change_password', { old_password: current, new_password: 'x1'.repeat(17) }, token);
    assert.deepEqual(tooLong.body.violations, ['max_length']);
    const ok = await rest(app, 'Session/login', { login: 'chg-vendor', password: current, realm: 'vendor' });
    assert.equal(ok.body.status, 'authenticated', 'the refused attempts changed nothing');
  });

  test('passwords expire WEB_PASSWORD_EXPIRE after they are set; changing restarts the clock', async () => {
    const { app, clock, config } = get();
    await call(app, 'Representative/add_representative', { login: 'ageing', password: 'Old-enough1' }, root);
    const token = await firstLogin(app, 'representative', 'ageing', 'Old-enough1');
    assert.ok(token);
    clock.advance(config.WEB_PASSWORD_EXPIRE - 60_000);
    assert.equal((await call(app, 'Session/login', { login: 'ageing', password: 'Old-enough1Z', realm: 'representative' })).status, 'authenticated');
    clock.advance(120_000);
    const expired = await call<{ status: string; reason: string; access_token: string }>(app, 'Session/login', {
      login: 'ageing',
      password: 'Old-enough1Z',
      realm: 'representative',
    });
    assert.equal(expired.status, 'password_change_required');
    assert.equal(expired.reason, 'expired');
    await call(app, 'Session/change_password', { old_password: 'Old-enough1Z', new_password: 'Brand-new2' }, expired.access_token);
    assert.equal((await call(app, 'Session/login', { login: 'ageing', password: 'Brand-new2', realm: 'representative' })).status, 'authenticated');
  });
});

for (const target of databaseTargets()) {
  test(`WEB_PASSWORD_EXPIRE=0: passwords never expire [${target}]`, async () => {
    const t = await buildTestApp(target, { WEB_PASSWORD_EXPIRE: '0' });
    try {
      t.clock.advance(3650 * 86_400_000);
      const result = await call(t.app, 'Session/login', { login: 'root', password: ROOT_PASSWORD, realm: 'admin' });
      assert.equal(result.status, 'authenticated');
      assert.equal((await call(t.app, 'Session/get_password_policy', { realm: 'admin' })).expires_after_days, null);
    } finally {
      await t.close();
    }
  });
}

describeEachDatabase('passwords: storage and reading back', (get) => {
  let root: string;
  let customer: number;
  before(async () => {
    root = await loginRoot(get().app);
    customer = (await call<{ i_customer: number }>(get().app, 'Customer/add_customer', { login: 'store-co' }, root)).i_customer;
  });

  test('passwords.read with get_auth_info: 1 reads them back, audited; otherwise they are absent', async () => {
    const { app } = get();
    const acc = await call<{ i_account: number }>(
      app,
      'Account/add_account',
      { login: 'readable', i_customer: customer, password: 'Web-secret1', h323_password: 'Sip-secret2' },
      root,
    );
    const full = (await call(app, 'Account/get_account_info', { i_account: acc.i_account, get_auth_info: 1 }, root)).account_info as Info;
    assert.equal(full.password, 'Web-secret1');
    assert.equal(full.h323_password, 'Sip-secret2');
    const plain = (await call(app, 'Account/get_account_info', { i_account: acc.i_account }, root)).account_info as Info;
    assert.ok(!('password' in plain) && !('h323_password' in plain));
    const events = await call(app, 'AuditLog/get_event_list', { with_total: true, event: 'account.password_read', entity_id: acc.i_account }, root);
    assert.equal(events.total, 1);

    await call(app, 'User/add_user', { login: 'no-reader', password: 'Reader-pass1', permissions: ['accounts.manage'] }, root);
    const noReader = await firstLogin(app, 'admin', 'no-reader', 'Reader-pass1');
    const denied = (await call(app, 'Account/get_account_info', { i_account: acc.i_account, get_auth_info: 1 }, noReader)).account_info as Info;
    assert.ok(!('password' in denied) && !('h323_password' in denied));

    const adminAsk = await rpc(app, 'User/get_user_info', { login: 'root', get_auth_info: 1 }, root);
    assert.equal(adminAsk.error?.code, -32602, 'admin passwords are never readable');
  });

  test('no plaintext password anywhere in the database', async () => {
    const { app } = get();
    const secrets = ['Plain-Web-Pass1', 'Plain-Sip-Pass2', 'Plain-Changed3', 'Plain-Admin-Pass4', 'Plain-Rep-Pass5', 'Plain-Rep-Pass6'];
    const acc = await call<{ i_account: number }>(
      app,
      'Account/add_account',
      { login: 'scan-acc', i_customer: customer, password: secrets[0], h323_password: secrets[1] },
      root,
    );
    await call(app, 'Account/update_account', { i_account: acc.i_account, password: secrets[2] }, root);
    await call(app, 'User/add_user', { login: 'scan-admin', password: secrets[3] }, root);
    await call(app, 'Representative/add_representative', { login: 'scan-rep', password: secrets[4] }, root);
    const repToken = await firstLogin(app, 'representative', 'scan-rep', secrets[4] as string);
    await call(app, 'Session/change_password', { old_password: `${secrets[4]}Z`, new_password: secrets[5] }, repToken);
    await call(app, 'Account/add_account', { login: 'scan-twin', i_customer: customer, password: secrets[0] }, root);

    const knex = app.db.knex;
    const tables: string[] =
      app.db.dialect === 'sqlite'
        ? ((await knex.raw("select name from sqlite_master where type = 'table'")) as Array<{ name: string }>).map((r) => r.name)
        : ((await knex.raw('show tables'))[0] as Array<Record<string, string>>).map((r) => Object.values(r)[0] as string);
    assert.ok(tables.includes('accounts') && tables.includes('audit_log'));
    let dump = '';
    for (const table of tables) dump += JSON.stringify(await knex(table).select());
    for (const secret of [...secrets, `${secrets[4]}Z`]) assert.ok(!dump.includes(secret), `plaintext ${secret} found in the database`);

    const rows = await knex('accounts').whereIn('login', ['scan-acc', 'scan-twin']).select('password_enc');
    assert.equal(rows.length, 2);
    assert.match(String(rows[0]?.password_enc), /^v1\.[A-Za-z0-9_-]+\./);
    assert.notEqual(rows[0]?.password_enc, rows[1]?.password_enc, 'equal passwords never give equal stored values');
  });

  test('a value copied to another row does not decrypt: internal error naming the row in the log', async () => {
    const { app, logs } = get();
    const a = await call<{ i_account: number }>(app, 'Account/add_account', { login: 'copy-src', i_customer: customer, password: 'Source-pass1' }, root);
    const b = await call<{ i_account: number }>(app, 'Account/add_account', { login: 'copy-dst', i_customer: customer, password: 'Target-pass2' }, root);
    const source = await app.db.knex('accounts').where({ i_account: a.i_account }).first();
    await app.db.knex('accounts').where({ i_account: b.i_account }).update({ password_enc: source.password_enc });
    const answer = await rest(app, 'Account/get_account_info', { i_account: b.i_account, get_auth_info: 1 }, root);
    assert.equal(answer.status, 500);
    assert.ok(!JSON.stringify(answer.body).includes('Source-pass1'));
    const errorId = String(answer.body.error_id);
    assert.ok(logs.some((l) => l.includes(errorId) && l.includes(`accounts.password_enc of i_account ${b.i_account}`)));
  });
});

for (const target of databaseTargets()) {
  test(`SECURITY_ENCRYPT_PASSWORDS=false keeps only the hash of new passwords [${target}]`, async () => {
    const t = await buildTestApp(target, { SECURITY_ENCRYPT_PASSWORDS: false });
    try {
      const root = await loginRoot(t.app);
      const c = await call<{ i_customer: number }>(t.app, 'Customer/add_customer', { login: 'hash-only', password: 'Only-hashed1' }, root);
      const info = (await call(t.app, 'Customer/get_customer_info', { i_customer: c.i_customer, get_auth_info: 1 }, root)).customer_info as Info;
      assert.equal(info.password, null);
      const row = await t.app.db.knex('customers').where({ i_customer: c.i_customer }).first();
      assert.equal(row.password_enc, null);
      assert.match(String(row.password_hash), /^\$2[ab]\$/);
    } finally {
      await t.close();
    }
  });

  test(`a configured KEYRING_FILE that is missing or malformed stops start-up with a clear message [${target}]`, async () => {
    const t = await buildTestApp(target);
    await t.app.close();
    try {
      await assert.rejects(buildTestApp(target, { KEYRING_FILE: join(t.db.dataDir, 'nope.json') }, t.db), /KEYRING_FILE .*nope\.json cannot be read: ENOENT/);
      const bad = join(t.db.dataDir, 'bad-keyring.json');
      writeFileSync(bad, '{"primary": "k9", "keys": {"k1": "a-long-enough-passphrase"}}');
      await assert.rejects(buildTestApp(target, { KEYRING_FILE: bad }, t.db), /KEYRING_FILE/);
      writeFileSync(bad, 'not json');
      await assert.rejects(buildTestApp(target, { KEYRING_FILE: bad }, t.db), /KEYRING_FILE/);
    } finally {
      await t.db.drop();
    }
  });

  test(`online rotation: no failures, no lost writes, every value under the new key [${target}]`, async () => {
    const t = await buildTestApp(target);
    const keyring = join(t.db.dataDir, 'ring.json');
    writeFileSync(keyring, JSON.stringify({ primary: 'k1', keys: { k1: 'first-passphrase-0123456789' } }), { mode: 0o600 });
    await t.app.close();
    const app = (await buildTestApp(target, { KEYRING_FILE: keyring }, t.db)).app;
    try {
      const root = await loginRoot(app);
      const c = await call<{ i_customer: number }>(app, 'Customer/add_customer', { login: 'rot-co' }, root);
      const latest = new Map<number, string>();
      const ids: number[] = [];
      for (let i = 0; i < 24; i++) {
        const password = `Start-pass-${i}`;
        const acc = await call<{ i_account: number }>(
          app,
          'Account/add_account',
          { login: `rot-${i}`, i_customer: c.i_customer, password, h323_password: `Sip-pass-${i}` },
          root,
        );
        ids.push(acc.i_account);
        latest.set(acc.i_account, password);
      }
      writeFileSync(keyring, JSON.stringify({ primary: 'k2', keys: { k1: 'first-passphrase-0123456789', k2: 'second-passphrase-9876543210' } }));
      await app.keyring.reload();
      assert.equal(app.keyring.current().primaryId, 'k2');

      let failures = 0;
      const traffic = (async () => {
        for (let round = 0; round < 3; round++) {
          for (const id of ids) {
            const password = `Round-${round}-pass-${id}`;
            const set = await rest(app, 'Account/update_account', { i_account: id, password }, root);
            if (set.status !== 200) failures++;
            else latest.set(id, password);
            const read = await rest(app, 'Account/get_account_info', { i_account: id, get_auth_info: 1 }, root);
            if (read.status !== 200 || (read.body.account_info as Info).password !== latest.get(id)) failures++;
            const loginAnswer = await rest(app, 'Session/login', { login: `rot-${ids.indexOf(id)}`, password, realm: 'account' });
            if (loginAnswer.status !== 200) failures++;
          }
        }
      })();
      const ring = app.keyring.current();
      // A first pass killed after one batch, then a full pass: rotation resumes.
      await assert.rejects(
        rotateAll(app.db.knex, ring, 5, () => {
          throw new Error('killed');
        }),
        /killed/,
      );
      const reports = await rotateAll(app.db.knex, ring, 5);
      await traffic;
      assert.equal(failures, 0);
      for (const r of reports) {
        assert.deepEqual(r.failed, []);
        assert.equal(r.remaining, 0, `${r.table}.${r.column}`);
      }
      const stored = await app.db.knex('accounts').whereIn('i_account', ids).select('i_account', 'password_enc', 'h323_password_enc');
      for (const row of stored) {
        assert.match(String(row.password_enc), /^v1\.k2\./);
        assert.match(String(row.h323_password_enc), /^v1\.k2\./);
      }
      for (const id of ids) {
        const info = (await call(app, 'Account/get_account_info', { i_account: id, get_auth_info: 1 }, root)).account_info as Info;
        assert.equal(info.password, latest.get(id), 'no write was lost');
        assert.equal(info.h323_password, `Sip-pass-${ids.indexOf(id)}`);
      }
      // The old key can now go: values still decrypt with the new ring alone.
      writeFileSync(keyring, JSON.stringify({ primary: 'k2', keys: { k2: 'second-passphrase-9876543210' } }));
      await app.keyring.reload();
      assert.deepEqual(app.keyring.current().keyIds, ['k2']);
      const after = (await call(app, 'Account/get_account_info', { i_account: ids[0], get_auth_info: 1 }, root)).account_info as Info;
      assert.equal(after.password, latest.get(ids[0] as number));
    } finally {
      await app.close();
      await t.db.drop();
    }
  });
}
