import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { ENTITIES, type EntityDescriptor } from '../../src/entities/descriptors.js';
import { describeEachDatabase, ROOT_PASSWORD } from '../helpers/app.js';
import { call, firstLogin, login, loginRoot, rest, rpc } from '../helpers/rpc.js';

type Refs = { i_customer_class: number; i_customer: number };

/** One valid `add_*` payload per entity; the login gets a suffix so tests do not collide. */
function sample(d: EntityDescriptor, refs: Refs, suffix: string): Record<string, unknown> {
  switch (d.name) {
    case 'user':
      return { login: `Alice${suffix}`, password: 'Secret-1a', email: 'alice@example.com', permissions: ['customers.manage'] };
    case 'customer_class':
      return { name: `Gold${suffix}`, two_factor_auth: true };
    case 'customer':
      return { login: `Acme${suffix}`, password: 'Secret-1a', customer_type: 'retail', i_customer_class: refs.i_customer_class };
    case 'customer_individual':
      return { login: `Bob${suffix}`, i_customer: refs.i_customer, email: 'bob@example.com' };
    case 'account':
      return { login: `1555000${suffix}`, i_customer: refs.i_customer, password: 'Secret-1a' };
    default:
      return { login: `${d.name}${suffix}`, two_factor_auth: 'enabled' };
  }
}

describeEachDatabase('identity: generic admin API', (get) => {
  let root: string;
  let refs: Refs;

  before(async () => {
    const { app } = get();
    root = await loginRoot(app);
    const cls = await call(app, 'CustomerClass/add_customer_class', { name: 'Base' }, root);
    const customer = await call(app, 'Customer/add_customer', { login: 'parent-co', i_customer_class: cls.i_customer_class }, root);
    refs = { i_customer_class: cls.i_customer_class as number, i_customer: customer.i_customer as number };
  });

  for (const d of ENTITIES) {
    test(`${d.service}: add, get_info by id and by ${d.keyField}, update, list, delete`, async () => {
      const { app } = get();
      const payload = sample(d, refs, 'x');
      const added = await call(app, `${d.service}/add_${d.name}`, payload, root);
      const id = added[d.idField] as number;
      assert.ok(Number.isInteger(id) && id > 0);

      const byId = (await call(app, `${d.service}/get_${d.name}_info`, { [d.idField]: id }, root))[`${d.name}_info`] as Record<string, unknown>;
      assert.equal(byId[d.idField], id);
      assert.equal(byId[d.keyField], payload[d.keyField]);
      assert.equal(byId.password, undefined, 'write-only fields are never returned');
      assert.equal(byId.password_hash, undefined);
      if (d.realm) assert.equal(typeof byId.two_factor_auth_effective, 'boolean');

      const key = String(payload[d.keyField]).toUpperCase();
      const byKey = (await call(app, `${d.service}/get_${d.name}_info`, { [d.keyField]: key }, root))[`${d.name}_info`];
      assert.deepEqual(byKey, byId, 'lookup by key ignores case');

      const change = d.name === 'customer_class' ? { two_factor_auth: false } : { email: 'changed@example.com' };
      const updated = await call(app, `${d.service}/update_${d.name}`, { [d.idField]: id, ...change }, root);
      assert.deepEqual(updated, { [d.idField]: id });
      const after = (await call(app, `${d.service}/get_${d.name}_info`, { [d.idField]: id }, root))[`${d.name}_info`] as Record<string, unknown>;
      for (const [k, v] of Object.entries(change)) assert.equal(after[k], v);
      assert.equal(after[d.keyField], payload[d.keyField], 'fields not named are kept');

      const list = await call(app, `${d.service}/get_${d.name}_list`, { with_total: true, [`${d.keyField}_prefix`]: key.slice(0, 3).toLowerCase() }, root);
      const rows = list[`${d.name}_list`] as Array<Record<string, unknown>>;
      assert.ok(rows.some((r) => r[d.idField] === id));
      assert.equal(list.total, rows.length);

      assert.deepEqual(await call(app, `${d.service}/delete_${d.name}`, { [d.idField]: id }, root), { success: 1 });
      const gone = await rest(app, `${d.service}/get_${d.name}_info`, { [d.idField]: id }, root);
      assert.equal(gone.status, 404);
      assert.equal(gone.body.faultcode, 'Server.NotFound');
    });

    test(`${d.service}: duplicate ${d.keyField} (any case) is refused and writes nothing`, async () => {
      const { app } = get();
      const payload = sample(d, refs, 'dup');
      await call(app, `${d.service}/add_${d.name}`, payload, root);
      const before = (await call(app, `${d.service}/get_${d.name}_list`, { with_total: true }, root)).total;
      const clash = await rest(app, `${d.service}/add_${d.name}`, { ...payload, [d.keyField]: String(payload[d.keyField]).toUpperCase() }, root);
      assert.equal(clash.status, 409);
      assert.equal(clash.body.faultcode, 'Server.Conflict.login_taken');
      assert.equal((await call(app, `${d.service}/get_${d.name}_list`, { with_total: true }, root)).total, before);
    });

    test(`${d.service}: unknown ids answer 404 on get, update, delete${d.realm ? ', reset_2fa_key' : ''}`, async () => {
      const { app } = get();
      const ops = ['get_%_info', 'update_%', 'delete_%'].map((op) => op.replace('%', d.name));
      if (d.realm) ops.push('reset_2fa_key');
      for (const op of ops) {
        const answer = await rest(app, `${d.service}/${op}`, { [d.idField]: 999_999 }, root);
        assert.equal(answer.status, 404, op);
        assert.equal(answer.body.faultcode, 'Server.NotFound');
      }
    });

    test(`${d.service}: wrong types, unknown fields and bad enums are -32602`, async () => {
      const { app } = get();
      const good = sample(d, refs, 'bad');
      const bad = [{ ...good, [d.keyField]: 42 }, { ...good, surprise: true }, { ...good, blocked: 'yes' }, { [d.idField]: 'one' }];
      if (d.twoFactor !== 'boolean') bad.push({ ...good, two_factor_auth: 'sometimes' });
      for (const params of bad) {
        const method = d.idField in params && !(d.keyField in params) ? `${d.service}/get_${d.name}_info` : `${d.service}/add_${d.name}`;
        const answer = await rpc(app, method, params, root);
        assert.equal(answer.error?.code, -32602, JSON.stringify(params));
      }
      const list = await call(app, `${d.service}/get_${d.name}_list`, { with_total: true, [`${d.keyField}_prefix`]: String(good[d.keyField]) }, root);
      assert.equal(list.total, 0, 'nothing was written');
    });
  }

  for (const d of ENTITIES) {
    const methods: Array<[string, (refs: Refs) => Record<string, unknown>]> = [
      [`add_${d.name}`, (r) => sample(d, r, '-forbidden')],
      [`get_${d.name}_info`, () => ({ [d.idField]: 1 })],
      [`update_${d.name}`, () => ({ [d.idField]: 1, [d.keyField]: 'renamed-by-nobody' })],
      [`get_${d.name}_list`, () => ({})],
      [`delete_${d.name}`, () => ({ [d.idField]: 1 })],
      ...(d.realm ? [['reset_2fa_key', () => ({ [d.idField]: 1 })] as [string, () => Record<string, unknown>]] : []),
    ];
    test(`${d.service}: every method answers an admin without ${d.permission} with AccessControl.forbidden`, async () => {
      const { app } = get();
      const login = `powerless-${d.name}`;
      await call(app, 'User/add_user', { login, password: 'Secret-1a', permissions: [] }, root);
      const powerless = await firstLogin(app, 'admin', login, 'Secret-1a');
      for (const [name, params] of methods) {
        // update_user of its own record is allowed; here it names another (root, id 1).
        const answer = await rest(app, `${d.service}/${name}`, params(refs), powerless);
        assert.equal(answer.status, 403, name);
        assert.equal(answer.body.faultcode, 'Server.AccessControl.forbidden', name);
      }
      const key = String(sample(d, refs, '-forbidden')[d.keyField]);
      const list = await call(app, `${d.service}/get_${d.name}_list`, { with_total: true, [`${d.keyField}_prefix`]: key }, root);
      assert.equal(list.total, 0, 'nothing was added');
    });

    test(`${d.service}: renaming to a ${d.keyField} that is taken answers login_taken and changes nothing`, async () => {
      const { app } = get();
      const first = sample(d, refs, '-taken1');
      await call(app, `${d.service}/add_${d.name}`, first, root);
      const second = await call(app, `${d.service}/add_${d.name}`, sample(d, refs, '-taken2'), root);
      const id = second[d.idField];
      const answer = await rest(app, `${d.service}/update_${d.name}`, { [d.idField]: id, [d.keyField]: String(first[d.keyField]).toUpperCase() }, root);
      assert.equal(answer.status, 409);
      assert.equal(answer.body.faultcode, 'Server.Conflict.login_taken');
      const info = (await call(app, `${d.service}/get_${d.name}_info`, { [d.idField]: id }, root))[`${d.name}_info`] as Record<string, unknown>;
      assert.equal(info[d.keyField], sample(d, refs, '-taken2')[d.keyField]);
    });

    if (d.realm) {
      test(`${d.service}: a password that breaks the policy answers policy_violation on add and update, and writes nothing`, async () => {
        const { app } = get();
        const added = await rest(app, `${d.service}/add_${d.name}`, { ...sample(d, refs, '-weak'), password: 'short' }, root);
        assert.equal(added.status, 422);
        assert.equal(added.body.faultcode, 'Server.Password.policy_violation');
        const key = String(sample(d, refs, '-weak')[d.keyField]);
        assert.equal((await call(app, `${d.service}/get_${d.name}_list`, { with_total: true, [`${d.keyField}_prefix`]: key }, root)).total, 0);
        const ok = await call(app, `${d.service}/add_${d.name}`, { ...sample(d, refs, '-weak2'), password: 'Secret-1a' }, root);
        const updated = await rest(app, `${d.service}/update_${d.name}`, { [d.idField]: ok[d.idField], password: 'short' }, root);
        assert.equal(updated.status, 422);
        assert.equal(updated.body.faultcode, 'Server.Password.policy_violation');
      });
    }

    if (d.references.length > 0) {
      test(`${d.service}: an unknown reference answers NotFound naming the field, on add and update`, async () => {
        const { app } = get();
        for (const ref of d.references) {
          const added = await rest(app, `${d.service}/add_${d.name}`, { ...sample(d, refs, '-ref'), [ref.field]: 999_999 }, root);
          assert.equal(added.status, 404, ref.field);
          assert.equal(added.body.faultcode, 'Server.NotFound');
          assert.equal(added.body.field, ref.field);
        }
        const ok = await call(app, `${d.service}/add_${d.name}`, sample(d, refs, '-ref2'), root);
        const ref = d.references[0]!;
        const updated = await rest(app, `${d.service}/update_${d.name}`, { [d.idField]: ok[d.idField], [ref.field]: 999_999 }, root);
        assert.equal(updated.body.faultcode, 'Server.NotFound');
        assert.equal(updated.body.field, ref.field);
      });
    }
  }

  test('get_info needs exactly one of id and login', async () => {
    const { app } = get();
    const both = await rpc(app, 'Account/get_account_info', { i_account: 1, login: 'x' }, root);
    assert.equal(both.error?.code, -32602);
    const none = await rpc(app, 'Account/get_account_info', {}, root);
    assert.equal(none.error?.code, -32602);
  });

  test('lists page with limit/offset and filter by parent', async () => {
    const { app } = get();
    const other = await call(app, 'Customer/add_customer', { login: 'other-co' }, root);
    for (let i = 0; i < 5; i++) await call(app, 'Account/add_account', { login: `page-${i}`, i_customer: refs.i_customer }, root);
    await call(app, 'Account/add_account', { login: 'page-other', i_customer: other.i_customer }, root);
    const first = await call(app, 'Account/get_account_list', { with_total: true, login_prefix: 'page-', limit: 2 }, root);
    assert.equal(first.total, 6);
    assert.equal((first.account_list as unknown[]).length, 2);
    const rest3 = await call(app, 'Account/get_account_list', { with_total: true, login_prefix: 'page-', limit: 100, offset: 4 }, root);
    assert.equal((rest3.account_list as unknown[]).length, 2);
    const mine = await call(app, 'Account/get_account_list', { with_total: true, login_prefix: 'page-', i_customer: other.i_customer }, root);
    assert.equal(mine.total, 1);
    const literal = await call(app, 'Account/get_account_list', { with_total: true, login_prefix: 'page_%' }, root);
    assert.equal(literal.total, 0, 'LIKE wildcards in the prefix are taken literally');
    const tooMany = await rpc(app, 'Account/get_account_list', { with_total: true, limit: 5000 }, root);
    assert.equal(tooMany.error?.code, -32602);
  });

  test('references: unknown parent 404, i_parent must be a reseller, no self-reference', async () => {
    const { app } = get();
    const unknownClass = await rest(app, 'Customer/add_customer', { login: 'ref-1', i_customer_class: 999_999 }, root);
    assert.equal(unknownClass.status, 404);
    assert.equal(unknownClass.body.faultcode, 'Server.NotFound');
    assert.equal(unknownClass.body.field, 'i_customer_class');
    const retail = await rest(app, 'Customer/add_customer', { login: 'ref-2', i_parent: refs.i_customer }, root);
    assert.equal(retail.status, 422);
    assert.equal(retail.body.faultcode, 'Server.Validation.invalid_reference');
    const reseller = await call(app, 'Customer/add_customer', { login: 'reseller-1', customer_type: 'reseller' }, root);
    const sub = await call(app, 'Customer/add_customer', { login: 'ref-3', i_parent: reseller.i_customer }, root);
    assert.ok(sub.i_customer);
    const self = await rest(app, 'Customer/update_customer', { i_customer: reseller.i_customer, i_parent: reseller.i_customer }, root);
    assert.equal(self.status, 422);
    assert.equal(self.body.faultcode, 'Server.Validation.invalid_reference');
    const noCustomer = await rest(app, 'Account/add_account', { login: 'ref-4', i_customer: 999_999 }, root);
    assert.equal(noCustomer.status, 404);
    assert.equal(noCustomer.body.faultcode, 'Server.NotFound');
  });

  test('delete is refused while children exist, naming them', async () => {
    const { app } = get();
    const cls = await call(app, 'CustomerClass/add_customer_class', { name: 'Parenting' }, root);
    const reseller = await call(app, 'Customer/add_customer', { login: 'kids-co', customer_type: 'reseller', i_customer_class: cls.i_customer_class }, root);
    await call(app, 'Account/add_account', { login: 'kid-acc-1', i_customer: reseller.i_customer }, root);
    await call(app, 'Account/add_account', { login: 'kid-acc-2', i_customer: reseller.i_customer }, root);
    await call(app, 'CustomerIndividual/add_customer_individual', { login: 'kid-ind', i_customer: reseller.i_customer }, root);
    await call(app, 'Customer/add_customer', { login: 'kid-sub', i_parent: reseller.i_customer }, root);

    const refused = await rest(app, 'Customer/delete_customer', { i_customer: reseller.i_customer }, root);
    assert.equal(refused.status, 409);
    assert.equal(refused.body.faultcode, 'Server.Conflict.has_children');
    assert.deepEqual(refused.body.children, { customer_individual: 1, account: 2, customer: 1 });
    const classRefused = await rest(app, 'CustomerClass/delete_customer_class', { i_customer_class: cls.i_customer_class }, root);
    assert.equal(classRefused.body.faultcode, 'Server.Conflict.has_children');
    assert.deepEqual(classRefused.body.children, { customer: 1 });
    assert.ok(await call(app, 'Customer/get_customer_info', { i_customer: reseller.i_customer }, root), 'still there');
  });

  test('the 2FA policy chain is resolved at read time, so a class change applies at once', async () => {
    const { app } = get();
    const cls = await call(app, 'CustomerClass/add_customer_class', { name: 'Chain', two_factor_auth: false }, root);
    const customer = await call(app, 'Customer/add_customer', { login: 'chain-co', i_customer_class: cls.i_customer_class }, root);
    const account = await call(app, 'Account/add_account', { login: 'chain-acc', i_customer: customer.i_customer }, root);
    const individual = await call(
      app,
      'CustomerIndividual/add_customer_individual',
      { login: 'chain-ind', i_customer: customer.i_customer, two_factor_auth: 'disabled' },
      root,
    );
    const effective = async () => ({
      customer: ((await call(app, 'Customer/get_customer_info', customer, root)).customer_info as Record<string, unknown>).two_factor_auth_effective,
      account: ((await call(app, 'Account/get_account_info', account, root)).account_info as Record<string, unknown>).two_factor_auth_effective,
      individual: ((await call(app, 'CustomerIndividual/get_customer_individual_info', individual, root)).customer_individual_info as Record<string, unknown>)
        .two_factor_auth_effective,
    });
    assert.deepEqual(await effective(), { customer: false, account: false, individual: false });
    await call(app, 'CustomerClass/update_customer_class', { i_customer_class: cls.i_customer_class, two_factor_auth: true }, root);
    assert.deepEqual(await effective(), { customer: true, account: true, individual: false });
    await call(app, 'Customer/update_customer', { i_customer: customer.i_customer, two_factor_auth: 'disabled' }, root);
    assert.deepEqual(await effective(), { customer: false, account: false, individual: false });
    await call(app, 'Account/update_account', { i_account: account.i_account, two_factor_auth: 'enabled' }, root);
    assert.deepEqual(await effective(), { customer: false, account: true, individual: false });
    const list = await call(app, 'Account/get_account_list', { with_total: true, i_customer: customer.i_customer }, root);
    assert.equal((list.account_list as Array<Record<string, unknown>>)[0]?.two_factor_auth_effective, true, 'lists resolve the chain too');
  });

  test('reset_2fa_key removes the key and needs 2fa.reset', async () => {
    const { app } = get();
    const account = await call(app, 'Account/add_account', { login: 'lost-phone', i_customer: refs.i_customer }, root);
    await app.repos.twoFactorKeys.insert({
      realm: 'account',
      principal_id: account.i_account as number,
      secret_enc: 'v1.x.y.z',
      status: 'active',
      created_at: 1,
      activated_at: 1,
    });
    await call(app, 'User/add_user', { login: 'no-2fa-reset', password: 'Secret-1a', permissions: ['accounts.manage'] }, root);
    const helper = await firstLogin(app, 'admin', 'no-2fa-reset', 'Secret-1a');
    const denied = await rest(app, 'Account/reset_2fa_key', { i_account: account.i_account }, helper);
    assert.equal(denied.status, 403);
    assert.equal(denied.body.faultcode, 'Server.AccessControl.forbidden');
    assert.ok(await app.repos.twoFactorKeys.find('account', account.i_account as number), 'nothing changed');
    assert.deepEqual(await call(app, 'Account/reset_2fa_key', { i_account: account.i_account }, root), { success: 1 });
    assert.equal(await app.repos.twoFactorKeys.find('account', account.i_account as number), undefined);
    const events = await call(app, 'AuditLog/get_event_list', { with_total: true, event: 'account.reset_2fa_key', entity_id: account.i_account }, root);
    assert.equal(events.total, 1);
  });
});

describeEachDatabase('identity: permissions and protection', (get) => {
  let root: string;
  before(async () => {
    root = await loginRoot(get().app);
  });

  test('an admin without the permission is refused and nothing changes', async () => {
    const { app } = get();
    await call(app, 'User/add_user', { login: 'operator', password: 'Secret-1a', permissions: ['customers.manage'] }, root);
    const operator = await firstLogin(app, 'admin', 'operator', 'Secret-1a');
    const cls = await call(app, 'CustomerClass/add_customer_class', { name: 'Ops' }, operator);
    assert.ok(cls.i_customer_class, 'customers.manage covers classes');
    const customer = await call(app, 'Customer/add_customer', { login: 'ops-co' }, operator);

    const refusals: Array<[string, Record<string, unknown>]> = [
      ['User/add_user', { login: 'sneaky', password: 'Secret-1a' }],
      ['User/get_user_list', { with_total: true }],
      ['Account/add_account', { login: 'ops-acc', i_customer: customer.i_customer }],
      ['Representative/add_representative', { login: 'ops-rep' }],
      ['Vendor/get_vendor_list', { with_total: true }],
      ['Customer/reset_2fa_key', { i_customer: customer.i_customer }],
      ['AuditLog/get_event_list', { with_total: true }],
    ];
    for (const [method, params] of refusals) {
      const answer = await rest(app, method, params, operator);
      assert.equal(answer.status, 403, method);
      assert.equal(answer.body.faultcode, 'Server.AccessControl.forbidden');
      const viaRpc = await rpc(app, method, params, operator);
      assert.equal(viaRpc.error?.data.faultcode, 'Server.AccessControl.forbidden');
    }
    assert.equal((await call(app, 'User/get_user_list', { with_total: true, login_prefix: 'sneaky' }, root)).total, 0);
    assert.equal((await call(app, 'Account/get_account_list', { with_total: true, login_prefix: 'ops-acc' }, root)).total, 0);
  });

  test('a non-admin session calling an admin method gets forbidden', async () => {
    const { app } = get();
    await call(app, 'Customer/add_customer', { login: 'self-care', password: 'Secret-1a' }, root);
    const customer = await firstLogin(app, 'customer', 'self-care', 'Secret-1a');
    const answer = await rest(app, 'Customer/get_customer_list', { with_total: true }, customer);
    assert.equal(answer.status, 403);
    assert.equal(answer.body.faultcode, 'Server.AccessControl.forbidden');
  });

  test("a principal may read its own record, and nobody else's", async () => {
    const { app } = get();
    const owner = await call<{ i_customer: number }>(app, 'Customer/add_customer', { login: 'reader-co' }, root);
    const mine = await call<{ i_account: number }>(
      app,
      'Account/add_account',
      { login: 'reader-1', i_customer: owner.i_customer, password: 'Secret-1a' },
      root,
    );
    const other = await call<{ i_account: number }>(app, 'Account/add_account', { login: 'reader-2', i_customer: owner.i_customer }, root);
    const token = await firstLogin(app, 'account', 'reader-1', 'Secret-1a');
    const own = await call(app, 'Account/get_account_info', { i_account: mine.i_account, get_auth_info: 1 }, token);
    assert.equal((own.account_info as Record<string, unknown>).login, 'reader-1');
    assert.ok(!('password' in (own.account_info as Record<string, unknown>)), 'no password read-back without passwords.read');
    for (const params of [{ i_account: other.i_account }, { login: 'reader-2' }]) {
      const answer = await rest(app, 'Account/get_account_info', params, token);
      assert.equal(answer.status, 403);
      assert.equal(answer.body.faultcode, 'Server.AccessControl.forbidden');
    }
    assert.equal((await rest(app, 'Customer/get_customer_info', { i_customer: owner.i_customer }, token)).body.faultcode, 'Server.AccessControl.forbidden');
  });

  test('permission changes take effect on the next call', async () => {
    const { app } = get();
    const user = await call(app, 'User/add_user', { login: 'promoted', password: 'Secret-1a', permissions: [] }, root);
    const token = await firstLogin(app, 'admin', 'promoted', 'Secret-1a');
    assert.equal((await rest(app, 'Vendor/get_vendor_list', { with_total: true }, token)).status, 403);
    await call(app, 'User/update_user', { i_user: user.i_user, permissions: ['partners.manage'] }, root);
    assert.equal((await rest(app, 'Vendor/get_vendor_list', { with_total: true }, token)).status, 200);
  });

  test('root cannot be deleted, blocked or demoted', async () => {
    const { app } = get();
    const info = (await call(app, 'User/get_user_info', { login: 'root' }, root)).user_info as Record<string, unknown>;
    assert.equal(info.is_root, true);
    const id = info.i_user;
    for (const [method, params] of [
      ['User/delete_user', { i_user: id }],
      ['User/update_user', { i_user: id, blocked: true }],
      ['User/update_user', { i_user: id, permissions: ['users.manage'] }],
    ] as const) {
      const answer = await rest(app, method, params, root);
      assert.equal(answer.status, 409, method);
      assert.equal(answer.body.faultcode, 'Server.Conflict.protected');
    }
    assert.ok(await login(app, 'admin', 'root', ROOT_PASSWORD));
  });

  test('blocking a principal ends its sessions and refuses its logins', async () => {
    const { app } = get();
    const vendor = await call(app, 'Vendor/add_vendor', { login: 'carrier-x', password: 'Secret-1a' }, root);
    const token = await firstLogin(app, 'vendor', 'carrier-x', 'Secret-1a');
    assert.equal((await rest(app, 'Session/ping', {}, token)).status, 200);
    await call(app, 'Vendor/update_vendor', { i_vendor: vendor.i_vendor, blocked: true }, root);
    const ping = await rest(app, 'Session/ping', {}, token);
    assert.equal(ping.status, 401);
    assert.equal(ping.body.faultcode, 'Server.Session.check_auth.auth_failed');
    const again = await rest(app, 'Session/login', { login: 'carrier-x', password: 'Secret-1aZ', realm: 'vendor' });
    assert.equal(again.body.faultcode, 'Server.Session.auth_failed');
  });

  test('an admin acts on another admin only if it holds every permission that admin holds', async () => {
    const { app } = get();
    const mgrUser = await call<{ i_user: number }>(
      app,
      'User/add_user',
      { login: 'mgr', password: 'Secret-1a', permissions: ['users.manage', '2fa.reset'] },
      root,
    );
    const boss = await call<{ i_user: number }>(
      app,
      'User/add_user',
      { login: 'boss', password: 'Secret-1a', permissions: ['users.manage', 'passwords.read', 'sessions.impersonate'] },
      root,
    );
    const junior = await call<{ i_user: number }>(app, 'User/add_user', { login: 'junior', password: 'Secret-1a', permissions: ['2fa.reset'] }, root);
    const mgr = await firstLogin(app, 'admin', 'mgr', 'Secret-1a');
    const bossToken = await firstLogin(app, 'admin', 'boss', 'Secret-1a');
    const rootId = ((await call(app, 'User/get_user_info', { login: 'root' }, root)).user_info as { i_user: number }).i_user;

    for (const [method, params] of [
      ['User/update_user', { i_user: boss.i_user, password: 'Taken-over-1' }],
      ['User/update_user', { i_user: boss.i_user, blocked: true }],
      ['User/update_user', { i_user: boss.i_user, two_factor_auth: true }],
      ['User/delete_user', { i_user: boss.i_user }],
      ['User/reset_2fa_key', { i_user: boss.i_user }],
      ['User/update_user', { i_user: rootId, two_factor_auth: true }],
    ] as const) {
      const answer = await rest(app, method, params, mgr);
      assert.equal(answer.status, 403, `${method} ${JSON.stringify(params)}`);
      assert.equal(answer.body.faultcode, 'Server.AccessControl.forbidden');
    }
    const bossInfo = (await call(app, 'User/get_user_info', { i_user: boss.i_user }, root)).user_info as Record<string, unknown>;
    assert.equal(bossInfo.blocked, false);
    assert.equal(bossInfo.two_factor_auth, false);
    assert.equal((await rest(app, 'Session/ping', {}, bossToken)).status, 200, "boss's session lives on");
    assert.ok(await login(app, 'admin', 'boss', 'Secret-1aZ'), "boss's password is unchanged");

    // Admins whose permissions it holds all of, and itself, it may manage.
    await call(app, 'User/update_user', { i_user: junior.i_user, two_factor_auth: true }, mgr);
    await call(app, 'User/reset_2fa_key', { i_user: junior.i_user }, mgr);
    await call(app, 'User/update_user', { i_user: mgrUser.i_user, two_factor_auth: false }, mgr);
    await call(app, 'User/delete_user', { i_user: junior.i_user }, mgr);
  });

  test('blocking ends the sessions for good, and a password set by an admin ends them too', async () => {
    const { app, clock } = get();
    const co = await call<{ i_customer: number }>(app, 'Customer/add_customer', { login: 'incident-co' }, root);
    const acc = await call<{ i_account: number }>(app, 'Account/add_account', { login: 'stolen', i_customer: co.i_customer, password: 'Secret-1a' }, root);
    await firstLogin(app, 'account', 'stolen', 'Secret-1a');
    const thief = await call<{ access_token: string; refresh_token: string }>(app, 'Session/login', {
      login: 'stolen',
      password: 'Secret-1aZ',
      realm: 'account',
    });

    // The usual answer to a stolen login: block it, set a new password, unblock it.
    await call(app, 'Account/update_account', { i_account: acc.i_account, blocked: true }, root);
    await call(app, 'Account/update_account', { i_account: acc.i_account, password: 'Fresh-pass-2' }, root);
    clock.advance(60_000);
    await call(app, 'Account/update_account', { i_account: acc.i_account, blocked: false }, root);
    assert.equal((await rest(app, 'Session/ping', {}, thief.access_token)).status, 401, 'unblocking does not bring the session back');
    const refresh = await rest(app, 'Session/refresh_access_token', { refresh_token: thief.refresh_token });
    assert.equal(refresh.body.faultcode, 'Server.Session.refresh_token_invalid');

    // A password set by an admin alone ends the sessions too.
    const owner = await call<{ status: string; access_token: string }>(app, 'Session/login', { login: 'stolen', password: 'Fresh-pass-2', realm: 'account' });
    await call(app, 'Session/change_password', { old_password: 'Fresh-pass-2', new_password: 'Fresh-pass-3' }, owner.access_token);
    assert.equal((await rest(app, 'Session/ping', {}, owner.access_token)).status, 200);
    await call(app, 'Account/update_account', { i_account: acc.i_account, password: 'Fresh-pass-4' }, root);
    assert.equal((await rest(app, 'Session/ping', {}, owner.access_token)).status, 401);
    const events = await call<{ event_list: Array<{ event: string; details: Record<string, unknown> }> }>(
      app,
      'AuditLog/get_event_list',
      { with_total: true, entity: 'account', entity_id: acc.i_account, event: 'account.update', limit: 1 },
      root,
    );
    assert.equal(events.event_list[0]?.details.sessions_revoked, 1, 'the audit row counts the sessions it ended');

    // An admin who sets its own password keeps the session it does that in.
    const self = await call<{ i_user: number }>(app, 'User/add_user', { login: 'self-set', password: 'Secret-1a', permissions: ['users.manage'] }, root);
    const token = await firstLogin(app, 'admin', 'self-set', 'Secret-1a');
    const other = await login(app, 'admin', 'self-set', 'Secret-1aZ');
    await call(app, 'User/update_user', { i_user: self.i_user, password: 'Secret-1aY' }, token);
    assert.equal((await rest(app, 'Session/ping', {}, token)).status, 200);
    assert.equal((await rest(app, 'Session/ping', {}, other)).status, 401);
  });

  test('a login is per realm: the same name in another realm is another principal', async () => {
    const { app } = get();
    await call(app, 'Representative/add_representative', { login: 'shared-name', password: 'Secret-1a' }, root);
    await call(app, 'Vendor/add_vendor', { login: 'shared-name', password: 'Other-2b' }, root);
    assert.ok(await firstLogin(app, 'representative', 'shared-name', 'Secret-1a'));
    const wrongRealm = await rest(app, 'Session/login', { login: 'shared-name', password: 'Secret-1aZ', realm: 'vendor' });
    assert.equal(wrongRealm.body.faultcode, 'Server.Session.auth_failed');
  });
});

describeEachDatabase('identity: audit log', (get) => {
  let root: string;
  before(async () => {
    root = await loginRoot(get().app);
  });

  test('every change writes an audit row with actor, target and IP, never a secret', async () => {
    const { app } = get();
    const start = new Date(app.clock.now() - 1000).toISOString();
    const rep = await call(app, 'Representative/add_representative', { login: 'audited', password: 'Audit-Secret-9' }, root);
    await call(app, 'Representative/update_representative', { i_representative: rep.i_representative, password: 'Audit-Secret-8', email: 'a@b.example' }, root);
    await call(app, 'Representative/delete_representative', { i_representative: rep.i_representative }, root);
    const { event_list: events, total } = await call<{ event_list: Array<Record<string, unknown>>; total: number }>(
      app,
      'AuditLog/get_event_list',
      { with_total: true, entity: 'representative', entity_id: rep.i_representative as number, from: start },
      root,
    );
    assert.equal(total, 3);
    assert.deepEqual(
      events.map((e) => e.event),
      ['representative.delete', 'representative.update', 'representative.add'],
    );
    for (const e of events) {
      assert.equal(e.actor_realm, 'admin');
      assert.equal(e.realm, 'representative');
      assert.equal(typeof e.ip, 'string');
      assert.equal(typeof e.session_id, 'string');
    }
    assert.deepEqual((events[1]?.details as { fields: string[] }).fields.sort(), ['email', 'password']);
    const raw = JSON.stringify(await app.db.knex('audit_log').select());
    assert.ok(!raw.includes('Audit-Secret'), 'no password in any audit row');

    const byRealm = await call(app, 'AuditLog/get_event_list', { with_total: true, realm: 'representative', event: 'representative.add' }, root);
    assert.ok((byRealm.total as number) >= 1);
    const future = await call(app, 'AuditLog/get_event_list', { with_total: true, from: new Date(app.clock.now() + 60_000).toISOString() }, root);
    assert.equal(future.total, 0);
    const paged = await call(app, 'AuditLog/get_event_list', { with_total: true, limit: 1 }, root);
    assert.equal((paged.event_list as unknown[]).length, 1);
  });

  test('a change and its audit row commit together or not at all', async () => {
    const { app } = get();
    const original = app.repos.audit.record;
    app.repos.audit.record = async () => {
      throw new Error('audit storage failed');
    };
    try {
      const answer = await rest(app, 'Vendor/add_vendor', { login: 'half-written' }, root);
      assert.equal(answer.status, 500);
    } finally {
      app.repos.audit.record = original;
    }
    assert.equal((await call(app, 'Vendor/get_vendor_list', { with_total: true, login_prefix: 'half-written' }, root)).total, 0);
  });
});
