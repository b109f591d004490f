import { entityOfRealm } from '../../entities/descriptors.js';
import { assertAcceptable, encryptedColumns, policyFor, webPasswordColumns } from '../../entities/passwords.js';
import { Fault } from '../../rpc/faults.js';
import { guardAttempt } from '../../auth/guard.js';
import { defineMethod } from '../../rpc/registry.js';
import { actorOf } from '../shared/audit.js';
import { notify } from '../../notifications/notify.js';
import type { ParamsOf } from '../../rpc/generated/method-types.js';
import { retryingTransaction } from '../../repositories/writer.js';

/** Params as `schemas/Session/change_password.json` defines them. */
type Params = ParamsOf<'Session/change_password'>;

export default defineMethod({
  name: 'Session/change_password',
  access: { kind: 'session', allowRestricted: true, denyImpersonated: true },
  faults: [
    'Server.Password.wrong_old_password',
    'Server.Password.policy_violation',
    'Server.Session.cannot_login_brute_force_activity',
    'Client.Request.rate_limited',
  ],
  async handler(params: Params, ctx) {
    const { app, session } = ctx;
    const d = entityOfRealm(session.realm);
    const repo = d && app.repos.entities[d.name];
    const row = repo && (await repo.findById(session.principalId));
    if (!d || !repo || !row) throw new Fault('Server.Session.check_auth.auth_failed');

    // Guessing the current password through a stolen token counts like failed logins.
    const attempt = await guardAttempt(ctx, session.realm, String(row.login_key));
    try {
      const oldOk = typeof row.password_hash === 'string' && (await app.passwords.verify(params.old_password, row.password_hash));
      if (!oldOk) {
        await attempt.failed();
        throw new Fault('Server.Password.wrong_old_password');
      }
      await attempt.succeeded();
    } finally {
      await attempt.abandon();
    }
    assertAcceptable(await policyFor(app, d, row), params.new_password, params.old_password);

    const now = app.clock.now();
    const hashed = await webPasswordColumns(app, params.new_password, now, false);
    const ended = await retryingTransaction(app.db, async (trx) => {
      await repo.update(
        session.principalId,
        { ...hashed, ...encryptedColumns(app, d, session.principalId, { password: params.new_password }), updated_at: now },
        trx,
      );
      await app.repos.sessions.liftRestriction(session.sessionId, trx);
      const n = await app.repos.sessions.revokeAllOf(session.realm, session.principalId, now, 'password_changed', session.sessionId, trx);
      await app.repos.audit.record(
        {
          ...actorOf(ctx),
          event: 'password.change',
          realm: session.realm,
          entity: d.name,
          entity_id: session.principalId,
          details: { other_sessions_ended: n },
        },
        now,
        trx,
      );
      await notify(app, { kind: 'password_changed', realm: session.realm, principalId: session.principalId, row, data: { ip: ctx.ip } }, trx);
      return n;
    });
    const expire = app.config.WEB_PASSWORD_EXPIRE;
    return { success: 1 as const, password_expires_at: expire > 0 ? new Date(now + expire).toISOString() : null, sessions_ended: ended };
  },
});
