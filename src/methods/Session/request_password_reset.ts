import { hitLoginRate } from '../../auth/guard.js';
import { sha256 } from '../../domain/crypto/hash.js';
import { randomToken } from '../../domain/crypto/random.js';
import { counterKey } from '../../domain/login.js';
import { resetLink } from '../../domain/reset-link.js';
import { entityOfRealm } from '../../entities/descriptors.js';
import { notify, recipientOf } from '../../notifications/notify.js';
import type { Row } from '../../repositories/entities.js';
import { retryingTransaction } from '../../repositories/writer.js';
import type { ParamsOf } from '../../rpc/generated/method-types.js';
import { Fault } from '../../rpc/faults.js';
import { defineMethod } from '../../rpc/registry.js';
import { actorOf } from '../shared/audit.js';

/** Params as `schemas/Session/request_password_reset.json` defines them. */
type Params = ParamsOf<'Session/request_password_reset'>;

/** 256 bits: a token is a password for whoever holds it, and only its SHA-256 is stored (see hash.ts). */
const TOKEN_BYTES = 32;

/** Why no mail went out: for the audit log only, never for the caller. */
function whyNot(row: Row | undefined, firstInInterval: boolean): string | undefined {
  if (!row) return 'unknown_login';
  if (row.blocked) return 'blocked';
  if (!recipientOf(row)) return 'no_email';
  if (!firstInInterval) return 'throttled';
  return undefined;
}

export default defineMethod<Params, { success: 1 }>({
  name: 'Session/request_password_reset',
  access: { kind: 'public' },
  faults: ['Client.Request.rate_limited'],
  async handler(params, ctx) {
    const { app } = ctx;
    const { realm } = params;
    const d = entityOfRealm(realm);
    // Drawn on every path, so that the work done does not depend on the login (OWASP Forgot Password Cheat Sheet: consistent timing).
    const token = randomToken(TOKEN_BYTES);
    const tokenHash = sha256(token);
    // With REDIS_URL the per-IP window is in Redis: counted before the transaction, never while it holds its locks.
    const limitedInRedis = app.redis ? await hitLoginRate(ctx, undefined) : undefined;
    if (limitedInRedis) throw limitedInRedis;
    const refused = await retryingTransaction(app.db, async (trx) => {
      const now = app.clock.now();
      const limited = app.redis ? undefined : await hitLoginRate(ctx, trx);
      if (limited) return limited;
      const row = d?.realm ? await app.repos.entities[d.name].findByLogin(params.login, trx) : undefined;
      // Keyed by the login as typed, known or not, so that the limit itself tells nothing.
      const window = await app.repos.rateWindows.hit(`reset:${realm}:${counterKey(params.login)}`, app.config.PASSWORD_RESET_INTERVAL, now, trx);
      const reason = whyNot(row, window.hits === 1);
      const principalId = row && d ? Number(row[d.idField]) : null;
      if (row && principalId !== null && reason === undefined) {
        const expiresAt = now + app.config.PASSWORD_RESET_TTL;
        await app.repos.passwordResets.replace(
          { realm, principal_id: principalId, token_hash: tokenHash, ip: ctx.ip, created_at: now, expires_at: expiresAt },
          trx,
        );
        const url = app.config.PASSWORD_RESET_URL;
        await notify(
          app,
          {
            kind: 'password_reset',
            realm,
            principalId,
            row,
            data: { ip: ctx.ip, expires_at: new Date(expiresAt).toISOString() },
            secret: { token, ...(url ? { link: resetLink(url, token) } : {}) },
          },
          trx,
        );
      }
      await app.repos.audit.record(
        {
          ...actorOf(ctx),
          event: 'password.reset_request',
          realm,
          entity: row && d ? d.name : null,
          entity_id: principalId,
          details: reason ? { mailed: false, reason } : { mailed: true },
        },
        now,
        trx,
      );
      return undefined;
    });
    if (refused instanceof Fault) throw refused;
    return { success: 1 as const };
  },
});
