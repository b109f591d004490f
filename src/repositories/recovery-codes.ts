import type { Knex } from 'knex';
import { countRows } from './connection.js';

/** Single-use recovery codes, stored as hashes only (NIST SP 800-63B 5.1.2 look-up secrets). */
export function createRecoveryCodesRepository(knex: Knex) {
  const t = (trx?: Knex.Transaction) =>
    (trx ?? knex)<{ realm: string; principal_id: number; code_hash: string; created_at: number; used_at: number | null }>('recovery_codes');
  return {
    async replace(realm: string, principalId: number, hashes: string[], now: number, trx?: Knex.Transaction): Promise<void> {
      // Deleting nothing would still take gap locks on InnoDB, and two first enrollments racing
      // in the same gap would deadlock on their inserts: only delete what is there.
      const existing = await countRows(t(trx).where({ realm, principal_id: principalId }));
      if (existing > 0) await t(trx).where({ realm, principal_id: principalId }).delete();
      await t(trx).insert(hashes.map((code_hash) => ({ realm, principal_id: principalId, code_hash, created_at: now, used_at: null })));
    },

    /** Spends a code: true only for the one caller that flips it from unused to used. */
    async use(realm: string, principalId: number, hash: string, now: number, trx?: Knex.Transaction): Promise<boolean> {
      const n = await t(trx).where({ realm, principal_id: principalId, code_hash: hash }).whereNull('used_at').update({ used_at: now });
      return n === 1;
    },

    async countLeft(realm: string, principalId: number, trx?: Knex.Transaction): Promise<number> {
      return countRows(t(trx).where({ realm, principal_id: principalId }).whereNull('used_at'));
    },

    async removeAll(realm: string, principalId: number, trx?: Knex.Transaction): Promise<number> {
      return t(trx).where({ realm, principal_id: principalId }).delete();
    },
  };
}

export type RecoveryCodesRepository = ReturnType<typeof createRecoveryCodesRepository>;
