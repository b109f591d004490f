import { completeLogin, issueChallenge, type LoginResult } from '../../auth/complete-login.js';
import { guardAttempt } from '../../auth/guard.js';
import { counterKey } from '../../domain/login.js';
import { retryingTransaction } from '../../repositories/writer.js';
import { requires2fa, startEnrollment } from '../../auth/two-factor.js';
import type { Enrollment } from '../../domain/totp/enrollment.js';
import { entityOfRealm, type EntityDescriptor } from '../../entities/descriptors.js';
import type { Row } from '../../repositories/entities.js';
import { sha256 } from '../../domain/crypto/hash.js';
import { adoptImportedPassword } from '../../entities/passwords.js';
import { Fault } from '../../rpc/faults.js';
import { defineMethod, type CallContext } from '../../rpc/registry.js';
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
    const attempt = await guardAttempt(ctx, realm, counterKey(params.login));
    try {
      let row = d ? await app.repos.entities[d.name].findByLogin(params.login) : undefined;
      const hash = row?.password_hash;
      // Same answer and same bcrypt work whether the login exists or not.
      const passwordOk = typeof hash === 'string' ? await app.passwords.verify(params.password, hash) : await app.passwords.verifyNothing(params.password);
      if (!d?.realm || !row || !passwordOk || row.blocked) {
        const principalId = row && d ? Number(row[d.idField]) : null;
        // The counted failure, its audit row and any lock it set (with the owner's notice) commit together.
        // Parallel failures of one login take the same counter rows: a deadlock victim runs again.
        await retryingTransaction(app.db, async (trx) => {
          const lockedUntil = await attempt.failed(trx);
          await app.repos.audit.record(
            { ...actorOf(ctx), event: 'login.failure', realm, entity: d?.name ?? null, entity_id: principalId, details: { reason: 'credentials' } },
            app.clock.now(),
            trx,
          );
          if (lockedUntil === undefined) return;
          app.metrics.lockoutCommitted(trx);
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
        const login = await app.db.writer.transaction(async (ex) => {
          const opened = await completeLogin(ctx, descriptor, row, ['pwd'], ex);
          await attempt.succeeded(ex);
          return opened;
        });
        if (await stillAsChecked(ctx, descriptor, row)) return login;
        await app.repos.sessions.revoke(login.session_id, app.clock.now(), 'password_changed');
        throw new Fault('Server.Session.auth_failed');
      }
      // The password was right; the code decides, in Session/verify_otp.
      await attempt.passed();
      const kind = key?.status === 'active' ? 'verify' : 'enroll';
      const enrollment = kind === 'enroll' ? await startEnrollment(app, realm, principalId, String(row.login)) : undefined;
      const challenge = await issueChallenge(ctx, realm, principalId, kind);
      if (!(await stillAsChecked(ctx, descriptor, row))) {
        await app.repos.mfaChallenges.consume(sha256(challenge.mfa_token), app.clock.now());
        throw new Fault('Server.Session.auth_failed');
      }
      return enrollment ? { status: 'otp_enrollment_required', ...challenge, enrollment } : { status: 'otp_required', ...challenge };
    } finally {
      // A call that failed for another reason gives its slot back.
      await attempt.abandon();
    }
  },
});

/**
 * Whether the principal still has the password this login checked and is
 * not blocked, read after the login's session or mfa token was committed.
 * A password change or block voids what exists when it commits; one that
 * committed while this login was checking the old password (bcrypt is
 * slow) found nothing to void yet, and is seen here instead, so the login
 * voids its own session or token. Either the event commits before this
 * read, or it commits after the session or token did and voids it.
 */
async function stillAsChecked(ctx: CallContext, d: EntityDescriptor, checked: Row): Promise<boolean> {
  const now = await ctx.app.repos.entities[d.name].findById(Number(checked[d.idField]));
  return now !== undefined && !now.blocked && now.password_hash === checked.password_hash;
}
