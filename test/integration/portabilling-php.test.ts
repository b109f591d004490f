import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { promisify } from 'node:util';
import { packageRoot } from '../../src/paths.js';
import { describeEachDatabase, ROOT_PASSWORD } from '../helpers/app.js';
import { listening } from '../helpers/wire.js';

/**
 * The PortaBilling wire format as a PHP client speaks it with curl
 * (test/php/portabilling-curl.php). Runs where php-cli and php-curl are
 * installed (.ci/run installs them); skipped elsewhere.
 */
const run = promisify(execFile);
const php = ['/usr/bin/php', '/usr/local/bin/php'].find((p) => existsSync(p));
const hasCurl = async (): Promise<boolean> => {
  if (!php) return false;
  const { stdout } = await run(php, ['-r', 'echo function_exists("curl_init") ? "yes" : "no";']);
  return stdout === 'yes';
};

type Answer = Record<string, unknown>;

describeEachDatabase('a PHP client with curl on the PortaBilling transport', (get) => {
  let steps: Map<string, Answer>;
  let skip: string | undefined;
  let iAccount: number;
  before(async () => {
    if (!(await hasCurl())) {
      // CI installs them (.ci/run): there a missing PHP is a failure, not a reason to skip.
      if (process.env.CI) throw new Error('php-cli with php-curl is not installed; .ci/run installs them');
      skip = 'php-cli with php-curl is not installed';
      return;
    }
    const w = await listening(get().app);
    const root = String((await w.rest('Session/login', { login: 'root', password: ROOT_PASSWORD, realm: 'admin' })).body.access_token);
    const customer = await w.rest('Customer/add_customer', { login: 'co' }, root);
    iAccount = Number(
      (await w.rest('Account/add_account', { login: 'bob', password: 'Bob-pass1', i_customer: customer.body.i_customer }, root)).body.i_account,
    );
    const first = await w.rest('Session/login', { login: 'bob', password: 'Bob-pass1', realm: 'account' });
    await w.rest('Session/change_password', { old_password: 'Bob-pass1', new_password: 'Bob-pass2' }, String(first.body.access_token));
    const { stdout } = await run(php as string, [join(packageRoot, 'test/php/portabilling-curl.php'), `${w.base}/portabilling`], {
      env: { ...process.env, ROOT_PASSWORD, ACCOUNT_LOGIN: 'bob', ACCOUNT_PASSWORD: 'Bob-pass2' },
      timeout: 60_000,
    });
    steps = new Map(
      stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { step: string; result: Answer })
        .map((s) => [s.step, s.result]),
    );
  });
  const step = (name: string): Answer => {
    const s = steps.get(name);
    assert.ok(s, `step ${name} ran`);
    return s;
  };

  test('legacy form envelope: login, calls with auth_info session_id, ping, logout, relogin on auth_failed', async (t) => {
    if (skip) return t.skip(skip);
    assert.deepEqual(step('form login'), { ok: true, status: 'authenticated' });
    for (const name of ['form call with auth_info', 'form call without params']) {
      assert.equal(((step(name).body as Answer).account_info as Answer).i_account, iAccount, name);
    }
    assert.equal((step('ping by session_id').body as Answer).user_id, iAccount);
    assert.equal((step('logout by session_id').body as Answer).success, 1);
    const relogin = step('relogin and retry');
    assert.equal(relogin.relogged, true);
    assert.equal((((relogin.call as Answer).body as Answer).account_info as Answer).login, 'bob');
    assert.deepEqual(step('wrong password'), { ok: false, faultcode: 'Server.Session.auth_failed' });
  });

  test('JSON envelope: Bearer token with its login claim and a life capped by the session, empty params as [], ping and logout by access_token', async (t) => {
    if (skip) return t.skip(skip);
    assert.deepEqual(step('json login'), { ok: true, login: 'root', lifetime: 12 * 3600 });
    assert.deepEqual(step('json list with empty params'), { ok: true, count: 1 });
    assert.equal((step('json ping by access_token').body as Answer).user_id, 1);
    assert.equal((step('json logout by access_token').body as Answer).success, 1);
    assert.deepEqual(step('json call after logout'), { ok: false, http: 500, faultcode: 'Server.Session.check_auth.auth_failed' });
  });
});
