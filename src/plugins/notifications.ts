import { randomUUID } from 'node:crypto';
import fp from 'fastify-plugin';
import nodemailer, { type Transporter } from 'nodemailer';
import { secretBinding } from '../notifications/notify.js';
import { renderMail } from '../notifications/render.js';
import type { NotificationRow } from '../repositories/notifications.js';
import { retrying } from '../repositories/retry.js';

declare module 'fastify' {
  interface FastifyInstance {
    notifications: {
      /** One delivery pass: claims due mails and sends them (or, without SMTP, logs new ones once). */
      runOnce(): Promise<{ sent: number; failed: number }>;
    };
  }
}

const BATCH = 20;
/** A claimed row not finished in this time is taken over by another worker (its sender died). */
const LEASE_MS = 120_000;
/**
 * SMTP waits, kept well inside the lease: nodemailer's defaults (2 min to
 * connect, 10 min of socket silence) would let a live send outlast it, and
 * another worker would send the mail again.
 */
const SMTP_TIMEOUTS = { connectionTimeout: 15_000, greetingTimeout: 15_000, socketTimeout: 30_000 };
const BACKLOG_LOG_EVERY_MS = 60_000;

/** Retry delay after the n-th failed attempt: 10 s, 20 s, 40 s, ... up to 1 h. */
export const retryDelay = (attempts: number): number => Math.min(10_000 * 2 ** Math.max(attempts - 1, 0), 3_600_000);

/**
 * The delivery worker. Rows are claimed one by one with a compare-and-set, so
 * with several replicas each mail is sent by one of them. Without SMTP_URL
 * the outbox only fills, and each new row is logged once (no body, no secret).
 */
export default fp(
  async (app) => {
    const { config } = app;
    const worker = randomUUID();
    const brand = config.NOTIFY_BRAND ?? config.TOTP_ISSUER;
    const transport: Transporter | undefined = config.SMTP_URL ? nodemailer.createTransport({ url: config.SMTP_URL, ...SMTP_TIMEOUTS }) : undefined;
    let lastBacklogLog = 0;

    async function deliver(row: NotificationRow): Promise<boolean> {
      const now = app.clock.now();
      const outbox = app.repos.notifications;
      if (!(await outbox.claim(row, worker, now, LEASE_MS))) return false;
      const attempts = row.attempts + 1;
      if (attempts > config.NOTIFY_MAX_ATTEMPTS) {
        // Taken over from senders that died (or hung) on every attempt: it may have gone out already.
        await outbox.markFailed(row.id, worker, attempts - 1, 'every attempt ended without an answer', undefined);
        app.log.warn({ notification: row.id, kind: row.kind, attempts: attempts - 1 }, 'mail delivery failed for good');
        return false;
      }
      try {
        const secret = row.secret_enc ? (JSON.parse(app.keyring.current().decrypt(row.secret_enc, secretBinding(row.id))) as Record<string, string>) : {};
        const mail = renderMail(row.kind, { ...(JSON.parse(row.data) as Record<string, unknown>), ...secret, brand });
        await transport?.sendMail({ from: config.MAIL_FROM, to: row.recipient, subject: mail.subject, text: mail.text, html: mail.html });
      } catch (err) {
        const retryAt = attempts >= config.NOTIFY_MAX_ATTEMPTS ? undefined : app.clock.now() + retryDelay(attempts);
        await outbox.markFailed(row.id, worker, attempts, (err as Error).message, retryAt);
        app.log.warn(
          { notification: row.id, kind: row.kind, attempts, err: (err as Error).message },
          retryAt ? 'mail delivery failed; will retry' : 'mail delivery failed for good',
        );
        throw err;
      }
      // Sent: from here on nothing may schedule it again.
      if (!(await retrying(app.db.retry, () => outbox.markSent(row.id, worker, app.clock.now())))) {
        app.log.warn({ notification: row.id, kind: row.kind }, 'mail sent after its lease was taken over; another worker may send it too');
      }
      return true;
    }

    async function runOnce(): Promise<{ sent: number; failed: number }> {
      const now = app.clock.now();
      let sent = 0;
      let failed = 0;
      if (!transport) {
        for (const row of await app.repos.notifications.claimUnlogged(now, BATCH)) {
          app.log.info(
            { notification: row.id, kind: row.kind, realm: row.realm, principal_id: row.principal_id, recipient: row.recipient },
            'notification queued (no SMTP_URL)',
          );
        }
      } else {
        for (const row of await app.repos.notifications.due(now, BATCH)) {
          try {
            if (await deliver(row)) sent++;
          } catch {
            failed++;
          }
        }
      }
      if (now - lastBacklogLog >= BACKLOG_LOG_EVERY_MS) {
        const backlog = await app.repos.notifications.backlog();
        if (backlog > 0) app.log.info({ backlog }, 'notification outbox backlog');
        lastBacklogLog = now;
      }
      return { sent, failed };
    }

    app.decorate('notifications', { runOnce });

    if (config.NOTIFY_POLL_INTERVAL > 0) {
      let running: Promise<unknown> | undefined;
      const timer = setInterval(() => {
        if (running) return;
        running = runOnce()
          .catch((err: unknown) => app.log.error({ err }, 'notification worker pass failed'))
          .finally(() => {
            running = undefined;
          });
      }, config.NOTIFY_POLL_INTERVAL);
      timer.unref();
      app.addHook('onClose', async () => {
        clearInterval(timer);
        await running;
        transport?.close();
      });
    }
  },
  { name: 'notifications', dependencies: ['config', 'database', 'keyring'] },
);
