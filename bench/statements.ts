/**
 * Statements per call, for `npm run bench`: each case's calls are made one
 * at a time through the app in this process (`inject`, so nothing else runs
 * meanwhile and no two calls share a read), and the process's statement count
 * (src/repositories/statement-count.ts: knex's, BEGIN and COMMIT included,
 * the point reader's and the SQLite writer's) is divided by the calls. Calls
 * that arrive together on the real service share their session read, so
 * under load the figure is an upper bound. Its own small data is seeded here.
 */
import { randomBytes } from 'node:crypto';
import bcrypt from 'bcrypt';
import { buildApp } from '../src/app.js';
import { sealSecret } from '../src/auth/two-factor.js';
import { loadConfig } from '../src/config/load.js';
import { codeAt, generateSecret } from '../src/domain/totp/totp.js';
import { statementsSent } from '../src/repositories/statement-count.js';
import { accountRow, storeVerifyChallenge } from './seed-rows.js';

const CALLS = 20;

export interface StatementCount {
  case: string;
  statements_per_call: number;
}

export async function countStatements(env: Record<string, string>, password: string): Promise<StatementCount[]> {
  const app = await buildApp({ config: loadConfig({ ...env, NOTIFY_POLL_INTERVAL: '0' }), announce: () => undefined });
  try {
    const { repos } = app;
    const now = Date.now();
    const tag = `stmt-${now}-${randomBytes(3).toString('hex')}`;
    const hash = await bcrypt.hash(password, 4);
    const cls = await repos.entities.customer_class.insert({ name: tag, login_key: tag, two_factor_auth: false, created_at: now, updated_at: now });
    const customer = await repos.entities.customer.insert({
      login: tag,
      login_key: tag,
      customer_type: 'retail',
      i_customer_class: cls,
      two_factor_auth: 'inherit',
      created_at: now,
      updated_at: now,
    });
    const accounts: Array<{ id: number; secret: string }> = [];
    for (let i = 0; i < CALLS; i++) {
      const login = `${tag}-${i}`;
      const id = await repos.entities.account.insert(accountRow(login, customer, hash, now, 'enabled'));
      const secret = generateSecret();
      await repos.twoFactorKeys.insert({
        realm: 'account',
        principal_id: id,
        secret_enc: sealSecret(app, 'account', id, secret),
        status: 'active',
        created_at: now,
        activated_at: now,
      });
      accounts.push({ id, secret });
    }
    const sessions = [];
    for (const a of accounts) sessions.push({ id: a.id, session: await app.sessions.create({ realm: 'account', principalId: a.id, amr: ['pwd'] }) });
    const post = (url: string, body: object, token?: string) =>
      app.inject({ method: 'POST', url, payload: body, headers: token ? { authorization: `Bearer ${token}` } : {} });
    const perCall = async (name: string, calls: Array<() => Promise<{ statusCode: number }>>): Promise<StatementCount> => {
      const before = statementsSent();
      for (const c of calls) {
        const res = await c();
        if (res.statusCode !== 200) throw new Error(`${name}: answered ${res.statusCode}`);
      }
      return { case: name, statements_per_call: (statementsSent() - before) / calls.length };
    };
    const rows: StatementCount[] = [];
    const ping = sessions.map(({ session }) => () => post('/rest/Session/ping', {}, session.access_token));
    const info = sessions.map(({ id, session }) => () => post('/rest/Account/get_account_info', { i_account: id }, session.access_token));
    // First call of each session (read from the database), then again (from the cache when REDIS_URL is set).
    rows.push(await perCall('Account/get_account_info (first call of a session)', info));
    rows.push(await perCall('Account/get_account_info (again)', info));
    rows.push(await perCall('Session/ping (again)', ping));
    const refresh = sessions.map(({ session }) => () => post('/rest/Session/refresh_access_token', { refresh_token: session.refresh_token }));
    rows.push(await perCall('Session/refresh_access_token', refresh));
    const t = Date.now();
    const verify = [];
    for (const a of accounts) {
      const token = await storeVerifyChallenge(repos, a.id, t);
      verify.push(() => post('/rest/Session/verify_otp', { mfa_token: token, otp: codeAt(a.secret, Date.now()) }));
    }
    rows.push(await perCall('Session/verify_otp (valid code)', verify));
    return rows;
  } finally {
    await app.close();
  }
}
