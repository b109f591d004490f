import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { codeAt } from '../../src/domain/totp/totp.js';
import {
  buildTestApp,
  describeEachDatabase,
  describeEachGuardStore,
  guardStores,
  storeOverrides,
  wrappingPasswordChecks,
  type TestApp,
} from '../helpers/app.js';
import { databaseTargets } from '../helpers/databases.js';
import { decodeQrDataUrl } from '../helpers/qr.js';
import { call, firstLogin, loginRoot, rest, rpc } from '../helpers/rpc.js';

type Answer = Record<string, unknown>;
const STEP = 30_000;

/** A vendor that must use 2FA, with its password already changed (so logins are not restricted). */
async function vendorWith2fa(t: TestApp, root: string, login: string): Promise<string> {
  await call(t.app, 'Vendor/add_vendor', { login, password: 'Vendor-pass1', two_factor_auth: 'disabled' }, root);
  await firstLogin(t.app, 'vendor', login, 'Vendor-pass1');
  const info = (await call(t.app, 'Vendor/get_vendor_info', { login }, root)).vendor_info as Answer;
  await call(t.app, 'Vendor/update_vendor', { i_vendor: info.i_vendor, two_factor_auth: 'enabled' }, root);
  return 'Vendor-pass1Z';
}

/** Logs in, enrolls with the returned secret, and returns the secret and recovery codes. */
async function enroll(t: TestApp, login: string, password: string): Promise<{ secret: string; codes: string[] }> {
  const first = await call(t.app, 'Session/login', { login, password, realm: 'vendor' });
  assert.equal(first.status, 'otp_enrollment_required');
  const secret = (first.enrollment as Answer).secret as string;
  const done = await call(t.app, 'Session/verify_otp', { mfa_token: first.mfa_token, otp: codeAt(secret, t.clock.now()) });
  assert.equal(done.status, 'authenticated');
  return { secret, codes: done.recovery_codes as string[] };
}

describeEachDatabase('login with TOTP two-factor authentication', (get) => {
  let root: string;
  before(async () => {
    root = await loginRoot(get().app);
  });

  test('first login enrolls: a scannable key, then the first code opens the session with recovery codes', async () => {
    const t = get();
    const password = await vendorWith2fa(t, root, 'enroller');
    const first = await call(t.app, 'Session/login', { login: 'enroller', password, realm: 'vendor' });
    assert.equal(first.status, 'otp_enrollment_required');
    assert.deepEqual(Object.keys(first).sort(), ['enrollment', 'mfa_expires_at', 'mfa_token', 'status']);
    const enrollment = first.enrollment as Record<string, string>;
    assert.match(enrollment.secret ?? '', /^[A-Z2-7]{32}$/);
    const uri = new URL(enrollment.otpauth_uri ?? '');
    assert.equal(uri.protocol, 'otpauth:');
    assert.equal(uri.host, 'totp');
    assert.equal(decodeURIComponent(uri.pathname), '/Billing:enroller');
    assert.equal(uri.searchParams.get('secret'), enrollment.secret);
    assert.equal(uri.searchParams.get('issuer'), 'Billing');
    assert.equal(uri.searchParams.get('algorithm'), 'SHA1');
    assert.equal(uri.searchParams.get('digits'), '6');
    assert.equal(uri.searchParams.get('period'), '30');
    assert.equal(decodeQrDataUrl(enrollment.qr_code_png ?? ''), enrollment.otpauth_uri, 'an independent decoder reads the PNG');
    assert.match(enrollment.qr_code_svg ?? '', /<svg[\s\S]*<\/svg>/);

    const done = await call(t.app, 'Session/verify_otp', { mfa_token: first.mfa_token, otp: codeAt(enrollment.secret ?? '', t.clock.now()) });
    assert.equal(done.status, 'authenticated');
    const codes = done.recovery_codes as string[];
    assert.equal(codes.length, 10);
    assert.equal(new Set(codes).size, 10);
    const ping = await call(t.app, 'Session/ping', {}, done.access_token as string);
    assert.deepEqual(ping.amr, ['pwd', 'otp', 'mfa']);
    const raw = JSON.stringify(await t.app.db.knex('two_factor_keys').select()) + JSON.stringify(await t.app.db.knex('recovery_codes').select());
    assert.ok(!raw.includes(enrollment.secret ?? 'x'), 'the secret is stored encrypted');
    for (const code of codes) assert.ok(!raw.includes(code), 'recovery codes are stored hashed');
    const events = await call(t.app, 'AuditLog/get_event_list', { with_total: true, event: 'two_factor.enroll', realm: 'vendor' }, root);
    assert.ok((events.total as number) >= 1);
  });

  test('next logins need a code: window accepted, replay and skew refused, tokens single use', async () => {
    const t = get();
    const password = await vendorWith2fa(t, root, 'daily');
    const { secret } = await enroll(t, 'daily', password);

    t.clock.advance(STEP);
    const second = await call(t.app, 'Session/login', { login: 'daily', password, realm: 'vendor' });
    assert.equal(second.status, 'otp_required');
    assert.deepEqual(Object.keys(second).sort(), ['mfa_expires_at', 'mfa_token', 'status'], 'no session before the code');
    const wrong = await rest(t.app, 'Session/verify_otp', { mfa_token: second.mfa_token, otp: '000000' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.faultcode, 'Server.Session.otp_invalid');
    const skewed = await rest(t.app, 'Session/verify_otp', { mfa_token: second.mfa_token, otp: codeAt(secret, t.clock.now() + 4 * STEP) });
    assert.equal(skewed.body.faultcode, 'Server.Session.otp_invalid');
    assert.equal(skewed.body.hint, 'clock_skew');
    const viaRpc = await rpc(t.app, 'Session/verify_otp', { mfa_token: second.mfa_token, otp: codeAt(secret, t.clock.now() - 3 * STEP) });
    assert.equal(viaRpc.error?.data.hint, 'clock_skew');
    const replay = await rest(t.app, 'Session/verify_otp', { mfa_token: second.mfa_token, otp: codeAt(secret, t.clock.now() - STEP) });
    assert.equal(replay.body.faultcode, 'Server.Session.otp_replayed', 'the enrollment step was used: an earlier-or-equal step is a replay');

    const ahead = codeAt(secret, t.clock.now() + STEP);
    const ok = await rest(t.app, 'Session/verify_otp', { mfa_token: second.mfa_token, otp: ahead });
    assert.equal(ok.status, 200, 'one step ahead is inside TOTP_WINDOW');
    const reused = await rest(t.app, 'Session/verify_otp', { mfa_token: second.mfa_token, otp: ahead });
    assert.equal(reused.body.faultcode, 'Server.Session.mfa_token_invalid', 'an mfa_token is single use');

    const third = await call(t.app, 'Session/login', { login: 'daily', password, realm: 'vendor' });
    const sameCode = await rest(t.app, 'Session/verify_otp', { mfa_token: third.mfa_token, otp: ahead });
    assert.equal(sameCode.body.faultcode, 'Server.Session.otp_replayed');
    t.clock.advance(2 * STEP);
    assert.equal((await rest(t.app, 'Session/verify_otp', { mfa_token: third.mfa_token, otp: codeAt(secret, t.clock.now()) })).status, 200);

    const unknown = await rest(t.app, 'Session/verify_otp', { mfa_token: 'no-such-token', otp: '123456' });
    assert.equal(unknown.body.faultcode, 'Server.Session.mfa_token_invalid');
    const late = await call(t.app, 'Session/login', { login: 'daily', password, realm: 'vendor' });
    t.clock.advance(t.config.MFA_TOKEN_TTL + 1000);
    const expired = await rest(t.app, 'Session/verify_otp', { mfa_token: late.mfa_token, otp: codeAt(secret, t.clock.now()) });
    assert.equal(expired.body.faultcode, 'Server.Session.mfa_token_invalid');
    const both = await rpc(t.app, 'Session/verify_otp', { mfa_token: 'x', otp: '123456', recovery_code: 'abc' });
    assert.equal(both.error?.code, -32602);
  });

  test('concurrent use of one valid code yields exactly one success', async () => {
    const t = get();
    const password = await vendorWith2fa(t, root, 'racer');
    const { secret } = await enroll(t, 'racer', password);
    t.clock.advance(STEP);
    const tokens = [];
    for (let i = 0; i < 3; i++) tokens.push((await call(t.app, 'Session/login', { login: 'racer', password, realm: 'vendor' })).mfa_token as string);
    const code = codeAt(secret, t.clock.now());
    const answers = await Promise.all([...tokens, tokens[0], tokens[0]].map((mfa_token) => rest(t.app, 'Session/verify_otp', { mfa_token, otp: code })));
    assert.equal(answers.filter((a) => a.status === 200).length, 1, JSON.stringify(answers.map((a) => a.body.faultcode ?? a.body.status)));
    for (const a of answers.filter((x) => x.status !== 200)) {
      assert.ok(['Server.Session.otp_replayed', 'Server.Session.mfa_token_invalid'].includes(String(a.body.faultcode)), JSON.stringify(a.body));
    }
  });

  test('recovery codes log in once each', async () => {
    const t = get();
    const password = await vendorWith2fa(t, root, 'lostphone');
    const { codes } = await enroll(t, 'lostphone', password);
    const challenge = await call(t.app, 'Session/login', { login: 'lostphone', password, realm: 'vendor' });
    const typed = ` ${(codes[0] ?? '').toUpperCase()} `;
    const ok = await call(t.app, 'Session/verify_otp', { mfa_token: challenge.mfa_token, recovery_code: typed });
    assert.equal(ok.status, 'authenticated');
    assert.equal(ok.recovery_codes_left, 9);
    assert.deepEqual((await call(t.app, 'Session/ping', {}, ok.access_token as string)).amr, ['pwd', 'mfa', 'rcode']);
    const again = await call(t.app, 'Session/login', { login: 'lostphone', password, realm: 'vendor' });
    const reused = await rest(t.app, 'Session/verify_otp', { mfa_token: again.mfa_token, recovery_code: codes[0] });
    assert.equal(reused.body.faultcode, 'Server.Session.otp_invalid');
    const events = await call(t.app, 'AuditLog/get_event_list', { with_total: true, event: 'login.recovery_code', realm: 'vendor' }, root);
    assert.ok((events.total as number) >= 1);
  });

  test('an admin reset voids the old key at once; the next login enrolls a new one', async () => {
    const t = get();
    const password = await vendorWith2fa(t, root, 'resetme');
    const { secret } = await enroll(t, 'resetme', password);
    t.clock.advance(STEP);
    const pending = await call(t.app, 'Session/login', { login: 'resetme', password, realm: 'vendor' });
    const info = (await call(t.app, 'Vendor/get_vendor_info', { login: 'resetme' }, root)).vendor_info as Answer;
    await call(t.app, 'Vendor/reset_2fa_key', { i_vendor: info.i_vendor }, root);
    const old = await rest(t.app, 'Session/verify_otp', { mfa_token: pending.mfa_token, otp: codeAt(secret, t.clock.now()) });
    assert.equal(old.body.faultcode, 'Server.Session.mfa_token_invalid');
    const next = await call(t.app, 'Session/login', { login: 'resetme', password, realm: 'vendor' });
    assert.equal(next.status, 'otp_enrollment_required');
    assert.notEqual((next.enrollment as Answer).secret, secret);
  });

  test('enabling 2FA does not drop a live session; it applies from the next login', async () => {
    const t = get();
    const cls = await call(t.app, 'CustomerClass/add_customer_class', { name: 'Later2fa', two_factor_auth: false }, root);
    await call(t.app, 'Customer/add_customer', { login: 'live-co', password: 'Live-pass1', i_customer_class: cls.i_customer_class }, root);
    const token = await firstLogin(t.app, 'customer', 'live-co', 'Live-pass1');
    await call(t.app, 'CustomerClass/update_customer_class', { i_customer_class: cls.i_customer_class, two_factor_auth: true }, root);
    assert.equal((await rest(t.app, 'Session/ping', {}, token)).status, 200);
    const next = await call(t.app, 'Session/login', { login: 'live-co', password: 'Live-pass1Z', realm: 'customer' });
    assert.equal(next.status, 'otp_enrollment_required');
  });

  test('a password that must change is reported only after the second factor', async () => {
    const t = get();
    await call(t.app, 'Vendor/add_vendor', { login: 'both', password: 'Both-pass1', two_factor_auth: 'enabled' }, root);
    const first = await call(t.app, 'Session/login', { login: 'both', password: 'Both-pass1', realm: 'vendor' });
    assert.equal(first.status, 'otp_enrollment_required');
    const secret = (first.enrollment as Answer).secret as string;
    const done = await call(t.app, 'Session/verify_otp', { mfa_token: first.mfa_token, otp: codeAt(secret, t.clock.now()) });
    assert.equal(done.status, 'password_change_required');
    assert.equal(done.reason, 'must_change');
    assert.equal((done.recovery_codes as string[]).length, 10);
  });

  test('unknown logins spend the same bcrypt work as real ones', async () => {
    const { app } = get();
    const original = app.passwords.verifyNothing;
    let dummies = 0;
    app.passwords.verifyNothing = async (p) => {
      dummies++;
      return original(p);
    };
    try {
      const answer = await rest(app, 'Session/login', { login: 'nobody-at-all', password: 'Whatever1', realm: 'account' });
      assert.equal(answer.body.faultcode, 'Server.Session.auth_failed');
      assert.equal(dummies, 1);
    } finally {
      app.passwords.verifyNothing = original;
    }
  });
});

describeEachGuardStore('brute-force protection', (get) => {
  let root: string;
  before(async () => {
    root = await loginRoot(get().app);
  });

  test('after LOCKOUT_THRESHOLD failures the login is locked, right password or not; locks double', async () => {
    const t = get();
    await call(t.app, 'Representative/add_representative', { login: 'guessed', password: 'Real-pass1' }, root);
    await firstLogin(t.app, 'representative', 'guessed', 'Real-pass1');
    const attempt = (password: string) => rest(t.app, 'Session/login', { login: 'guessed', password, realm: 'representative' });
    for (let i = 0; i < 5; i++) assert.equal((await attempt(`Wrong-${i}-pass`)).body.faultcode, 'Server.Session.auth_failed');
    const locked = await attempt('Real-pass1Z');
    assert.equal(locked.status, 429);
    assert.equal(locked.body.faultcode, 'Server.Session.cannot_login_brute_force_activity');
    assert.equal(locked.body.retry_after, 60);
    const viaRpc = await rpc(t.app, 'Session/login', { login: 'guessed', password: 'Real-pass1Z', realm: 'representative' });
    assert.equal(viaRpc.error?.data.faultcode, 'Server.Session.cannot_login_brute_force_activity');

    t.clock.advance(61_000);
    for (let i = 0; i < 5; i++) await attempt(`Wrong-again-${i}`);
    const second = await attempt('Real-pass1Z');
    assert.equal(second.body.retry_after, 120, 'the second lock lasts twice as long');
    t.clock.advance(121_000);
    assert.equal((await attempt('Real-pass1Z')).body.status, 'authenticated', 'success after the lock ends resets the counter');
    for (let i = 0; i < 4; i++) await attempt(`Wrong-later-${i}`);
    assert.equal((await attempt('Real-pass1Z')).body.status, 'authenticated', 'the count restarted from zero');
    const events = await call(t.app, 'AuditLog/get_event_list', { with_total: true, event: 'login.lockout', realm: 'representative' }, root);
    assert.equal(events.total, 2);
  });

  test('unknown logins are locked the same way', async () => {
    const t = get();
    for (let i = 0; i < 5; i++) await rest(t.app, 'Session/login', { login: 'ghost', password: `Guess-${i}-x`, realm: 'account' });
    const answer = await rest(t.app, 'Session/login', { login: 'ghost', password: 'Guess-9-x', realm: 'account' });
    assert.equal(answer.body.faultcode, 'Server.Session.cannot_login_brute_force_activity');
  });

  test('50 concurrent wrong attempts: at most LOCKOUT_THRESHOLD are evaluated', async () => {
    const t = get();
    await call(t.app, 'Representative/add_representative', { login: 'stormed', password: 'Real-pass2' }, root);
    let evaluated = 0;
    const counting: Parameters<typeof wrappingPasswordChecks>[1] = (verify) => (p, h) => {
      evaluated++;
      return verify(p, h);
    };
    const answers = await wrappingPasswordChecks(t.app, counting, () =>
      Promise.all(Array.from({ length: 50 }, (_, i) => rest(t.app, 'Session/login', { login: 'stormed', password: `Wrong-${i}-x`, realm: 'representative' }))),
    );
    assert.ok(evaluated <= t.config.LOCKOUT_THRESHOLD, `${evaluated} evaluated`);
    assert.equal(answers.filter((a) => a.body.faultcode === 'Server.Session.auth_failed').length, evaluated);
    assert.equal(answers.filter((a) => a.status === 429).length, 50 - evaluated);
  });

  test('wrong codes count too: OTP guessing locks the login', async () => {
    const t = get();
    await call(t.app, 'Vendor/add_vendor', { login: 'otp-guess', password: 'Otp-guess1', two_factor_auth: 'enabled' }, root);
    const first = await call(t.app, 'Session/login', { login: 'otp-guess', password: 'Otp-guess1', realm: 'vendor' });
    for (let i = 0; i < 5; i++) {
      const a = await rest(t.app, 'Session/verify_otp', { mfa_token: first.mfa_token, otp: String(100000 + i) });
      assert.equal(a.body.faultcode, 'Server.Session.otp_invalid');
    }
    const secret = (first.enrollment as Answer).secret as string;
    const locked = await rest(t.app, 'Session/verify_otp', { mfa_token: first.mfa_token, otp: codeAt(secret, t.clock.now()) });
    assert.equal(locked.status, 429, 'even the right code is refused while locked');
    assert.equal(locked.body.faultcode, 'Server.Session.cannot_login_brute_force_activity');
    const events = await call(t.app, 'AuditLog/get_event_list', { with_total: true, event: 'login.otp_failure', realm: 'vendor' }, root);
    assert.ok((events.total as number) >= 5);
  });
});

for (const target of databaseTargets())
  for (const store of guardStores()) {
    test(`RATE_LIMIT_LOGIN limits login calls per IP per minute [${target}, counters in ${store}]`, async () => {
      const t = await buildTestApp(target, { ...storeOverrides(store), RATE_LIMIT_LOGIN: 3 });
      try {
        const answers = [];
        for (let i = 0; i < 5; i++) answers.push(await rest(t.app, 'Session/login', { login: `anyone${i}`, password: 'Whatever1', realm: 'account' }));
        assert.deepEqual(
          answers.map((a) => a.status),
          [401, 401, 401, 429, 429],
        );
        assert.equal(answers[3]?.body.faultcode, 'Client.Request.rate_limited');
        assert.ok(Number(answers[3]?.body.retry_after) >= 1);
        t.clock.advance(60_000);
        assert.equal(
          (await rest(t.app, 'Session/login', { login: 'anyone', password: 'Whatever1', realm: 'account' })).status,
          401,
          'a new minute, a new window',
        );
      } finally {
        await t.close();
      }
    });

    test(`LOCKOUT_IP_THRESHOLD locks an IP that fails across many logins [${target}, counters in ${store}]`, async () => {
      const t = await buildTestApp(target, { ...storeOverrides(store), LOCKOUT_IP_THRESHOLD: 4 });
      try {
        for (let i = 0; i < 4; i++) await rest(t.app, 'Session/login', { login: `spray${i}`, password: 'Whatever1', realm: 'account' });
        const answer = await rest(t.app, 'Session/login', { login: 'spray-new', password: 'Whatever1', realm: 'account' });
        assert.equal(answer.body.faultcode, 'Server.Session.cannot_login_brute_force_activity');
      } finally {
        await t.close();
      }
    });
  }
