import type { Knex } from 'knex';
import { guardIpAttempt, type Attempt } from '../../auth/guard.js';
import { sha256 } from '../../domain/crypto/hash.js';
import { entityOfRealm, type EntityDescriptor } from '../../entities/descriptors.js';
import { assertAcceptable, encryptedColumns, policyFor, webPasswordColumns } from '../../entities/passwords.js';
import { notify } from '../../notifications/notify.js';
import type { Row } from '../../repositories/entities.js';
import type { PasswordResetRow } from '../../repositories/password-resets.js';
import { retryingTransaction } from '../../repositories/writer.js';
import type { ParamsOf } from '../../rpc/generated/method-types.js';
import { Fault } from '../../rpc/faults.js';
import { defineMethod, type CallContext } from '../../rpc/registry.js';
import { actorOf } from '../shared/audit.js';

/** Params as `schemas/Session/reset_password.json` defines them. */
type Params = ParamsOf<'Session/reset_password'>;

type Result = { success: 1; password_expires_at: string | null; sessions_ended: number };

/** Unknown, used, expired or replaced token, blocked or deleted principal: one answer, so a token holder learns nothing more. */
const invalidToken = () => new Fault('Server.Password.reset_token_invalid');

interface Found {
  reset: PasswordResetRow;
  d: EntityDescriptor;
  row: Row;
}

/** The live token and its principal, while it may still reset; the reason it may not otherwise (for the audit log). */
async function find(ctx: CallContext, hash: string, trx?: Knex.Transaction): Promise<Found | { reason: string; reset?: PasswordResetRow }> {
  const { app } = ctx;
  const reset = await app.repos.passwordResets.findLive(hash, app.clock.now(), trx);
  if (!reset) return { reason: 'token' };
  const d = entityOfRealm(reset.realm);
  const row = d ? await app.repos.entities[d.name].findById(reset.principal_id, trx) : undefined;
  if (!d || !row) return { reason: 'principal_gone', reset };
  // A blocked principal cannot reset (it could not log in anyway): its token is refused like any other.
  if (row.blocked) return { reason: 'blocked', reset };
  return { reset, d, row };
}

/** A refused token: counted against the client IP and audited, together. */
async function refuse(ctx: CallContext, attempt: Attempt, refusal: { reason: string; reset?: PasswordResetRow }): Promise<never> {
  const { app } = ctx;
  const d = refusal.reset && entityOfRealm(refusal.reset.realm);
  await retryingTransaction(app.db, async (trx) => {
    await attempt.failed(trx);
    await app.repos.audit.record(
      {
        ...actorOf(ctx),
        event: 'password.reset_failure',
        realm: refusal.reset?.realm ?? null,
        entity: d ? d.name : null,
        entity_id: refusal.reset?.principal_id ?? null,
        details: { reason: refusal.reason },
      },
      app.clock.now(),
      trx,
    );
  });
  throw invalidToken();
}

export default defineMethod<Params, Result>({
  name: 'Session/reset_password',
  access: { kind: 'public' },
  faults: [
    'Server.Password.reset_token_invalid',
    'Server.Password.policy_violation',
    'Server.Session.cannot_login_brute_force_activity',
    'Client.Request.rate_limited',
  ],
  async handler(params, ctx) {
    const { app } = ctx;
    const hash = sha256(params.token);
    // Guessing tokens is limited like guessing codes: per-IP rate window and failure counter.
    const attempt = await guardIpAttempt(ctx);
    try {
      const found = await find(ctx, hash);
      if (!('row' in found)) return await refuse(ctx, attempt, found);
      const { reset, d, row } = found;
      const { realm, principal_id: principalId } = reset;
      // Nothing is used up by a refused password: the same link can try again.
      assertAcceptable(await policyFor(app, d, row), params.new_password);

      const setAt = app.clock.now();
      const hashed = await webPasswordColumns(app, params.new_password, setAt, false);
      const ended = await retryingTransaction(app.db, async (trx) => {
        const now = app.clock.now();
        // Single use, decided here: of two resets with one token, one wins; a block or a new
        // request that committed meanwhile has removed the token, and this one is refused.
        if (!(await app.repos.passwordResets.use(hash, now, trx))) throw invalidToken();
        const current = await app.repos.entities[d.name].findById(principalId, trx);
        if (!current || current.blocked) throw invalidToken();
        await app.repos.entities[d.name].update(
          principalId,
          { ...hashed, ...encryptedColumns(app, d, principalId, { password: params.new_password }), updated_at: now },
          trx,
        );
        // Whoever held the old password (or a session, or a pending code prompt) is out.
        const n = await app.repos.sessions.revokeAllOf(realm, principalId, now, 'password_reset', undefined, trx);
        // The lock protected the old password; its owner, who likely tripped it, can log in with the new one.
        await app.repos.loginGuards.forgive('login', `${realm}:${String(current.login_key)}`, now, trx);
        await app.repos.audit.record(
          { ...actorOf(ctx), event: 'password.reset', realm, entity: d.name, entity_id: principalId, details: { sessions_ended: n } },
          now,
          trx,
        );
        await notify(app, { kind: 'password_changed', realm, principalId, row: current, data: { ip: ctx.ip } }, trx);
        // A right token forgives nothing: a guesser holding one token of its own must not wipe its IP's failures with it.
        await attempt.passed(trx);
        return n;
      });
      const expire = app.config.WEB_PASSWORD_EXPIRE;
      return { success: 1 as const, password_expires_at: expire > 0 ? new Date(setAt + expire).toISOString() : null, sessions_ended: ended };
    } finally {
      await attempt.abandon();
    }
  },
});
