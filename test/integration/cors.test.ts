import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { countRows } from '../../src/repositories/connection.js';
import { describeEachDatabase, ROOT_PASSWORD } from '../helpers/app.js';
import { listening } from '../helpers/wire.js';

const PORTAL = 'https://portal.example';
const DEV = 'http://localhost:5173';
const STRANGER = 'https://evil.example';

/** What a browser sends before a cross-origin POST with a JSON body and a token. */
const preflight = (app: FastifyInstance, url: string, origin: string, requestHeaders = 'authorization,content-type') =>
  app.inject({
    method: 'OPTIONS',
    url,
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': requestHeaders },
  });

const corsHeaders = (headers: Record<string, unknown>) => Object.keys(headers).filter((name) => name.startsWith('access-control-'));

const rootLogin = (app: FastifyInstance, origin: string) =>
  app.inject({
    method: 'POST',
    url: '/rest/Session/login',
    headers: { origin, 'content-type': 'application/json' },
    payload: { login: 'root', password: ROOT_PASSWORD, realm: 'admin' },
  });

const API_PATHS = ['/rpc', '/rest/Session/login', '/rest/Session/ping', '/portabilling/account/rest/Session/login'];

describeEachDatabase(
  'CORS for the origins of CORS_ORIGINS',
  (get) => {
    test('a preflight from a listed origin is answered 204 with what a browser client needs, and no credentials mode', async () => {
      const { app } = get();
      for (const url of API_PATHS) {
        for (const origin of [PORTAL, DEV]) {
          const res = await preflight(app, url, origin);
          assert.equal(res.statusCode, 204, `${url} ${origin}`);
          assert.equal(res.headers['access-control-allow-origin'], origin, url);
          assert.equal(res.headers['access-control-allow-methods'], 'POST', url);
          assert.equal(res.headers['access-control-allow-headers'], 'authorization, content-type, x-request-id', url);
          assert.equal(res.headers['access-control-expose-headers'], 'retry-after, x-request-id', url);
          assert.equal(res.headers['access-control-max-age'], '7200', url);
          assert.equal(res.headers['access-control-allow-credentials'], undefined, url);
          assert.match(String(res.headers.vary), /Origin/, url);
        }
      }
    });

    test('the portal client headers are not granted to a page: their secret belongs on a server', async () => {
      const res = await preflight(get().app, '/rest/Session/login', PORTAL, 'content-type,x-portal-client,x-end-user-ip');
      assert.equal(res.statusCode, 204);
      const granted = String(res.headers['access-control-allow-headers']).split(/,\s*/);
      assert.ok(!granted.includes('x-portal-client') && !granted.includes('x-end-user-ip'), granted.join(','));
    });

    test('a call from a listed origin carries Access-Control-Allow-Origin, on success and on faults', async () => {
      const { app } = get();
      const login = await rootLogin(app, PORTAL);
      assert.equal(login.statusCode, 200);
      assert.equal(login.json().status, 'authenticated');
      assert.equal(login.headers['access-control-allow-origin'], PORTAL);
      assert.equal(login.headers['access-control-expose-headers'], 'retry-after, x-request-id');
      assert.equal(login.headers['access-control-allow-credentials'], undefined);
      const ping = await app.inject({
        method: 'POST',
        url: '/rest/Session/ping',
        headers: { origin: DEV, 'content-type': 'application/json', authorization: `Bearer ${String(login.json().access_token)}` },
        payload: {},
      });
      assert.equal(ping.statusCode, 200);
      assert.equal(ping.headers['access-control-allow-origin'], DEV);
      const fault = await app.inject({
        method: 'POST',
        url: '/rest/Session/ping',
        headers: { origin: PORTAL, 'content-type': 'application/json' },
        payload: {},
      });
      assert.equal(fault.statusCode, 401);
      assert.equal(fault.headers['access-control-allow-origin'], PORTAL, 'a page can read why its call failed');
      const porta = await app.inject({
        method: 'POST',
        url: '/portabilling/admin/rest/Session/login',
        headers: { origin: PORTAL, 'content-type': 'application/json' },
        payload: { params: { login: 'root', password: ROOT_PASSWORD } },
      });
      assert.equal(porta.statusCode, 200);
      assert.equal(porta.headers['access-control-allow-origin'], PORTAL);
    });

    test('an unknown origin gets no CORS header: its preflight is the 404 it always was, and changes nothing', async () => {
      const { app } = get();
      const audit = await countRows(app.db.knex('audit_log'));
      for (const url of API_PATHS) {
        // Same host, other scheme or port: another origin (RFC 6454).
        for (const origin of [STRANGER, 'http://portal.example', 'https://portal.example:8443', 'null']) {
          const res = await preflight(app, url, origin);
          assert.notEqual(res.statusCode, 204, `${url} ${origin}`);
          assert.deepEqual(corsHeaders(res.headers), [], `${url} ${origin}`);
        }
      }
      assert.equal(await countRows(app.db.knex('audit_log')), audit);
      // Sent anyway (not by a browser, which stops at the preflight): answered, but no page may read it.
      const login = await rootLogin(app, STRANGER);
      assert.equal(login.statusCode, 200);
      assert.deepEqual(corsHeaders(login.headers), []);
    });

    test('other paths get no CORS header even from a listed origin', async () => {
      const { app } = get();
      for (const url of ['/health/live', '/openapi.yaml', '/openrpc.json', '/rpcx', '/restful']) {
        const res = await preflight(app, url, PORTAL);
        assert.notEqual(res.statusCode, 204, url);
        assert.deepEqual(corsHeaders(res.headers), [], url);
      }
      const live = await app.inject({ method: 'GET', url: '/health/live', headers: { origin: PORTAL } });
      assert.equal(live.statusCode, 200);
      assert.deepEqual(corsHeaders(live.headers), []);
    });

    test('a PORTABILLING_PORTS listener answers preflights from listed origins too', async () => {
      const w = await listening(get().app);
      const port = w.realmPorts.admin;
      assert.ok(port);
      const ask = (origin: string) =>
        fetch(`http://127.0.0.1:${port}/rest/Session/login`, {
          method: 'OPTIONS',
          headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
        });
      const granted = await ask(PORTAL);
      assert.equal(granted.status, 204);
      assert.equal(granted.headers.get('access-control-allow-origin'), PORTAL);
      const refused = await ask(STRANGER);
      assert.notEqual(refused.status, 204);
      assert.equal(refused.headers.get('access-control-allow-origin'), null);
      await refused.body?.cancel();
    });
  },
  { CORS_ORIGINS: `${PORTAL},${DEV}`, PORTABILLING_PORTS: 'admin:0' },
);

describeEachDatabase('CORS_ORIGINS empty (the default): no cross-origin access', (get) => {
  test('no preflight is granted and no answer carries a CORS header', async () => {
    const { app, config } = get();
    assert.deepEqual(config.CORS_ORIGINS, []);
    for (const url of API_PATHS) {
      const res = await preflight(app, url, PORTAL);
      assert.equal(res.statusCode, url.startsWith('/portabilling') ? 500 : 404, url);
      assert.deepEqual(corsHeaders(res.headers), [], url);
    }
    const login = await rootLogin(app, PORTAL);
    assert.equal(login.statusCode, 200);
    assert.deepEqual(corsHeaders(login.headers), []);
  });
});
