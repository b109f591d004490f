import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildTestApp, ROOT_PASSWORD } from '../helpers/app.js';
import { runCli } from '../helpers/cli.js';
import { databaseTargets } from '../helpers/databases.js';
import { restVia } from '../helpers/portal.js';
import { call, loginRoot } from '../helpers/rpc.js';

for (const target of databaseTargets()) {
  test(`the CLI adds, lists and revokes portal clients, audited as the console [${target}]`, { timeout: 300_000 }, async () => {
    const t = await buildTestApp(target);
    try {
      const env = { DATABASE_URL: t.db.url, DATA_DIR: t.db.dataDir };
      const added = runCli(['portal-client', 'add', 'Kiosk portal'], env);
      assert.equal(added.status, 0, added.stderr);
      const id = /^portal_client_id: (pc_[0-9a-f]{16})$/m.exec(added.stdout)?.[1];
      const secret = /^secret: ([A-Za-z0-9_-]{43})$/m.exec(added.stdout)?.[1];
      assert.ok(id && secret, added.stdout);
      assert.ok(!added.stderr.includes(secret), 'the secret is not in the log');

      const listed = runCli(['portal-client', 'list'], env);
      assert.equal(listed.status, 0, listed.stderr);
      assert.match(listed.stdout, new RegExp(`^${id}\\t\\S+\\tlive\\tKiosk portal$`, 'm'));
      assert.ok(!listed.stdout.includes(secret));

      // The service accepts the credential the console made.
      const login = { login: 'root', password: ROOT_PASSWORD, realm: 'admin' };
      assert.equal((await restVia(t, 'Session/login', login, { portal: `${id}:${secret}`, endUserIp: '203.0.113.60' })).status, 200);

      const revoked = runCli(['portal-client', 'revoke', id], env);
      assert.equal(revoked.status, 0, revoked.stderr);
      const refused = await restVia(t, 'Session/login', login, { portal: `${id}:${secret}`, endUserIp: '203.0.113.60' });
      assert.equal(refused.body.faultcode, 'Server.Session.portal_client_auth_failed');

      // Each command is a process of its own (several seconds from the sources): the listing of revoked clients, and a second revoke refused.
      assert.match(runCli(['portal-client', 'list', '--all'], env).stdout, new RegExp(`^${id}\\t\\S+\\trevoked \\S+\\tKiosk portal$`, 'm'));
      const again = runCli(['portal-client', 'revoke', id], env);
      assert.equal(again.status, 1);
      assert.match(again.stderr, /no live portal client/);

      const root = await loginRoot(t.app);
      const events = await call<{ event_list: Array<Record<string, unknown>> }>(t.app, 'AuditLog/get_event_list', { limit: 10 }, root);
      const console_ = events.event_list.filter((e) => String(e.event).startsWith('portal_client.'));
      assert.deepEqual(
        console_.map((e) => [e.event, e.actor_realm, (e.details as { portal_client_id: string }).portal_client_id]),
        [
          ['portal_client.revoke', 'cli', id],
          ['portal_client.add', 'cli', id],
        ],
      );
    } finally {
      await t.close();
    }
  });
}
