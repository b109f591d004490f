import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { sha256 } from '../src/domain/crypto/hash.js';

/** The row of one benchmark account: every seeder (run.ts, statements.ts, scale.ts) writes the same shape. */
export function accountRow(login: string, customer: number | undefined, passwordHash: string, now: number, twoFactor: 'enabled' | 'inherit') {
  return {
    login,
    login_key: login,
    i_customer: customer,
    email: null,
    two_factor_auth: twoFactor,
    blocked: false,
    password_hash: passwordHash,
    password_set_at: now,
    password_must_change: false,
    created_at: now,
    updated_at: now,
  };
}

/**
 * A live verify challenge of an enrolled account, as `Session/login` leaves it (stored directly, so
 * that a timed `verify_otp` case measures the verification, not bcrypt). Returns its token.
 */
export async function storeVerifyChallenge(repos: FastifyInstance['repos'], principalId: number, now: number): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  await repos.mfaChallenges.insert({
    token_hash: sha256(token),
    realm: 'account',
    principal_id: principalId,
    kind: 'verify',
    ip: null,
    created_at: now,
    expires_at: now + 300_000,
    consumed_at: null,
  });
  return token;
}
