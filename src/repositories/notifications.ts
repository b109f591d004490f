import type { Knex } from 'knex';
import { countRows } from './connection.js';

export type NotificationStatus = 'pending' | 'sending' | 'sent' | 'failed';

export interface NotificationRow {
  id: number;
  kind: string;
  realm: string;
  principal_id: number;
  recipient: string;
  data: string;
  status: NotificationStatus;
  attempts: number;
  next_attempt_at: number;
  claimed_by: string | null;
  claimed_until: number | null;
  last_error: string | null;
  logged_at: number | null;
  created_at: number;
  sent_at: number | null;
  /** Secret values for the template (a reset link), sealed and bound to this row (see notify); null once sent or given up. */
  secret_enc: string | null;
}

export type NewNotification = Pick<NotificationRow, 'kind' | 'realm' | 'principal_id' | 'recipient'> & { data: Record<string, unknown> };

/** The transactional outbox. */
export function createNotificationsRepository(knex: Knex) {
  const table = (trx?: Knex.Transaction) => (trx ?? knex)<NotificationRow>('notifications');
  const throttles = (trx?: Knex.Transaction) => (trx ?? knex)('notification_throttles');
  return {
    /** Pass the transaction of the event: no mail for a change that rolled back, no event without its mail. */
    async enqueue(n: NewNotification, now: number, trx?: Knex.Transaction): Promise<number> {
      const [id] = await table(trx).insert({ ...n, data: JSON.stringify(n.data), status: 'pending', attempts: 0, next_attempt_at: now, created_at: now });
      return Number(id);
    },

    /** The sealed secret of a row just enqueued (sealing binds it to the row's id, known only now). */
    async sealSecret(id: number, secretEnc: string, trx?: Knex.Transaction): Promise<void> {
      await table(trx).where({ id }).update({ secret_enc: secretEnc });
    },

    /**
     * Throttle gate: true (and the count of folded-in events) when a mail of
     * this kind may go now; otherwise the event is counted for the next mail.
     */
    async throttle(
      realm: string,
      principalId: number,
      kind: string,
      interval: number,
      now: number,
      trx?: Knex.Transaction,
    ): Promise<{ send: boolean; folded: number }> {
      const key = { realm, principal_id: principalId, kind };
      // Count this event with one upsert first: it takes the row's exclusive lock at once, so
      // concurrent failures queue behind each other instead of deadlocking (shared-then-exclusive).
      await throttles(trx)
        .insert({ ...key, last_enqueued_at: 0, suppressed: 1 })
        .onConflict(['realm', 'principal_id', 'kind'])
        .merge({ suppressed: knex.raw('?? + 1', ['notification_throttles.suppressed']) });
      const row = (await throttles(trx).where(key).first()) as { last_enqueued_at: number; suppressed: number };
      if (now - Number(row.last_enqueued_at) < interval) return { send: false, folded: 0 };
      await throttles(trx).where(key).update({ last_enqueued_at: now, suppressed: 0 });
      return { send: true, folded: Number(row.suppressed) - 1 };
    },

    /** Pending rows due now, and rows whose worker died mid-send (lease expired). */
    async due(now: number, limit: number): Promise<NotificationRow[]> {
      return table()
        .where((q) => q.where('status', 'pending').andWhere('next_attempt_at', '<=', now))
        .orWhere((q) => q.where('status', 'sending').andWhere('claimed_until', '<', now))
        .orderBy('id')
        .limit(limit);
    },

    /**
     * Atomic claim: of several workers, exactly one gets the row. The claim
     * counts the attempt, so a sender that dies mid-send (its lease taken
     * over) still uses one up.
     */
    async claim(row: NotificationRow, worker: string, now: number, leaseMs: number): Promise<boolean> {
      const n = await table()
        // claimed_until too: two workers taking over the same expired lease must not both win.
        .where({ id: row.id, status: row.status, attempts: row.attempts, claimed_until: row.claimed_until })
        .update({ status: 'sending', claimed_by: worker, claimed_until: now + leaseMs, attempts: row.attempts + 1 });
      return n === 1;
    },

    /** False when the row is no longer this worker's (its lease was taken over). */
    async markSent(id: number, worker: string, now: number): Promise<boolean> {
      // The secret has done its work: nothing keeps it, not even sealed.
      return (await table().where({ id, claimed_by: worker }).update({ status: 'sent', sent_at: now, claimed_until: null, secret_enc: null })) === 1;
    },

    /** False when the row is no longer this worker's (its lease was taken over). */
    async markFailed(id: number, worker: string, attempts: number, error: string, nextAttemptAt: number | undefined): Promise<boolean> {
      const n = await table()
        .where({ id, claimed_by: worker })
        .update({
          status: nextAttemptAt === undefined ? 'failed' : 'pending',
          attempts,
          last_error: error.slice(0, 500),
          next_attempt_at: nextAttemptAt ?? 0,
          claimed_until: null,
          // Given up: its secret will never be needed.
          ...(nextAttemptAt === undefined ? { secret_enc: null } : {}),
        });
      return n === 1;
    },

    /** Rows not yet announced in the log (outbox without SMTP), each claimed once across replicas. */
    async claimUnlogged(now: number, limit: number): Promise<NotificationRow[]> {
      const rows = await table().where('status', 'pending').whereNull('logged_at').orderBy('id').limit(limit);
      const claimed: NotificationRow[] = [];
      for (const row of rows) {
        if ((await table().where({ id: row.id }).whereNull('logged_at').update({ logged_at: now })) === 1) claimed.push(row);
      }
      return claimed;
    },

    async list(statuses: NotificationStatus[] | undefined, limit: number): Promise<NotificationRow[]> {
      const q = table().orderBy('id', 'desc').limit(limit);
      if (statuses?.length) q.whereIn('status', statuses);
      return q;
    },

    async backlog(): Promise<number> {
      return countRows(table().whereIn('status', ['pending', 'sending']));
    },
  };
}

export type NotificationsRepository = ReturnType<typeof createNotificationsRepository>;
