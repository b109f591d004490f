import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { codeAt } from '../../src/domain/totp/totp.js';
import { rotateAll } from '../../src/repositories/encrypted-columns.js';
import { buildTestApp, guardStores, storeOverrides, type GuardStore, type Overrides, type TestApp } from '../helpers/app.js';
import { databaseTargets } from '../helpers/databases.js';
import { call, loginRoot, rest, rpc } from '../helpers/rpc.js';
import { TestSmtp } from '../helpers/smtp.js';

type Answer = Record<string, unknown>;
const STEP = 30_000;
const RESET_URL = 'https://portal.example/reset?token={{token}}';

interface Suite {
  t: TestApp;
  smtp: TestSmtp;
  root: string;
}

/**
 * A suite per storage target, on an app that mails through a real SMTP
 * server (smtp-server, spoken to by nodemailer): the reset tokens used here
 * are the ones read from the mails.
 */
function describeWithMail(title: string, body: (get: () => Suite) => void, overrides: Overrides = {}, stores: GuardStore[] = ['database']): void {
  for (const target of databaseTargets())
    for (const store of stores) {
      describe(`${title} [${target}${store === 'database' ? '' : `, counters in ${store}`}]`, () => {
        let suite: Suite | undefined;
        before(async () => {
          const smtp = new TestSmtp();
          await smtp.start();
          const t = await buildTestApp(target, {
            ...storeOverrides(store),
            SMTP_URL: smtp.url,
            PASSWORD_RESET_URL: RESET_URL,
            NOTIFY_BRAND: 'Panda',
            ...overrides,
          });
          suite = { t, smtp, root: await loginRoot(t.app) };
        });
        after(async () => {
          await suite?.t.close();
          await suite?.smtp.stop();
        });
        body(() => {
          if (!suite) throw new Error('suite not built');
          return suite;
        });
      });
    }
}

/** A vendor (2FA off unless asked) whose admin-set password `Reset-pass1` must still be changed. */
async function vendor(s: Suite, login: string, fields: Answer = {}): Promise<number> {
  const root = await loginRoot(s.t.app);
  const added = await call<{ i_vendor: number }>(
    s.t.app,
    'Vendor/add_vendor',
    { login, password: 'Reset-pass1', email: `${login}@example.com`, ...fields },
    root,
  );
  return added.i_vendor;
}

const mailsTo = (s: Suite, login: string) => s.smtp.mails.filter((m) => JSON.stringify(m.to).includes(`"${login}@example.com"`));
const resetMailsTo = (s: Suite, login: string) => mailsTo(s, login).filter((m) => /Reset the password/.test(m.subject ?? ''));

/** Status and body only: what a caller can compare between answers (headers carry per-call ids and dates). */
const answerOf = async (answer: Promise<{ status: number; body: Record<string, unknown> }>) => {
  const { status, body } = await answer;
  return { status, body };
};
const request = (s: Suite, login: string, realm = 'vendor') => answerOf(rest(s.t.app, 'Session/request_password_reset', { realm, login }));

/** Delivers the outbox and reads the token from the link in the newest reset mail to `login`. */
async function mailedToken(s: Suite, login: string): Promise<string> {
  await s.t.app.notifications.runOnce();
  const mail = resetMailsTo(s, login).at(-1);
  assert.ok(mail, `no reset mail to ${login}`);
  const token = /https:\/\/portal\.example\/reset\?token=([A-Za-z0-9_-]+)/.exec(mail.text ?? '')?.[1];
  assert.ok(token, `no link in ${mail.text}`);
  return token;
}

/** Asks for a reset of `login` and returns the mailed token. */
async function resetToken(s: Suite, login: string): Promise<string> {
  const answer = await request(s, login);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return mailedToken(s, login);
}

const reset = (s: Suite, token: string, newPassword = 'Brand-new-pass9') =>
  answerOf(rest(s.t.app, 'Session/reset_password', { token, new_password: newPassword }));

const loginAs = (s: Suite, login: string, password: string) => rest(s.t.app, 'Session/login', { login, password, realm: 'vendor' });

async function audit(s: Suite, event: string): Promise<Answer[]> {
  const root = await loginRoot(s.t.app);
  return (await call<{ event_list: Answer[] }>(s.t.app, 'AuditLog/get_event_list', { event }, root)).event_list;
}

const INVALID = { faultcode: 'Server.Password.reset_token_invalid' };

describeWithMail(
  'forgotten password: the whole flow through a real SMTP server',
  (get) => {
    test('the mailed link sets a new password, ends every session and pending challenge, keeps 2FA, is audited and never logged', async () => {
      const s = get();
      const { t } = s;
      const id = await vendor(s, 'flow', { two_factor_auth: 'enabled' });
      // The owner enrolls at its first login (its admin-set password is still to be changed: a restricted session).
      const first = await call(t.app, 'Session/login', { login: 'flow', password: 'Reset-pass1', realm: 'vendor' });
      assert.equal(first.status, 'otp_enrollment_required');
      const secret = (first.enrollment as Answer).secret as string;
      const enrolled = await call(t.app, 'Session/verify_otp', { mfa_token: first.mfa_token, otp: codeAt(secret, t.clock.now()) });
      assert.equal(enrolled.status, 'password_change_required');
      const session = enrolled.access_token as string;
      // Someone else holds the password and waits at the code prompt.
      t.clock.advance(STEP);
      const pending = await call(t.app, 'Session/login', { login: 'flow', password: 'Reset-pass1', realm: 'vendor' });
      assert.equal(pending.status, 'otp_required');

      const asked = await request(s, 'FLOW');
      assert.deepEqual(asked, { status: 200, body: { success: 1 } });
      const token = await mailedToken(s, 'flow');
      assert.equal(Buffer.from(token, 'base64url').length, 32, '256 random bits');
      const [mail] = resetMailsTo(s, 'flow');
      assert.equal(mail?.subject, 'Panda: Reset the password of flow');
      // Mustache escapes `/` and `=` in HTML: a browser reads the same link.
      const html = String(mail?.html).replaceAll('&#x2F;', '/').replaceAll('&#x3D;', '=');
      assert.ok(html.includes(`href="https://portal.example/reset?token=${token}"`), html);
      assert.match(mail?.text ?? '', /from 127\.0\.0\.1/);

      const done = await reset(s, token);
      assert.equal(done.status, 200, JSON.stringify(done.body));
      assert.equal(done.body.success, 1);
      assert.equal(done.body.sessions_ended, 1);
      assert.equal(typeof done.body.password_expires_at, 'string');

      // Every session and pending challenge is over.
      assert.equal((await rest(t.app, 'Session/ping', {}, session)).body.faultcode, 'Server.Session.check_auth.auth_failed');
      t.clock.advance(STEP);
      const late = await rest(t.app, 'Session/verify_otp', { mfa_token: pending.mfa_token, otp: codeAt(secret, t.clock.now()) });
      assert.equal(late.body.faultcode, 'Server.Session.mfa_token_invalid');
      // The old password is gone; the new one still needs the code, and need not be changed again.
      assert.equal((await loginAs(s, 'flow', 'Reset-pass1')).body.faultcode, 'Server.Session.auth_failed');
      const next = await loginAs(s, 'flow', 'Brand-new-pass9');
      assert.equal(next.body.status, 'otp_required', 'a reset never bypasses 2FA');
      t.clock.advance(STEP);
      const full = await call(t.app, 'Session/verify_otp', { mfa_token: next.body.mfa_token, otp: codeAt(secret, t.clock.now()) });
      assert.equal(full.status, 'authenticated', 'the new password is the owner’s own: no forced change');
      // Single use.
      assert.deepEqual((await reset(s, token, 'Another-pass9')).body.faultcode, INVALID.faultcode);

      // The owner hears of the change.
      await t.app.notifications.runOnce();
      assert.deepEqual(
        mailsTo(s, 'flow').map((m) => m.subject),
        ['Panda: Two-factor authentication is now on for flow', 'Panda: Reset the password of flow', 'Panda: Your password was changed for flow'],
      );

      // Audited, in the rows of the change; the token is nowhere but in the mail.
      const requested = await audit(s, 'password.reset_request');
      assert.deepEqual(
        requested.map((e) => [e.entity, e.entity_id, e.details]),
        [['vendor', id, { mailed: true }]],
      );
      const resets = await audit(s, 'password.reset');
      assert.deepEqual(
        resets.map((e) => [e.entity, e.entity_id, e.ip, e.details]),
        [['vendor', id, '127.0.0.1', { sessions_ended: 1 }]],
      );
      const stored = JSON.stringify({
        audit: await t.app.db.knex('audit_log').select(),
        outbox: await t.app.db.knex('notifications').select(),
        resets: await t.app.db.knex('password_resets').select(),
      });
      assert.ok(!stored.includes(token), 'the token is stored nowhere in plain text');
      const outbox = await t.app.db.knex('notifications').where({ kind: 'password_reset' }).select();
      assert.deepEqual(
        outbox.map((r: Answer) => [r.status, r.secret_enc]),
        [['sent', null]],
        'its sealed copy is erased once the mail is sent',
      );
      assert.ok(!t.logs.join('').includes(token), 'the token is never logged');
    });

    test('without PASSWORD_RESET_URL the mail gives the token alone, and it works', async () => {
      const s = get();
      const plain = await buildTestApp(s.t.db.target, { SMTP_URL: s.smtp.url, NOTIFY_BRAND: 'Panda' });
      try {
        const root = await loginRoot(plain.app);
        await call(plain.app, 'Vendor/add_vendor', { login: 'bare', password: 'Reset-pass1', email: 'bare@example.com' }, root);
        await call(plain.app, 'Session/request_password_reset', { realm: 'vendor', login: 'bare' });
        await plain.app.notifications.runOnce();
        const mail = resetMailsTo(s, 'bare').at(-1);
        assert.ok(mail);
        assert.doesNotMatch(mail.text ?? '', /https?:/);
        const token = /reset code in Panda:\s+([A-Za-z0-9_-]{43})\s/.exec(mail.text ?? '')?.[1];
        assert.ok(token, mail.text);
        assert.equal((await rest(plain.app, 'Session/reset_password', { token, new_password: 'Brand-new-pass9' })).status, 200);
        assert.equal((await rest(plain.app, 'Session/login', { login: 'bare', password: 'Brand-new-pass9', realm: 'vendor' })).body.status, 'authenticated');
      } finally {
        await plain.close();
      }
    });
  },
  { LOG_LEVEL: 'trace' },
);

describeWithMail('forgotten password: refusals', (get) => {
  test('unknown, used, expired and replaced tokens get one and the same fault, and change nothing', async () => {
    const s = get();
    const { t } = s;
    await vendor(s, 'refused');
    const answers: Array<Awaited<ReturnType<typeof reset>>> = [];
    const refusedWith = async (token: string) => answers.push(await reset(s, token, 'Never-set-pass9'));
    await refusedWith('x');
    await refusedWith('A'.repeat(43));
    const used = await resetToken(s, 'refused');
    assert.equal((await reset(s, used, 'First-new-pass9')).status, 200);
    await refusedWith(used);
    t.clock.advance(t.config.PASSWORD_RESET_INTERVAL);
    const expired = await resetToken(s, 'refused');
    t.clock.advance(t.config.PASSWORD_RESET_TTL);
    await refusedWith(expired);
    const replaced = await resetToken(s, 'refused');
    t.clock.advance(t.config.PASSWORD_RESET_INTERVAL);
    const live = await resetToken(s, 'refused');
    await refusedWith(replaced);

    for (const answer of answers) assert.deepEqual(answer, answers[0]);
    assert.equal(answers[0]?.status, 401);
    assert.equal(answers[0]?.body.faultcode, INVALID.faultcode);
    const viaRpc = await rpc(t.app, 'Session/reset_password', { token: used, new_password: 'Never-set-pass9' });
    assert.equal(viaRpc.error?.data.faultcode, INVALID.faultcode);
    assert.equal(viaRpc.error?.code, -32001);

    assert.equal((await loginAs(s, 'refused', 'Never-set-pass9')).body.faultcode, 'Server.Session.auth_failed');
    assert.equal((await loginAs(s, 'refused', 'First-new-pass9')).body.status, 'authenticated', 'the password set by the used token stands');
    const failures = await audit(s, 'password.reset_failure');
    assert.equal(failures.length, 6);
    assert.ok(failures.every((e) => (e.details as Answer).reason === 'token'));
    assert.ok(!JSON.stringify(failures).includes(used), 'no token in the audit log');
    assert.equal((await reset(s, live)).status, 200, 'the newest token still works');
  });

  test('a refused password changes nothing, and the link can try again', async () => {
    const s = get();
    const { t } = s;
    const id = await vendor(s, 'weak');
    const session = (await loginAs(s, 'weak', 'Reset-pass1')).body.access_token as string;
    const token = await resetToken(s, 'weak');
    const before = await t.app.db.knex('vendors').where({ login: 'weak' }).first();

    const refused = await reset(s, token, 'short');
    assert.equal(refused.status, 422);
    assert.equal(refused.body.faultcode, 'Server.Password.policy_violation');
    assert.deepEqual(refused.body.violations, ['min_length', 'must_include_digits']);

    assert.deepEqual(await t.app.db.knex('vendors').where({ login: 'weak' }).first(), before, 'the principal is untouched');
    assert.equal((await rest(t.app, 'Session/ping', {}, session)).status, 200, 'its session lives on');
    assert.equal((await audit(s, 'password.reset')).filter((e) => e.entity_id === id).length, 0);
    await t.app.notifications.runOnce();
    assert.equal(mailsTo(s, 'weak').filter((m) => /password was changed/.test(m.subject ?? '')).length, 0);
    assert.equal((await reset(s, token, 'Strong-enough9')).status, 200);
  });

  test('a blocked principal gets no mail and cannot reset with a token it had', async () => {
    const s = get();
    const { t } = s;
    const id = await vendor(s, 'blockme');
    const token = await resetToken(s, 'blockme');
    await call(t.app, 'Vendor/update_vendor', { i_vendor: id, blocked: true }, await loginRoot(t.app));
    const refused = await reset(s, token);
    assert.equal(refused.body.faultcode, INVALID.faultcode);

    // Even a token still on file is refused while the principal is blocked.
    t.clock.advance(t.config.PASSWORD_RESET_INTERVAL);
    await call(t.app, 'Vendor/update_vendor', { i_vendor: id, blocked: false }, await loginRoot(t.app));
    const second = await resetToken(s, 'blockme');
    await t.app.db.knex('vendors').where({ i_vendor: id }).update({ blocked: true });
    assert.deepEqual(await reset(s, second), refused);
    const [failure] = await audit(s, 'password.reset_failure');
    assert.deepEqual([failure?.entity_id, failure?.details], [id, { reason: 'blocked' }]);

    t.clock.advance(t.config.PASSWORD_RESET_INTERVAL);
    const mails = resetMailsTo(s, 'blockme').length;
    assert.deepEqual(await request(s, 'blockme'), { status: 200, body: { success: 1 } });
    await t.app.notifications.runOnce();
    assert.equal(resetMailsTo(s, 'blockme').length, mails, 'no mail for a blocked principal');
    const [latest] = await audit(s, 'password.reset_request');
    assert.deepEqual(latest?.details, { mailed: false, reason: 'blocked' });
  });

  test('a password change, or a new password set by an admin, voids the link', async () => {
    const s = get();
    const { t } = s;
    const id = await vendor(s, 'changer');
    const restricted = (await loginAs(s, 'changer', 'Reset-pass1')).body.access_token as string;
    const token = await resetToken(s, 'changer');
    await call(t.app, 'Session/change_password', { old_password: 'Reset-pass1', new_password: 'Changed-pass9' }, restricted);
    assert.equal((await reset(s, token)).body.faultcode, INVALID.faultcode);

    t.clock.advance(t.config.PASSWORD_RESET_INTERVAL);
    const second = await resetToken(s, 'changer');
    await call(t.app, 'Vendor/update_vendor', { i_vendor: id, password: 'Admin-set-pass9' }, await loginRoot(t.app));
    assert.equal((await reset(s, second)).body.faultcode, INVALID.faultcode);
  });

  test('two resets with one token: exactly one wins', async () => {
    const s = get();
    await vendor(s, 'racer');
    const token = await resetToken(s, 'racer');
    const answers = await Promise.all([reset(s, token, 'Racer-one-pass9'), reset(s, token, 'Racer-two-pass9')]);
    assert.deepEqual(answers.map((a) => a.status).sort(), [200, 401]);
    const winner = answers[0]?.status === 200 ? 'Racer-one-pass9' : 'Racer-two-pass9';
    assert.equal((await loginAs(s, 'racer', winner)).body.status, 'authenticated');
  });

  test('a reset lifts the lock its owner ran into by guessing', async () => {
    const s = get();
    const { t } = s;
    await vendor(s, 'locked');
    for (let i = 0; i < t.config.LOCKOUT_THRESHOLD; i++) await loginAs(s, 'locked', `Wrong-pass${i}`);
    assert.equal((await loginAs(s, 'locked', 'Reset-pass1')).body.faultcode, 'Server.Session.cannot_login_brute_force_activity');
    assert.equal((await reset(s, await resetToken(s, 'locked'))).status, 200);
    assert.equal((await loginAs(s, 'locked', 'Brand-new-pass9')).body.status, 'authenticated');
  });
});

describeWithMail('forgotten password: the answer tells nothing', (get) => {
  test('identical answers for a mailed, unknown, mail-less, blocked or just-mailed login, and never a password check', async () => {
    const s = get();
    const { t } = s;
    // One set for each transport, so that each answers for a fresh login.
    for (const suffix of ['', '-rpc']) {
      await vendor(s, `known${suffix}`);
      await vendor(s, `nomail${suffix}`, { email: null });
      await vendor(s, `blocked${suffix}`, { blocked: true });
      await vendor(s, `twice${suffix}`);
      await request(s, `twice${suffix}`);
    }

    const bcrypt: string[] = [];
    const real = { ...t.app.passwords };
    for (const name of ['hash', 'verify', 'verifyNothing'] as const) {
      (t.app.passwords as unknown as Record<string, unknown>)[name] = (...args: never[]) => {
        bcrypt.push(name);
        return (real[name] as (...a: never[]) => unknown)(...args);
      };
    }
    const logins = ['known', 'no-such-login', 'nomail', 'blocked', 'twice'];
    const restAnswers: unknown[] = [];
    const rpcAnswers: unknown[] = [];
    try {
      for (const login of logins) restAnswers.push(await request(s, login));
      for (const login of logins) rpcAnswers.push(await rpc(t.app, 'Session/request_password_reset', { realm: 'vendor', login: `${login}-rpc` }));
    } finally {
      Object.assign(t.app.passwords, real);
    }
    for (const answer of restAnswers) assert.deepEqual(answer, { status: 200, body: { success: 1 } });
    for (const answer of rpcAnswers) assert.deepEqual(answer, { jsonrpc: '2.0', id: 1, result: { success: 1 } });
    assert.deepEqual(bcrypt, [], 'no password hashing on any path');

    await t.app.notifications.runOnce();
    for (const login of ['known', 'known-rpc', 'twice', 'twice-rpc']) assert.equal(resetMailsTo(s, login).length, 1, login);
    for (const login of ['nomail', 'blocked', 'blocked-rpc']) assert.equal(resetMailsTo(s, login).length, 0, login);
    const reasons = (await audit(s, 'password.reset_request')).map((e) => (e.details as Answer).reason ?? 'mailed');
    for (const reason of ['unknown_login', 'no_email', 'blocked', 'throttled', 'mailed']) assert.ok(reasons.includes(reason), reason);
  });
});

/** A new vendor, then a rate window of its own: the admin's login that made it counted in the one before. */
async function vendorInFreshWindow(s: Suite, login: string): Promise<void> {
  s.t.clock.advance(60_000); // out of the window the test before used up
  await vendor(s, login);
  s.t.clock.advance(60_000);
}

describeWithMail(
  'forgotten password: requests are limited per IP and per login',
  (get) => {
    test('requests share the per-IP login rate limit, whatever the login', async () => {
      const s = get();
      await vendorInFreshWindow(s, 'rated');
      for (const login of ['rated', 'ghost-1', 'ghost-2']) assert.equal((await request(s, login)).status, 200);
      const limited = await request(s, 'rated');
      assert.equal(limited.status, 429);
      assert.equal(limited.body.faultcode, 'Client.Request.rate_limited');
      assert.equal(typeof limited.body.retry_after, 'number');
      assert.equal((await loginAs(s, 'rated', 'Reset-pass1')).body.faultcode, 'Client.Request.rate_limited', 'logins count in the same window');
    });

    test('one mail per login per PASSWORD_RESET_INTERVAL; the next one replaces the token', async () => {
      const s = get();
      const { t } = s;
      await vendorInFreshWindow(s, 'bombed');
      const first = await resetToken(s, 'bombed');
      assert.equal((await request(s, 'bombed')).status, 200);
      assert.equal((await request(s, 'BOMBED')).status, 200);
      await t.app.notifications.runOnce();
      assert.equal(resetMailsTo(s, 'bombed').length, 1, 'the victim gets one mail');

      t.clock.advance(60_000);
      const second = await resetToken(s, 'bombed');
      assert.equal(resetMailsTo(s, 'bombed').length, 2);
      assert.notEqual(second, first);
      assert.equal((await reset(s, first)).body.faultcode, INVALID.faultcode, 'the older token stopped working');
      assert.equal((await reset(s, second)).status, 200);
    });

    test('guessing tokens shares the per-IP rate limit, as code checks do', async () => {
      const s = get();
      const { t } = s;
      await vendorInFreshWindow(s, 'guessed');
      const token = await resetToken(s, 'guessed');
      for (let i = 0; i < 2; i++) assert.equal((await reset(s, `guess-${i}`)).body.faultcode, INVALID.faultcode);
      const limited = await reset(s, token);
      assert.equal(limited.body.faultcode, 'Client.Request.rate_limited');
      t.clock.advance(60_000);
      assert.equal((await reset(s, token)).status, 200, 'the refused call used nothing up');
    });
  },
  { RATE_LIMIT_LOGIN: 3 },
  guardStores(),
);

describeWithMail(
  'forgotten password: wrong tokens lock the client IP',
  (get) => {
    test('LOCKOUT_IP_THRESHOLD wrong tokens lock the IP, even for a right token', async () => {
      const s = get();
      await vendor(s, 'iplock');
      const token = await resetToken(s, 'iplock');
      for (let i = 0; i < 3; i++) assert.equal((await reset(s, `guess-${i}`)).body.faultcode, INVALID.faultcode);
      const locked = await reset(s, token);
      assert.equal(locked.status, 429);
      assert.equal(locked.body.faultcode, 'Server.Session.cannot_login_brute_force_activity');
      s.t.clock.advance(s.t.config.LOCKOUT_DURATION);
      assert.equal((await reset(s, token)).status, 200, 'the lock ends; the token was not used up');
    });
  },
  { LOCKOUT_IP_THRESHOLD: 3 },
  guardStores(),
);

for (const target of databaseTargets()) {
  test(`a reset mail waiting in the outbox is sealed like any secret, and keyring rotation covers it [${target}]`, async () => {
    const smtp = new TestSmtp();
    await smtp.start();
    const first = await buildTestApp(target);
    const keyring = join(first.db.dataDir, 'ring.json');
    writeFileSync(keyring, JSON.stringify({ primary: 'k1', keys: { k1: 'first-passphrase-0123456789' } }), { mode: 0o600 });
    await first.app.close();
    const t = await buildTestApp(target, { KEYRING_FILE: keyring, SMTP_URL: smtp.url, PASSWORD_RESET_URL: RESET_URL }, first.db);
    const s: Suite = { t, smtp, root: await loginRoot(t.app) };
    try {
      await vendor(s, 'sealed');
      await smtp.stop(); // the mail waits
      await call(t.app, 'Session/request_password_reset', { realm: 'vendor', login: 'sealed' });
      await t.app.notifications.runOnce();
      const [waiting] = await t.app.db.knex('notifications').where({ kind: 'password_reset' }).select();
      assert.match(String(waiting.secret_enc), /^v1\.k1\./);
      assert.doesNotMatch(String(waiting.data), /token|link/);

      writeFileSync(keyring, JSON.stringify({ primary: 'k2', keys: { k1: 'first-passphrase-0123456789', k2: 'second-passphrase-9876543210' } }));
      await t.app.keyring.reload();
      const report = (await rotateAll(t.app.db.knex, t.app.keyring.current(), 10)).find((r) => r.table === 'notifications');
      assert.deepEqual([report?.column, report?.rotated, report?.remaining], ['secret_enc', 1, 0]);
      writeFileSync(keyring, JSON.stringify({ primary: 'k2', keys: { k2: 'second-passphrase-9876543210' } }));
      await t.app.keyring.reload();

      await smtp.start();
      t.clock.advance(60_000); // past the retry backoff
      assert.equal((await reset(s, await mailedToken(s, 'sealed'))).status, 200, 'the mail sent under the new key carries a working link');
    } finally {
      await t.close();
      await smtp.stop();
    }
  });
}
