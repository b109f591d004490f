/**
 * `npm run portal`: the example portal and the service it calls, on this
 * machine, in one command. Builds the portal, starts a mail catcher (mails,
 * the reset link among them, are printed here), the service on SQLite
 * (its own database under data/portal-demo/) with CORS_ORIGINS naming the
 * portal, and the portal's static server on another port (another origin,
 * as in production). It creates a demo account whose customer class
 * requires 2FA, so the first sign-in enrolls an authenticator app.
 *
 * Settings (environment): PORT (service, 3000), PORTAL_PORT (5173),
 * PORTAL_REALM (account); any other service setting is passed through.
 */
import type { FastifyInstance } from 'fastify';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { buildPortal } from './build.js';
import { startPortal } from './server.js';

const DEMO = { login: 'demo', password: 'Welcome1', email: 'demo@example.test', customer: 'demo-customer', class: 'Portal demo (2FA required)' };
const ROOT_PASSWORD = process.env.BOOTSTRAP_ADMIN_PASSWORD || 'Demo-root-pass-1';
const realm = process.env.PORTAL_REALM || 'account';

/** A mail catcher: what the service sends is printed on this console instead of delivered. */
async function mailCatcher(): Promise<{ url: string; close(): Promise<void> }> {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, done) {
      simpleParser(stream)
        .then((mail) => {
          console.log(`\n----- mail to ${mail.to ? [mail.to].flat().map((a) => a.text).join(', ') : '?'}: ${mail.subject ?? ''}\n${(mail.text ?? '').trim()}\n-----\n`);
          done();
        })
        .catch(done);
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.server.address() as { port: number };
  return { url: `smtp://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

async function call(app: FastifyInstance, method: string, params: object, token?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await app.inject({ method: 'POST', url: `/rest/${method}`, headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, payload: params });
  return { status: res.statusCode, body: res.json() as Record<string, unknown> };
}

/** The demo account (once): a class that requires 2FA, a customer in it, an account whose first password must change. */
async function seedDemo(app: FastifyInstance): Promise<boolean> {
  const login = await call(app, 'Session/login', { login: app.config.BOOTSTRAP_ADMIN_LOGIN, password: ROOT_PASSWORD, realm: 'admin' });
  const token = login.body.access_token as string | undefined;
  if (login.body.status !== 'authenticated' || !token) return false;
  try {
    if ((await call(app, 'Account/get_account_info', { login: DEMO.login }, token)).status === 200) return true;
    const cls = await call(app, 'CustomerClass/add_customer_class', { name: DEMO.class, two_factor_auth: true }, token);
    const customer = await call(app, 'Customer/add_customer', { login: DEMO.customer, i_customer_class: cls.body.i_customer_class, email: DEMO.email }, token);
    const account = await call(app, 'Account/add_account', { login: DEMO.login, i_customer: customer.body.i_customer, email: DEMO.email, password: DEMO.password }, token);
    return account.status === 200;
  } finally {
    await call(app, 'Session/logout', {}, token);
  }
}

await buildPortal();
const mail = await mailCatcher();
const apiPort = Number(process.env.PORT || 3000);
const apiBaseUrl = `http://127.0.0.1:${apiPort}`;
const portal = await startPortal({ apiBaseUrl, realm, brand: 'Example self-care portal', port: Number(process.env.PORTAL_PORT || 5173) });

const config = loadConfig({
  DATA_DIR: './data/portal-demo',
  DATABASE_URL: 'sqlite:./data/portal-demo/billing-auth.sqlite',
  BOOTSTRAP_ADMIN_PASSWORD: ROOT_PASSWORD,
  SMTP_URL: mail.url,
  NOTIFY_BRAND: 'Example self-care portal',
  TOTP_ISSUER: 'Example portal',
  LOG_LEVEL: 'warn',
  ...process.env,
  PORT: String(apiPort),
  HOST: '127.0.0.1',
  CORS_ORIGINS: portal.origin,
  PASSWORD_RESET_URL: `${portal.origin}/#/reset/{{token}}`,
});
const app = await buildApp({ config });
await app.listen({ port: config.PORT, host: config.HOST });
const seeded = realm === 'account' && (await seedDemo(app));

console.log(`
The example portal:  ${portal.origin}/
The service:         ${apiBaseUrl}  (SQLite: ${config.DATABASE_URL})
${
  seeded
    ? `Sign in as "${DEMO.login}" with password "${DEMO.password}". Its class requires two-factor authentication: scan the QR code
with Google Authenticator (or: oathtool --totp -b <the key shown>), then choose a new password.`
    : `Create a login in realm "${realm}" with the admin API (admin "${config.BOOTSTRAP_ADMIN_LOGIN}", see README), then sign in.`
}
Mails (the password reset link too) are printed here. Ctrl+C stops everything.
`);

let closing = false;
const shutdown = async () => {
  if (closing) return;
  closing = true;
  await app.close();
  await portal.close();
  await mail.close();
  process.exit(0);
};
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
