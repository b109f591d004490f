import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import bcrypt from 'bcrypt';
import type { FastifyInstance } from 'fastify';
import { PERMISSIONS } from '../../src/domain/permissions.js';
import { describeEachDatabase, type TestApp } from '../helpers/app.js';
import { call, loginRoot, rest, rpc, type RestAnswer } from '../helpers/rpc.js';

type Row = Record<string, unknown>;

/** Made by PHP 8.2: `password_hash('Old-Php-pass1', PASSWORD_BCRYPT, ['cost' => 4])` (PHP writes `$2y$`). */
const PHP_2Y = { hash: '$2y$04$ChrAZ5vxMFxkiSOs2xHxFuWGcpjLFZqg.TdUae.QHR/EIblbfrjNS', password: 'Old-Php-pass1' };
/** Made by PHP 8.2: `crypt('Old-Php-pass1', '$2a$05$abcdefghijklmnopqrstuu')`. */
const PHP_2A = { hash: '$2a$05$abcdefghijklmnopqrstuugGTS/ypl2hLE.5wVD4PQdBb/S1u7B.G', password: 'Old-Php-pass1' };

const login = (app: FastifyInstance, realm: string, loginName: string, password: string) => rest(app, 'Session/login', { realm, login: loginName, password });

function refused(answer: RestAnswer, status: number, faultcode: string): Row {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.equal(answer.body.faultcode, faultcode);
  return answer.body;
}

/** The `path`s of an invalid-params fault's errors. */
const errorPaths = (body: Row) => (body.errors as Array<{ path: string }>).map((e) => e.path);

const storedRow = (t: TestApp, table: string, idField: string, id: number): Promise<Row> => t.app.db.knex(table).where(idField, id).first();

async function auditOf(app: FastifyInstance, root: string, entity: string, id: number): Promise<Array<{ event: string; details: Row }>> {
  return (await call<{ event_list: Array<{ event: string; details: Row }> }>(app, 'AuditLog/get_event_list', { with_total: true, entity, entity_id: id }, root)).event_list;
}

describeEachDatabase('provisioning: a working password from the admin API', (get) => {
  let root: string;
  let customer: number;
  before(async () => {
    root = await loginRoot(get().app);
    customer = (await call<{ i_customer: number }>(get().app, 'Customer/add_customer', { login: 'prov-co' }, root)).i_customer;
  });

  test('password_must_change: false on add_<entity> gives a password the principal logs in with straight away', async () => {
    const { app } = get();
    const { i_account } = await call<{ i_account: number }>(
      app,
      'Account/add_account',
      { login: 'prov-ready', i_customer: customer, password: 'Ready-pass1', password_must_change: false },
      root,
    );
    const first = await login(app, 'account', 'prov-ready', 'Ready-pass1');
    assert.equal(first.body.status, 'authenticated', JSON.stringify(first.body));
    // A working session: it may call what a restricted one may not.
    await call(app, 'Account/get_account_info', { i_account }, String(first.body.access_token));

    const added = (await auditOf(app, root, 'account', i_account)).find((e) => e.event === 'account.add');
    assert.equal(added?.details.password_must_change, false);
    assert.ok((added?.details.fields as string[]).includes('password_must_change'));
  });

  test('without password_must_change an admin-set password must still be changed (ADMIN_SET_PASSWORD_MUST_CHANGE defaults to true)', async () => {
    const { app } = get();
    const { i_customer } = await call<{ i_customer: number }>(app, 'Customer/add_customer', { login: 'prov-default', password: 'Default-pass1' }, root);
    const first = await login(app, 'customer', 'prov-default', 'Default-pass1');
    assert.equal(first.body.status, 'password_change_required');
    assert.equal(first.body.reason, 'must_change');
    const added = (await auditOf(app, root, 'customer', i_customer)).find((e) => e.event === 'customer.add');
    assert.equal(added?.details.password_must_change, true);
  });

  test('update_<entity> sets a working password with password_must_change: false, and a forced one with true', async () => {
    const { app } = get();
    const { i_customer } = await call<{ i_customer: number }>(app, 'Customer/add_customer', { login: 'prov-upd', password: 'First-pass1' }, root);
    await call(app, 'Customer/update_customer', { i_customer, password: 'Second-pass1', password_must_change: false }, root);
    assert.equal((await login(app, 'customer', 'prov-upd', 'Second-pass1')).body.status, 'authenticated');

    await call(app, 'Customer/update_customer', { i_customer, password: 'Third-pass1', password_must_change: true }, root);
    assert.equal((await login(app, 'customer', 'prov-upd', 'Third-pass1')).body.status, 'password_change_required');
    const updates = (await auditOf(app, root, 'customer', i_customer)).filter((e) => e.event === 'customer.update');
    assert.deepEqual(
      updates.map((e) => e.details.password_must_change),
      [true, false],
      'newest first',
    );
  });

  test("password_must_change: true applies to an admin's own password too", async () => {
    const { app } = get();
    const { i_user } = await call<{ i_user: number }>(
      app,
      'User/add_user',
      { login: 'prov-self', password: 'Self-pass1', password_must_change: false, permissions: ['users.manage'] },
      root,
    );
    const own = String((await login(app, 'admin', 'prov-self', 'Self-pass1')).body.access_token);
    await call(app, 'User/update_user', { i_user, password: 'Self-pass2' }, own);
    assert.equal((await login(app, 'admin', 'prov-self', 'Self-pass2')).body.status, 'authenticated', 'its own password is not forced by default');
    await call(app, 'User/update_user', { i_user, password: 'Self-pass3', password_must_change: true }, own);
    assert.equal((await login(app, 'admin', 'prov-self', 'Self-pass3')).body.status, 'password_change_required');
  });

  test('password_must_change without a password in the same call is refused and changes nothing', async () => {
    const t = get();
    const { app } = t;
    const add = refused(
      await rest(app, 'Account/add_account', { login: 'prov-none', i_customer: customer, password_must_change: false }, root),
      400,
      'Client.Request.invalid_params',
    );
    assert.deepEqual(new Set(errorPaths(add)), new Set(['/']));
    assert.match(JSON.stringify(add.errors), /password_hash/);
    assert.equal((await call(app, 'Account/get_account_list', { with_total: true, login_prefix: 'prov-none' }, root)).total, 0);
    const viaRpc = await rpc(app, 'Account/add_account', { login: 'prov-none', i_customer: customer, password_must_change: false }, root);
    assert.equal(viaRpc.error?.code, -32602);

    const { i_customer } = await call<{ i_customer: number }>(app, 'Customer/add_customer', { login: 'prov-flag', password: 'Flag-pass1' }, root);
    const stored = await storedRow(t, 'customers', 'i_customer', i_customer);
    const auditRows = (await auditOf(app, root, 'customer', i_customer)).length;
    refused(await rest(app, 'Customer/update_customer', { i_customer, password_must_change: false }, root), 400, 'Client.Request.invalid_params');
    // A service password is not the web password: it does not make the flag meaningful.
    const { i_account } = await call<{ i_account: number }>(
      app,
      'Account/add_account',
      { login: 'prov-sip', i_customer: customer, password: 'Sip-web-1' },
      root,
    );
    refused(
      await rest(app, 'Account/update_account', { i_account, h323_password: 'Sip-pass-1', password_must_change: false }, root),
      400,
      'Client.Request.invalid_params',
    );
    assert.deepEqual(await storedRow(t, 'customers', 'i_customer', i_customer), stored);
    assert.equal((await auditOf(app, root, 'customer', i_customer)).length, auditRows);
    assert.equal((await login(app, 'customer', 'prov-flag', 'Flag-pass1')).body.status, 'password_change_required');
  });

  test('password_must_change is refused where nothing logs in (customer classes)', async () => {
    const { app } = get();
    refused(
      await rest(app, 'CustomerClass/add_customer_class', { name: 'prov-class', password_must_change: false }, root),
      400,
      'Client.Request.invalid_params',
    );
    assert.equal((await call(app, 'CustomerClass/get_customer_class_list', { with_total: true, name_prefix: 'prov-class' }, root)).total, 0);
  });
});

describeEachDatabase('provisioning: importing bcrypt hashes from another system', (get) => {
  let root: string;
  let customer: number;
  before(async () => {
    root = await loginRoot(get().app);
    customer = (await call<{ i_customer: number }>(get().app, 'Customer/add_customer', { login: 'import-co' }, root)).i_customer;
  });

  test('$2a$, $2b$ and $2y$ hashes log in with the old password, then become the service own hash and readable copy', async () => {
    const t = get();
    const { app } = t;
    const nodeMade = { hash: await bcrypt.hash('Old-Node-pass1', 5), password: 'Old-Node-pass1' };
    for (const [n, old] of [PHP_2Y, PHP_2A, nodeMade].entries()) {
      const loginName = `import-${n}`;
      const { i_account } = await call<{ i_account: number }>(
        app,
        'Account/add_account',
        { login: loginName, i_customer: customer, password_hash: old.hash },
        root,
      );
      const before = await call<{ account_info: Row }>(app, 'Account/get_account_info', { i_account, get_auth_info: 1 }, root);
      assert.equal(before.account_info.password, null, 'no readable copy can be made from a hash');

      refused(await login(app, 'account', loginName, `${old.password}x`), 401, 'Server.Session.auth_failed');
      assert.equal(Boolean((await storedRow(t, 'accounts', 'i_account', i_account)).password_hash_imported), true, 'a wrong password adopts nothing');

      const first = await login(app, 'account', loginName, old.password);
      assert.equal(first.body.status, 'authenticated', `${old.hash}: ${JSON.stringify(first.body)}`);
      const stored = await storedRow(t, 'accounts', 'i_account', i_account);
      assert.match(String(stored.password_hash), /^\$2b\$04\$/, 'replaced by a hash at BCRYPT_COST');
      assert.equal(Boolean(stored.password_hash_imported), false);
      const after = await call<{ account_info: Row }>(app, 'Account/get_account_info', { i_account, get_auth_info: 1 }, root);
      assert.equal(after.account_info.password, old.password, 'the readable copy is taken at the first login');
      assert.equal((await login(app, 'account', loginName, old.password)).body.status, 'authenticated', 'and the password keeps working');
    }
  });

  test('an admin user can be created with an imported hash instead of a password', async () => {
    const { app } = get();
    await call(app, 'User/add_user', { login: 'import-admin', password_hash: PHP_2Y.hash, permissions: ['audit.read'] }, root);
    const first = await login(app, 'admin', 'import-admin', PHP_2Y.password);
    assert.equal(first.body.status, 'authenticated');
    await call(app, 'AuditLog/get_event_list', { with_total: true }, String(first.body.access_token));
  });

  test('with password_must_change: true an imported password must be changed at the first login', async () => {
    const { app } = get();
    await call(app, 'Account/add_account', { login: 'import-forced', i_customer: customer, password_hash: PHP_2A.hash, password_must_change: true }, root);
    const first = await login(app, 'account', 'import-forced', PHP_2A.password);
    assert.equal(first.body.status, 'password_change_required');
    await call(app, 'Session/change_password', { old_password: PHP_2A.password, new_password: 'New-pass-1' }, String(first.body.access_token));
    assert.equal((await login(app, 'account', 'import-forced', 'New-pass-1')).body.status, 'authenticated');
  });

  test("update_<entity> imports a hash: the old password and readable copy go, the principal's sessions end", async () => {
    const t = get();
    const { app } = t;
    const { i_customer } = await call<{ i_customer: number }>(
      app,
      'Customer/add_customer',
      { login: 'import-upd', password: 'Before-pass1', password_must_change: false },
      root,
    );
    const session = String((await login(app, 'customer', 'import-upd', 'Before-pass1')).body.access_token);
    t.clock.advance(1000);
    await call(app, 'Customer/update_customer', { i_customer, password_hash: PHP_2Y.hash }, root);

    refused(await rest(app, 'Session/ping', {}, session), 401, 'Server.Session.check_auth.auth_failed');
    refused(await login(app, 'customer', 'import-upd', 'Before-pass1'), 401, 'Server.Session.auth_failed');
    const info = await call<{ customer_info: Row }>(app, 'Customer/get_customer_info', { i_customer, get_auth_info: 1 }, root);
    assert.equal(info.customer_info.password, null, 'the readable copy of the old password is gone');
    const stored = await storedRow(t, 'customers', 'i_customer', i_customer);
    assert.equal(Number(stored.password_set_at), t.clock.now(), 'the expiry clock starts at the import');
    assert.equal((await login(app, 'customer', 'import-upd', PHP_2Y.password)).body.status, 'authenticated');
  });

  test('a password set after the import is not replaced at the next login', async () => {
    const t = get();
    const { app } = t;
    const { i_account } = await call<{ i_account: number }>(
      app,
      'Account/add_account',
      { login: 'import-reset', i_customer: customer, password_hash: PHP_2Y.hash },
      root,
    );
    await call(app, 'Account/update_account', { i_account, password: 'Typed-pass1', password_must_change: false }, root);
    const set = await storedRow(t, 'accounts', 'i_account', i_account);
    assert.equal((await login(app, 'account', 'import-reset', 'Typed-pass1')).body.status, 'authenticated');
    assert.equal((await storedRow(t, 'accounts', 'i_account', i_account)).password_hash, set.password_hash);
  });

  test('a password an admin sets while the first login adopts the imported hash is kept', async () => {
    const { app } = get();
    const { i_account } = await call<{ i_account: number }>(
      app,
      'Account/add_account',
      { login: 'import-race', i_customer: customer, password_hash: PHP_2A.hash },
      root,
    );
    const hash = app.passwords.hash;
    let raced = false;
    // The admin's update commits between the login's password check and its write of the adopted hash.
    app.passwords.hash = async (password) => {
      if (!raced && password === PHP_2A.password) {
        raced = true;
        await call(app, 'Account/update_account', { i_account, password: 'Raced-pass1', password_must_change: false }, root);
      }
      return hash(password);
    };
    try {
      await login(app, 'account', 'import-race', PHP_2A.password);
    } finally {
      app.passwords.hash = hash;
    }
    assert.ok(raced);
    assert.equal((await login(app, 'account', 'import-race', 'Raced-pass1')).body.status, 'authenticated');
    refused(await login(app, 'account', 'import-race', PHP_2A.password), 401, 'Server.Session.auth_failed');
  });

  test('the hash is never returned, logged or audited; the audit row says a hash was imported', async () => {
    const t = get();
    const { app } = t;
    const { i_account } = await call<{ i_account: number }>(
      app,
      'Account/add_account',
      { login: 'import-quiet', i_customer: customer, password_hash: PHP_2A.hash },
      root,
    );
    const secretPart = PHP_2A.hash.slice(7);
    const answers = [
      await call(app, 'Account/get_account_info', { i_account, get_auth_info: 1 }, root),
      await call(app, 'Account/get_account_list', { with_total: true, login_prefix: 'import-quiet' }, root),
      await call(app, 'AuditLog/get_event_list', { with_total: true, entity: 'account', entity_id: i_account }, root),
    ];
    await login(app, 'account', 'import-quiet', PHP_2A.password);
    answers.push(await call(app, 'AuditLog/get_event_list', { with_total: true, entity: 'account', entity_id: i_account }, root));
    for (const answer of answers) assert.ok(!JSON.stringify(answer).includes(secretPart));
    assert.ok(!t.logs.join('').includes(secretPart), 'nothing logged holds the hash');

    const added = (await auditOf(app, root, 'account', i_account)).find((e) => e.event === 'account.add');
    assert.deepEqual(added?.details, {
      fields: ['login', 'i_customer', 'password_hash', 'blocked', 'two_factor_auth'],
      password_must_change: false,
      password_hash_imported: true,
    });
  });

  test('malformed hashes, out-of-range costs and a password with a hash are refused without echoing the hash, and change nothing', async () => {
    const t = get();
    const { app } = t;
    const good = PHP_2Y.hash;
    const bad = [
      ['$2x$', `$2x$${good.slice(4)}`],
      ['$2$ (no minor)', `$2$${good.slice(4)}`],
      ['cost 03', `$2b$03$${good.slice(7)}`],
      ['cost 17', `$2b$17$${good.slice(7)}`],
      ['cost 31', `$2b$31$${good.slice(7)}`],
      ['cost 4 (one digit)', `$2b$4$${good.slice(7)}`],
      ['one character short', good.slice(0, -1)],
      ['one character long', `${good}.`],
      ['a character outside bcrypt base64', `${good.slice(0, 20)}+${good.slice(21)}`],
      ['a salt that does not end on its last bits', `${good.slice(0, 28)}v${good.slice(29)}`],
      ['a hash that does not end on its last bits', `${good.slice(0, 59)}T`],
      ['argon2', '$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG'],
      ['plain text', 'Old-Php-pass1'],
    ];
    for (const [what, hash] of bad) {
      const answer = refused(
        await rest(app, 'Account/add_account', { login: 'import-bad', i_customer: customer, password_hash: hash }, root),
        400,
        'Client.Request.invalid_params',
      );
      assert.deepEqual(errorPaths(answer), ['/password_hash'], what);
      assert.ok(!JSON.stringify(answer).includes(String(hash).slice(7)), `${what}: the fault does not echo the hash`);
    }
    const both = refused(
      await rest(app, 'Account/add_account', { login: 'import-bad', i_customer: customer, password: 'Both-pass1', password_hash: good }, root),
      400,
      'Client.Request.invalid_params',
    );
    assert.deepEqual(errorPaths(both), ['/password']);
    const viaRpc = await rpc(app, 'Account/add_account', { login: 'import-bad', i_customer: customer, password: 'Both-pass1', password_hash: good }, root);
    assert.equal(viaRpc.error?.data.faultcode, 'Client.Request.invalid_params');
    refused(await rest(app, 'User/add_user', { login: 'import-bad' }, root), 400, 'Client.Request.invalid_params');
    assert.equal((await call(app, 'Account/get_account_list', { with_total: true, login_prefix: 'import-bad' }, root)).total, 0);
    assert.equal((await call(app, 'User/get_user_list', { with_total: true, login_prefix: 'import-bad' }, root)).total, 0);

    const { i_account } = await call<{ i_account: number }>(
      app,
      'Account/add_account',
      { login: 'import-keep', i_customer: customer, password: 'Keep-pass1', password_must_change: false },
      root,
    );
    const stored = await storedRow(t, 'accounts', 'i_account', i_account);
    refused(await rest(app, 'Account/update_account', { i_account, password_hash: bad[3]?.[1] }, root), 400, 'Client.Request.invalid_params');
    refused(await rest(app, 'Account/update_account', { i_account, password: 'Both-pass1', password_hash: good }, root), 400, 'Client.Request.invalid_params');
    assert.deepEqual(await storedRow(t, 'accounts', 'i_account', i_account), stored);
    assert.equal((await login(app, 'account', 'import-keep', 'Keep-pass1')).body.status, 'authenticated');
  });

  test('only root imports a hash for root', async () => {
    const t = get();
    const { app } = t;
    await call(app, 'User/add_user', { login: 'import-deputy', password: 'Deputy-pass1', password_must_change: false, permissions: PERMISSIONS }, root);
    const deputy = String((await login(app, 'admin', 'import-deputy', 'Deputy-pass1')).body.access_token);
    const rootRow = await t.app.db.knex('users').where({ is_root: true }).first();
    refused(await rest(app, 'User/update_user', { i_user: rootRow.i_user, password_hash: PHP_2Y.hash }, deputy), 409, 'Server.Conflict.protected');
    assert.deepEqual(await t.app.db.knex('users').where({ is_root: true }).first(), rootRow);
  });
});

describeEachDatabase(
  'provisioning with ADMIN_SET_PASSWORD_MUST_CHANGE=false and SECURITY_ENCRYPT_PASSWORDS=false',
  (get) => {
    let root: string;
    let customer: number;
    before(async () => {
      root = await loginRoot(get().app);
      customer = (await call<{ i_customer: number }>(get().app, 'Customer/add_customer', { login: 'cfg-co' }, root)).i_customer;
    });

    test('an admin-set password works at once unless the call says password_must_change: true', async () => {
      const { app } = get();
      await call(app, 'Account/add_account', { login: 'cfg-ready', i_customer: customer, password: 'Ready-pass1' }, root);
      assert.equal((await login(app, 'account', 'cfg-ready', 'Ready-pass1')).body.status, 'authenticated');
      await call(app, 'Account/add_account', { login: 'cfg-forced', i_customer: customer, password: 'Forced-pass1', password_must_change: true }, root);
      assert.equal((await login(app, 'account', 'cfg-forced', 'Forced-pass1')).body.status, 'password_change_required');
    });

    test('an imported hash is replaced at the first login, and no readable copy is taken', async () => {
      const t = get();
      const { app } = t;
      const { i_account } = await call<{ i_account: number }>(
        app,
        'Account/add_account',
        { login: 'cfg-import', i_customer: customer, password_hash: PHP_2Y.hash },
        root,
      );
      assert.equal((await login(app, 'account', 'cfg-import', PHP_2Y.password)).body.status, 'authenticated');
      const stored = await storedRow(t, 'accounts', 'i_account', i_account);
      assert.match(String(stored.password_hash), /^\$2b\$04\$/);
      assert.equal(stored.password_enc, null);
    });
  },
  { ADMIN_SET_PASSWORD_MUST_CHANGE: false, SECURITY_ENCRYPT_PASSWORDS: false },
);
