import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeEachDatabase } from '../helpers/app.js';
import { call, loginRoot, rest, rpc } from '../helpers/rpc.js';

describeEachDatabase('Bearer sessions', (get) => {
  test('a login token authenticates on both transports', async () => {
    const { app } = get();
    const token = await loginRoot(app);
    const viaRest = await call(app, 'Session/ping', {}, token);
    assert.equal(viaRest.realm, 'admin');
    assert.equal(viaRest.restricted, false);
    assert.deepEqual(viaRest.amr, ['pwd']);
    const viaRpc = await rpc(app, 'Session/ping', {}, token);
    assert.equal(viaRpc.result?.session_id, viaRest.session_id);
  });

  test('missing, malformed and forged tokens are refused', async () => {
    const { app } = get();
    const none = await rest(app, 'Session/ping');
    assert.equal(none.status, 401);
    assert.equal(none.body.faultcode, 'Client.Session.check_auth.failed_to_process_access_token');
    const garbage = await rest(app, 'Session/ping', {}, 'not-a-jwt');
    assert.equal(garbage.status, 401);
    assert.equal(garbage.body.faultcode, 'Client.Session.check_auth.failed_to_process_access_token');
    const token = await loginRoot(app);
    const [h, p] = token.split('.');
    const forged = await rest(app, 'Session/ping', {}, `${h}.${p}.AAAA`);
    assert.equal(forged.body.faultcode, 'Client.Session.check_auth.failed_to_process_access_token');
    const basic = await app.inject({ method: 'POST', url: '/rest/Session/ping', headers: { authorization: 'Basic abc' } });
    assert.equal(basic.statusCode, 401);
  });

  test('logout ends the session at once', async () => {
    const { app } = get();
    const token = await loginRoot(app);
    const out = await call(app, 'Session/logout', {}, token);
    assert.deepEqual(out, { success: 1, sessions_ended: 1 });
    const after = await rest(app, 'Session/ping', {}, token);
    assert.equal(after.status, 401);
    assert.equal(after.body.faultcode, 'Server.Session.check_auth.auth_failed');
  });

  test('logout all ends every session of the principal', async () => {
    const { app } = get();
    const a = await loginRoot(app);
    const b = await loginRoot(app);
    const out = await call<{ sessions_ended: number }>(app, 'Session/logout', { all: true }, a);
    assert.ok(out.sessions_ended >= 2);
    assert.equal((await rest(app, 'Session/ping', {}, b)).status, 401);
  });

  test('access tokens expire by the service clock', async () => {
    const { app, clock, config } = get();
    const token = await loginRoot(app);
    clock.advance(config.ACCESS_TOKEN_TTL + 1000);
    const answer = await rest(app, 'Session/ping', {}, token);
    assert.equal(answer.status, 401);
    assert.equal(answer.body.faultcode, 'Client.Session.check_auth.failed_to_process_access_token');
  });
});
