import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Knex } from 'knex';
import { buildTestApp, describeEachDatabase, ROOT_PASSWORD } from '../helpers/app.js';
import { databaseTargets } from '../helpers/databases.js';
import { countLeft, RETENTION, seedRetentionRows } from '../helpers/retention.js';
import { call, login, loginRoot, rest } from '../helpers/rpc.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const count = async (knex: Knex, table: string, where: (q: Knex.QueryBuilder) => Knex.QueryBuilder = (q) => q) => {
  const [row] = (await where(knex(table)).count({ n: '*' })) as Array<{ n: number | string }>;
  return Number(row?.n ?? 0);
};

describeEachDatabase(
  'housekeeping through the application',
  (get, target) => {
    test(`a session is deleted SESSION_RETENTION after it ended (logout, or its absolute expiry); a live one stays [${target}]`, async () => {
      const { app, clock } = get();
      const { knex } = app.db;
      const ended = await loginRoot(app);
      const live = await loginRoot(app);
      await call(app, 'Session/logout', {}, ended);
      const sessions = () => count(knex, 'sessions');
      const before = await sessions();

      await app.housekeeping.runOnce();
      assert.equal(await sessions(), before, 'nothing has been over for a day yet');

      clock.advance(DAY + MINUTE);
      const deleted = await app.housekeeping.runOnce();
      assert.ok((deleted.sessions ?? 0) >= 1, JSON.stringify(deleted));
      assert.equal(await count(knex, 'sessions', (q) => q.whereNotNull('revoked_at')), 0, 'the logged-out session is gone');
      assert.ok((await sessions()) >= 1, 'the live sessions (ended by idleness only) wait for their absolute expiry');

      // SESSION_TTL (12h) after it began the live one is over too; a day after that it goes.
      clock.advance(12 * HOUR);
      await app.housekeeping.runOnce();
      assert.equal(await sessions(), 0);
      assert.equal((await rest(app, 'Session/ping', {}, live)).status, 401, 'a deleted session answers as an ended one');
    });

    test(`guard rows: one a success left clean goes once idle; one with failures stays; finished rate windows go [${target}]`, async () => {
      const { app, clock } = get();
      const { knex } = app.db;
      assert.equal((await rest(app, 'Session/login', { login: 'nobody-here', password: 'wrong-Pass1', realm: 'admin' })).status, 401);
      await login(app, 'admin', 'root', ROOT_PASSWORD);
      const guards = async () =>
        ((await knex('login_guards').select('scope', 'guard_key', 'failures')) as Array<{ scope: string; guard_key: string; failures: number }>)
          .map((r) => `${r.scope}:${r.guard_key}:${r.failures}`)
          .sort();
      assert.deepEqual(await guards(), ['ip:127.0.0.1:0', 'login:admin:nobody-here:1', 'login:admin:root:0']);
      assert.ok((await count(knex, 'rate_windows')) >= 1);

      await app.housekeeping.runOnce();
      assert.equal((await guards()).length, 3, 'just used: kept');

      clock.advance(11 * MINUTE);
      const deleted = await app.housekeeping.runOnce();
      assert.deepEqual(await guards(), ['login:admin:nobody-here:1'], 'its failure still counts towards a lock');
      assert.equal(await count(knex, 'rate_windows'), 0);
      assert.equal(deleted.login_guards, 2);

      // The failure is still counted where it was: LOCKOUT_THRESHOLD is 2 here, so the next one locks.
      assert.equal((await rest(app, 'Session/login', { login: 'nobody-here', password: 'wrong-Pass1', realm: 'admin' })).status, 401);
      const locked = await rest(app, 'Session/login', { login: 'nobody-here', password: 'wrong-Pass1', realm: 'admin' });
      assert.equal(locked.body.faultcode, 'Server.Session.cannot_login_brute_force_activity');
      // A lock (and the lock count that doubles the next one) is never pruned.
      clock.advance(DAY);
      await app.housekeeping.runOnce();
      assert.deepEqual(
        (await guards()).filter((g) => g.startsWith('login:admin:nobody')),
        ['login:admin:nobody-here:0'],
      );
    });

    test(`a password reset token goes once expired, its mail once NOTIFY_RETENTION has passed after it was sent [${target}]`, async () => {
      const { app, clock } = get();
      const { knex } = app.db;
      const root = await loginRoot(app);
      await call(app, 'Vendor/add_vendor', { login: 'reset-me', password: 'Reset-pass1', email: 'reset-me@example.com' }, root);
      await call(app, 'Session/request_password_reset', { login: 'reset-me', realm: 'vendor' });
      assert.equal(await count(knex, 'password_resets'), 1);
      const mails = await count(knex, 'notifications');
      assert.ok(mails >= 1);

      clock.advance(31 * MINUTE);
      await app.housekeeping.runOnce();
      assert.equal(await count(knex, 'password_resets'), 0, 'PASSWORD_RESET_TTL (30m) is over');

      // Without SMTP_URL the mail stays pending: kept whatever its age, for a mail server still to come.
      clock.advance(31 * DAY);
      await app.housekeeping.runOnce();
      assert.equal(await count(knex, 'notifications'), mails);
      await knex('notifications').update({ status: 'sent', sent_at: clock.now() });
      await app.housekeeping.runOnce();
      assert.equal(await count(knex, 'notifications'), 0);
    });

    test(`audit rows go AUDIT_RETENTION after they were written; newer ones stay [${target}]`, async () => {
      const { app, clock } = get();
      const { knex } = app.db;
      // The clock has run past WEB_PASSWORD_EXPIRE: a login with a restricted session, audited all the same.
      const rootLogin = { login: 'root', password: ROOT_PASSWORD, realm: 'admin' };
      await call(app, 'Session/login', rootLogin);
      const old = await count(knex, 'audit_log');
      assert.ok(old >= 1);
      clock.advance(91 * DAY);
      await call(app, 'Session/login', rootLogin);
      const deleted = await app.housekeeping.runOnce();
      assert.equal(deleted.audit_log, old);
      const left = (await knex('audit_log').orderBy('i_event').select('event', 'actor_realm', 'details')) as Array<Record<string, string>>;
      assert.deepEqual(
        left.map((r) => r.event),
        ['login.success', 'audit.pruned'],
        'the login just now, and what the pass cut',
      );
      assert.equal(left[1]?.actor_realm, 'housekeeping');
      assert.deepEqual(JSON.parse(left[1]?.details ?? '{}'), { before: new Date(clock.now() - 90 * DAY).toISOString(), rows: old });
    });
  },
  { ...RETENTION, LOCKOUT_THRESHOLD: 2 },
);

describeEachDatabase('housekeeping with the defaults', (get, target) => {
  test(`AUDIT_RETENTION 0 keeps audit rows forever; sent mails go after 30 days [${target}]`, async () => {
    const { app, clock } = get();
    const { knex } = app.db;
    const seeded = await seedRetentionRows(knex, clock.now(), 10);
    await app.housekeeping.runOnce();
    const audit = seeded.find((s) => s.table === 'audit_log');
    const mails = seeded.find((s) => s.table === 'notifications');
    assert.ok(audit && mails);
    assert.deepEqual(await countLeft(knex, audit), { gone: audit.gone, kept: audit.kept });
    assert.deepEqual(await countLeft(knex, mails), { gone: 0, kept: mails.kept });
  });
});

for (const target of databaseTargets()) {
  test(`two replicas pruning one database at once delete every deletable row exactly once and nothing else [${target}]`, async () => {
    const first = await buildTestApp(target, RETENTION);
    const second = await buildTestApp(target, RETENTION, first.db);
    try {
      second.clock.set(first.clock.now());
      const { knex } = first.app.db;
      const seeded = await seedRetentionRows(knex, first.clock.now(), 600);
      // Small batches, so the two passes interleave over many DELETEs of the same rows.
      const limits = { batchSize: 50 };
      const [a, b] = await Promise.all([first.app.housekeeping.runOnce(limits), second.app.housekeeping.runOnce(limits)]);
      for (const s of seeded) {
        assert.deepEqual(await countLeft(knex, s), { gone: 0, kept: s.kept }, s.table);
        // Each row counted by the replica whose DELETE removed it, never by both.
        assert.equal((a[s.table] ?? 0) + (b[s.table] ?? 0), s.gone, `${s.table}: ${JSON.stringify({ a, b })}`);
      }
    } finally {
      await second.close();
      await first.close();
    }
  });
}
