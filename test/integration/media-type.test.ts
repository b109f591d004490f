import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countRows } from '../../src/repositories/connection.js';
import { describeEachDatabase, ROOT_PASSWORD } from '../helpers/app.js';
import { rest } from '../helpers/rpc.js';

const wrongLogin = JSON.stringify({ login: 'root', password: 'Wrong-pass1', realm: 'admin' });
const rightLogin = JSON.stringify({ login: 'root', password: ROOT_PASSWORD, realm: 'admin' });
const rpcLogin = (params: string) => `{"jsonrpc":"2.0","id":1,"method":"Session/login","params":${params}}`;

/** Bodies any web page can make a visitor's browser send (a plain form post, or a no-cors fetch) and near misses. */
const refused: Array<[string, Record<string, string>, (json: string) => string]> = [
  // A form with enctype="text/plain" and one field named `{"login":...,"x":"` with value `"}` sends this body.
  ['text/plain', { 'content-type': 'text/plain' }, (json) => json],
  ['text/plain with charset', { 'content-type': 'text/plain;charset=UTF-8' }, (json) => json],
  ['urlencoded form', { 'content-type': 'application/x-www-form-urlencoded' }, (json) => `${json}=`],
  [
    'multipart form',
    { 'content-type': 'multipart/form-data; boundary=x' },
    (json) => `--x\r\nContent-Disposition: form-data; name="${json}"\r\n\r\n\r\n--x--\r\n`,
  ],
  ['no content type', {}, (json) => json],
  ['text/json', { 'content-type': 'text/json' }, (json) => json],
  ['application/jsonp', { 'content-type': 'application/jsonp' }, (json) => json],
  ['JSON declared in another charset', { 'content-type': 'application/json; charset=iso-8859-1' }, (json) => json],
  ['a content type that does not parse', { 'content-type': 'json' }, (json) => json],
];

describeEachDatabase('JSON bodies only (cross-site requests)', (get) => {
  const auditRows = () => countRows(get().app.db.knex('audit_log'));

  test('/rest answers any other body with 415 Client.Request.unsupported_media_type and does nothing', async () => {
    const { app, config } = get();
    const before = await auditRows();
    for (const [name, headers, body] of refused) {
      // More than a lockout's worth of wrong passwords each: none may count.
      for (let i = 0; i <= config.LOCKOUT_THRESHOLD; i++) {
        const res = await app.inject({ method: 'POST', url: '/rest/Session/login', headers, payload: body(wrongLogin) });
        assert.equal(res.statusCode, 415, name);
        assert.equal(res.json().faultcode, 'Client.Request.unsupported_media_type', name);
        assert.equal(typeof res.json().faultstring, 'string', name);
      }
    }
    assert.equal(await auditRows(), before, 'no audit row was written');
    assert.equal(await countRows(app.db.knex('login_guards')), 0, 'no failure was counted');
    assert.equal((await rest(app, 'Session/login', JSON.parse(rightLogin))).body.status, 'authenticated', 'root is not locked');
  });

  test('/rpc answers any other body with HTTP 415 and a JSON-RPC error object', async () => {
    const { app } = get();
    const before = await auditRows();
    for (const [name, headers, body] of refused) {
      const res = await app.inject({ method: 'POST', url: '/rpc', headers, payload: body(rpcLogin(wrongLogin)) });
      assert.equal(res.statusCode, 415, name);
      const answer = res.json();
      assert.equal(answer.jsonrpc, '2.0', name);
      assert.equal(answer.id, null, name);
      assert.equal(answer.error.code, -32600, name);
      assert.equal(answer.error.data.faultcode, 'Client.Request.unsupported_media_type', name);
    }
    assert.equal(await auditRows(), before, 'no audit row was written');
  });

  test('application/json in any case, with a UTF-8 charset, and +json types are accepted', async () => {
    const { app } = get();
    for (const contentType of [
      'application/json',
      'Application/JSON',
      'application/json; charset=utf-8',
      'application/json;charset="UTF-8"',
      'application/json; charset=utf8',
      'application/vnd.api+json',
    ]) {
      const restRes = await app.inject({ method: 'POST', url: '/rest/Session/login', headers: { 'content-type': contentType }, payload: rightLogin });
      assert.equal(restRes.statusCode, 200, contentType);
      assert.equal(restRes.json().status, 'authenticated', contentType);
      const rpcRes = await app.inject({ method: 'POST', url: '/rpc', headers: { 'content-type': contentType }, payload: rpcLogin(rightLogin) });
      assert.equal(rpcRes.json().result.status, 'authenticated', contentType);
    }
  });

  test('a POST with no body at all is a call without params; an empty JSON body too', async () => {
    const { app } = get();
    const bare = await app.inject({ method: 'POST', url: '/rest/Session/ping' });
    assert.equal(bare.statusCode, 401);
    assert.equal(bare.json().faultcode, 'Client.Session.check_auth.failed_to_process_access_token');
    const empty = await app.inject({ method: 'POST', url: '/rest/Session/ping', headers: { 'content-type': 'application/json' }, payload: '' });
    assert.equal(empty.json().faultcode, 'Client.Session.check_auth.failed_to_process_access_token');
    const emptyForm = await app.inject({
      method: 'POST',
      url: '/rest/Session/ping',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: '',
    });
    assert.equal(emptyForm.statusCode, 415, 'an empty form post is still a form post');
  });
});
