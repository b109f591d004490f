import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeEachDatabase, ROOT_PASSWORD } from '../helpers/app.js';
import { loginRoot, rest, rpc, rpcRaw } from '../helpers/rpc.js';

describeEachDatabase('JSON-RPC 2.0 transport', (get) => {
  test('a single call answers with result and the same id', async () => {
    const res = await rpcRaw(get().app, {
      jsonrpc: '2.0',
      id: 'abc',
      method: 'Session/login',
      params: { login: 'root', password: ROOT_PASSWORD, realm: 'admin' },
    });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.jsonrpc, '2.0');
    assert.equal(body.id, 'abc');
    assert.equal(body.result.status, 'authenticated');
    assert.equal(body.error, undefined);
  });

  test('id null is a call (not a notification) and is echoed', async () => {
    const res = await rpcRaw(get().app, { jsonrpc: '2.0', id: null, method: 'rpc.discover' });
    assert.equal(res.json().id, null);
    assert.equal(res.json().result.openrpc, '1.3.2');
  });

  test('-32700 parse error for a body that is not JSON', async () => {
    const res = await rpcRaw(get().app, '{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]');
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json().id, null);
    assert.equal(res.json().error.code, -32700);
    assert.equal(res.json().error.data.faultcode, 'Client.Request.parse_error');
  });

  test('-32600 invalid request: wrong version, non-string method, bad id, scalar params, non-object', async () => {
    const cases: unknown[] = [
      { jsonrpc: '1.0', id: 1, method: 'Session/ping' },
      { jsonrpc: '2.0', id: 1, method: 1 },
      { jsonrpc: '2.0', id: { a: 1 }, method: 'Session/ping' },
      { jsonrpc: '2.0', id: 1, method: 'Session/ping', params: 'bar' },
      1,
      '"foo"',
    ];
    for (const payload of cases) {
      const res = await rpcRaw(get().app, payload as object);
      assert.equal(res.json().error.code, -32600, JSON.stringify(payload));
    }
    // The id is echoed when it is valid, null otherwise.
    assert.equal((await rpcRaw(get().app, { jsonrpc: '1.0', id: 7, method: 'x' })).json().id, 7);
    assert.equal((await rpcRaw(get().app, { jsonrpc: '2.0', id: { a: 1 }, method: 'x' })).json().id, null);
  });

  test('an empty batch is one Invalid Request answer', async () => {
    const res = await rpcRaw(get().app, '[]');
    assert.equal(res.json().error.code, -32600);
    assert.equal(res.json().id, null);
  });

  test('a batch of invalid entries answers each one', async () => {
    const res = await rpcRaw(get().app, '[1,2,3]');
    const body = res.json();
    assert.equal(body.length, 3);
    for (const item of body) assert.equal(item.error.code, -32600);
  });

  test('a mixed batch answers in one array, skipping notifications', async () => {
    const res = await rpcRaw(get().app, [
      { jsonrpc: '2.0', id: 1, method: 'rpc.discover' },
      { jsonrpc: '2.0', method: 'Session/logout' },
      { jsonrpc: '2.0', id: 2, method: 'No/such_method' },
      { foo: 'boo' },
      { jsonrpc: '2.0', id: 3, method: 'Session/login', params: { login: 'root' } },
    ]);
    assert.equal(res.statusCode, 200);
    const body = res.json() as Array<{ id: unknown; result?: unknown; error?: { code: number } }>;
    assert.equal(body.length, 4);
    assert.ok(body.find((r) => r.id === 1)?.result);
    assert.equal(body.find((r) => r.id === 2)?.error?.code, -32601);
    assert.equal(body.find((r) => r.id === null)?.error?.code, -32600);
    assert.equal(body.find((r) => r.id === 3)?.error?.code, -32602);
  });

  test('a notification gets no answer (HTTP 204), even when it fails', async () => {
    const ok = await rpcRaw(get().app, { jsonrpc: '2.0', method: 'rpc.discover' });
    assert.equal(ok.statusCode, 204);
    assert.equal(ok.body, '');
    const failing = await rpcRaw(get().app, { jsonrpc: '2.0', method: 'No/such_method' });
    assert.equal(failing.statusCode, 204);
  });

  test('a batch of only notifications answers HTTP 204', async () => {
    const res = await rpcRaw(get().app, [
      { jsonrpc: '2.0', method: 'rpc.discover' },
      { jsonrpc: '2.0', method: 'Session/ping' },
    ]);
    assert.equal(res.statusCode, 204);
    assert.equal(res.body, '');
  });

  test('-32601 for an unknown method', async () => {
    const body = await rpc(get().app, 'Session/no_such_thing');
    assert.equal(body.error?.code, -32601);
    assert.equal(body.error?.data.faultcode, 'Client.Request.method_not_found');
  });

  test('-32602 invalid params carries the ajv errors; unknown params are rejected', async () => {
    const missing = await rpc(get().app, 'Session/login', { login: 'root' });
    assert.equal(missing.error?.code, -32602);
    const errors = missing.error?.data.errors as Array<{ keyword: string }>;
    assert.ok(errors.some((e) => e.keyword === 'required'));

    const unknown = await rpc(get().app, 'Session/login', { login: 'root', password: 'x', realm: 'admin', extra: 1 });
    assert.equal(unknown.error?.code, -32602);
    assert.ok((unknown.error?.data.errors as Array<{ keyword: string }>).some((e) => e.keyword === 'additionalProperties'));

    const byPosition = await rpcRaw(get().app, { jsonrpc: '2.0', id: 1, method: 'Session/login', params: ['root', 'x', 'admin'] });
    assert.equal(byPosition.json().error.code, -32602);

    const badEnum = await rpc(get().app, 'Session/login', { login: 'root', password: 'x', realm: 'galaxy' });
    assert.equal(badEnum.error?.code, -32602);
  });

  test('-32603 internal error hides the cause and logs an error id', async () => {
    const { app, logs } = get();
    const original = app.repos.sessions.findManyWithPrincipal;
    app.repos.sessions.findManyWithPrincipal = async () => {
      throw new Error('SELECT secret_column FROM boom');
    };
    try {
      const token = await loginRoot(app);
      const body = await rpc(app, 'Session/ping', {}, token);
      assert.equal(body.error?.code, -32603);
      const errorId = body.error?.data.error_id as string;
      assert.match(errorId, /^[0-9a-f-]{36}$/);
      assert.doesNotMatch(JSON.stringify(body), /SELECT|boom|stack/);
      assert.ok(
        logs.some((l) => l.includes(errorId) && l.includes('boom')),
        'the log line carries the error id and the cause',
      );

      const restAnswer = await rest(app, 'Session/ping', {}, token);
      assert.equal(restAnswer.status, 500);
      assert.equal(restAnswer.body.faultcode, 'Server.Internal.error');
      assert.doesNotMatch(JSON.stringify(restAnswer.body), /SELECT|boom/);
    } finally {
      app.repos.sessions.findManyWithPrincipal = original;
    }
  });

  test('application faults: code, message, data.faultcode', async () => {
    const body = await rpc(get().app, 'Session/login', { login: 'root', password: 'wrong-1', realm: 'admin' });
    assert.equal(body.error?.code, -32001);
    assert.equal(body.error?.data.faultcode, 'Server.Session.auth_failed');
    assert.equal(typeof body.error?.message, 'string');
  });

  test('a body over BODY_LIMIT is refused on both transports', async () => {
    const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'Session/login', params: { login: 'x'.repeat(70_000), password: 'x', realm: 'admin' } });
    const res = await rpcRaw(get().app, big);
    assert.equal(res.statusCode, 413);
    assert.equal(res.json().error.code, -32600);
    const restRes = await get().app.inject({ method: 'POST', url: '/rest/Session/login', payload: big, headers: { 'content-type': 'application/json' } });
    assert.equal(restRes.statusCode, 413);
    assert.equal(restRes.json().faultcode, 'Client.Request.too_large');
  });
});

describeEachDatabase('REST transport', (get) => {
  test('result JSON with HTTP 200', async () => {
    const answer = await rest(get().app, 'Session/login', { login: 'root', password: ROOT_PASSWORD, realm: 'admin' });
    assert.equal(answer.status, 200);
    assert.equal(answer.body.status, 'authenticated');
  });

  test('public methods ignore an Authorization header that is not theirs (a proxy’s Basic credentials)', async () => {
    const answer = await rest(get().app, 'Session/login', { login: 'root', password: ROOT_PASSWORD, realm: 'admin' }, undefined, {
      authorization: 'Basic dXNlcjpwYXNz',
    });
    assert.equal(answer.status, 200);
    assert.equal(answer.body.status, 'authenticated');
  });

  test('a public method that takes an optional session answers an expired or malformed token anonymously', async () => {
    const { app } = get();
    const anonymous = await rest(app, 'Session/get_password_policy', { realm: 'admin' });
    for (const authorization of ['Bearer not-a-token', 'Basic dXNlcjpwYXNz', 'Bearer']) {
      const answer = await rest(app, 'Session/get_password_policy', { realm: 'admin' }, undefined, { authorization });
      assert.equal(answer.status, 200, authorization);
      assert.deepEqual(answer.body, anonymous.body);
    }
    const named = await rest(app, 'Session/get_password_policy', { realm: 'admin', login: 'root' }, undefined, { authorization: 'Bearer not-a-token' });
    assert.equal(named.body.faultcode, 'Server.AccessControl.forbidden', 'and as anonymous it cannot name a login');
  });

  test('faults carry faultcode and faultstring with a fitting status', async () => {
    const wrong = await rest(get().app, 'Session/login', { login: 'root', password: 'nope-123', realm: 'admin' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.faultcode, 'Server.Session.auth_failed');
    assert.equal(typeof wrong.body.faultstring, 'string');

    const invalid = await rest(get().app, 'Session/login', { login: 'root' });
    assert.equal(invalid.status, 400);
    assert.equal(invalid.body.faultcode, 'Client.Request.invalid_params');
    assert.ok(Array.isArray(invalid.body.errors));

    const unknown = await rest(get().app, 'Nope/nothing', {});
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.faultcode, 'Client.Request.method_not_found');

    const notJson = await get().app.inject({ method: 'POST', url: '/rest/Session/login', payload: '{nope', headers: { 'content-type': 'application/json' } });
    assert.equal(notJson.statusCode, 400);
    assert.equal(notJson.json().faultcode, 'Client.Request.parse_error');

    const array = await rest(get().app, 'Session/login', [1, 2]);
    assert.equal(array.status, 400);
    assert.equal(array.body.faultcode, 'Client.Request.invalid_params');
  });

  test('an empty body means no params', async () => {
    const res = await get().app.inject({ method: 'POST', url: '/rest/rpc.discover' });
    assert.equal(res.statusCode, 404, 'rpc.discover is JSON-RPC only');
    const ping = await get().app.inject({ method: 'POST', url: '/rest/Session/ping' });
    assert.equal(ping.statusCode, 401);
    assert.equal(ping.json().faultcode, 'Client.Session.check_auth.failed_to_process_access_token');
  });

  test('paths that name no method, and other HTTP methods than POST, answer method_not_found as a fault', async () => {
    for (const [method, url] of [
      ['GET', '/rest/Session/login'],
      ['PUT', '/rest/Session/login'],
      ['POST', '/rest/Nope'],
      ['POST', '/rest/a/b/c'],
      ['POST', '/rest'],
      ['GET', '/rest/'],
    ] as const) {
      const res = await get().app.inject({ method, url, payload: method === 'GET' ? undefined : {} });
      assert.equal(res.statusCode, 404, `${method} ${url}`);
      const body = res.json();
      assert.equal(body.faultcode, 'Client.Request.method_not_found', `${method} ${url}`);
      assert.match(body.faultstring, /POST \/rest\/<Service>\/<method>/);
    }
  });

  test('every response carries a request id, and a given one is kept', async () => {
    const res = await get().app.inject({ method: 'GET', url: '/health/live', headers: { 'x-request-id': 'trace-me-1' } });
    assert.equal(res.headers['x-request-id'], 'trace-me-1');
    const generated = await get().app.inject({ method: 'GET', url: '/health/live' });
    assert.match(String(generated.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  });
});
