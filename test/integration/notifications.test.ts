import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { codeAt } from '../../src/domain/totp/totp.js';
import { buildTestApp, describeEachDatabase, type TestApp } from '../helpers/app.js';
import { databaseTargets } from '../helpers/databases.js';
import { runCli } from '../helpers/cli.js';
import { call, firstLogin, loginRoot, rest } from '../helpers/rpc.js';
import { TestSmtp } from '../helpers/smtp.js';

type Answer = Record<string, unknown>;
const STEP = 30_000;

/** A vendor with an email, its password changed, 2FA enabled; returns its password. */
async function vendor(t: TestApp, root: string, login: string, twoFactor: 'enabled' | 'disabled' = 'enabled'): Promise<string> {
  await call(t.app, 'Vendor/add_vendor', { login, password: 'Mail-pass1', email: `${login}@example.com`, two_factor_auth: twoFactor }, root);
  return 'Mail-pass1';
}

async function enrollAtLogin(t: TestApp, login: string, password: string): Promise<{ secret: string; token: string; codes: string[] }> {
  const first = await call(t.app, 'Session/login', { login, password, realm: 'vendor' });
  const secret = (first.enrollment as Answer).secret as string;
  const done = await call(t.app, 'Session/verify_otp', { mfa_token: first.mfa_token, otp: codeAt(secret, t.clock.now()) });
  return { secret, token: done.access_token as string, codes: done.recovery_codes as string[] };
}

/** A vendor with a (dummy) active key whose key an admin then resets: one `two_factor_reset` mail queued (when it has an email). */
async function queueResetMail(app: TestApp['app'], root: string, login: string, email?: string): Promise<number> {
  await call(app, 'Vendor/add_vendor', { login, ...(email ? { email } : {}) }, root);
  const info = (await call(app, 'Vendor/get_vendor_info', { login }, root)).vendor_info as Answer;
  const id = info.i_vendor as number;
  await app.repos.twoFactorKeys.insert({ realm: 'vendor', principal_id: id, secret_enc: 'v1.k.x.y', status: 'active', created_at: 1, activated_at: 1 });
  await call(app, 'Vendor/reset_2fa_key', { i_vendor: id }, root);
  return id;
}

for (const target of databaseTargets()) {
  let smtp: TestSmtp;
  let t: TestApp;
  let root: string;

  const deliver = async () => {
    await t.app.notifications.runOnce();
  };
  const mailsTo = (login: string) => smtp.mails.filter((m) => JSON.stringify(m.to).includes(`${login}@example.com`));

  test(`notifications are mailed over SMTP for each event [${target}]`, async (ctx) => {
    smtp = new TestSmtp();
    await smtp.start();
    t = await buildTestApp(target, { SMTP_URL: smtp.url, MAIL_FROM: 'Panda Telecom <auth@panda.example>', NOTIFY_BRAND: 'Panda Telecom' });
    root = await loginRoot(t.app);
    ctx.after(async () => {
      await t.close();
      await smtp.stop();
    });

    const password = await vendor(t, root, 'adam');
    const { secret, codes } = await enrollAtLogin(t, 'adam', password);
    await deliver();
    const activated = mailsTo('adam');
    assert.equal(activated.length, 1);
    assert.equal(activated[0]?.subject, 'Panda Telecom: Two-factor authentication is now on for adam');
    assert.match(activated[0]?.text ?? '', /activated/);
    assert.match(String(activated[0]?.html), /<p>/);
    assert.match(JSON.stringify(activated[0]?.from), /auth@panda\.example/);

    // Right password, wrong code: one mail per interval, later failures folded into the next one.
    t.clock.advance(STEP);
    const challenge = await call(t.app, 'Session/login', { login: 'adam', password, realm: 'vendor' });
    await rest(t.app, 'Session/verify_otp', { mfa_token: challenge.mfa_token, otp: '111111' }, undefined, { 'user-agent': 'Adam-Phone/1.0' });
    await rest(t.app, 'Session/verify_otp', { mfa_token: challenge.mfa_token, otp: '222222' });
    await deliver();
    let failures = mailsTo('adam').filter((m) => /wrong code/.test(m.subject ?? ''));
    assert.equal(failures.length, 1, 'one mail in the interval');
    assert.match(failures[0]?.text ?? '', /Source IP: 127\.0\.0\.1/);
    assert.match(failures[0]?.text ?? '', /Device: Adam-Phone\/1\.0/);
    t.clock.advance(t.config.NOTIFY_OTP_FAILURE_INTERVAL);
    const later = await call(t.app, 'Session/login', { login: 'adam', password, realm: 'vendor' });
    await rest(t.app, 'Session/verify_otp', { mfa_token: later.mfa_token, otp: '333333' });
    await deliver();
    failures = mailsTo('adam').filter((m) => /wrong code/.test(m.subject ?? ''));
    assert.equal(failures.length, 2);
    assert.match(failures[1]?.text ?? '', /Failed codes since the last notice: 2/, 'the folded failure is counted');
    const token = (await call(t.app, 'Session/verify_otp', { mfa_token: later.mfa_token, otp: codeAt(secret, t.clock.now()) })).access_token as string;

    // Recovery codes regenerated, password changed, 2FA key reset by an admin.
    t.clock.advance(STEP);
    await call(t.app, 'Session/change_password', { old_password: password, new_password: 'Mail-pass2' }, token);
    await call(t.app, 'TwoFactor/regenerate_recovery_codes', { otp: codeAt(secret, t.clock.now()) }, token);
    root = await loginRoot(t.app); // the clock moved past the access token's lifetime
    const info = (await call(t.app, 'Vendor/get_vendor_info', { login: 'adam' }, root)).vendor_info as Answer;
    await call(t.app, 'Vendor/reset_2fa_key', { i_vendor: info.i_vendor }, root);
    // Locked after repeated failures.
    for (let i = 0; i < 5; i++) await rest(t.app, 'Session/login', { login: 'adam', password: `Wrong-${i}-x`, realm: 'vendor' });
    await deliver();
    const subjects = mailsTo('adam').map((m) => m.subject);
    for (const expected of [
      'New recovery codes for adam',
      'Your password was changed for adam',
      'Your two-factor key was reset for adam',
      'Sign-in to adam is locked for a while',
    ]) {
      assert.ok(subjects.includes(`Panda Telecom: ${expected}`), `missing "${expected}" in ${JSON.stringify(subjects)}`);
    }

    // 2FA disabled in self-service (a principal that enrolled voluntarily).
    await vendor(t, root, 'eve', 'disabled');
    const eveToken = await firstLogin(t.app, 'vendor', 'eve', 'Mail-pass1');
    const started = await call(t.app, 'TwoFactor/start_enrollment', {}, eveToken);
    const eveSecret = (started.enrollment as Answer).secret as string;
    await call(t.app, 'TwoFactor/confirm_enrollment', { otp: codeAt(eveSecret, t.clock.now()) }, eveToken);
    t.clock.advance(STEP);
    await call(t.app, 'TwoFactor/disable', { otp: codeAt(eveSecret, t.clock.now()) }, eveToken);
    await deliver();
    assert.deepEqual(
      mailsTo('eve').map((m) => m.subject),
      [
        'Panda Telecom: Your password was changed for eve',
        'Panda Telecom: Two-factor authentication is now on for eve',
        'Panda Telecom: Two-factor authentication was turned off for eve',
      ],
    );

    // No mail ever carries a secret.
    const everything = smtp.raw.join('\n');
    for (const secretValue of [secret, eveSecret, ...codes, 'Mail-pass1', 'Mail-pass2', codeAt(secret, t.clock.now())]) {
      assert.ok(!everything.includes(secretValue), 'a mail contains a secret');
    }
    const outbox = await t.app.db.knex('notifications').select();
    assert.ok(outbox.every((r: { status: string }) => r.status === 'sent'));
  });

  test(`mails survive an SMTP outage and arrive exactly once [${target}]`, async (ctx) => {
    smtp = new TestSmtp();
    await smtp.start();
    t = await buildTestApp(target, { SMTP_URL: smtp.url });
    root = await loginRoot(t.app);
    ctx.after(async () => {
      await t.close();
      await smtp.stop();
    });
    await smtp.stop();
    for (const login of ['down1', 'down2', 'down3']) {
      await vendor(t, root, login);
      await enrollAtLogin(t, login, 'Mail-pass1');
    }
    await deliver();
    let rows = await t.app.db.knex('notifications').select();
    assert.equal(rows.length, 3);
    assert.ok(rows.every((r: { status: string; attempts: number }) => r.status === 'pending' && r.attempts === 1));
    assert.equal((await t.app.inject({ method: 'GET', url: '/health/ready' })).statusCode, 200, 'SMTP down does not make the service unready');

    await smtp.start();
    await deliver();
    assert.equal(smtp.mails.length, 0, 'not before the backoff');
    t.clock.advance(60_000);
    await deliver();
    await deliver();
    assert.equal(smtp.mails.length, 3);
    assert.deepEqual(
      smtp.mails.map((m) => JSON.stringify(m.to)).sort(),
      ['down1', 'down2', 'down3'].map((l) => JSON.stringify(smtp.mails.find((m) => JSON.stringify(m.to).includes(l))?.to)).sort(),
    );
    rows = await t.app.db.knex('notifications').select();
    assert.ok(rows.every((r: { status: string }) => r.status === 'sent'));
  });

  test(`a mail that keeps failing is marked failed after NOTIFY_MAX_ATTEMPTS [${target}]`, async () => {
    const local = await buildTestApp(target, { SMTP_URL: 'smtp://127.0.0.1:9', NOTIFY_MAX_ATTEMPTS: 2 });
    try {
      const token = await loginRoot(local.app);
      await queueResetMail(local.app, token, 'unlucky', 'unlucky@example.com');
      assert.deepEqual(await local.app.notifications.runOnce(), { sent: 0, failed: 1 });
      local.clock.advance(60_000);
      assert.deepEqual(await local.app.notifications.runOnce(), { sent: 0, failed: 1 });
      local.clock.advance(3_600_000);
      assert.deepEqual(await local.app.notifications.runOnce(), { sent: 0, failed: 0 }, 'a failed mail is not retried');
      const [row] = await local.app.db.knex('notifications').select();
      assert.equal(row.status, 'failed');
      assert.equal(row.attempts, 2);
      assert.ok(String(row.last_error).length > 0);
    } finally {
      await local.close();
    }
  });

  test(`a mail whose senders all died mid-send is given up after NOTIFY_MAX_ATTEMPTS, not sent again [${target}]`, async (ctx) => {
    smtp = new TestSmtp();
    await smtp.start();
    const local = await buildTestApp(target, { SMTP_URL: smtp.url, NOTIFY_MAX_ATTEMPTS: 2 });
    ctx.after(async () => {
      await local.close();
      await smtp.stop();
    });
    const token = await loginRoot(local.app);
    await queueResetMail(local.app, token, 'orphan', 'orphan@example.com');
    const [queued] = await local.app.db.knex('notifications').select();
    // Two senders claimed it and died before answering (their leases expired).
    for (let i = 0; i < 2; i++) {
      const [row] = await local.app.db.knex('notifications').where({ id: queued.id }).select();
      assert.ok(await local.app.repos.notifications.claim(row, `dead-${i}`, local.clock.now(), 1_000));
      local.clock.advance(2_000);
    }
    assert.deepEqual(await local.app.notifications.runOnce(), { sent: 0, failed: 0 });
    const [row] = await local.app.db.knex('notifications').where({ id: queued.id }).select();
    assert.equal(row.status, 'failed');
    assert.equal(row.attempts, 2, 'each claim counted its attempt');
    assert.equal(smtp.mails.length, 0);
  });

  test(`a sent mail whose bookkeeping fails is not scheduled again [${target}]`, async (ctx) => {
    smtp = new TestSmtp();
    await smtp.start();
    const local = await buildTestApp(target, { SMTP_URL: smtp.url });
    ctx.after(async () => {
      await local.close();
      await smtp.stop();
    });
    const token = await loginRoot(local.app);
    await queueResetMail(local.app, token, 'booked', 'booked@example.com');
    const outbox = local.app.repos.notifications;
    const markSent = outbox.markSent;
    outbox.markSent = async () => {
      throw new Error('the database went away');
    };
    try {
      assert.deepEqual(await local.app.notifications.runOnce(), { sent: 0, failed: 1 });
    } finally {
      outbox.markSent = markSent;
    }
    assert.equal(smtp.mails.length, 1);
    await local.app.notifications.runOnce();
    assert.equal(smtp.mails.length, 1, 'not sent again while its lease holds');
    const [row] = await local.app.db.knex('notifications').select();
    assert.equal(row.status, 'sending', 'left to its lease, not put back in the queue');
  });

  test(`two delivery workers on one database never send a mail twice [${target}]`, async (ctx) => {
    smtp = new TestSmtp();
    await smtp.start();
    t = await buildTestApp(target, { SMTP_URL: smtp.url });
    const second = await buildTestApp(target, { SMTP_URL: smtp.url }, t.db);
    ctx.after(async () => {
      await second.app.close();
      await t.close();
      await smtp.stop();
    });
    root = await loginRoot(t.app);
    for (let i = 0; i < 12; i++) await queueResetMail(t.app, root, `pair${i}`, `pair${i}@example.com`);
    await Promise.all([t.app.notifications.runOnce(), second.app.notifications.runOnce(), t.app.notifications.runOnce(), second.app.notifications.runOnce()]);
    await Promise.all([t.app.notifications.runOnce(), second.app.notifications.runOnce()]);
    const recipients = smtp.mails.map((m) => JSON.stringify(m.to));
    assert.equal(recipients.length, 12);
    assert.equal(new Set(recipients).size, 12);
  });

  test(`without SMTP_URL mails stay in the outbox, logged once, listed by the CLI [${target}]`, async () => {
    const local = await buildTestApp(target);
    try {
      const token = await loginRoot(local.app);
      await queueResetMail(local.app, token, 'quiet', 'quiet@example.com');
      await queueResetMail(local.app, token, 'no-mail');
      await local.app.notifications.runOnce();
      await local.app.notifications.runOnce();
      const rows = await local.app.db.knex('notifications').select();
      assert.equal(rows.length, 1, 'a principal without an email gets no mail');
      assert.equal(rows[0].status, 'pending');
      assert.equal(local.logs.filter((l) => l.includes('notification queued (no SMTP_URL)')).length, 1);
      await local.app.close();
      const listed = runCli(['outbox', 'list'], { DATABASE_URL: local.db.url, DATA_DIR: local.db.dataDir });
      assert.equal(listed.status, 0, listed.stderr);
      assert.match(listed.stdout, /backlog \(pending or sending\): 1/);
      assert.match(listed.stdout, /pending\s+two_factor_reset\s+quiet@example\.com/);
    } finally {
      await local.db.drop();
    }
  });

  test(`a change that rolls back leaves no mail behind [${target}]`, async () => {
    const local = await buildTestApp(target);
    try {
      const token = await loginRoot(local.app);
      await call(local.app, 'Vendor/add_vendor', { login: 'rollback', email: 'rb@example.com' }, token);
      const info = (await call(local.app, 'Vendor/get_vendor_info', { login: 'rollback' }, token)).vendor_info as Answer;
      await local.app.repos.twoFactorKeys.insert({
        realm: 'vendor',
        principal_id: info.i_vendor as number,
        secret_enc: 'v1.k.x.y',
        status: 'active',
        created_at: 1,
        activated_at: 1,
      });
      const original = local.app.repos.audit.record;
      local.app.repos.audit.record = async () => {
        throw new Error('audit down');
      };
      try {
        assert.equal((await rest(local.app, 'Vendor/reset_2fa_key', { i_vendor: info.i_vendor }, token)).status, 500);
      } finally {
        local.app.repos.audit.record = original;
      }
      assert.equal((await local.app.db.knex('notifications').select()).length, 0);
      assert.ok(await local.app.repos.twoFactorKeys.find('vendor', info.i_vendor as number), 'the reset itself rolled back too');
    } finally {
      await local.close();
    }
  });
}

describeEachDatabase('notification templates', (get) => {
  let token: string;
  before(async () => {
    token = await loginRoot(get().app);
  });
  after(() => undefined);
  test('every kind renders a subject, a text part and an HTML part', async () => {
    const { renderMail, NOTIFICATION_KINDS } = await import('../../src/notifications/render.js');
    assert.ok(token);
    for (const kind of NOTIFICATION_KINDS) {
      const mail = renderMail(kind, { brand: 'B<rand>', login: 'l', time: 't', ip: '1.2.3.4', user_agent: 'ua', attempts: 1, until: 'u' });
      assert.ok(mail.subject.startsWith('B<rand>:'), kind);
      assert.ok(mail.text.length > 20, kind);
      assert.match(mail.html, /B&lt;rand&gt;/, `${kind}: HTML values are escaped`);
    }
  });
});
