import type { Knex } from 'knex';

export interface PasswordResetRow {
  realm: string;
  principal_id: number;
  /** sha256 of the reset token; the token itself is never stored (it is only in the sealed mail). */
  token_hash: string;
  /** Who asked for it. */
  ip: string | null;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

/**
 * Reset tokens of forgotten passwords: at most one per principal (the
 * primary key), so a new request replaces the old token, and a token is live
 * while it is neither used nor expired.
 */
export function createPasswordResetsRepository(knex: Knex) {
  const table = (trx?: Knex.Transaction) => (trx ?? knex)<PasswordResetRow>('password_resets');
  /**
   * One query with every condition, so an unknown, used and expired token
   * cannot be told apart (not even by which query answered). The token hash
   * is the SHA-256 of 256 random bits: nobody can aim a guess at a digest's
   * prefix, so comparing it in the database tells nothing by its timing.
   */
  const live = (hash: string, now: number, trx?: Knex.Transaction) =>
    table(trx).where({ token_hash: hash }).whereNull('used_at').andWhere('expires_at', '>', now);
  return {
    /** The principal's new token; its previous one, used or not, stops working. */
    async replace(row: Omit<PasswordResetRow, 'used_at'>, trx: Knex.Transaction): Promise<void> {
      await table(trx)
        .insert({ ...row, used_at: null })
        .onConflict(['realm', 'principal_id'])
        .merge();
    },

    async findLive(hash: string, now: number, trx?: Knex.Transaction): Promise<PasswordResetRow | undefined> {
      return live(hash, now, trx).first();
    },

    /** Single use: true only for the one caller that uses it, while it is still live. */
    async use(hash: string, now: number, trx: Knex.Transaction): Promise<boolean> {
      return (await live(hash, now, trx).update({ used_at: now })) === 1;
    },

    /** Voids the principal's unused token (whatever ends its sessions: see SessionsRepository.revokeAllOf). */
    async removeUnusedFor(realm: string, principalId: number, trx?: Knex.Transaction): Promise<number> {
      return table(trx).where({ realm, principal_id: principalId }).whereNull('used_at').delete();
    },

    /** The principal is gone. */
    async removeAllFor(realm: string, principalId: number, trx?: Knex.Transaction): Promise<number> {
      return table(trx).where({ realm, principal_id: principalId }).delete();
    },
  };
}

export type PasswordResetsRepository = ReturnType<typeof createPasswordResetsRepository>;
