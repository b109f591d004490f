import type { Knex } from 'knex';
import { countRows, type Database } from './connection.js';
import { compile, param } from './statements.js';
import type { Transaction } from './writer.js';

export interface AuditEvent {
  event: string;
  actor_realm: string | null;
  actor_id: number | null;
  session_id: string | null;
  realm: string | null;
  entity: string | null;
  entity_id: number | null;
  ip: string | null;
  /** The portal client whose credential the call carried: `ip` is then the end user's, as that portal named it. */
  portal_client_id?: string | null;
  /** An X-End-User-IP the call sent without a valid portal credential: ignored (`ip` is the caller's own). */
  end_user_ip_ignored?: string | null;
  /** Names and non-secret facts only: never a password, code, token or key. */
  details?: Record<string, unknown>;
}

/** Where a call came from, as an audit row records it. */
export type AuditOrigin = Pick<AuditEvent, 'ip' | 'portal_client_id' | 'end_user_ip_ignored'>;

/** Who acted and from where. */
export type AuditActor = Pick<AuditEvent, 'actor_realm' | 'actor_id' | 'session_id'> & AuditOrigin;

export interface AuditRow extends Omit<AuditEvent, 'details' | 'portal_client_id' | 'end_user_ip_ignored'> {
  i_event: number;
  portal_client_id: string | null;
  end_user_ip_ignored: string | null;
  at: number;
  details: string | null;
}

export interface AuditQuery {
  realm?: string;
  entity?: string;
  entity_id?: number;
  event?: string;
  from?: number;
  to?: number;
  limit: number;
  offset: number;
  /** Keyset paging: `[at, i_event]` of the last row already read. */
  after?: [number, number];
  withTotal: boolean;
}

const COLUMNS = [
  'event',
  'actor_realm',
  'actor_id',
  'session_id',
  'realm',
  'entity',
  'entity_id',
  'ip',
  'portal_client_id',
  'end_user_ip_ignored',
  'at',
  'details',
] as const;

export function createAuditRepository({ knex, writer }: Database) {
  const table = (trx?: Knex.Transaction) => (trx ?? knex)<AuditRow>('audit_log');
  const insert = compile(knex('audit_log').insert(Object.fromEntries(COLUMNS.map((c) => [c, param(c)]))));
  return {
    /** Pass the transaction of the change being audited: both commit or neither. */
    async record(event: AuditEvent, at: number, trx?: Transaction): Promise<void> {
      const details = event.details ? JSON.stringify(event.details) : null;
      await writer.within(trx, (ex) =>
        ex.run(insert, {
          ...event,
          portal_client_id: event.portal_client_id ?? null,
          end_user_ip_ignored: event.end_user_ip_ignored ?? null,
          at,
          details,
        }),
      );
    },

    /**
     * Newest first: by `at`, then `i_event`, both descending. Each filter leads an index that
     * ends in `at` (migration 017; the primary key `i_event` is the index's last column on both
     * engines), so a page reads `limit + 1` rows of one index in order, however deep.
     */
    async list(q: AuditQuery, trx?: Knex.Transaction): Promise<{ rows: AuditRow[]; more: boolean; total?: number }> {
      const base = table(trx);
      if (q.realm) base.where('realm', q.realm);
      if (q.entity) base.where('entity', q.entity);
      if (q.entity_id !== undefined) base.where('entity_id', q.entity_id);
      if (q.event) base.where('event', q.event);
      if (q.from !== undefined) base.where('at', '>=', q.from);
      if (q.to !== undefined) base.where('at', '<', q.to);
      const total = q.withTotal ? await countRows(base.clone()) : undefined;
      if (q.after) {
        const [at, id] = q.after;
        // `at <= ?` is the range the index serves; the OR only sorts out rows of that same instant.
        base.where('at', '<=', at).andWhere((w) => w.where('at', '<', at).orWhere('i_event', '<', id));
      }
      const rows = await base
        .orderBy([
          { column: 'at', order: 'desc' },
          { column: 'i_event', order: 'desc' },
        ])
        .limit(q.limit + 1)
        .offset(q.offset);
      return { rows: rows.slice(0, q.limit), more: rows.length > q.limit, total };
    },
  };
}

export type AuditRepository = ReturnType<typeof createAuditRepository>;
