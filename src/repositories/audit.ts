import type { Knex } from 'knex';
import { countRows } from './connection.js';

export interface AuditEvent {
  event: string;
  actor_realm: string | null;
  actor_id: number | null;
  session_id: string | null;
  realm: string | null;
  entity: string | null;
  entity_id: number | null;
  ip: string | null;
  /** Names and non-secret facts only: never a password, code, token or key. */
  details?: Record<string, unknown>;
}

export interface AuditRow extends Omit<AuditEvent, 'details'> {
  i_event: number;
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
}

export function createAuditRepository(knex: Knex) {
  const table = (trx?: Knex.Transaction) => (trx ?? knex)<AuditRow>('audit_log');
  return {
    /** Pass the transaction of the change being audited: both commit or neither. */
    async record(event: AuditEvent, at: number, trx?: Knex.Transaction): Promise<void> {
      await table(trx).insert({ ...event, at, details: event.details ? JSON.stringify(event.details) : null });
    },

    async list(q: AuditQuery, trx?: Knex.Transaction): Promise<{ rows: AuditRow[]; total: number }> {
      const base = table(trx);
      if (q.realm) base.where('realm', q.realm);
      if (q.entity) base.where('entity', q.entity);
      if (q.entity_id !== undefined) base.where('entity_id', q.entity_id);
      if (q.event) base.where('event', q.event);
      if (q.from !== undefined) base.where('at', '>=', q.from);
      if (q.to !== undefined) base.where('at', '<', q.to);
      const total = await countRows(base.clone());
      const rows = await base.clone().orderBy('i_event', 'desc').limit(q.limit).offset(q.offset);
      return { rows, total };
    },
  };
}

export type AuditRepository = ReturnType<typeof createAuditRepository>;
