import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import { bindingFor } from '../domain/crypto/envelope.js';
import { buildEnrollment, type Enrollment } from '../domain/totp/enrollment.js';
import { generateRecoveryCodes, hashRecoveryCode } from '../domain/totp/recovery-codes.js';
import { generateSecret } from '../domain/totp/totp.js';
import { entityOfRealm } from '../entities/descriptors.js';
import { effective2fa } from '../entities/two-factor.js';
import { twoFactorRowId } from '../repositories/encrypted-columns.js';
import type { Row } from '../repositories/entities.js';
import type { TwoFactorKeyRow } from '../repositories/two-factor-keys.js';
import { Fault } from '../rpc/faults.js';

/**
 * TOTP keys at rest: the base32 secret is encrypted with the keyring like a
 * password and bound to its principal, so a key copied to another principal
 * does not decrypt.
 */
const keyBinding = (realm: string, principalId: number) => bindingFor('two_factor_keys', 'secret_enc', twoFactorRowId(realm, principalId));

export function sealSecret(app: FastifyInstance, realm: string, principalId: number, secret: string): string {
  return app.keyring.current().encrypt(secret, keyBinding(realm, principalId));
}

export function openSecret(app: FastifyInstance, key: TwoFactorKeyRow): string {
  try {
    return app.keyring.current().decrypt(key.secret_enc, keyBinding(key.realm, key.principal_id));
  } catch (err) {
    throw new Error(`cannot decrypt two_factor_keys.secret_enc of ${key.realm}:${key.principal_id}: ${(err as Error).message}`, { cause: err });
  }
}

/** Whether the policy chain requires 2FA of this principal (seed 000). */
export async function requires2fa(app: FastifyInstance, realm: string, row: Row): Promise<boolean> {
  const d = entityOfRealm(realm);
  if (!d) return false;
  const [required] = await effective2fa(app.repos.entities, d, [row]);
  return required ?? false;
}

/** A new pending key (160-bit secret, RFC 4226 section 4) and what an authenticator app needs to add it. */
export async function startEnrollment(app: FastifyInstance, realm: string, principalId: number, login: string, trx?: Knex.Transaction): Promise<Enrollment> {
  const secret = generateSecret();
  if (!(await app.repos.twoFactorKeys.putPending(realm, principalId, sealSecret(app, realm, principalId, secret), app.clock.now(), trx))) {
    // A key was confirmed meanwhile (another tab or replica): never hand out a secret that was not stored.
    throw new Fault('Server.TwoFactor.already_enrolled');
  }
  return buildEnrollment({ issuer: app.config.TOTP_ISSUER, login, secretBase32: secret });
}

/** Ten fresh single-use recovery codes; only their hashes are kept, the codes are shown once. */
export async function issueRecoveryCodes(app: FastifyInstance, realm: string, principalId: number, trx?: Knex.Transaction): Promise<string[]> {
  const codes = generateRecoveryCodes();
  await app.repos.recoveryCodes.replace(realm, principalId, codes.map(hashRecoveryCode), app.clock.now(), trx);
  return codes;
}

/** Removes a principal's key, its recovery codes and pending challenges: old codes stop working at once. */
export async function removeTwoFactor(app: FastifyInstance, realm: string, principalId: number, trx?: Knex.Transaction): Promise<boolean> {
  const removed = await app.repos.twoFactorKeys.remove(realm, principalId, trx);
  await app.repos.recoveryCodes.removeAll(realm, principalId, trx);
  await app.repos.mfaChallenges.removeFor(realm, principalId, trx);
  return removed > 0;
}
