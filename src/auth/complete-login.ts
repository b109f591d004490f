import { sha256 } from '../domain/crypto/hash.js';
import { randomToken } from '../domain/crypto/random.js';
import type { Transaction } from '../repositories/writer.js';
import type { EntityDescriptor } from '../entities/descriptors.js';
import type { IssuedSession } from '../plugins/sessions.js';
import type { Row } from '../repositories/entities.js';
import type { MfaChallengeRow } from '../repositories/mfa-challenges.js';
import type { CallContext } from '../rpc/registry.js';
import { actorOf } from '../methods/shared/audit.js';

export type LoginResult =
  ({ status: 'authenticated' } & IssuedSession) | ({ status: 'password_change_required'; reason: 'expired' | 'must_change' } & IssuedSession);

/** Why the password must be changed before anything else, if it must. */
export function passwordChangeReason(row: Row, now: number, expireMs: number): 'expired' | 'must_change' | undefined {
  if (row.password_must_change) return 'must_change';
  if (expireMs > 0 && Number(row.password_set_at ?? 0) + expireMs <= now) return 'expired';
  return undefined;
}

/**
 * Every factor is checked: open the session. A password that must change
 * gives a restricted session (checked only after password and 2FA, so the
 * answer never tells an attacker which factor was wrong).
 */
export async function completeLogin(
  ctx: CallContext,
  d: EntityDescriptor & { realm: string },
  row: Row,
  amr: string[],
  trx?: Transaction,
): Promise<LoginResult> {
  const { app } = ctx;
  const now = app.clock.now();
  const principalId = Number(row[d.idField]);
  const reason = passwordChangeReason(row, now, app.config.WEB_PASSWORD_EXPIRE);
  const session = await app.sessions.create(
    {
      realm: d.realm,
      principalId,
      login: String(row.login),
      amr,
      restricted: reason !== undefined,
      ip: ctx.ip,
      userAgent: ctx.userAgent,
      style: ctx.tokenStyle,
    },
    trx,
  );
  await app.repos.audit.record(
    {
      ...actorOf(ctx),
      actor_realm: d.realm,
      actor_id: principalId,
      session_id: session.session_id,
      event: 'login.success',
      realm: d.realm,
      entity: d.name,
      entity_id: principalId,
      details: { amr },
    },
    now,
    trx,
  );
  return reason ? { status: 'password_change_required', reason, ...session } : { status: 'authenticated', ...session };
}

/** An mfa_token: opaque, single use, short-lived; only its hash is stored. */
export async function issueChallenge(
  ctx: CallContext,
  realm: string,
  principalId: number,
  kind: MfaChallengeRow['kind'],
): Promise<{ mfa_token: string; mfa_expires_at: string }> {
  const { app } = ctx;
  const now = app.clock.now();
  const token = randomToken(32);
  const expiresAt = now + app.config.MFA_TOKEN_TTL;
  await app.repos.mfaChallenges.insert({
    token_hash: sha256(token),
    realm,
    principal_id: principalId,
    kind,
    ip: ctx.ip,
    created_at: now,
    expires_at: expiresAt,
    consumed_at: null,
  });
  return { mfa_token: token, mfa_expires_at: new Date(expiresAt).toISOString() };
}
