import type { Knex } from 'knex';
import type { Database } from './connection.js';
import { pointQueryOf } from './point-reader.js';
import { compile, param } from './statements.js';
import type { Transaction } from './writer.js';

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

export function createMfaChallengesRepository(db: Database) {
  const { knex, writer } = db;
  const table = (trx?: Knex.Transaction) => (trx ?? knex)<MfaChallengeRow>('mfa_challenges');
  const live = (q: Knex.QueryBuilder) =>
    q
      .where({ token_hash: param('tokenHash') })
      .whereNull('consumed_at')
      .andWhere('expires_at', '>', param('now'));
  const findLive = pointQueryOf<MfaChallengeRow>(db, live(knex('mfa_challenges')).first());
  const consume = compile(live(knex('mfa_challenges')).update({ consumed_at: param('now') }));
  return {
    async insert(row: MfaChallengeRow, trx?: Knex.Transaction): Promise<void> {
      await table(trx).insert(row);
      // Housekeeping: challenges long expired are of no use to anyone.
      await table(trx)
        .where('expires_at', '<', row.created_at - 86_400_000)
        .delete();
    },

    async findLive(tokenHash: string, now: number, trx?: Transaction): Promise<MfaChallengeRow | undefined> {
      return findLive({ tokenHash, now }, trx);
    },

    /** Single use: true only for the one caller that consumes it. */
    async consume(tokenHash: string, now: number, trx?: Transaction): Promise<boolean> {
      return (await writer.within(trx, (ex) => ex.run(consume, { tokenHash, now }))) === 1;
    },

    async removeFor(realm: string, principalId: number, trx?: Knex.Transaction): Promise<number> {
      return table(trx).where({ realm, principal_id: principalId }).delete();
    },
  };
}

export type MfaChallengesRepository = ReturnType<typeof createMfaChallengesRepository>;
