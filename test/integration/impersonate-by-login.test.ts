import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { describeEachDatabase } from '../helpers/app.js';
import { call, loginRoot, rest, rpc } from '../helpers/rpc.js';

const PASSWORD = 'Imp-pass-1';

const open = async (app: FastifyInstance, realm: string, login: string) =>
  (await call<{ access_token: string }>(app, 'Session/login', { realm, login, password: PASSWORD })).access_token;

const impersonations = async (app: FastifyInstance, root: string) =>
  (
    await call<{ event_list: Array<{ entity: string; entity_id: number; details: Record<string, unknown> }> }>(
      app,
      'AuditLog/get_event_list',
      { event: 'session.impersonate' },
      root,
    )
  ).event_list;

/** Sessions opened by impersonation so far. */
const opened = async (app: FastifyInstance) => Number((await app.db.knex('sessions').whereNotNull('impersonated_by').count({ n: '*' }).first())?.n);

describeEachDatabase('Session/impersonate by login', (get) => {
  let root: string;
  let helpdesk: string;
  let helpdeskId: number;
  let acme: number;
  let account: number;
  before(async () => {
    const { app } = get();
    root = await loginRoot(app);
    const ready = { password: PASSWORD, password_must_change: false };
    acme = (await call<{ i_customer: number }>(app, 'Customer/add_customer', { login: 'Acme-Imp', ...ready }, root)).i_customer;
    account = (await call<{ i_account: number }>(app, 'Account/add_account', { login: 'imp-15550001', i_customer: acme, ...ready }, root)).i_account;
    await call(app, 'Customer/add_customer', { login: 'imp-blocked', blocked: true, ...ready }, root);
    helpdeskId = (await call<{ i_user: number }>(app, 'User/add_user', { login: 'imp-helpdesk', permissions: ['sessions.impersonate'], ...ready }, root))
      .i_user;
    helpdesk = await open(app, 'admin', 'imp-helpdesk');
  });

  test('a login, as typed in any case or compatibility form, opens a session as that principal', async () => {
    const { app } = get();
    for (const login of ['Acme-Imp', 'acme-imp', 'ＡＣＭＥ-ｉｍｐ']) {
      const imp = await call<{ status: string; access_token: string; session_id: string }>(app, 'Session/impersonate', { realm: 'customer', login }, helpdesk);
      assert.equal(imp.status, 'authenticated');
      const ping = await call(app, 'Session/ping', {}, imp.access_token);
      assert.equal(ping.realm, 'customer');
      assert.equal(ping.user_id, acme, login);
      assert.equal(ping.impersonated_by, helpdeskId);
      assert.deepEqual(ping.amr, ['imp']);
      const audited = (await impersonations(app, root)).find((e) => e.details.impersonation_session_id === imp.session_id);
      assert.equal(audited?.entity, 'customer');
      assert.equal(audited?.entity_id, acme);
    }
    const viaRpc = await rpc(app, 'Session/impersonate', { realm: 'account', login: 'IMP-15550001' }, helpdesk);
    assert.equal((await call(app, 'Session/ping', {}, String(viaRpc.result?.access_token))).user_id, account);
  });

  test('id and login together, neither, an unknown login, another realm and a blocked principal are refused and open nothing', async () => {
    const { app } = get();
    const before = (await impersonations(app, root)).length;
    const sessionsBefore = await opened(app);
    const refusals: Array<[Record<string, unknown>, number, string]> = [
      [{ realm: 'customer', id: acme, login: 'Acme-Imp' }, 400, 'Client.Request.invalid_params'],
      [{ realm: 'customer' }, 400, 'Client.Request.invalid_params'],
      [{ realm: 'customer', login: 'has space' }, 400, 'Client.Request.invalid_params'],
      [{ realm: 'customer', login: 'nobody-here' }, 404, 'Server.NotFound'],
      // The account's login is not a customer's.
      [{ realm: 'customer', login: 'imp-15550001' }, 404, 'Server.NotFound'],
      [{ realm: 'admin', login: 'root' }, 400, 'Client.Request.invalid_params'],
      [{ realm: 'customer', login: 'imp-blocked' }, 403, 'Server.AccessControl.forbidden'],
    ];
    for (const [params, status, faultcode] of refusals) {
      const answer = await rest(app, 'Session/impersonate', params, helpdesk);
      assert.equal(answer.status, status, JSON.stringify(params));
      assert.equal(answer.body.faultcode, faultcode, JSON.stringify(params));
    }
    const both = await rpc(app, 'Session/impersonate', { realm: 'customer', id: acme, login: 'Acme-Imp' }, helpdesk);
    assert.equal(both.error?.code, -32602);
    // Without the permission, a login that exists and one that does not get the same answer.
    const clerk = await call(app, 'User/add_user', { login: 'imp-clerk', password: PASSWORD, password_must_change: false, permissions: ['audit.read'] }, root);
    assert.ok(clerk.i_user);
    const clerkToken = await open(app, 'admin', 'imp-clerk');
    for (const login of ['Acme-Imp', 'nobody-here']) {
      assert.equal((await rest(app, 'Session/impersonate', { realm: 'customer', login }, clerkToken)).body.faultcode, 'Server.AccessControl.forbidden');
    }
    assert.equal((await impersonations(app, root)).length, before, 'no refusal was audited as an impersonation');
    assert.equal(await opened(app), sessionsBefore, 'no refusal opened a session');
  });
});
