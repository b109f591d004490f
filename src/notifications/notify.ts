import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import type { Row } from '../repositories/entities.js';
import type { NotificationKind } from './render.js';

export interface NotifyInput {
  kind: NotificationKind;
  realm: string;
  principalId: number;
  /** The principal's row: its `email` and `login` address the mail. */
  row: Row;
  /** Facts for the template. Never pass a password, code, token or key. */
  data?: Record<string, unknown>;
}

/**
 * Puts a mail in the outbox, in the caller's transaction (the event and its
 * mail commit together). A principal without an email gets none.
 */
export async function notify(app: FastifyInstance, input: NotifyInput, trx?: Knex.Transaction): Promise<void> {
  const email = typeof input.row.email === 'string' && input.row.email.includes('@') ? input.row.email : undefined;
  if (!email) return;
  const now = app.clock.now();
  await app.repos.notifications.enqueue(
    {
      kind: input.kind,
      realm: input.realm,
      principal_id: input.principalId,
      recipient: email,
      data: { login: input.row.login, time: new Date(now).toISOString(), ...input.data },
    },
    now,
    trx,
  );
}

/**
 * "Right password, wrong code" (seed 000): at most one mail per principal per
 * NOTIFY_OTP_FAILURE_INTERVAL; failures inside the interval are counted into
 * the next mail rather than dropped.
 */
export async function notifyOtpFailure(app: FastifyInstance, input: Omit<NotifyInput, 'kind'>, trx?: Knex.Transaction): Promise<void> {
  const gate = await app.repos.notifications.throttle(
    input.realm,
    input.principalId,
    'otp_failure',
    app.config.NOTIFY_OTP_FAILURE_INTERVAL,
    app.clock.now(),
    trx,
  );
  if (!gate.send) return;
  await notify(app, { ...input, kind: 'otp_failure', data: { ...input.data, attempts: gate.folded + 1 } }, trx);
}
