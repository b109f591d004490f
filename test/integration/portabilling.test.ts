import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { sha256 } from '../../src/domain/crypto/hash.js';
import { codeAt } from '../../src/domain/totp/totp.js';
import { describeEachDatabase, ROOT_PASSWORD, type TestApp } from '../helpers/app.js';
import { listening, type Raw, type Wire } from '../helpers/wire.js';

/**
 * The PortaBilling transport as its clients speak it, byte for byte, through
 * a real listening port (raw HTTP, no inject helpers).
 */

type Answer = Record<string, unknown>;

const claimsOf = (jwt: unknown): Answer => JSON.parse(Buffer.from(String(jwt).split('.')[1] ?? '', 'base64url').toString('utf8')) as Answer;
const fault = (r: Raw) => ({ status: r.status, faultcode: r.body.faultcode });
const ENDED = { status: 500, faultcode: 'Server.Session.check_auth.auth_failed' };

/** Customer `acme` (password changed, so its logins are full) and its account `alice` (admin-set password, so restricted at first). */
async function fixtures(w: Wire): Promise<{ root: string; iCustomer: number; iAccount: number }> {
  const root = String((await w.rest('Session/login', { login: 'root', password: ROOT_PASSWORD, realm: 'admin' })).body.access_token);
  const customer = await w.rest('Customer/add_customer', { login: 'acme', password: 'Acme-pass1' }, root);
  const first = await w.rest('Session/login', { login: 'acme', password: 'Acme-pass1', realm: 'customer' });
  await w.rest('Session/change_password', { old_password: 'Acme-pass1', new_password: 'Acme-pass2' }, String(first.body.access_token));
  for (let i = 0; i < 4; i++) await w.rest('Customer/add_customer', { login: `other-${i}` }, root);
  const account = await w.rest('Account/add_account', { login: 'alice', password: 'Alice-pass1', i_customer: customer.body.i_customer }, root);
  return { root, iCustomer: Number(customer.body.i_customer), iAccount: Number(account.body.i_account) };
}

describeEachDatabase(
  'PortaBilling transport on the wire',
  (get, target) => {
    let t: TestApp;
    let w: Wire;
    let fx: Awaited<ReturnType<typeof fixtures>>;
    before(async () => {
      t = get();
      w = await listening(t.app);
      fx = await fixtures(w);
    });

    const adminLogin = async () => (await w.json('/portabilling/admin/rest/Session/login', { params: { login: 'root', password: ROOT_PASSWORD } })).body;
    const customerLogin = async () => (await w.json('/portabilling/customer/rest/Session/login', { params: { login: 'acme', password: 'Acme-pass2' } })).body;

    test('JSON envelope: Session/login without realm answers session_id, access_token, refresh_token, expires_at; the JWT carries login, iat, exp', async () => {
      const r = await w.json('/portabilling/admin/rest/Session/login', { params: { login: 'root', password: ROOT_PASSWORD } });
      assert.equal(r.status, 200);
      assert.match(r.contentType, /^application\/json/);
      assert.equal(r.body.status, 'authenticated');
      for (const k of ['session_id', 'access_token', 'refresh_token', 'expires_at']) assert.equal(typeof r.body[k], 'string', k);
      const claims = claimsOf(r.body.access_token);
      assert.equal(claims.login, 'root');
      assert.equal(claims.realm, 'admin');
      assert.equal(typeof claims.iat, 'number');
      // PORTABILLING_ACCESS_TOKEN_TTL (48h here), never beyond the session (SESSION_TTL 72h here).
      assert.equal(Number(claims.exp) - Number(claims.iat), 48 * 3600);
      assert.equal(new Date(String(r.body.expires_at)).getTime(), Number(claims.exp) * 1000);
    });

    test('the login claim is on every transport; /rest tokens keep ACCESS_TOKEN_TTL and a bare session uuid', async () => {
      const r = await w.rest('Session/login', { login: 'acme', password: 'Acme-pass2', realm: 'customer' });
      const claims = claimsOf(r.body.access_token);
      assert.equal(claims.login, 'acme');
      assert.equal(Number(claims.exp) - Number(claims.iat), 15 * 60);
      assert.match(String(r.body.session_id), /^[0-9a-f-]{36}$/);
      const rpc = await w.rpc('Session/login', { login: 'root', password: ROOT_PASSWORD, realm: 'admin' });
      assert.equal(claimsOf((rpc.body.result as Answer).access_token).login, 'root');
    });

    test('trailing slash, and a form login with params only', async () => {
      const r = await w.form('/portabilling/customer/rest/Session/login/', { params: { login: 'acme', password: 'Acme-pass2' } });
      assert.equal(r.status, 200);
      assert.equal(r.body.status, 'authenticated');
    });

    test('form envelope: auth_info session_id is the credential; params [] and no params are "none"', async () => {
      const login = await customerLogin();
      const auth = { session_id: login.session_id };
      const own = await w.form('/portabilling/customer/rest/Customer/get_customer_info', { params: [], auth_info: auth });
      assert.equal(own.status, 200);
      assert.equal((own.body.customer_info as Answer).login, 'acme');
      const bare = await w.form('/portabilling/customer/rest/Customer/get_customer_info', { auth_info: auth });
      assert.equal((bare.body.customer_info as Answer).i_customer, fx.iCustomer);
      // The same credential in a JSON envelope.
      const json = await w.json('/portabilling/customer/rest/Session/ping', { params: {}, auth_info: auth });
      assert.equal(json.body.user_id, fx.iCustomer);
    });

    test('Bearer credential with {"params": []}, and several calls in parallel', async () => {
      const token = String((await adminLogin()).access_token);
      const list = await w.json('/portabilling/admin/rest/Customer/get_customer_list', { params: [] }, token);
      assert.equal(list.status, 200);
      const customers = list.body.customer_list as Answer[];
      assert.ok(customers.length >= 5);
      const infos = await Promise.all(
        customers.map((c) => w.json('/portabilling/admin/rest/Customer/get_customer_info', { params: { i_customer: c.i_customer } }, token)),
      );
      assert.deepEqual(
        infos.map((r) => [r.status, (r.body.customer_info as Answer).i_customer]),
        customers.map((c) => [200, c.i_customer]),
      );
    });

    test('the session_id credential is a secret of its own: stored hashed, never the uuid get_session_list and the audit log show', async () => {
      const login = await customerLogin();
      const credential = String(login.session_id);
      const [uuid, secret] = credential.split('.');
      assert.match(uuid ?? '', /^[0-9a-f-]{36}$/);
      assert.match(secret ?? '', /^[A-Za-z0-9_-]{43}$/);
      const list = await w.json('/portabilling/customer/rest/Session/get_session_list', { params: {} }, String(login.access_token));
      const shown = (list.body.session_list as Answer[]).find((s) => s.current);
      assert.equal(shown?.session_id, uuid);
      // The uuid others can read is no credential.
      assert.deepEqual(fault(await w.form('/portabilling/customer/rest/Customer/get_customer_info', { auth_info: { session_id: uuid } })), ENDED);
      assert.deepEqual(
        fault(await w.form('/portabilling/customer/rest/Customer/get_customer_info', { auth_info: { session_id: `${uuid}.${'A'.repeat(43)}` } })),
        ENDED,
      );
      const row = await t.app.db.knex('sessions').where({ id: uuid }).first();
      assert.equal(row.session_secret_hash, sha256(credential));
      assert.ok(!JSON.stringify(row).includes(secret ?? '-'), 'no column holds the secret');
      const audit = await w.rest('AuditLog/get_event_list', { event: 'login.success', limit: 500 }, fx.root);
      const text = JSON.stringify(audit.body);
      assert.ok(text.includes(uuid ?? '-'), 'the audit log names the session by its uuid');
      assert.ok(!text.includes(secret ?? '-'), 'and never shows the secret');
    });

    test('Session/ping answers user_id for access_token or session_id params, 0 when not valid (not a fault)', async () => {
      const login = await customerLogin();
      const byToken = await w.json('/portabilling/customer/rest/Session/ping', { params: { access_token: login.access_token } });
      assert.equal(byToken.status, 200);
      assert.equal(byToken.body.user_id, fx.iCustomer);
      const bySession = await w.form('/portabilling/customer/rest/Session/ping', { params: { session_id: login.session_id } });
      assert.equal(bySession.body.user_id, fx.iCustomer);
      for (const params of [{ access_token: 'garbage' }, { session_id: 'garbage' }, {}]) {
        const r = await w.json('/portabilling/customer/rest/Session/ping', { params });
        assert.deepEqual([r.status, r.body], [200, { user_id: 0 }], JSON.stringify(params));
      }
      // A session of another realm is not valid here.
      const admin = await adminLogin();
      assert.deepEqual((await w.json('/portabilling/customer/rest/Session/ping', { params: { access_token: admin.access_token } })).body, { user_id: 0 });
    });

    test('Session/logout by access_token or session_id answers success 1; then the session is ended: ping 0, calls auth_failed', async () => {
      for (const key of ['access_token', 'session_id'] as const) {
        const login = await customerLogin();
        const out = await w.json('/portabilling/customer/rest/Session/logout', { params: { [key]: login[key] } });
        assert.equal(out.status, 200, key);
        assert.equal(out.body.success, 1);
        assert.deepEqual((await w.json('/portabilling/customer/rest/Session/ping', { params: { [key]: login[key] } })).body, { user_id: 0 });
        assert.deepEqual(fault(await w.form('/portabilling/customer/rest/Customer/get_customer_info', { auth_info: { session_id: login.session_id } })), ENDED);
        assert.deepEqual(fault(await w.json('/portabilling/customer/rest/Customer/get_customer_info', { params: {} }, String(login.access_token))), ENDED);
      }
    });

    test('relogin signal: a revoked or expired session, and an expired token, are HTTP 500 Server.Session.check_auth.auth_failed', async () => {
      const login = await customerLogin();
      const [uuid] = String(login.session_id).split('.');
      assert.equal(
        (await w.json('/portabilling/customer/rest/Session/revoke_session', { params: { session_id: uuid } }, String(login.access_token))).status,
        200,
      );
      assert.deepEqual(fault(await w.form('/portabilling/customer/rest/Customer/get_customer_info', { auth_info: { session_id: login.session_id } })), ENDED);

      const idle = await customerLogin();
      t.clock.advance(t.config.SESSION_IDLE_TTL + 10_000);
      try {
        assert.deepEqual(fault(await w.form('/portabilling/customer/rest/Customer/get_customer_info', { auth_info: { session_id: idle.session_id } })), ENDED);
        assert.deepEqual(fault(await w.json('/portabilling/customer/rest/Customer/get_customer_info', {}, String(idle.access_token))), ENDED);
      } finally {
        t.clock.advance(-(t.config.SESSION_IDLE_TTL + 10_000));
      }
      // A token that is not ours (a client's stale token after a reinstall) asks for a new login too.
      assert.deepEqual(fault(await w.json('/portabilling/customer/rest/Customer/get_customer_info', {}, 'not.a.jwt')), ENDED);
      // No credential at all.
      assert.deepEqual(fault(await w.json('/portabilling/customer/rest/Customer/get_customer_info', { params: {} })), ENDED);
    });

    test('wrong password: HTTP 500 Server.Session.auth_failed, in both envelopes', async () => {
      const json = await w.json('/portabilling/account/rest/Session/login', { params: { login: 'alice', password: 'wrong-1' } });
      assert.deepEqual(fault(json), { status: 500, faultcode: 'Server.Session.auth_failed' });
      assert.equal(typeof json.body.faultstring, 'string');
      const form = await w.form('/portabilling/account/rest/Session/login', { params: { login: 'nobody', password: 'wrong-1' } });
      assert.deepEqual(fault(form), { status: 500, faultcode: 'Server.Session.auth_failed' });
    });

    test('the realm comes from the path: a realm param that agrees is fine, one that disagrees is refused', async () => {
      assert.equal(
        (await w.json('/portabilling/customer/rest/Session/login', { params: { login: 'acme', password: 'Acme-pass2', realm: 'customer' } })).status,
        200,
      );
      const r = await w.json('/portabilling/admin/rest/Session/login', { params: { login: 'acme', password: 'Acme-pass2', realm: 'customer' } });
      assert.deepEqual(fault(r), { status: 500, faultcode: 'Client.Request.invalid_params' });
      // A session of one realm does not act at another realm's endpoint.
      const admin = await adminLogin();
      assert.deepEqual(fault(await w.json('/portabilling/customer/rest/Customer/get_customer_info', {}, String(admin.access_token))), ENDED);
      assert.deepEqual(fault(await w.form('/portabilling/customer/rest/Customer/get_customer_info', { auth_info: { session_id: admin.session_id } })), ENDED);
    });

    test('bad input: clear Client.Request.* faults as HTTP 500, and nothing changes', async () => {
      const before = await t.app.db.knex('sessions').count({ n: '*' }).first();
      const path = '/portabilling/customer/rest/Session/login';
      const creds = JSON.stringify({ login: 'acme', password: 'Acme-pass2' });
      const cases: Array<[string, Promise<Raw>, string]> = [
        ['neither envelope (a bare params object)', w.raw(path, creds, 'application/json'), 'Client.Request.invalid_request'],
        ['a JSON array body', w.raw(path, '[1]', 'application/json'), 'Client.Request.invalid_request'],
        ['params a string', w.raw(path, '{"params": "x"}', 'application/json'), 'Client.Request.invalid_params'],
        ['params a non-empty array', w.raw(path, '{"params": [1]}', 'application/json'), 'Client.Request.invalid_params'],
        ['unparsable JSON', w.raw(path, '{"params": ', 'application/json'), 'Client.Request.parse_error'],
        ['form params not JSON', w.raw(path, 'params=%7Bnope', 'application/x-www-form-urlencoded'), 'Client.Request.parse_error'],
        [
          'form auth_info not JSON',
          w.raw(path, `params=${encodeURIComponent(creds)}&auth_info=nope`, 'application/x-www-form-urlencoded'),
          'Client.Request.parse_error',
        ],
        [
          'auth_info of no known shape',
          w.raw(path, `params=${encodeURIComponent(creds)}&auth_info=%7B%22user%22%3A1%7D`, 'application/x-www-form-urlencoded'),
          'Client.Request.invalid_request',
        ],
        ['an unknown form field', w.raw(path, `login=acme&password=Acme-pass2`, 'application/x-www-form-urlencoded'), 'Client.Request.invalid_request'],
        [
          'a field twice',
          w.raw(path, `params=${encodeURIComponent(creds)}&params=%7B%7D`, 'application/x-www-form-urlencoded'),
          'Client.Request.invalid_request',
        ],
        ['text/plain (a cross-site form)', w.raw(path, `params=${creds}`, 'text/plain'), 'Client.Request.unsupported_media_type'],
        [
          'a body without content type',
          w.raw(path, JSON.stringify({ params: JSON.parse(creds) as Answer }), undefined),
          'Client.Request.unsupported_media_type',
        ],
        ['multipart', w.raw(path, '--x\r\n\r\n--x--', 'multipart/form-data; boundary=x'), 'Client.Request.unsupported_media_type'],
        ['prototype poisoning', w.raw(path, '{"params": {"__proto__": {"x": 1}}}', 'application/json'), 'Client.Request.parse_error'],
        [
          'an unknown realm in the path',
          w.raw('/portabilling/root/rest/Session/login', JSON.stringify({ params: JSON.parse(creds) as Answer }), 'application/json'),
          'Client.Request.invalid_request',
        ],
        ['an unknown method', w.raw('/portabilling/customer/rest/Session/no_such', '{}', 'application/json'), 'Client.Request.method_not_found'],
        ['no method in the path', w.raw('/portabilling/customer/rest/Session', '{}', 'application/json'), 'Client.Request.method_not_found'],
        ['a GET', w.get('/portabilling/customer/rest/Session/login'), 'Client.Request.method_not_found'],
        ['a body over BODY_LIMIT', w.raw(path, JSON.stringify({ params: { login: 'x'.repeat(70_000) } }), 'application/json'), 'Client.Request.too_large'],
      ];
      for (const [what, answer, code] of cases) {
        const r = await answer;
        assert.deepEqual(fault(r), { status: 500, faultcode: code }, what);
        assert.equal(typeof r.body.faultstring, 'string', what);
      }
      assert.deepEqual(await t.app.db.knex('sessions').count({ n: '*' }).first(), before, 'no session was opened');
    });

    test('cross-site form posts: cookies and Origin count for nothing, no CORS header is ever sent', async () => {
      const login = await customerLogin();
      const headers = { cookie: `session_id=${String(login.session_id)}; access_token=${String(login.access_token)}`, origin: 'https://evil.example' };
      const r = await w.raw('/portabilling/customer/rest/Customer/get_customer_info', 'params=%7B%7D', 'application/x-www-form-urlencoded', headers);
      assert.deepEqual(fault(r), ENDED);
      assert.equal(r.headers.get('access-control-allow-origin'), null);
      const ping = await w.raw('/portabilling/customer/rest/Session/ping', '', 'application/x-www-form-urlencoded', headers);
      assert.deepEqual(ping.body, { user_id: 0 });
      // A login form carries only what its author typed: without the password nothing opens.
      const guess = await w.raw(
        '/portabilling/customer/rest/Session/login',
        'params=%7B%22login%22%3A%22acme%22%7D',
        'application/x-www-form-urlencoded',
        headers,
      );
      assert.deepEqual(fault(guess), { status: 500, faultcode: 'Client.Request.invalid_params' });
    });

    test('auth_info with login and password: a session for this one call, ended after it', async () => {
      const live = async () => (await t.app.db.knex('sessions').where({ realm: 'customer' }).whereNull('revoked_at').count({ n: '*' }).first())?.n;
      const before = await live();
      const r = await w.form('/portabilling/customer/rest/Customer/get_customer_info', { auth_info: { login: 'acme', password: 'Acme-pass2' } });
      assert.equal(r.status, 200);
      assert.equal((r.body.customer_info as Answer).login, 'acme');
      assert.equal(await live(), before, 'the one-shot session was ended');
      const wrong = await w.form('/portabilling/customer/rest/Customer/get_customer_info', { auth_info: { login: 'acme', password: 'nope-123' } });
      assert.deepEqual(fault(wrong), { status: 500, faultcode: 'Server.Session.auth_failed' });
    });

    test('forced password change: a restricted session_id may only change the password, then works', async () => {
      const login = await w.form('/portabilling/account/rest/Session/login', { params: { login: 'alice', password: 'Alice-pass1' } });
      assert.equal(login.body.status, 'password_change_required');
      const auth = { session_id: login.body.session_id };
      const refused = await w.form('/portabilling/account/rest/Account/get_account_info', { auth_info: auth });
      assert.deepEqual(fault(refused), { status: 500, faultcode: 'Server.Session.alert_You_must_change_password' });
      const changed = await w.form('/portabilling/account/rest/Session/change_password', {
        params: { old_password: 'Alice-pass1', new_password: 'Alice-pass2' },
        auth_info: auth,
      });
      assert.equal(changed.status, 200);
      // Account/get_account_info with no id reads the caller's own account.
      const own = await w.form('/portabilling/account/rest/Account/get_account_info', { auth_info: auth });
      assert.equal(own.status, 200);
      assert.equal((own.body.account_info as Answer).i_account, fx.iAccount);
    });

    test('refresh: a new 48h pair without session_id; the session_id credential stays valid', async () => {
      const login = await customerLogin();
      t.clock.advance(60_000);
      const r = await w.json('/portabilling/customer/rest/Session/refresh_access_token', { params: { refresh_token: login.refresh_token } });
      assert.equal(r.status, 200);
      assert.equal(r.body.session_id, undefined);
      assert.notEqual(r.body.access_token, login.access_token);
      assert.notEqual(r.body.refresh_token, login.refresh_token);
      const claims = claimsOf(r.body.access_token);
      assert.equal(Number(claims.exp) - Number(claims.iat), 48 * 3600);
      assert.equal(claims.login, 'acme');
      assert.equal((await w.form('/portabilling/customer/rest/Session/ping', { params: { session_id: login.session_id } })).body.user_id, fx.iCustomer);
    });

    test('REFRESH_REUSE_GRACE: within it the rotated token gets the same pair and the session lives; after it, reuse ends the session', async () => {
      const login = await customerLogin();
      const refresh = () => w.json('/portabilling/customer/rest/Session/refresh_access_token', { params: { refresh_token: login.refresh_token } });
      t.clock.advance(1000);
      const [a, b] = await Promise.all([refresh(), refresh()]);
      assert.deepEqual([a.status, b.status], [200, 200]);
      t.clock.advance(10_000);
      const c = await refresh();
      for (const r of [b, c]) {
        assert.equal(r.body.access_token, a.body.access_token);
        assert.equal(r.body.refresh_token, a.body.refresh_token);
      }
      assert.equal((await w.json('/portabilling/customer/rest/Session/ping', { params: { access_token: a.body.access_token } })).body.user_id, fx.iCustomer);
      // The new token rotates as usual.
      const next = await w.json('/portabilling/customer/rest/Session/refresh_access_token', { params: { refresh_token: a.body.refresh_token } });
      assert.equal(next.status, 200);
      // Past the grace, the old token again is theft: the session ends.
      t.clock.advance(t.config.REFRESH_REUSE_GRACE);
      assert.deepEqual(fault(await w.json('/portabilling/customer/rest/Session/refresh_access_token', { params: { refresh_token: a.body.refresh_token } })), {
        status: 500,
        faultcode: 'Server.Session.refresh_token_invalid',
      });
      assert.deepEqual((await w.json('/portabilling/customer/rest/Session/ping', { params: { access_token: next.body.access_token } })).body, { user_id: 0 });
    });

    test(
      "REFRESH_REUSE_GRACE: the loser of a compare-and-set race reads again and gets the winner's pair",
      // On SQLite a refresh reads and rotates inside one write transaction, so two can never interleave.
      { skip: target === 'sqlite' && 'SQLite serialises the read and the rotation' },
      async () => {
        const login = await customerLogin();
        const sessions = t.app.repos.sessions;
        const rotate = sessions.rotateRefreshToken;
        let arrived = 0;
        let bothRead!: () => void;
        const barrier = new Promise<void>((resolve) => (bothRead = resolve));
        const fallback = setTimeout(() => bothRead(), 5_000);
        sessions.rotateRefreshToken = async (...args) => {
          if (++arrived === 2) bothRead();
          await barrier;
          return rotate.apply(sessions, args);
        };
        try {
          const refresh = () => w.json('/portabilling/customer/rest/Session/refresh_access_token', { params: { refresh_token: login.refresh_token } });
          const [a, b] = await Promise.all([refresh(), refresh()]);
          assert.equal(arrived, 2, 'both read the current token');
          assert.deepEqual([a.status, b.status], [200, 200]);
          assert.equal(a.body.refresh_token, b.body.refresh_token);
          assert.equal(a.body.access_token, b.body.access_token);
          assert.equal(
            (await w.json('/portabilling/customer/rest/Session/ping', { params: { access_token: a.body.access_token } })).body.user_id,
            fx.iCustomer,
          );
        } finally {
          clearTimeout(fallback);
          sessions.rotateRefreshToken = rotate;
        }
      },
    );

    test('2FA over this transport: login answers status and mfa_token, verify_otp on the same path opens the session', async () => {
      await w.rest('Vendor/add_vendor', { login: 'v2fa', password: 'Vendor-pass1', two_factor_auth: 'enabled' }, fx.root);
      const first = await w.json('/portabilling/vendor/rest/Session/login', { params: { login: 'v2fa', password: 'Vendor-pass1' } });
      assert.equal(first.body.status, 'otp_enrollment_required');
      assert.equal(typeof first.body.mfa_token, 'string');
      const secret = String((first.body.enrollment as Answer).secret);
      const done = await w.form('/portabilling/vendor/rest/Session/verify_otp/', {
        params: { mfa_token: first.body.mfa_token, otp: codeAt(secret, t.clock.now()) },
      });
      assert.equal(done.status, 200);
      // Admin-set password: the session must change it first, and says so.
      assert.equal(done.body.status, 'password_change_required');
      const auth = { session_id: done.body.session_id };
      assert.ok(Number((await w.form('/portabilling/vendor/rest/Session/ping', { params: auth })).body.user_id) > 0);
      assert.equal(
        (
          await w.form('/portabilling/vendor/rest/Session/change_password', {
            params: { old_password: 'Vendor-pass1', new_password: 'Vendor-pass2' },
            auth_info: auth,
          })
        ).status,
        200,
      );
      t.clock.advance(30_000);
      const again = await w.json('/portabilling/vendor/rest/Session/login', { params: { login: 'v2fa', password: 'Vendor-pass2' } });
      assert.equal(again.body.status, 'otp_required');
      const bad = await w.json('/portabilling/vendor/rest/Session/verify_otp', { params: { mfa_token: again.body.mfa_token, otp: '000000' } });
      assert.deepEqual(fault(bad), { status: 500, faultcode: 'Server.Session.otp_invalid' });
      const ok = await w.json('/portabilling/vendor/rest/Session/verify_otp', {
        params: { mfa_token: again.body.mfa_token, otp: codeAt(secret, t.clock.now()) },
      });
      assert.equal(ok.body.status, 'authenticated');
      assert.equal((await w.form('/portabilling/vendor/rest/Vendor/get_vendor_info', { auth_info: { session_id: ok.body.session_id } })).status, 200);
    });

    test("Session/impersonate here answers a session_id credential that acts in the principal's realm", async () => {
      const admin = await adminLogin();
      const imp = await w.json('/portabilling/admin/rest/Session/impersonate', { params: { realm: 'account', id: fx.iAccount } }, String(admin.access_token));
      assert.equal(imp.status, 200);
      const [uuid, secret] = String(imp.body.session_id).split('.');
      assert.match(uuid ?? '', /^[0-9a-f-]{36}$/);
      assert.match(secret ?? '', /^[A-Za-z0-9_-]{43}$/);
      const own = await w.form('/portabilling/account/rest/Account/get_account_info', { auth_info: { session_id: imp.body.session_id } });
      assert.equal((own.body.account_info as Answer).i_account, fx.iAccount);
      assert.deepEqual((await w.form('/portabilling/admin/rest/Session/ping', { params: { session_id: imp.body.session_id } })).body, { user_id: 0 });
    });

    test('a per-realm listener: /rest/<Service>/<method> in the realm of its port, and no way to another realm', async () => {
      const port = w.realmPorts.account;
      assert.ok(port);
      const login = await w.json('/rest/Session/login', { params: { login: 'alice', password: 'Alice-pass2' } }, undefined, port);
      assert.equal(login.status, 200);
      assert.equal(claimsOf(login.body.access_token).realm, 'account');
      const own = await w.json('/rest/Account/get_account_info/', { params: [] }, String(login.body.access_token), port);
      assert.equal((own.body.account_info as Answer).login, 'alice');
      assert.deepEqual(fault(await w.json('/rest/Session/login', { params: { login: 'root', password: ROOT_PASSWORD } }, undefined, port)), {
        status: 500,
        faultcode: 'Server.Session.auth_failed',
      });
      const escape = await w.json('/portabilling/admin/rest/Session/login', { params: { login: 'root', password: ROOT_PASSWORD } }, undefined, port);
      assert.deepEqual(fault(escape), { status: 500, faultcode: 'Client.Request.method_not_found' });
      assert.deepEqual(fault(await w.json('/rest/Session/login', { params: { login: 'root', password: ROOT_PASSWORD, realm: 'admin' } }, undefined, port)), {
        status: 500,
        faultcode: 'Client.Request.invalid_params',
      });
    });

    test("get_<entity>_info with no id reads the caller's own record on /rest and /rpc too", async () => {
      const login = await w.rest('Session/login', { login: 'alice', password: 'Alice-pass2', realm: 'account' });
      const own = await w.rest('Account/get_account_info', {}, String(login.body.access_token));
      assert.equal((own.body.account_info as Answer).i_account, fx.iAccount);
      const rpc = await w.rpc(
        'Customer/get_customer_info',
        {},
        String((await w.rest('Session/login', { login: 'acme', password: 'Acme-pass2', realm: 'customer' })).body.access_token),
      );
      assert.equal(((rpc.body.result as Answer).customer_info as Answer).login, 'acme');
      assert.equal(((await w.rest('User/get_user_info', {}, fx.root)).body.user_info as Answer).login, 'root');
      // An admin names the record it reads in another realm; another principal's record stays closed.
      assert.equal((await w.rest('Customer/get_customer_info', {}, fx.root)).body.faultcode, 'Client.Request.invalid_params');
      assert.equal(
        (await w.rest('Customer/get_customer_info', { i_customer: fx.iCustomer + 1 }, String(login.body.access_token))).body.faultcode,
        'Server.AccessControl.forbidden',
      );
    });

    test('/rest and /rpc are as before: no form bodies, faults with their own statuses', async () => {
      const form = await w.raw(
        '/rest/Session/login',
        `params=${encodeURIComponent(JSON.stringify({ login: 'root', password: ROOT_PASSWORD, realm: 'admin' }))}`,
        'application/x-www-form-urlencoded',
      );
      assert.notEqual(form.status, 200);
      assert.notEqual(form.status, 500);
      const wrong = await w.rest('Session/login', { login: 'root', password: 'nope-123', realm: 'admin' });
      assert.deepEqual([wrong.status, wrong.body.faultcode], [401, 'Server.Session.auth_failed']);
      const rpc = await w.rpc('Session/ping', {});
      assert.equal(rpc.status, 200);
      assert.equal((rpc.body.error as Answer).code, -32001);
    });
  },
  { PORTABILLING_PORTS: 'account:0', REFRESH_REUSE_GRACE: '30s', SESSION_TTL: '72h', SESSION_IDLE_TTL: '30m' },
);

describeEachDatabase('PortaBilling transport with REFRESH_REUSE_GRACE off (the default)', (get) => {
  test('a rotated refresh token presented again ends the session at once, as on /rest', async () => {
    const t = get();
    const w = await listening(t.app);
    await fixtures(w);
    const login = (await w.json('/portabilling/customer/rest/Session/login', { params: { login: 'acme', password: 'Acme-pass2' } })).body;
    const refresh = () => w.json('/portabilling/customer/rest/Session/refresh_access_token', { params: { refresh_token: login.refresh_token } });
    const first = await refresh();
    assert.equal(first.status, 200);
    assert.deepEqual(fault(await refresh()), { status: 500, faultcode: 'Server.Session.refresh_token_invalid' });
    assert.deepEqual((await w.form('/portabilling/customer/rest/Session/ping', { params: { session_id: login.session_id } })).body, { user_id: 0 });
  });
});
