import { completeLogin, issueChallenge, type LoginResult } from '../../auth/complete-login.js';
import { guardAttempt } from '../../auth/guard.js';
import { LOGIN_KEY_MAX, loginKey } from '../../domain/login.js';
import { retryingTransaction } from '../../repositories/writer.js';
import { requires2fa, startEnrollment } from '../../auth/two-factor.js';
import type { Enrollment } from '../../domain/totp/enrollment.js';
import { entityOfRealm } from '../../entities/descriptors.js';
import { adoptImportedPassword } from '../../entities/passwords.js';
import { Fault } from '../../rpc/faults.js';
import { defineMethod } from '../../rpc/registry.js';
import { actorOf } from '../shared/audit.js';
import { notify } from '../../notifications/notify.js';
import type { ParamsOf } from '../../rpc/generated/method-types.js';

/** Params as `schemas/Session/login.json` defines them. */
type Params = ParamsOf<'Session/login'>;

type Result =
  | LoginResult
  | { status: 'otp_required'; mfa_token: string; mfa_expires_at: string }
  | { status: 'otp_enrollment_required'; mfa_token: string; mfa_expires_at: string; enrollment: Enrollment };

export default defineMethod<Params, Result>({
  name: 'Session/login',
  access: { kind: 'public' },
  faults: ['Server.Session.auth_failed', 'Server.Session.cannot_login_brute_force_activity', 'Client.Request.rate_limited'],
  async handler(params, ctx) {
    const { app } = ctx;
    const realm = params.realm;
    const d = entityOfRealm(realm);
    // Claimed before the password is looked at: a locked login is refused whatever the password.
    // Counted by normalized login (cut to the column's width), so `ＲＯＯＴ` and `root` share one counter.
    const attempt = await guardAttempt(ctx, realm, [...loginKey(params.login)].slice(0, LOGIN_KEY_MAX).join(''));
    try {
      let row = d ? await app.repos.entities[d.name].findByLogin(params.login) : undefined;
      const hash = row?.password_hash;
      // Same answer and same bcrypt work whether the login exists or not.
      const passwordOk = typeof hash === 'string' ? await app.passwords.verify(params.password, hash) : await app.passwords.verifyNothing(params.password);
      if (!d?.realm || !row || !passwordOk || row.blocked) {
        const principalId = row && d ? Number(row[d.idField]) : null;
        // The counted failure, its audit row and any lock it set (with the owner's notice) commit together.
        // Parallel failures of one login take the same counter rows: a deadlock victim runs again.
        await retryingTransaction(app.db.knex, async (trx) => {
          const lockedUntil = await attempt.failed(trx);
          await app.repos.audit.record(
            { ...actorOf(ctx), event: 'login.failure', realm, entity: d?.name ?? null, entity_id: principalId, details: { reason: 'credentials' } },
            app.clock.now(),
            trx,
          );
          if (lockedUntil === undefined) return;
          const until = new Date(lockedUntil).toISOString();
          await app.repos.audit.record(
            { ...actorOf(ctx), event: 'login.lockout', realm, entity: d?.name ?? null, entity_id: principalId, details: { until } },
            app.clock.now(),
            trx,
          );
          if (row && principalId !== null) await notify(app, { kind: 'account_locked', realm, principalId, row, data: { ip: ctx.ip, until } }, trx);
        });
        throw new Fault('Server.Session.auth_failed');
      }
      const descriptor = { ...d, realm: d.realm };
      const principalId = Number(row[d.idField]);
      // The password is known right: an imported hash is replaced now (see entities/passwords.ts), and the row is as stored.
      row = await adoptImportedPassword(app, d, row, params.password);

      const key = await app.repos.twoFactorKeys.find(realm, principalId);
      const needsOtp = key?.status === 'active' || (await requires2fa(app, realm, row));
      if (!needsOtp) {
        // The session, its audit row and the forgiven failures commit together.
        return await app.db.writer.transaction(async (ex) => {
          const login = await completeLogin(ctx, descriptor, row, ['pwd'], ex);
          await attempt.succeeded(ex);
          return login;
        });
      }
      // The password was right; the code decides, in Session/verify_otp.
      await attempt.passed();
      if (key?.status === 'active') return { status: 'otp_required', ...(await issueChallenge(ctx, realm, principalId, 'verify')) };
      const enrollment = await startEnrollment(app, realm, principalId, String(row.login));
      return { status: 'otp_enrollment_required', ...(await issueChallenge(ctx, realm, principalId, 'enroll')), enrollment };
    } finally {
      // A call that failed for another reason gives its slot back.
      await attempt.abandon();
    }
  },
});
