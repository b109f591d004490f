import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Mustache from 'mustache';
import { packageRoot } from '../paths.js';

/** Every notification the service sends; one `.txt` and one `.html` template each in templates/email/. */
export const NOTIFICATION_KINDS = [
  'two_factor_activated',
  'otp_failure',
  'two_factor_reset',
  'two_factor_disabled',
  'password_changed',
  'password_reset',
  'account_locked',
  'recovery_codes_generated',
] as const;

export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

export const templatesDir = join(packageRoot, 'templates', 'email');

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

/**
 * Renders a mail from its templates (read at send time, so an edited template
 * applies to mails still in the outbox). The plain-text part starts with a
 * `Subject:` line. HTML values are escaped; text values are not.
 */
export function renderMail(kind: string, view: Record<string, unknown>): RenderedMail {
  const textTemplate = readFileSync(join(templatesDir, `${kind}.txt`), 'utf8');
  const htmlTemplate = readFileSync(join(templatesDir, `${kind}.html`), 'utf8');
  const rendered = Mustache.render(textTemplate, view, {}, { escape: (s: string) => s });
  const match = /^Subject: (.*)\r?\n\r?\n/.exec(rendered);
  if (!match) throw new Error(`templates/email/${kind}.txt must start with "Subject: ..." and a blank line`);
  return {
    subject: (match[1] ?? '').trim(),
    text: rendered.slice(match[0].length),
    html: Mustache.render(htmlTemplate, view),
  };
}
