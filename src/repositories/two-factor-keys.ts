import type { Knex } from 'knex';

export interface TwoFactorKeyRow {
  realm: string;
  principal_id: number;
  /** Encrypted (see domain/crypto); never the plain secret. */
  secret_enc: string;
  status: 'pending' | 'active';
  created_at: number;
  activated_at: number | null;
}

export function createTwoFactorKeysRepository(knex: Knex) {
  const table = (trx?: Knex.Transaction) => (trx ?? knex)<TwoFactorKeyRow>('two_factor_keys');
  return {
    async find(realm: string, principalId: number, trx?: Knex.Transaction): Promise<TwoFactorKeyRow | undefined> {
      return table(trx).where({ realm, principal_id: principalId }).first();
    },

    async insert(row: TwoFactorKeyRow, trx?: Knex.Transaction): Promise<void> {
      await table(trx).insert(row);
    },

    async remove(realm: string, principalId: number, trx?: Knex.Transaction): Promise<number> {
      return table(trx).where({ realm, principal_id: principalId }).delete();
    },
  };
}

export type TwoFactorKeysRepository = ReturnType<typeof createTwoFactorKeysRepository>;
