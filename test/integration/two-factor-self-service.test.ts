import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { sealSecret } from '../../src/auth/two-factor.js';
import { hashRecoveryCode } from '../../src/domain/totp/recovery-codes.js';
import { codeAt, generateSecret } from '../../src/domain/totp/totp.js';
import { buildTestApp, describeEachDatabase, type TestApp } from '../helpers/app.js';
import { runCli } from '../helpers/cli.js';
import { databaseTargets } from '../helpers/databases.js';
import { call, firstLogin, loginRoot, rest, rpc } from '../helpers/rpc.js';

type Answer = Record<string, unknown>;
const STEP = 30_000;

/** A code that is none of the codes within the skew hint's reach (10 steps either side). */
function wrongCode(secret: string, now: number): string {
  const near = new Set(Array.from({ length: 21 }, (_, i) => codeAt(secret, now + (i - 10) * STEP)));
  for (let n = 0; ; n++) {
    const candidate = String(n).padStart(6, '0');
    if (!near.has(candidate)) return candidate;
  }
}

interface Principal {
  token: string;
  id: number;
}

/** A vendor created by the admin API (2FA not required), logged in with a full session. */
async function vendor(t: TestApp, root: string, login: string): Promise<Principal> {
  const { i_vendor } = await call<{ i_vendor: number }>(t.app, 'Vendor/add_vendor', { login, password: 'Vendor-pass1', two_factor_auth: 'disabled' }, root);
  return { token: await firstLogin(t.app, 'vendor', login, 'Vendor-pass1'), id: i_vendor };
}

/** start_enrollment + confirm_enrollment with the current code; moves the clock to the next step, so the next code is fresh. */
async function enroll(t: TestApp, token: string): Promise<{ secret: string; codes: string[] }> {
  const { enrollment } = await call<{ enrollment: { secret: string } }>(t.app, 'TwoFactor/start_enrollment', {}, token);
  const done = await call<{ recovery_codes: string[] }>(t.app, 'TwoFactor/confirm_enrollment', { otp: codeAt(enrollment.secret, t.clock.now()) }, token);
  t.clock.advance(STEP);
  return { secret: enrollment.secret, codes: done.recovery_codes };
}

async function auditRows(t: TestApp, event: string, entityId: number, entity = 'vendor'): Promise<Answer[]> {
  return t.app.db.knex('audit_log').where({ event, entity, entity_id: entityId }).select();
}

describeEachDatabase(
  'two-factor self-service',
  (get) => {
    let root: string;
    before(async () => {
      root = await loginRoot(get().app);
    });

    test('enroll: start, confirm with the current code, then the status shows the key and ten recovery codes', async () => {
      const t = get();
      const v = await vendor(t, root, 'tf-enroll');
      const initial = await call(t.app, 'TwoFactor/get_status', {}, v.token);
      assert.deepEqual(initial, { enrolled: false, required: false, enrolled_at: null, recovery_codes_left: 0 });

      const started = await call<{ enrollment: Record<string, string> }>(t.app, 'TwoFactor/start_enrollment', {}, v.token);
      const { secret, otpauth_uri, qr_code_png, qr_code_svg } = started.enrollment;
      assert.deepEqual(Object.keys(started.enrollment).sort(), ['otpauth_uri', 'qr_code_png', 'qr_code_svg', 'secret']);
      assert.match(secret ?? '', /^[A-Z2-7]{32}$/);
      const uri = new URL(otpauth_uri ?? '');
      assert.equal(decodeURIComponent(uri.pathname), '/Billing:tf-enroll');
      assert.equal(uri.searchParams.get('secret'), secret);
      assert.match(qr_code_png ?? '', /^data:image\/png;base64,/);
      assert.match(qr_code_svg ?? '', /<svg[\s\S]*<\/svg>/);
      assert.equal((await call(t.app, 'TwoFactor/get_status', {}, v.token)).enrolled, false, 'a pending key is not enrolled');

      // A second start replaces the pending key: only the newest secret confirms.
      const again = await call<{ enrollment: Record<string, string> }>(t.app, 'TwoFactor/start_enrollment', {}, v.token);
      const newSecret = again.enrollment.secret as string;
      assert.notEqual(newSecret, secret);
      const stale = await rest(t.app, 'TwoFactor/confirm_enrollment', { otp: codeAt(secret as string, t.clock.now()) }, v.token);
      assert.equal(stale.body.faultcode, 'Server.Session.otp_invalid');

      const confirmedAt = t.clock.now();
      const otp = codeAt(newSecret, confirmedAt);
      const done = await call<{ enrolled: boolean; recovery_codes: string[] }>(t.app, 'TwoFactor/confirm_enrollment', { otp }, v.token);
      assert.equal(done.enrolled, true);
      assert.equal(done.recovery_codes.length, 10);
      assert.equal(new Set(done.recovery_codes).size, 10);

      const status = await call(t.app, 'TwoFactor/get_status', {}, v.token);
      assert.deepEqual(status, { enrolled: true, required: false, enrolled_at: new Date(confirmedAt).toISOString(), recovery_codes_left: 10 });
      assert.equal((await t.app.repos.twoFactorKeys.find('vendor', v.id))?.status, 'active');

      const [row, ...more] = await auditRows(t, 'two_factor.enroll', v.id);
      assert.equal(more.length, 0);
      assert.equal(row?.actor_realm, 'vendor');
      assert.equal(row?.actor_id, v.id);
      assert.equal(row?.realm, 'vendor');
      assert.equal(row?.entity, 'vendor');
      const dump = JSON.stringify(await t.app.db.knex('audit_log').select());
      for (const secretThing of [newSecret, otp, ...done.recovery_codes]) assert.ok(!dump.includes(secretThing), 'no code or secret in the audit log');

      // Over JSON-RPC too: the same faults, as JSON-RPC errors.
      const enrolledAgain = await rpc(t.app, 'TwoFactor/start_enrollment', {}, v.token);
      assert.equal(enrolledAgain.error?.code, -32009);
      assert.equal(enrolledAgain.error?.data.faultcode, 'Server.TwoFactor.already_enrolled');
    });

    test('confirm: wrong code, clock skew hint, malformed code, no pending key, already enrolled', async () => {
      const t = get();
      const v = await vendor(t, root, 'tf-confirm');
      const none = await rest(t.app, 'TwoFactor/confirm_enrollment', { otp: '123456' }, v.token);
      assert.equal(none.status, 409);
      assert.equal(none.body.faultcode, 'Server.TwoFactor.not_enrolled');

      const { enrollment } = await call<{ enrollment: { secret: string } }>(t.app, 'TwoFactor/start_enrollment', {}, v.token);
      const wrong = await rest(t.app, 'TwoFactor/confirm_enrollment', { otp: wrongCode(enrollment.secret, t.clock.now()) }, v.token);
      assert.equal(wrong.status, 401);
      assert.equal(wrong.body.faultcode, 'Server.Session.otp_invalid');
      assert.equal(wrong.body.hint, undefined);

      const ahead = await rest(t.app, 'TwoFactor/confirm_enrollment', { otp: codeAt(enrollment.secret, t.clock.now() + 3 * STEP) }, v.token);
      assert.equal(ahead.status, 401);
      assert.equal(ahead.body.faultcode, 'Server.Session.otp_invalid');
      assert.equal(ahead.body.hint, 'clock_skew');
      const viaRpc = await rpc(t.app, 'TwoFactor/confirm_enrollment', { otp: codeAt(enrollment.secret, t.clock.now() - 4 * STEP) }, v.token);
      assert.equal(viaRpc.error?.code, -32001);
      assert.deepEqual(viaRpc.error?.data, { faultcode: 'Server.Session.otp_invalid', hint: 'clock_skew' });

      const malformed = await rest(t.app, 'TwoFactor/confirm_enrollment', { otp: '12345a' }, v.token);
      assert.equal(malformed.status, 400);
      assert.equal(malformed.body.faultcode, 'Client.Request.invalid_params');
      assert.equal((await t.app.repos.twoFactorKeys.find('vendor', v.id))?.status, 'pending', 'refused codes change nothing');

      // The window tolerates one step of drift either side.
      await call(t.app, 'TwoFactor/confirm_enrollment', { otp: codeAt(enrollment.secret, t.clock.now() - STEP) }, v.token);
      const twice = await rest(t.app, 'TwoFactor/confirm_enrollment', { otp: codeAt(enrollment.secret, t.clock.now()) }, v.token);
      assert.equal(twice.status, 409);
      assert.equal(twice.body.faultcode, 'Server.TwoFactor.already_enrolled');
      const restart = await rest(t.app, 'TwoFactor/start_enrollment', {}, v.token);
      assert.equal(restart.status, 409);
      assert.equal(restart.body.faultcode, 'Server.TwoFactor.already_enrolled');
    });

    test('a code is accepted once: replaying the code that confirmed the key is refused', async () => {
      const t = get();
      const v = await vendor(t, root, 'tf-replay');
      const { enrollment } = await call<{ enrollment: { secret: string } }>(t.app, 'TwoFactor/start_enrollment', {}, v.token);
      const otp = codeAt(enrollment.secret, t.clock.now());
      await call(t.app, 'TwoFactor/confirm_enrollment', { otp }, v.token);
      const replayed = await rest(t.app, 'TwoFactor/regenerate_recovery_codes', { otp }, v.token);
      assert.equal(replayed.status, 401);
      assert.equal(replayed.body.faultcode, 'Server.Session.otp_replayed');
      // The previous step is inside the window but older than the one used: refused as well.
      const older = await rest(t.app, 'TwoFactor/disable', { otp: codeAt(enrollment.secret, t.clock.now() - STEP) }, v.token);
      assert.equal(older.body.faultcode, 'Server.Session.otp_replayed');
      assert.equal((await t.app.repos.twoFactorKeys.find('vendor', v.id))?.status, 'active', 'the refused disable removed nothing');
      t.clock.advance(STEP);
      const next = codeAt(enrollment.secret, t.clock.now());
      await call(t.app, 'TwoFactor/regenerate_recovery_codes', { otp: next }, v.token);
      const viaRpc = await rpc(t.app, 'TwoFactor/regenerate_recovery_codes', { otp: next }, v.token);
      assert.equal(viaRpc.error?.code, -32001);
      assert.equal(viaRpc.error?.data.faultcode, 'Server.Session.otp_replayed');
    });

    test('regenerate_recovery_codes: ten new codes after a valid code; the old ones stop working', async () => {
      const t = get();
      const v = await vendor(t, root, 'tf-regen');
      const notYet = await rest(t.app, 'TwoFactor/regenerate_recovery_codes', { otp: '000000' }, v.token);
      assert.equal(notYet.status, 409);
      assert.equal(notYet.body.faultcode, 'Server.TwoFactor.not_enrolled');

      const { secret, codes: old } = await enroll(t, v.token);
      const recovery = t.app.repos.recoveryCodes;
      assert.ok(await recovery.use('vendor', v.id, hashRecoveryCode(old[0] as string), t.clock.now()), 'an issued code works once');
      assert.equal((await call(t.app, 'TwoFactor/get_status', {}, v.token)).recovery_codes_left, 9);

      const wrong = await rest(t.app, 'TwoFactor/regenerate_recovery_codes', { otp: wrongCode(secret, t.clock.now()) }, v.token);
      assert.equal(wrong.status, 401);
      assert.equal(wrong.body.faultcode, 'Server.Session.otp_invalid');

      const fresh = await call<{ recovery_codes: string[] }>(t.app, 'TwoFactor/regenerate_recovery_codes', { otp: codeAt(secret, t.clock.now()) }, v.token);
      assert.equal(fresh.recovery_codes.length, 10);
      assert.ok(fresh.recovery_codes.every((c) => !old.includes(c)));
      assert.equal((await call(t.app, 'TwoFactor/get_status', {}, v.token)).recovery_codes_left, 10);
      assert.equal(await recovery.use('vendor', v.id, hashRecoveryCode(old[1] as string), t.clock.now()), false, 'an old code no longer works');
      assert.ok(await recovery.use('vendor', v.id, hashRecoveryCode(fresh.recovery_codes[0] as string), t.clock.now()));
      assert.equal((await auditRows(t, 'two_factor.recovery_codes', v.id)).length, 1);
    });

    test('a key replaced while its code is being checked: not_enrolled, and nothing is done with the old code', async () => {
      const t = get();
      const v = await vendor(t, root, 'tf-replaced');
      const { secret, codes } = await enroll(t, v.token);
      const keys = t.app.repos.twoFactorKeys;
      const useStep = keys.useStep;
      // Another tab (or replica) re-enrolls between this call's code check and its transaction.
      keys.useStep = async (realm, principalId, step, trx) => {
        keys.useStep = useStep;
        await t.app.db
          .knex('two_factor_keys')
          .transacting(trx as never)
          .where({ realm, principal_id: principalId })
          .update({ secret_enc: sealSecret(t.app, realm, principalId, generateSecret()) });
        return useStep.call(keys, realm, principalId, step, trx);
      };
      try {
        const answer = await rest(t.app, 'TwoFactor/regenerate_recovery_codes', { otp: codeAt(secret, t.clock.now()) }, v.token);
        assert.equal(answer.status, 409);
        assert.equal(answer.body.faultcode, 'Server.TwoFactor.not_enrolled');
      } finally {
        keys.useStep = useStep;
      }
      assert.ok(await t.app.repos.recoveryCodes.use('vendor', v.id, hashRecoveryCode(codes[0] as string), t.clock.now()), 'the old codes were not replaced');
    });

    test('disable: refused while the policy requires 2FA; otherwise a valid code removes key and codes', async () => {
      const t = get();
      const v = await vendor(t, root, 'tf-disable');
      const notEnrolled = await rest(t.app, 'TwoFactor/disable', { otp: '000000' }, v.token);
      assert.equal(notEnrolled.status, 409);
      assert.equal(notEnrolled.body.faultcode, 'Server.TwoFactor.not_enrolled');
      const { secret } = await enroll(t, v.token);

      await call(t.app, 'Vendor/update_vendor', { i_vendor: v.id, two_factor_auth: 'enabled' }, root);
      assert.equal((await call(t.app, 'TwoFactor/get_status', {}, v.token)).required, true);
      const refused = await rest(t.app, 'TwoFactor/disable', { otp: codeAt(secret, t.clock.now()) }, v.token);
      assert.equal(refused.status, 409);
      assert.equal(refused.body.faultcode, 'Server.TwoFactor.required_by_policy');
      const refusedRpc = await rpc(t.app, 'TwoFactor/disable', { otp: codeAt(secret, t.clock.now()) }, v.token);
      assert.equal(refusedRpc.error?.code, -32009);
      assert.equal(refusedRpc.error?.data.faultcode, 'Server.TwoFactor.required_by_policy');
      assert.equal((await call(t.app, 'TwoFactor/get_status', {}, v.token)).enrolled, true);

      await call(t.app, 'Vendor/update_vendor', { i_vendor: v.id, two_factor_auth: 'disabled' }, root);
      const wrong = await rest(t.app, 'TwoFactor/disable', { otp: wrongCode(secret, t.clock.now()) }, v.token);
      assert.equal(wrong.status, 401);
      assert.equal(wrong.body.faultcode, 'Server.Session.otp_invalid');
      assert.deepEqual(await call(t.app, 'TwoFactor/disable', { otp: codeAt(secret, t.clock.now()) }, v.token), { success: 1 });

      assert.deepEqual(await call(t.app, 'TwoFactor/get_status', {}, v.token), { enrolled: false, required: false, enrolled_at: null, recovery_codes_left: 0 });
      assert.equal(await t.app.repos.twoFactorKeys.find('vendor', v.id), undefined);
      assert.equal(await t.app.repos.recoveryCodes.countLeft('vendor', v.id), 0);
      const [audit] = await auditRows(t, 'two_factor.disable', v.id);
      assert.equal(audit?.actor_id, v.id);
      const again = await rest(t.app, 'TwoFactor/disable', { otp: codeAt(secret, t.clock.now()) }, v.token);
      assert.equal(again.body.faultcode, 'Server.TwoFactor.not_enrolled');
    });

    test('the policy chain counts: an account whose customer class turns 2FA on cannot disable it', async () => {
      const t = get();
      const cls = await call<{ i_customer_class: number }>(t.app, 'CustomerClass/add_customer_class', { name: 'TF-class', two_factor_auth: false }, root);
      const { i_customer } = await call<{ i_customer: number }>(
        t.app,
        'Customer/add_customer',
        { login: 'tf-co', i_customer_class: cls.i_customer_class },
        root,
      );
      await call(t.app, 'Account/add_account', { login: 'tf-acc', i_customer, password: 'Account-pass1' }, root);
      const token = await firstLogin(t.app, 'account', 'tf-acc', 'Account-pass1');
      const { secret } = await enroll(t, token);
      await call(t.app, 'CustomerClass/update_customer_class', { i_customer_class: cls.i_customer_class, two_factor_auth: true }, root);
      assert.equal((await call(t.app, 'TwoFactor/get_status', {}, token)).required, true);
      const refused = await rest(t.app, 'TwoFactor/disable', { otp: codeAt(secret, t.clock.now()) }, token);
      assert.equal(refused.body.faultcode, 'Server.TwoFactor.required_by_policy');
    });

    test('codes cannot be brute-forced from a session: the login locks, for logins too', async () => {
      const t = get();
      const v = await vendor(t, root, 'tf-brute');
      const { secret } = await enroll(t, v.token);
      for (let i = 0; i < t.config.LOCKOUT_THRESHOLD; i++) {
        const wrong = await rest(t.app, 'TwoFactor/regenerate_recovery_codes', { otp: wrongCode(secret, t.clock.now()) }, v.token);
        assert.equal(wrong.body.faultcode, 'Server.Session.otp_invalid', `attempt ${i + 1}`);
      }
      const locked = await rest(t.app, 'TwoFactor/regenerate_recovery_codes', { otp: codeAt(secret, t.clock.now()) }, v.token);
      assert.equal(locked.status, 429);
      assert.equal(locked.body.faultcode, 'Server.Session.cannot_login_brute_force_activity');
      assert.ok(Number(locked.body.retry_after) > 0);
      const loginLocked = await rest(t.app, 'Session/login', { login: 'tf-brute', password: 'Vendor-pass1Z', realm: 'vendor' });
      assert.equal(loginLocked.body.faultcode, 'Server.Session.cannot_login_brute_force_activity');
      assert.equal((await auditRows(t, 'login.lockout', v.id)).length, 1);

      t.clock.advance(t.config.LOCKOUT_DURATION);
      const ok = await call<{ recovery_codes: string[] }>(t.app, 'TwoFactor/regenerate_recovery_codes', { otp: codeAt(secret, t.clock.now()) }, v.token);
      assert.equal(ok.recovery_codes.length, 10);
    });

    for (const method of ['TwoFactor/confirm_enrollment', 'TwoFactor/disable'] as const) {
      test(`${method}: wrong codes lock the login like failed logins`, async () => {
        const t = get();
        const login = `tf-brute-${method.split('/')[1]}`;
        const v = await vendor(t, root, login);
        const secret =
          method === 'TwoFactor/disable'
            ? (await enroll(t, v.token)).secret
            : (await call<{ enrollment: { secret: string } }>(t.app, 'TwoFactor/start_enrollment', {}, v.token)).enrollment.secret;
        for (let i = 0; i < t.config.LOCKOUT_THRESHOLD; i++) {
          const wrong = await rest(t.app, method, { otp: wrongCode(secret, t.clock.now()) }, v.token);
          assert.equal(wrong.body.faultcode, 'Server.Session.otp_invalid', `attempt ${i + 1}`);
        }
        const locked = await rest(t.app, method, { otp: codeAt(secret, t.clock.now()) }, v.token);
        assert.equal(locked.status, 429);
        assert.equal(locked.body.faultcode, 'Server.Session.cannot_login_brute_force_activity');
        assert.equal((await call(t.app, 'TwoFactor/get_status', {}, v.token)).enrolled, method === 'TwoFactor/disable', 'nothing changed');
      });
    }

    test('an impersonated session may only read the status; a restricted one nothing', async () => {
      const t = get();
      const v = await vendor(t, root, 'tf-imp');
      const { secret } = await enroll(t, v.token);
      const imp = await t.app.sessions.create({ realm: 'vendor', principalId: v.id, amr: ['imp'], impersonatedBy: 1 });
      assert.equal((await call(t.app, 'TwoFactor/get_status', {}, imp.access_token)).enrolled, true);
      const otp = codeAt(secret, t.clock.now());
      for (const [method, params] of [
        ['TwoFactor/start_enrollment', {}],
        ['TwoFactor/confirm_enrollment', { otp }],
        ['TwoFactor/disable', { otp }],
        ['TwoFactor/regenerate_recovery_codes', { otp }],
      ] as const) {
        const answer = await rest(t.app, method, params, imp.access_token);
        assert.equal(answer.status, 403, method);
        assert.equal(answer.body.faultcode, 'Server.AccessControl.forbidden', method);
      }
      assert.equal((await t.app.repos.twoFactorKeys.find('vendor', v.id))?.status, 'active');

      await call(t.app, 'Vendor/add_vendor', { login: 'tf-restricted', password: 'Vendor-pass1' }, root);
      const first = await call<{ status: string; access_token: string }>(t.app, 'Session/login', {
        login: 'tf-restricted',
        password: 'Vendor-pass1',
        realm: 'vendor',
      });
      assert.equal(first.status, 'password_change_required');
      for (const method of ['TwoFactor/get_status', 'TwoFactor/start_enrollment']) {
        const answer = await rest(t.app, method, {}, first.access_token);
        assert.equal(answer.status, 403, method);
        assert.equal(answer.body.faultcode, 'Server.Session.alert_You_must_change_password', method);
      }
      const anonymous = await rest(t.app, 'TwoFactor/get_status', {});
      assert.equal(anonymous.status, 401);
    });
  },
  // Every code check counts against the per-IP login rate, and all these calls come from one IP.
  { RATE_LIMIT_LOGIN: 10_000 },
);

describeEachDatabase(
  'two-factor self-service: rate limit',
  (get) => {
    test('code checks share the per-IP login rate limit', async () => {
      const t = get();
      const root = await loginRoot(t.app);
      const v = await vendor(t, root, 'tf-rate');
      const { enrollment } = await call<{ enrollment: { secret: string } }>(t.app, 'TwoFactor/start_enrollment', {}, v.token);
      t.clock.advance(60_000); // a fresh rate window
      const wrong = wrongCode(enrollment.secret, t.clock.now());
      for (let i = 0; i < 3; i++) assert.equal((await rest(t.app, 'TwoFactor/confirm_enrollment', { otp: wrong }, v.token)).status, 401);
      const limited = await rest(t.app, 'TwoFactor/confirm_enrollment', { otp: codeAt(enrollment.secret, t.clock.now()) }, v.token);
      assert.equal(limited.status, 429);
      assert.equal(limited.body.faultcode, 'Client.Request.rate_limited');
    });

    test('so do the other code checks: disable, regenerate_recovery_codes and Session/verify_otp', async () => {
      const t = get();
      t.clock.advance(60_000); // a fresh rate window after the test before
      const root = await loginRoot(t.app);
      /** An enrolled vendor, then a fresh rate window. */
      const enrolled = async (login: string) => {
        t.clock.advance(60_000);
        const v = await vendor(t, root, login);
        const { secret } = await enroll(t, v.token);
        t.clock.advance(60_000);
        return { ...v, secret };
      };
      for (const method of ['TwoFactor/disable', 'TwoFactor/regenerate_recovery_codes'] as const) {
        const v = await enrolled(`tf-rate-${method.split('/')[1]}`);
        for (let i = 0; i < 3; i++) assert.equal((await rest(t.app, method, { otp: wrongCode(v.secret, t.clock.now()) }, v.token)).status, 401);
        const limited = await rest(t.app, method, { otp: codeAt(v.secret, t.clock.now()) }, v.token);
        assert.equal(limited.status, 429, method);
        assert.equal(limited.body.faultcode, 'Client.Request.rate_limited', method);
      }
      const v = await enrolled('tf-rate-verify');
      const login = await call<{ status: string; mfa_token: string }>(t.app, 'Session/login', {
        login: 'tf-rate-verify',
        password: 'Vendor-pass1Z',
        realm: 'vendor',
      });
      assert.equal(login.status, 'otp_required');
      for (let i = 0; i < 2; i++) {
        const wrong = await rest(t.app, 'Session/verify_otp', { mfa_token: login.mfa_token, otp: wrongCode(v.secret, t.clock.now()) });
        assert.equal(wrong.body.faultcode, 'Server.Session.otp_invalid');
      }
      const limited = await rest(t.app, 'Session/verify_otp', { mfa_token: login.mfa_token, otp: codeAt(v.secret, t.clock.now()) });
      assert.equal(limited.status, 429);
      assert.equal(limited.body.faultcode, 'Client.Request.rate_limited');
    });
  },
  { RATE_LIMIT_LOGIN: 3 },
);

for (const target of databaseTargets()) {
  test(`CLI: 2fa reset and 2fa disable for lost access, audited [${target}]`, async () => {
    const t = await buildTestApp(target);
    try {
      const root = await loginRoot(t.app);
      const lost = await vendor(t, root, 'cli-lost');
      await enroll(t, lost.token);
      // Principals whose policy requires 2FA, with an active key put in place directly.
      const { i_vendor: required } = await call<{ i_vendor: number }>(t.app, 'Vendor/add_vendor', { login: 'cli-required', two_factor_auth: 'enabled' }, root);
      const { i_user: admin } = await call<{ i_user: number }>(
        t.app,
        'User/add_user',
        { login: 'cli-admin', password: 'Admin-pass1', two_factor_auth: true },
        root,
      );
      for (const [realm, id] of [
        ['vendor', required],
        ['admin', admin],
      ] as const) {
        const now = t.clock.now();
        await t.app.repos.twoFactorKeys.insert({
          realm,
          principal_id: id,
          secret_enc: sealSecret(t.app, realm, id, generateSecret()),
          status: 'active',
          created_at: now,
          activated_at: now,
        });
      }
      await t.app.close();

      const env = { DATABASE_URL: t.db.url, DATA_DIR: t.db.dataDir };
      const reset = runCli(['2fa', 'reset', '--realm', 'vendor', '--login', 'CLI-Lost'], env);
      assert.equal(reset.status, 0, reset.stderr);
      assert.match(reset.stdout, /removed/);
      const unknown = runCli(['2fa', 'reset', '--realm', 'vendor', '--login', 'nobody'], env);
      assert.equal(unknown.status, 1);
      assert.match(unknown.stderr, /no principal with login "nobody" in realm vendor/);
      const unknownDisable = runCli(['2fa', 'disable', '--realm', 'account', '--login', 'cli-lost'], env);
      assert.equal(unknownDisable.status, 1);

      const refused = runCli(['2fa', 'disable', '--realm', 'vendor', '--login', 'cli-required'], env);
      assert.equal(refused.status, 1);
      assert.match(refused.stderr, /required by policy/);
      assert.match(refused.stderr, /--force/);
      const forced = runCli(['2fa', 'disable', '--realm', 'vendor', '--login', 'cli-required', '--force'], env);
      assert.equal(forced.status, 0, forced.stderr);
      const forcedAdmin = runCli(['2fa', 'disable', '--realm', 'admin', '--login', 'cli-admin', '--force'], env);
      assert.equal(forcedAdmin.status, 0, forcedAdmin.stderr);

      const after = await buildTestApp(target, {}, t.db);
      try {
        const { app } = after;
        assert.equal(await app.repos.twoFactorKeys.find('vendor', lost.id), undefined, 'reset removed the key');
        assert.equal(await app.repos.recoveryCodes.countLeft('vendor', lost.id), 0, 'and the recovery codes');
        assert.equal(await app.repos.twoFactorKeys.find('vendor', required), undefined);
        assert.equal(await app.repos.twoFactorKeys.find('admin', admin), undefined);

        const token = await loginRoot(app);
        const vendorInfo = (await call(app, 'Vendor/get_vendor_info', { i_vendor: required }, token)).vendor_info as Answer;
        assert.equal(vendorInfo.two_factor_auth, 'disabled');
        assert.equal(vendorInfo.two_factor_auth_effective, false);
        const userInfo = (await call(app, 'User/get_user_info', { i_user: admin }, token)).user_info as Answer;
        assert.equal(userInfo.two_factor_auth, false);
        // Without a key and without a policy requiring one, the password alone logs in again.
        assert.equal((await call(app, 'Session/login', { login: 'cli-lost', password: 'Vendor-pass1Z', realm: 'vendor' })).status, 'authenticated');
        const adminLogin = await call(app, 'Session/login', { login: 'cli-admin', password: 'Admin-pass1', realm: 'admin' });
        assert.equal(adminLogin.status, 'password_change_required', 'no code asked: the admin set this password, so it must change');

        const audit = async (event: string, entity: string, id: number) => app.db.knex('audit_log').where({ event, entity, entity_id: id }).select();
        const [resetRow] = await audit('two_factor.reset_cli', 'vendor', lost.id);
        assert.equal(resetRow?.actor_realm, 'cli');
        assert.equal(resetRow?.realm, 'vendor');
        assert.deepEqual(JSON.parse(String(resetRow?.details)), { had_key: true });
        const [disableRow, ...more] = await audit('two_factor.disable_cli', 'vendor', required);
        assert.equal(more.length, 0, 'the refused run wrote nothing');
        assert.equal(disableRow?.actor_realm, 'cli');
        assert.deepEqual(JSON.parse(String(disableRow?.details)), { had_key: true, required_by_policy: true, forced: true, two_factor_auth: 'disabled' });
        assert.equal((await audit('two_factor.disable_cli', 'user', admin)).length, 1);
      } finally {
        await after.app.close();
      }
    } finally {
      await t.db.drop();
    }
  });
}
