import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import { bindingFor } from '../domain/crypto/envelope.js';
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
  /**
   * Values for the template that are secrets (the link of a reset mail): kept
   * sealed with the keyring, bound to the mail's row, opened only to render
   * the mail, and erased once it is sent or given up.
   */
  secret?: Record<string, string>;
}

/** Where a principal's mails go; undefined when it has no usable email. */
export const recipientOf = (row: Row): string | undefined => (typeof row.email === 'string' && row.email.includes('@') ? row.email : undefined);

/** The binding of a mail's sealed secret: its row. */
export const secretBinding = (id: number): string => bindingFor('notifications', 'secret_enc', id);

/**
 * Puts a mail in the outbox, in the caller's transaction (the event and its
 * mail commit together). A principal without an email gets none.
 */
export async function notify(app: FastifyInstance, input: NotifyInput, trx?: Knex.Transaction): Promise<void> {
  const email = recipientOf(input.row);
  if (!email) return;
  const now = app.clock.now();
  const id = await app.repos.notifications.enqueue(
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
  if (!input.secret) return;
  await app.repos.notifications.sealSecret(id, app.keyring.current().encrypt(JSON.stringify(input.secret), secretBinding(id)), trx);
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
