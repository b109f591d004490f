import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { promisify } from 'node:util';
import { packageRoot } from '../../src/paths.js';
import { describeEachDatabase, ROOT_PASSWORD, type TestApp } from '../helpers/app.js';
import { listening, type Wire } from '../helpers/wire.js';

/**
 * An unmodified public PortaBilling client library, porta/billing with its
 * Guzzle bindings (PHP), against a real port. The library is not vendored
 * here: PORTA_BILLING_SRC and PORTA_BILLING_GUZZLE_SRC name checkouts of it;
 * php-cli, php-curl, php-guzzlehttp-guzzle and php-psr-simple-cache come from
 * Debian. The library cannot be fetched on CI's machines, so this file is
 * not in `npm test`: run it with `npm run test:portabilling-client` where
 * the checkouts are (test/php/portabilling-curl.php, in `npm test`, covers
 * the same wire format with curl alone). Without them it fails, saying why.
 */
const run = promisify(execFile);
const php = ['/usr/bin/php', '/usr/local/bin/php'].find((p) => existsSync(p));
const src = process.env.PORTA_BILLING_SRC;
const guzzleSrc = process.env.PORTA_BILLING_GUZZLE_SRC;
const missing = !php
  ? 'php is not installed'
  : !src || !existsSync(join(src, 'Porta/Billing/Billing.php')) || !guzzleSrc || !existsSync(join(guzzleSrc, 'src/ConfigGuzzle.php'))
    ? 'PORTA_BILLING_SRC / PORTA_BILLING_GUZZLE_SRC do not name checkouts of porta/billing and porta/billing-guzzle'
    : !existsSync('/usr/share/php/GuzzleHttp/autoload.php')
      ? 'php-guzzlehttp-guzzle is not installed'
      : undefined;

if (missing) throw new Error(`cannot run the porta/billing client: ${missing}`);

type Step = { step: string; ok: boolean; result?: unknown; error?: string; message?: string };

async function fixtures(w: Wire): Promise<string[]> {
  const root = String((await w.rest('Session/login', { login: 'root', password: ROOT_PASSWORD, realm: 'admin' })).body.access_token);
  const logins: string[] = [];
  let customer = 0;
  for (let i = 0; i < 6; i++) {
    const added = await w.rest('Customer/add_customer', { login: `co-${i}` }, root);
    customer ||= Number(added.body.i_customer);
    logins.push(`co-${i}`);
  }
  await w.rest('Account/add_account', { login: 'alice', password: 'Alice-pass1', i_customer: customer }, root);
  const first = await w.rest('Session/login', { login: 'alice', password: 'Alice-pass1', realm: 'account' });
  await w.rest('Session/change_password', { old_password: 'Alice-pass1', new_password: 'Alice-pass2' }, String(first.body.access_token));
  return logins;
}

describeEachDatabase(
  'an unmodified PortaBilling client library (porta/billing, PHP)',
  (get) => {
    let t: TestApp;
    let w: Wire;
    let steps: Map<string, Step>;
    let logins: string[];
    before(async () => {
      if (missing) return;
      t = get();
      w = await listening(t.app);
      logins = await fixtures(w);
      const { stdout } = await run(
        php as string,
        [join(packageRoot, 'test/php/porta-billing-client.php'), new URL(w.base).host, String(w.realmPorts.account)],
        {
          env: { ...process.env, ROOT_PASSWORD, ACCOUNT_PASSWORD: 'Alice-pass2', PORTA_BILLING_SRC: src, PORTA_BILLING_GUZZLE_SRC: guzzleSrc },
          timeout: 60_000,
        },
      );
      steps = new Map(
        stdout
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line) as Step)
          .map((s) => [s.step, s]),
      );
    });
    const ok = (name: string): unknown => {
      const s = steps.get(name);
      assert.ok(s, `step ${name} ran`);
      assert.equal(s.ok, true, `${name}: ${s.error ?? ''} ${s.message ?? ''}`);
      return s.result;
    };

    test('logs in to the admin realm and shows the login from the token', () => {
      assert.deepEqual(ok('admin login'), { present: true, username: 'root' });
      assert.deepEqual(ok('admin ping'), { present: true });
    });

    test('lists and reads customers, also several in parallel', () => {
      assert.deepEqual(ok('list customers'), { count: logins.length });
      assert.equal(ok('read a customer'), logins[0]);
      const parallel = ok('read customers in parallel') as unknown[];
      assert.equal(parallel.length, logins.length);
      assert.ok(
        parallel.every((r) => typeof r === 'number'),
        JSON.stringify(parallel),
      );
    });

    test('refreshes, keeping its session_id', () => {
      assert.deepEqual(ok('refresh'), { changed: true, session_id_kept: true, username: 'root', customers: logins.length });
    });

    test('logs out, and the token is dead', async () => {
      const out = ok('admin logout') as { present: boolean; token: string };
      assert.equal(out.present, false);
      const ping = await w.json('/portabilling/admin/rest/Session/ping', { params: { access_token: out.token } });
      assert.deepEqual(ping.body, { user_id: 0 });
    });

    test('sees a wrong password as a failed login', () => {
      const s = steps.get('wrong password');
      assert.equal(s?.ok, false);
      assert.equal(s?.error, 'Porta\\Billing\\Exceptions\\PortaAuthException');
    });

    test('logs in to the account realm on its own port, reads the account, logs in again after its session ended, logs out', () => {
      assert.deepEqual(ok('account login and own record'), { username: 'alice', login: 'alice' });
      assert.equal(ok('relogin after the session ended'), 'alice');
      assert.deepEqual(ok('account logout'), { present: false });
    });
  },
  { PORTABILLING_PORTS: 'account:0' },
);
