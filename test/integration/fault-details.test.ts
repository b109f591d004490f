import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { FastifyInstance } from 'fastify';
import { parse } from 'yaml';
import { describeEachDatabase } from '../helpers/app.js';
import { call, loginRoot, rest, rpc, rpcRaw } from '../helpers/rpc.js';

/**
 * Typed clients rely on the documents: every fault a call really answers must
 * be what the served OpenAPI document says that operation answers for that
 * status, detail fields included (the fault schemas are closed, so an
 * undocumented detail field fails too), and over JSON-RPC what the OpenRPC
 * document's error says its `data` is.
 */
async function documents(app: FastifyInstance) {
  const openapi = parse((await app.inject({ method: 'GET', url: '/openapi.yaml' })).body) as Record<string, unknown>;
  const openrpc = (await app.inject({ method: 'GET', url: '/openrpc.json' })).json() as Record<string, unknown>;
  const ajv = new Ajv2020({ strict: false, validateSchema: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema({ ...openapi, $id: 'https://doc.test/openapi' });
  ajv.addSchema({ ...openrpc, $id: 'https://doc.test/openrpc' });
  const pointer = (...parts: string[]) => parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
  const check = (ref: string, value: unknown, what: string) => {
    const validate = ajv.compile({ $ref: ref });
    assert.ok(validate(value), `${what}: ${JSON.stringify(value)} is not as documented: ${JSON.stringify(validate.errors)}`);
  };
  return {
    /** A `/rest` (or `/rpc`) answer against the documented response of its path and status. */
    rest(path: string, status: number, body: unknown) {
      assert.ok(
        (openapi.paths as Record<string, { post: { responses: Record<string, unknown> } }>)[path]?.post.responses[String(status)],
        `${path} documents ${status}`,
      );
      check(
        `https://doc.test/openapi#/${pointer('paths', path, 'post', 'responses', String(status), 'content', 'application/json', 'schema')}`,
        body,
        `${path} ${status}`,
      );
    },
    /** A JSON-RPC error of a method against the OpenRPC error it lists for that fault code. */
    rpc(method: string, error: { code: number; data: { faultcode: string } }) {
      const doc = (openrpc.methods as Array<{ name: string; errors: Array<{ $ref: string }> }>).find((m) => m.name === method);
      const ref = `#/components/errors/${error.data.faultcode}`;
      assert.ok(
        doc?.errors.some((e) => e.$ref === ref),
        `${method} lists ${error.data.faultcode}`,
      );
      const declared = (openrpc.components as { errors: Record<string, { code: number; 'x-data-schema': { $ref: string } }> }).errors[error.data.faultcode];
      assert.equal(error.code, declared?.code);
      check(`https://doc.test/openrpc${declared?.['x-data-schema'].$ref ?? ''}`, error.data, `${method} ${error.data.faultcode}`);
    },
  };
}

describeEachDatabase('fault details are as the documents type them', (get) => {
  test('errors, violations, field, children, retry_after over /rest and /rpc; 413 and 415 of /rpc', async () => {
    const { app } = get();
    const docs = await documents(app);
    const root = await loginRoot(app);

    const invalid = await rest(app, 'Session/login', { login: 'x' });
    assert.equal(invalid.body.faultcode, 'Client.Request.invalid_params');
    assert.ok(Array.isArray(invalid.body.errors));
    docs.rest('/rest/Session/login', invalid.status, invalid.body);
    const invalidRpc = await rpc(app, 'Session/login', { login: 'x' });
    docs.rpc('Session/login', invalidRpc.error as never);

    const weak = await rest(app, 'User/add_user', { login: 'weak-admin', password: 'onlyletters', permissions: [] }, root);
    assert.equal(weak.body.faultcode, 'Server.Password.policy_violation');
    assert.ok((weak.body.violations as string[]).includes('must_include_digits'));
    docs.rest('/rest/User/add_user', weak.status, weak.body);

    const taken = await rest(app, 'User/add_user', { login: 'root', password: 'Admin-pass1', permissions: [] }, root);
    assert.equal(taken.body.faultcode, 'Server.Conflict.login_taken');
    assert.equal(taken.body.field, 'login');
    docs.rest('/rest/User/add_user', taken.status, taken.body);

    const missing = await rest(app, 'Account/add_account', { login: 'orphan', i_customer: 999_999 }, root);
    assert.equal(missing.body.faultcode, 'Server.NotFound');
    assert.equal(missing.body.field, 'i_customer');
    docs.rest('/rest/Account/add_account', missing.status, missing.body);

    const customer = await call<{ i_customer: number }>(app, 'Customer/add_customer', { login: 'details-co', password: 'Cust-pass1' }, root);
    await call(app, 'Account/add_account', { login: 'details-acc', i_customer: customer.i_customer }, root);
    const parent = await rest(app, 'Customer/delete_customer', { i_customer: customer.i_customer }, root);
    assert.equal(parent.body.faultcode, 'Server.Conflict.has_children');
    assert.deepEqual(parent.body.children, { account: 1 });
    docs.rest('/rest/Customer/delete_customer', parent.status, parent.body);

    const wrong = { login: 'details-co', password: 'Wrong-pass1', realm: 'customer' };
    for (let i = 0; i < get().config.LOCKOUT_THRESHOLD; i++) await rest(app, 'Session/login', wrong);
    const locked = await rest(app, 'Session/login', wrong);
    assert.equal(locked.body.faultcode, 'Server.Session.cannot_login_brute_force_activity');
    assert.equal(typeof locked.body.retry_after, 'number');
    docs.rest('/rest/Session/login', locked.status, locked.body);
    const lockedRpc = await rpc(app, 'Session/login', wrong);
    assert.equal(lockedRpc.error?.data.faultcode, 'Server.Session.cannot_login_brute_force_activity');
    docs.rpc('Session/login', lockedRpc.error as never);

    const tooLarge = await rpcRaw(app, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'Session/ping', params: { pad: 'x'.repeat(70_000) } }));
    assert.equal(tooLarge.statusCode, 413);
    docs.rest('/rpc', 413, tooLarge.json());
    const notJson = await app.inject({ method: 'POST', url: '/rpc', headers: { 'content-type': 'text/plain' }, payload: '{}' });
    assert.equal(notJson.statusCode, 415);
    docs.rest('/rpc', 415, notJson.json());
    // Faults answered as JSON-RPC errors with HTTP 200 are typed by the JsonRpcResponse schema.
    docs.rest('/rpc', 200, lockedRpc);
  });
});
