import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { codeAt } from '../../src/domain/totp/totp.js';
import { describeEachDatabase, describeEachGuardStore, ROOT_PASSWORD } from '../helpers/app.js';
import { call, firstLogin, login, loginRoot, rest, rpcRaw } from '../helpers/rpc.js';

type Answer = Record<string, unknown>;

describeEachDatabase('hardening: authorization edges', (get) => {
  let root: string;
  let customer: number;
  before(async () => {
    root = await loginRoot(get().app);
    customer = (await call<{ i_customer: number }>(get().app, 'Customer/add_customer', { login: 'edge-co' }, root)).i_customer;
  });

  test('a self-care session cannot probe which logins exist', async () => {
    const { app } = get();
    await call(app, 'Account/add_account', { login: 'prober', i_customer: customer, password: 'Probe-pass1' }, root);
    await call(app, 'Account/add_account', { login: 'probed', i_customer: customer }, root);
    const token = await firstLogin(app, 'account', 'prober', 'Probe-pass1');
    const answers = await Promise.all(
      [
        ['User/get_user_info', { login: 'root' }],
        ['User/get_user_info', { login: 'no-such-admin' }],
        ['Account/get_account_info', { login: 'probed' }],
        ['Account/get_account_info', { login: 'no-such-account' }],
        ['Account/get_account_info', { i_account: 999_999 }],
      ].map(([method, params]) => rest(app, method as string, params, token)),
    );
    for (const answer of answers) assert.deepEqual([answer.status, answer.body.faultcode], [403, 'Server.AccessControl.forbidden']);
  });

  test('an admin grants only permissions it holds and cannot take over root', async () => {
    const { app } = get();
    await call(app, 'User/add_user', { login: 'user-admin', password: 'Admin-pass1', permissions: ['users.manage'] }, root);
    const token = await firstLogin(app, 'admin', 'user-admin', 'Admin-pass1');
    const grant = await rest(app, 'User/add_user', { login: 'sidekick', password: 'Side-pass1', permissions: ['passwords.read'] }, token);
    assert.equal(grant.status, 403);
    assert.equal(grant.body.faultcode, 'Server.AccessControl.forbidden');
    const me = (await call(app, 'User/get_user_info', { login: 'user-admin' }, token)).user_info as Answer;
    const self = await rest(app, 'User/update_user', { i_user: me.i_user, permissions: ['users.manage', 'sessions.impersonate'] }, token);
    assert.equal(self.status, 403);
    assert.equal(self.body.faultcode, 'Server.AccessControl.forbidden');
    const rootInfo = (await call(app, 'User/get_user_info', { login: 'root' }, token)).user_info as Answer;
    const takeover = await rest(app, 'User/update_user', { i_user: rootInfo.i_user, password: 'Taken-over1' }, token);
    assert.equal(takeover.status, 409);
    assert.equal(takeover.body.faultcode, 'Server.Conflict.protected');
    assert.equal(
      (await call(app, 'User/add_user', { login: 'helper-ok', password: 'Help-pass1', permissions: ['users.manage'] }, token)).i_user !== undefined,
      true,
    );
  });

  test('an impersonated session ends when its admin is blocked or loses the permission', async () => {
    const { app } = get();
    const acc = await call<{ i_account: number }>(app, 'Account/add_account', { login: 'imp-target', i_customer: customer }, root);
    const admin = await call<{ i_user: number }>(
      app,
      'User/add_user',
      { login: 'imp-admin', password: 'Imp-pass1', permissions: ['sessions.impersonate'] },
      root,
    );
    const adminToken = await firstLogin(app, 'admin', 'imp-admin', 'Imp-pass1');
    const imp = await call<{ access_token: string }>(app, 'Session/impersonate', { realm: 'account', id: acc.i_account }, adminToken);
    assert.equal((await rest(app, 'Session/ping', {}, imp.access_token)).status, 200);
    await call(app, 'User/update_user', { i_user: admin.i_user, permissions: [] }, root);
    assert.equal((await rest(app, 'Session/ping', {}, imp.access_token)).status, 401);
    await call(app, 'User/update_user', { i_user: admin.i_user, permissions: ['sessions.impersonate'] }, root);
    const again = await call<{ access_token: string }>(app, 'Session/impersonate', { realm: 'account', id: acc.i_account }, adminToken);
    await call(app, 'User/update_user', { i_user: admin.i_user, blocked: true }, root);
    assert.equal((await rest(app, 'Session/ping', {}, again.access_token)).status, 401);
  });

  test('a restricted session can only change the password, ping and log out', async () => {
    const { app } = get();
    await call(app, 'Account/add_account', { login: 'restricted-1', i_customer: customer, password: 'Restr-pass1' }, root);
    const first = await call<{ status: string; access_token: string }>(app, 'Session/login', {
      login: 'restricted-1',
      password: 'Restr-pass1',
      realm: 'account',
    });
    assert.equal(first.status, 'password_change_required');
    for (const method of ['Session/get_session_list', 'Session/revoke_session', 'TwoFactor/get_status', 'Account/get_account_info']) {
      const answer = await rest(
        app,
        method,
        method === 'Session/revoke_session'
          ? { session_id: '00000000-0000-4000-8000-000000000000' }
          : method.startsWith('Account')
            ? { login: 'restricted-1' }
            : {},
        first.access_token,
      );
      assert.equal(answer.body.faultcode, 'Server.Session.alert_You_must_change_password', method);
    }
  });

  test('login_prefix takes _ and % literally on every engine', async () => {
    const { app } = get();
    await call(app, 'Account/add_account', { login: 'under_score1', i_customer: customer }, root);
    await call(app, 'Account/add_account', { login: 'underXscore2', i_customer: customer }, root);
    const list = await call(app, 'Account/get_account_list', { login_prefix: 'under_' }, root);
    assert.deepEqual(
      (list.account_list as Answer[]).map((a) => a.login),
      ['under_score1'],
    );
  });
});

describeEachGuardStore('hardening: brute-force guard edges', (get) => {
  let root: string;
  let customer: number;
  before(async () => {
    root = await loginRoot(get().app);
    customer = (await call<{ i_customer: number }>(get().app, 'Customer/add_customer', { login: 'guard-co' }, root)).i_customer;
  });

  test('guessing the current password through change_password locks the login', async () => {
    const { app } = get();
    await call(app, 'Account/add_account', { login: 'stolen-token', i_customer: customer, password: 'Stolen-pass1' }, root);
    const token = await firstLogin(app, 'account', 'stolen-token', 'Stolen-pass1');
    for (let i = 0; i < 5; i++) {
      const wrong = await rest(app, 'Session/change_password', { old_password: `Guess-${i}-x`, new_password: 'Next-pass9' }, token);
      assert.equal(wrong.body.faultcode, 'Server.Password.wrong_old_password');
    }
    const locked = await rest(app, 'Session/change_password', { old_password: 'Stolen-pass1Z', new_password: 'Next-pass9' }, token);
    assert.equal(locked.status, 429);
    assert.equal(locked.body.faultcode, 'Server.Session.cannot_login_brute_force_activity');
    assert.equal(locked.headers['retry-after'], String(locked.body.retry_after));
  });

  test('an attempt that fails for another reason gives its slot back, so errors never lock a login', async () => {
    const t = get();
    await call(t.app, 'Vendor/add_vendor', { login: 'flaky', password: 'Flaky-pass1' }, root);
    const verify = t.app.passwords.verify;
    t.app.passwords.verify = async () => {
      throw new Error('the hashing backend failed');
    };
    try {
      for (let i = 0; i < t.config.LOCKOUT_THRESHOLD + 3; i++) {
        const answer = await rest(t.app, 'Session/login', { login: 'flaky', password: 'Flaky-pass1', realm: 'vendor' });
        assert.equal(answer.body.faultcode, 'Server.Internal.error');
      }
    } finally {
      t.app.passwords.verify = verify;
    }
    const next = await rest(t.app, 'Session/login', { login: 'flaky', password: 'Flaky-pass1', realm: 'vendor' });
    assert.equal(next.status, 200, JSON.stringify(next.body));
  });

  test('a stale mfa_token is refused before an attempt is claimed, so it never fills the counter', async () => {
    const t = get();
    await call(t.app, 'Vendor/add_vendor', { login: 'two-tabs', password: 'Tabs-pass1', two_factor_auth: 'enabled' }, root);
    const tabA = await call(t.app, 'Session/login', { login: 'two-tabs', password: 'Tabs-pass1', realm: 'vendor' });
    const tabB = await call(t.app, 'Session/login', { login: 'two-tabs', password: 'Tabs-pass1', realm: 'vendor' });
    const secretB = (tabB.enrollment as Answer).secret as string;
    await call(t.app, 'Session/verify_otp', { mfa_token: tabB.mfa_token, otp: codeAt(secretB, t.clock.now()) });
    for (let i = 0; i < 8; i++) {
      const stale = await rest(t.app, 'Session/verify_otp', { mfa_token: tabA.mfa_token, otp: '123456' });
      assert.equal(stale.body.faultcode, 'Server.Session.mfa_token_invalid');
    }
    const next = await rest(t.app, 'Session/login', { login: 'two-tabs', password: 'Tabs-pass1', realm: 'vendor' });
    assert.equal(next.status, 200);
    assert.equal(next.body.status, 'otp_required');
  });
});

describeEachGuardStore(
  'hardening: change_password shares the per-IP rate limit',
  (get) => {
    test('past RATE_LIMIT_LOGIN checks in a minute, change_password answers rate_limited and changes nothing', async () => {
      const { app, clock } = get();
      const token = await loginRoot(app); // the first check of this minute
      for (let i = 0; i < 2; i++) {
        const wrong = await rest(app, 'Session/change_password', { old_password: `Guess-${i}-x`, new_password: 'Next-pass9' }, token);
        assert.equal(wrong.body.faultcode, 'Server.Password.wrong_old_password');
      }
      const limited = await rest(app, 'Session/change_password', { old_password: ROOT_PASSWORD, new_password: 'Next-pass9x' }, token);
      assert.equal(limited.status, 429);
      assert.equal(limited.body.faultcode, 'Client.Request.rate_limited');
      assert.ok(Number(limited.body.retry_after) >= 1);
      assert.equal(limited.headers['retry-after'], String(limited.body.retry_after), 'REST says when to come back in Retry-After too');
      // JSON-RPC answers HTTP 200 (a batch may mix faults): the wait is in error.data only.
      const overRpc = await rpcRaw(
        app,
        { jsonrpc: '2.0', id: 1, method: 'Session/change_password', params: { old_password: ROOT_PASSWORD, new_password: 'Next-pass9x' } },
        token,
      );
      assert.equal(overRpc.statusCode, 200);
      assert.equal(overRpc.json().error.data.faultcode, 'Client.Request.rate_limited');
      assert.ok(overRpc.json().error.data.retry_after >= 1);
      assert.equal(overRpc.headers['retry-after'], undefined);
      clock.advance(60_000);
      assert.ok(await login(app, 'admin', 'root', ROOT_PASSWORD), 'the password is unchanged');
    });
  },
  { RATE_LIMIT_LOGIN: 3 },
);
