import type { Knex } from 'knex';
import { countRows, type Database } from './connection.js';
import { pointQuery } from './point-reader.js';

export interface PortalClientRow {
  portal_client_id: string;
  name: string;
  /** SHA-256 hex of the secret; the secret itself is never stored. */
  secret_hash: string;
  created_at: number;
  revoked_at: number | null;
}

export type PortalClientListing = Omit<PortalClientRow, 'secret_hash'>;

const LISTED = ['portal_client_id', 'name', 'created_at', 'revoked_at'] as const;

export function createPortalClientsRepository(db: Database) {
  const { knex } = db;
  const table = (trx?: Knex.Transaction) => (trx ?? knex)<PortalClientRow>('portal_clients');
  // Every call that carries a portal credential reads this: one committed point read, no cache,
  // so a revocation is refused by every replica from the moment it commits.
  const forCheck = pointQuery<Pick<PortalClientRow, 'secret_hash' | 'revoked_at'>>(db, (id) =>
    knex('portal_clients').where({ portal_client_id: id }).first('secret_hash', 'revoked_at'),
  );
  return {
    findForCheck: (id: string) => forCheck(id),

    async insert(row: PortalClientRow, trx: Knex.Transaction): Promise<void> {
      await table(trx).insert(row);
    },

    /** Newest first. */
    /**
     * Newest first (`created_at`, then `portal_client_id`, both descending), from the indexes of
     * migration 018. `after`: `[created_at, portal_client_id]` of the last row already read.
     */
    async list(q: {
      limit: number;
      offset: number;
      include_revoked: boolean;
      after?: [number, string];
      withTotal: boolean;
    }): Promise<{ rows: PortalClientListing[]; more: boolean; total?: number }> {
      const base = table();
      if (!q.include_revoked) base.whereNull('revoked_at');
      const total = q.withTotal ? await countRows(base.clone()) : undefined;
      if (q.after) {
        const [createdAt, id] = q.after;
        base.where('created_at', '<=', createdAt).andWhere((w) => w.where('created_at', '<', createdAt).orWhere('portal_client_id', '<', id));
      }
      const rows = (await base
        .select(...LISTED)
        .orderBy([
          { column: 'created_at', order: 'desc' },
          { column: 'portal_client_id', order: 'desc' },
        ])
        .limit(q.limit + 1)
        .offset(q.offset)) as PortalClientListing[];
      return { rows: rows.slice(0, q.limit), more: rows.length > q.limit, total };
    },

    /** Revokes a live client; returns its row as it was, or undefined when there is no live one. */
    async revoke(id: string, now: number, trx: Knex.Transaction): Promise<PortalClientListing | undefined> {
      const n = await table(trx).where({ portal_client_id: id }).whereNull('revoked_at').update({ revoked_at: now });
      if (n === 0) return undefined;
      return (await table(trx)
        .where({ portal_client_id: id })
        .first(...LISTED)) as PortalClientListing | undefined;
    },
  };
}

export type PortalClientsRepository = ReturnType<typeof createPortalClientsRepository>;
