import type { Knex } from 'knex';

export interface MfaChallengeRow {
  /** sha256 of the mfa_token; the token itself is never stored. */
  token_hash: string;
  realm: string;
  principal_id: number;
  /** `verify`: an active key exists; `enroll`: a pending key waits for its first code. */
  kind: 'verify' | 'enroll';
  ip: string | null;
  created_at: number;
  expires_at: number;
  consumed_at: number | null;
}

export function createMfaChallengesRepository(knex: Knex) {
  const table = (trx?: Knex.Transaction) => (trx ?? knex)<MfaChallengeRow>('mfa_challenges');
  return {
    async insert(row: MfaChallengeRow, trx?: Knex.Transaction): Promise<void> {
      await table(trx).insert(row);
      // Housekeeping: challenges long expired are of no use to anyone.
      await table(trx)
        .where('expires_at', '<', row.created_at - 86_400_000)
        .delete();
    },

    async findLive(tokenHash: string, now: number, trx?: Knex.Transaction): Promise<MfaChallengeRow | undefined> {
      return table(trx).where({ token_hash: tokenHash }).whereNull('consumed_at').andWhere('expires_at', '>', now).first();
    },

    /** Single use: true only for the one caller that consumes it. */
    async consume(tokenHash: string, now: number, trx?: Knex.Transaction): Promise<boolean> {
      const n = await table(trx).where({ token_hash: tokenHash }).whereNull('consumed_at').andWhere('expires_at', '>', now).update({ consumed_at: now });
      return n === 1;
    },

    async removeFor(realm: string, principalId: number, trx?: Knex.Transaction): Promise<number> {
      return table(trx).where({ realm, principal_id: principalId }).delete();
    },
  };
}

export type MfaChallengesRepository = ReturnType<typeof createMfaChallengesRepository>;
