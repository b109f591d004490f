import type { Knex } from 'knex';
import type { Database } from './connection.js';
import { pointQueryOf } from './point-reader.js';
import { compile, param } from './statements.js';
import type { Transaction } from './writer.js';

export interface TwoFactorKeyRow {
  realm: string;
  principal_id: number;
  /** Encrypted and bound to (realm, principal_id); never the plain secret. */
  secret_enc: string;
  /** `pending` until the first valid code confirms it (enrollment), then `active`. */
  status: 'pending' | 'active';
  created_at: number;
  activated_at: number | null;
  last_used_step?: number | null;
}

export function createTwoFactorKeysRepository(db: Database) {
  const { knex, writer } = db;
  const table = (trx?: Knex.Transaction) => (trx ?? knex)<TwoFactorKeyRow>('two_factor_keys');
  const owner = { realm: param('realm'), principal_id: param('principalId') };
  const find = pointQueryOf<TwoFactorKeyRow>(db, knex('two_factor_keys').where(owner).first());
  const useStep = compile(
    knex('two_factor_keys')
      .where(owner)
      .andWhere((q) => q.whereNull('last_used_step').orWhere('last_used_step', '<', param('step')))
      .update({ last_used_step: param('step') }),
  );
  return {
    async find(realm: string, principalId: number, trx?: Transaction): Promise<TwoFactorKeyRow | undefined> {
      return find({ realm, principalId }, trx);
    },

    async insert(row: TwoFactorKeyRow, trx?: Knex.Transaction): Promise<void> {
      await table(trx).insert(row);
    },

    /** A fresh pending key replaces any earlier pending one; an active key is never replaced this way. */
    async putPending(realm: string, principalId: number, secretEnc: string, now: number, trx?: Knex.Transaction): Promise<boolean> {
      await table(trx).where({ realm, principal_id: principalId, status: 'pending' }).delete();
      try {
        await table(trx).insert({
          realm,
          principal_id: principalId,
          secret_enc: secretEnc,
          status: 'pending',
          created_at: now,
          activated_at: null,
          last_used_step: null,
        });
        return true;
      } catch {
        return false;
      }
    },

    /** Confirms exactly the pending key the caller verified (compare-and-set on its stored value). */
    async activate(realm: string, principalId: number, secretEnc: string, now: number, trx?: Knex.Transaction): Promise<boolean> {
      const n = await table(trx)
        .where({ realm, principal_id: principalId, status: 'pending', secret_enc: secretEnc })
        .update({ status: 'active', activated_at: now });
      return n === 1;
    },

    /**
     * Records an accepted TOTP step. Succeeds only if no step at or after it
     * was accepted before: one atomic UPDATE, so two replicas racing with the
     * same code cannot both win (RFC 6238 section 5.2: one-time use).
     */
    async useStep(realm: string, principalId: number, step: number, trx?: Transaction): Promise<boolean> {
      return (await writer.within(trx, (ex) => ex.run(useStep, { realm, principalId, step }))) === 1;
    },

    async remove(realm: string, principalId: number, trx?: Knex.Transaction): Promise<number> {
      return table(trx).where({ realm, principal_id: principalId }).delete();
    },
  };
}

export type TwoFactorKeysRepository = ReturnType<typeof createTwoFactorKeysRepository>;
