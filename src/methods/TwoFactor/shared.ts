import type { Knex } from 'knex';
import { guardAttempt, type Attempt } from '../../auth/guard.js';
import { retryingTransaction } from '../../repositories/writer.js';
import { openSecret } from '../../auth/two-factor.js';
import { verifyTotp } from '../../domain/totp/totp.js';
import { entityOfRealm, type EntityDescriptor } from '../../entities/descriptors.js';
import type { Row } from '../../repositories/entities.js';
import type { TwoFactorKeyRow } from '../../repositories/two-factor-keys.js';
import { Fault, type FaultCode } from '../../rpc/faults.js';
import type { SessionCallContext } from '../../rpc/registry.js';
import { actorOf } from '../shared/audit.js';

/** The principal behind the calling session. */
export interface Caller {
  d: EntityDescriptor;
  realm: string;
  principalId: number;
  row: Row;
}

/** Faults of every method that checks a code. */
export const OTP_FAULTS: FaultCode[] = [
  'Server.Session.otp_invalid',
  'Server.Session.otp_replayed',
  'Server.Session.cannot_login_brute_force_activity',
  'Client.Request.rate_limited',
  'Server.TwoFactor.not_enrolled',
];

export async function loadCaller(ctx: SessionCallContext): Promise<Caller> {
  const { app, session } = ctx;
  const d = entityOfRealm(session.realm);
  const row = d && (await app.repos.entities[d.name].findById(session.principalId));
  // The session plugin already refuses deleted principals; this is the race with a delete.
  if (!d || !row) throw new Fault('Server.Session.check_auth.auth_failed');
  return { d, realm: session.realm, principalId: session.principalId, row };
}

/** An audit row about the caller's own 2FA, in the transaction of the change. Never a code or a secret. */
export async function auditOwn(
  ctx: SessionCallContext,
  caller: Caller,
  event: string,
  trx: Knex.Transaction,
  details?: Record<string, unknown>,
): Promise<void> {
  await ctx.app.repos.audit.record(
    { ...actorOf(ctx), event, realm: caller.realm, entity: caller.d.name, entity_id: caller.principalId, ...(details ? { details } : {}) },
    ctx.app.clock.now(),
    trx,
  );
}

/**
 * Checks `otp` against `key` as a login would, then runs `act`.
 *
 * - The check claims a slot of the login's brute-force guard first (the same
 *   counters as Session/login), so a session cannot guess codes faster than a
 *   login could; a wrong or replayed code counts as a failure, a right one
 *   forgives earlier failures.
 * - `act` runs in one transaction that first spends the code's time step
 *   (atomic, so two calls racing with one code cannot both pass) and checks
 *   that the key is still the one verified; the step is spent only if `act`
 *   commits.
 */
export async function withVerifiedCode<T>(
  ctx: SessionCallContext,
  caller: Caller,
  key: TwoFactorKeyRow,
  otp: string,
  act: (trx: Knex.Transaction) => Promise<T>,
): Promise<T> {
  const { app } = ctx;
  const keys = app.repos.twoFactorKeys;
  const attempt = await guardAttempt(ctx, caller.realm, String(caller.row.login_key));
  let result: T;
  try {
    const check = verifyTotp(openSecret(app, key), otp, app.clock.now(), app.config.TOTP_WINDOW);
    if (!check.ok) throw new Fault('Server.Session.otp_invalid', undefined, check.skewSteps !== undefined ? { hint: 'clock_skew' } : {});
    // Its counters are rows other attempts on this login take too: a deadlock victim runs again.
    result = await retryingTransaction(app.db, async (trx) => {
      const fresh = await keys.useStep(caller.realm, caller.principalId, check.step, trx);
      const current = await keys.find(caller.realm, caller.principalId, trx);
      if (!current || current.secret_enc !== key.secret_enc) {
        throw new Fault('Server.TwoFactor.not_enrolled', 'The key was removed or replaced meanwhile; check TwoFactor/get_status');
      }
      if (!fresh) throw new Fault('Server.Session.otp_replayed');
      const acted = await act(trx);
      await attempt.succeeded(trx);
      return acted;
    });
  } catch (err) {
    const wrongCode = err instanceof Fault && (err.faultcode === 'Server.Session.otp_invalid' || err.faultcode === 'Server.Session.otp_replayed');
    if (wrongCode) await failed(ctx, caller, attempt);
    else await attempt.passed();
    throw err;
  } finally {
    // Settles what the outcome left to do once its transaction ended (see Attempt).
    await attempt.abandon();
  }
  return result;
}

/** Reports a failure; when it locked the login, audits the lock as Session/login does, in the same transaction. */
async function failed(ctx: SessionCallContext, caller: Caller, attempt: Attempt): Promise<void> {
  const { app } = ctx;
  // Parallel failures of one login take the same counter rows: a deadlock victim runs again.
  await retryingTransaction(app.db, async (trx) => {
    const lockedUntil = await attempt.failed(trx);
    if (lockedUntil === undefined) return;
    app.metrics.lockoutCommitted(trx);
    await app.repos.audit.record(
      {
        ...actorOf(ctx),
        event: 'login.lockout',
        realm: caller.realm,
        entity: caller.d.name,
        entity_id: caller.principalId,
        details: { until: new Date(lockedUntil).toISOString(), via: 'two_factor_self_service' },
      },
      app.clock.now(),
      trx,
    );
  });
}
