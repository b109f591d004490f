import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import { buildTestApp, guardStores, storeOverrides, wrappingPasswordChecks, type TestApp } from '../helpers/app.js';
import { databaseTargets } from '../helpers/databases.js';
import { call, loginRoot, rest, type RestAnswer } from '../helpers/rpc.js';

/**
 * Only failures lock. Attempts still being evaluated hold a slot of the
 * brute-force counters, but a right password or code must never be refused
 * because others were in flight beside it; wrong ones stay capped.
 *
 * bcrypt cost 8 (not the suite's 4) so that parallel logins truly overlap.
 */
const code = (secret: string, at: number) => new TOTP({ secret: Secret.fromBase32(secret) }).generate({ timestamp: at });
const summary = (answers: RestAnswer[]) => JSON.stringify(answers.map((a) => a.body.faultcode ?? a.body.status));
const loggedIn = (a: RestAnswer) => a.status === 200 && typeof a.body.access_token === 'string';

for (const target of databaseTargets())
  for (const store of guardStores()) {
    describe(`brute-force counters under parallel attempts [${target}, counters in ${store}]`, () => {
      let t: TestApp;
      let root: string;
      /** A representative whose admin-set password was already changed by its owner. */
      const representative = async (login: string) => {
        await call(t.app, 'Representative/add_representative', { login, password: 'Start-pass1' }, root);
        const first = await call(t.app, 'Session/login', { login, password: 'Start-pass1', realm: 'representative' });
        await call(t.app, 'Session/change_password', { old_password: 'Start-pass1', new_password: 'Right-pass1' }, first.access_token as string);
        return 'Right-pass1';
      };
      const loginAs = (login: string, password: string) => rest(t.app, 'Session/login', { login, password, realm: 'representative' });

      before(async () => {
        t = await buildTestApp(target, { ...storeOverrides(store), BCRYPT_COST: 8, LOCKOUT_IP_THRESHOLD: 50, RATE_LIMIT_LOGIN: 100_000 });
        root = await loginRoot(t.app);
      });
      after(async () => {
        await t.close();
      });

      test('20 parallel logins of one account with the right password all succeed', async () => {
        const password = await representative('crowded');
        const answers = await Promise.all(Array.from({ length: 20 }, () => loginAs('crowded', password)));
        assert.ok(answers.every(loggedIn), summary(answers));
      });

      test('right passwords in parallel after failures short of the threshold all succeed', async () => {
        const password = await representative('almost');
        for (let i = 0; i < t.config.LOCKOUT_THRESHOLD - 1; i++) assert.equal((await loginAs('almost', `Wrong-${i}-x`)).status, 401);
        const answers = await Promise.all(Array.from({ length: 10 }, () => loginAs('almost', password)));
        assert.ok(answers.every(loggedIn), summary(answers));
      });

      test('80 different users logging in at once from one IP all succeed', async () => {
        const users = Array.from({ length: 80 }, (_, i) => `crowd-${i}`);
        // Admin-set passwords: a login that must change the password still opens a (restricted) session.
        for (const login of users) await call(t.app, 'Representative/add_representative', { login, password: 'Start-pass1' }, root);
        const answers = await Promise.all(users.map((login) => loginAs(login, 'Start-pass1')));
        assert.ok(answers.every(loggedIn), summary(answers));
      });

      test('50 parallel wrong guesses: at most LOCKOUT_THRESHOLD are evaluated, and the login locks', async () => {
        const password = await representative('stormed-slow');
        let evaluated = 0;
        const counting: Parameters<typeof wrappingPasswordChecks>[1] = (verify) => (p, h) => {
          evaluated++;
          return verify(p, h);
        };
        const answers = await wrappingPasswordChecks(t.app, counting, () =>
          Promise.all(Array.from({ length: 50 }, (_, i) => loginAs('stormed-slow', `Wrong-${i}-x`))),
        );
        assert.ok(evaluated <= t.config.LOCKOUT_THRESHOLD, `${evaluated} evaluated`);
        assert.equal(answers.filter((a) => a.body.faultcode === 'Server.Session.auth_failed').length, evaluated, summary(answers));
        assert.equal(answers.filter((a) => a.body.faultcode === 'Server.Session.cannot_login_brute_force_activity').length, 50 - evaluated);
        assert.equal((await loginAs('stormed-slow', password)).body.faultcode, 'Server.Session.cannot_login_brute_force_activity', 'locked');
      });
    });

    describe(`code checks under parallel attempts [${target}, counters in ${store}]`, () => {
      let t: TestApp;
      let root: string;
      /** A vendor enrolled in 2FA: its secret, and a fresh mfa_token of the next step. */
      const enrolled = async (login: string) => {
        await call(t.app, 'Vendor/add_vendor', { login, password: 'Vendor-pass1', two_factor_auth: 'enabled' }, root);
        const first = await call(t.app, 'Session/login', { login, password: 'Vendor-pass1', realm: 'vendor' });
        const secret = (first.enrollment as Record<string, string>).secret as string;
        await call(t.app, 'Session/verify_otp', { mfa_token: first.mfa_token, otp: code(secret, t.clock.now()) });
        return secret;
      };

      before(async () => {
        // A low per-IP threshold: the parallel code checks below are more than it.
        t = await buildTestApp(target, { ...storeOverrides(store), LOCKOUT_IP_THRESHOLD: 5, RATE_LIMIT_LOGIN: 100_000 });
        root = await loginRoot(t.app);
      });
      after(async () => {
        await t.close();
      });

      test('right codes of 20 users checked at once from one IP all succeed', async () => {
        const secrets = new Map<string, string>();
        for (let i = 0; i < 20; i++) secrets.set(`otp-crowd-${i}`, await enrolled(`otp-crowd-${i}`));
        t.clock.advance(30_000);
        const tokens = new Map<string, string>();
        for (const login of secrets.keys()) {
          tokens.set(login, (await call(t.app, 'Session/login', { login, password: 'Vendor-pass1', realm: 'vendor' })).mfa_token as string);
        }
        const answers = await Promise.all(
          [...secrets].map(([login, secret]) => rest(t.app, 'Session/verify_otp', { mfa_token: tokens.get(login), otp: code(secret, t.clock.now()) })),
        );
        assert.ok(answers.every(loggedIn), summary(answers));
      });

      test('20 parallel wrong codes of one login: at most LOCKOUT_THRESHOLD are evaluated', async () => {
        await call(t.app, 'Vendor/add_vendor', { login: 'otp-storm', password: 'Vendor-pass1', two_factor_auth: 'enabled' }, root);
        const first = await call(t.app, 'Session/login', { login: 'otp-storm', password: 'Vendor-pass1', realm: 'vendor' });
        const answers = await Promise.all(
          Array.from({ length: 20 }, (_, i) => rest(t.app, 'Session/verify_otp', { mfa_token: first.mfa_token, otp: String(100_000 + i) })),
        );
        const evaluated = answers.filter((a) => a.body.faultcode === 'Server.Session.otp_invalid').length;
        assert.ok(evaluated >= 1 && evaluated <= t.config.LOCKOUT_THRESHOLD, summary(answers));
        assert.equal(answers.filter((a) => a.body.faultcode === 'Server.Session.cannot_login_brute_force_activity').length, 20 - evaluated);
        const failures = await call(t.app, 'AuditLog/get_event_list', { with_total: true, event: 'login.otp_failure', realm: 'vendor' }, root);
        assert.equal(failures.total, evaluated, 'every evaluated code, and no other, is an audited failure');
      });
    });
  }
