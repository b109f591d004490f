import type { Knex } from 'knex';
import type { Database } from './connection.js';
import { pointQueryOf } from './point-reader.js';
import { compile, param } from './statements.js';
import type { Transaction } from './writer.js';

import type { TwoFactorKeyRow } from './two-factor-keys.js';

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
  // The challenge with its principal's TOTP key, one statement for the two reads every verify_otp starts with.
  const keyColumns = ['secret_enc', 'status', 'created_at', 'activated_at', 'last_used_step'] as const;
  const findLiveWithKey = pointQueryOf<MfaChallengeRow & Record<`k_${(typeof keyColumns)[number]}`, unknown>>(
    db,
    live(knex('mfa_challenges'))
      .leftJoin({ k: 'two_factor_keys' }, function () {
        this.on('k.realm', '=', 'mfa_challenges.realm').andOn('k.principal_id', '=', 'mfa_challenges.principal_id');
      })
      .first('mfa_challenges.*', ...keyColumns.map((c) => ({ [`k_${c}`]: `k.${c}` }))),
  );
  return {
    async insert(row: MfaChallengeRow, trx?: Knex.Transaction): Promise<void> {
      // Expired challenges are deleted by housekeeping (plugins/housekeeping.ts), not here: a range
      // delete in every login's transaction cost a statement and locked a range every login shares.
      await table(trx).insert(row);
    },

    async findLive(tokenHash: string, now: number, trx?: Transaction): Promise<MfaChallengeRow | undefined> {
      return findLive({ tokenHash, now }, trx);
    },

    /** A live challenge and its principal's TOTP key (undefined when there is none), in one statement. */
    async findLiveWithKey(tokenHash: string, now: number, trx?: Transaction): Promise<{ challenge: MfaChallengeRow; key?: TwoFactorKeyRow } | undefined> {
      const row = await findLiveWithKey({ tokenHash, now }, trx);
      if (!row) return undefined;
      const { k_secret_enc, k_status, k_created_at, k_activated_at, k_last_used_step, ...challenge } = row;
      const key: TwoFactorKeyRow | undefined =
        k_secret_enc === null || k_secret_enc === undefined
          ? undefined
          : {
              realm: challenge.realm,
              principal_id: challenge.principal_id,
              secret_enc: String(k_secret_enc),
              status: k_status as TwoFactorKeyRow['status'],
              created_at: Number(k_created_at),
              activated_at: k_activated_at === null ? null : Number(k_activated_at),
              last_used_step: k_last_used_step === null || k_last_used_step === undefined ? null : Number(k_last_used_step),
            };
      return { challenge: challenge as MfaChallengeRow, key };
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
