import type { Knex } from 'knex';

export interface SessionRow {
  id: string;
  realm: string;
  principal_id: number;
  amr: string;
  restricted: boolean | number;
  impersonated_by: number | null;
  refresh_token_hash: string | null;
  ip: string | null;
  user_agent: string | null;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  revoked_at: number | null;
  revoke_reason: string | null;
}

export type NewSession = Omit<SessionRow, 'revoked_at' | 'revoke_reason'>;

export function createSessionsRepository(knex: Knex) {
  const table = (trx?: Knex.Transaction) => (trx ?? knex)<SessionRow>('sessions');
  return {
    async insert(row: NewSession, trx?: Knex.Transaction): Promise<void> {
      await table(trx).insert(row);
    },

    async findById(id: string, trx?: Knex.Transaction): Promise<SessionRow | undefined> {
      return table(trx).where({ id }).first();
    },

    /** Slides the idle window; only moves forward, so concurrent calls cannot move it back. */
    async touch(id: string, now: number, trx?: Knex.Transaction): Promise<void> {
      await table(trx).where({ id }).andWhere('last_seen_at', '<', now).update({ last_seen_at: now });
    },

    async revoke(id: string, now: number, reason: string, trx?: Knex.Transaction): Promise<number> {
      return table(trx).where({ id }).whereNull('revoked_at').update({ revoked_at: now, revoke_reason: reason });
    },

    async liftRestriction(id: string, trx?: Knex.Transaction): Promise<void> {
      await table(trx).where({ id }).update({ restricted: false });
    },

    /** The principal is gone: its sessions go with it. */
    async deleteAllOf(realm: string, principalId: number, trx?: Knex.Transaction): Promise<number> {
      return table(trx).where({ realm, principal_id: principalId }).delete();
    },

    async revokeAllOf(realm: string, principalId: number, now: number, reason: string, exceptId?: string, trx?: Knex.Transaction): Promise<number> {
      const q = table(trx).where({ realm, principal_id: principalId }).whereNull('revoked_at');
      if (exceptId) q.andWhereNot({ id: exceptId });
      return q.update({ revoked_at: now, revoke_reason: reason });
    },
  };
}

export type SessionsRepository = ReturnType<typeof createSessionsRepository>;
