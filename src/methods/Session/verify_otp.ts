import { completeLogin, type LoginResult } from '../../auth/complete-login.js';
import { sha256 } from '../../domain/crypto/hash.js';
import { guardAttempt, type Attempt } from '../../auth/guard.js';
import { issueRecoveryCodes, openSecret } from '../../auth/two-factor.js';
import { hashRecoveryCode } from '../../domain/totp/recovery-codes.js';
import { verifyTotp } from '../../domain/totp/totp.js';
import { entityOfRealm } from '../../entities/descriptors.js';
import type { MfaChallengeRow } from '../../repositories/mfa-challenges.js';
import type { TwoFactorKeyRow } from '../../repositories/two-factor-keys.js';
import type { EntityDescriptor } from '../../entities/descriptors.js';
import { Fault } from '../../rpc/faults.js';
import { defineMethod, type CallContext } from '../../rpc/registry.js';
import { actorOf } from '../shared/audit.js';
import { notify, notifyOtpFailure } from '../../notifications/notify.js';
import type { Row } from '../../repositories/entities.js';
import type { ParamsOf } from '../../rpc/generated/method-types.js';
import { retryingTransaction, type Transaction } from '../../repositories/writer.js';

/** Params as `schemas/Session/verify_otp.json` defines them. */
type Params = ParamsOf<'Session/verify_otp'>;

type Result = LoginResult & { recovery_codes?: string[]; recovery_codes_left?: number };

const invalidToken = () => new Fault('Server.Session.mfa_token_invalid');

/** A wrong code after the right password: counted, audited, and mailed to the owner (seed 000), in one transaction. */
async function recordFailure(ctx: CallContext, challenge: MfaChallengeRow, entity: string, row: Row, attempt: Attempt, reason: string): Promise<void> {
  const { app } = ctx;
  const base = { ...actorOf(ctx), realm: challenge.realm, entity, entity_id: challenge.principal_id };
  const target = { realm: challenge.realm, principalId: challenge.principal_id, row };
  // Parallel failures of one login take the same counter rows: a deadlock victim runs again.
  await retryingTransaction(app.db, async (trx) => {
    const lockedUntil = await attempt.failed(trx);
    await app.repos.audit.record({ ...base, event: 'login.otp_failure', details: { reason } }, app.clock.now(), trx);
    await notifyOtpFailure(app, { ...target, data: { ip: ctx.ip, user_agent: ctx.userAgent ?? 'unknown' } }, trx);
    if (lockedUntil !== undefined) {
      app.metrics.lockoutCommitted(trx);
      await app.repos.audit.record({ ...base, event: 'login.lockout', details: { until: new Date(lockedUntil).toISOString() } }, app.clock.now(), trx);
      await notify(app, { ...target, kind: 'account_locked', data: { ip: ctx.ip, until: new Date(lockedUntil).toISOString() } }, trx);
    }
  });
}

export default defineMethod<Params, Result>({
  name: 'Session/verify_otp',
  access: { kind: 'public' },
  faults: [
    'Server.Session.otp_invalid',
    'Server.Session.otp_replayed',
    'Server.Session.mfa_token_invalid',
    'Server.Session.cannot_login_brute_force_activity',
    'Client.Request.rate_limited',
  ],
  async handler(params, ctx) {
    const hash = sha256(params.mfa_token);
    const found = await authenticate(ctx, hash);
    if (found instanceof Fault) throw found;
    // Claimed before the code is looked at. What the token names may change meanwhile: checkCode spends the token and the step atomically.
    const attempt = await guardAttempt(ctx, found.challenge.realm, String(found.row.login_key));
    try {
      return await checkCode(ctx, params, { hash, ...found, attempt });
    } finally {
      await attempt.abandon();
    }
  },
});

/**
 * The live token with its principal's key (one statement), and the principal,
 * or the refusal: read before any attempt is claimed, so a stale token never
 * fills the brute-force counters.
 */
async function authenticate(ctx: CallContext, hash: string) {
  const { app } = ctx;
  const found = await app.repos.mfaChallenges.findLiveWithKey(hash, app.clock.now());
  if (!found) return invalidToken();
  const { challenge, key } = found;
  const d = entityOfRealm(challenge.realm);
  const row = d ? await app.repos.entities[d.name].findById(challenge.principal_id) : undefined;
  if (!d?.realm || !row || row.blocked) return invalidToken();

  const expected = challenge.kind === 'enroll' ? 'pending' : 'active';
  // The key was reset (or enrolled elsewhere) since the login: this token is void.
  if (!key || key.status !== expected) return invalidToken();
  return { challenge, d: { ...d, realm: d.realm }, row, key };
}

async function checkCode(
  ctx: CallContext,
  params: Params,
  c: { hash: string; challenge: MfaChallengeRow; d: EntityDescriptor & { realm: string }; row: Row; key: TwoFactorKeyRow; attempt: Attempt },
): Promise<Result> {
  const { app } = ctx;
  const { hash, challenge, row, key, attempt, d } = c;
  const { realm, principal_id: principalId } = challenge;

  if (params.recovery_code !== undefined) {
    if (challenge.kind !== 'verify') throw new Fault('Server.Session.otp_invalid', 'Recovery codes cannot confirm a new key');
    const codeHash = hashRecoveryCode(params.recovery_code);
    const result = await retryingTransaction(app.db, async (trx) => {
      if (!(await app.repos.recoveryCodes.use(realm, principalId, codeHash, app.clock.now(), trx))) return undefined;
      if (!(await app.repos.mfaChallenges.consume(hash, app.clock.now(), trx))) throw invalidToken();
      await app.repos.audit.record({ ...actorOf(ctx), event: 'login.recovery_code', realm, entity: d.name, entity_id: principalId }, app.clock.now(), trx);
      const login = await completeLogin(ctx, d, row, ['pwd', 'mfa', 'rcode'], trx);
      return { ...login, recovery_codes_left: await app.repos.recoveryCodes.countLeft(realm, principalId, trx) };
    });
    if (!result) {
      await recordFailure(ctx, challenge, d.name, row, attempt, 'recovery_code');
      throw new Fault('Server.Session.otp_invalid', 'The recovery code is not valid or was already used');
    }
    await attempt.succeeded();
    return result;
  }

  const check = verifyTotp(openSecret(app, key), params.otp ?? '', app.clock.now(), app.config.TOTP_WINDOW);
  if (!check.ok) {
    await recordFailure(ctx, challenge, d.name, row, attempt, check.skewSteps !== undefined ? 'clock_skew' : 'otp');
    throw new Fault('Server.Session.otp_invalid', undefined, check.skewSteps !== undefined ? { hint: 'clock_skew' } : {});
  }
  /** One-time use across replicas: the step, then the token, each by compare-and-set; then the session. */
  const succeed = async (trx: Transaction, enroll?: () => Promise<string[]>): Promise<Result | undefined> => {
    if (!(await app.repos.twoFactorKeys.useStep(realm, principalId, check.step, trx))) return undefined;
    if (!(await app.repos.mfaChallenges.consume(hash, app.clock.now(), trx))) throw invalidToken();
    const recoveryCodes = enroll && (await enroll());
    const login = await completeLogin(ctx, d, row, ['pwd', 'otp', 'mfa'], trx);
    await attempt.succeeded(trx);
    return recoveryCodes ? { ...login, recovery_codes: recoveryCodes } : login;
  };
  const result =
    challenge.kind === 'enroll'
      ? await retryingTransaction(app.db, (trx) =>
          succeed(trx, async () => {
            if (!(await app.repos.twoFactorKeys.activate(realm, principalId, key.secret_enc, app.clock.now(), trx))) throw invalidToken();
            const codes = await issueRecoveryCodes(app, realm, principalId, trx);
            await app.repos.audit.record({ ...actorOf(ctx), event: 'two_factor.enroll', realm, entity: d.name, entity_id: principalId }, app.clock.now(), trx);
            await notify(app, { kind: 'two_factor_activated', realm, principalId, row }, trx);
            return codes;
          }),
        )
      : // The everyday path: compiled statements on the write connection (see writer.ts).
        await app.db.writer.transaction((ex) => succeed(ex));
  if (!result) {
    await recordFailure(ctx, challenge, d.name, row, attempt, 'replay');
    throw new Fault('Server.Session.otp_replayed');
  }
  return result;
}
