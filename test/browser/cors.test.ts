import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { countRows } from '../../src/repositories/connection.js';
import { buildTestApp, ROOT_PASSWORD, type TestApp } from '../helpers/app.js';
import { databaseTargets } from '../helpers/databases.js';
import { listening } from '../helpers/wire.js';

/**
 * A real browser calling the service from another origin: Debian's chromium
 * (`apt-get install chromium`), driven by playwright-core. Never skipped: a
 * browser that cannot start fails the suite.
 */
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = 'test-artifacts';

/**
 * The portal page: logs in over /rest with JSON (a preflighted call), pings
 * with the Bearer token, and tries to send a portal client header (which the
 * preflight does not grant). Each outcome is shown on the page and kept in
 * `window.outcome` for the test to read.
 */
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>portal</title></head>
<body><h1>portal page</h1><pre id="out">running</pre>
<script>
async function step(name, fn) {
  try { return { name, ...(await fn()) }; } catch (err) { return { name, error: err.name, message: String(err.message) }; }
}
async function post(url, body, headers) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json(), requestId: res.headers.get('x-request-id') };
}
window.outcome = (async () => {
  const api = new URL(location.href).searchParams.get('api');
  const login = await step('login', () => post(api + '/rest/Session/login', { login: 'root', password: ${JSON.stringify(ROOT_PASSWORD)}, realm: 'admin' }));
  const token = login.body && login.body.access_token;
  const ping = await step('ping', () => post(api + '/rest/Session/ping', {}, { authorization: 'Bearer ' + token }));
  const portalHeader = await step('portal header', () => post(api + '/rest/Session/ping', {}, { 'x-portal-client': 'id:secret' }));
  const outcome = { origin: location.origin, login, ping, portalHeader };
  document.getElementById('out').textContent = JSON.stringify(outcome, null, 2);
  return outcome;
})();
</script></body></html>`;

interface Step {
  name: string;
  status?: number;
  body?: Record<string, unknown>;
  requestId?: string | null;
  error?: string;
  message?: string;
}
interface Outcome {
  origin: string;
  login: Step;
  ping: Step;
  portalHeader: Step;
}

/** A second local HTTP server: another port is another origin (RFC 6454). */
async function pageServer(): Promise<{ server: Server; origin: string }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(PAGE);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function visit(context: BrowserContext, pageOrigin: string, api: string, screenshot: string): Promise<Outcome> {
  const page: Page = await context.newPage();
  try {
    await page.goto(`${pageOrigin}/?api=${encodeURIComponent(api)}`);
    const outcome = (await page.evaluate('window.outcome')) as Outcome;
    await page.screenshot({ path: join(ARTIFACTS, screenshot), fullPage: true });
    return outcome;
  } finally {
    await page.close();
  }
}

describe('CORS from a page in headless Chromium', () => {
  let context: BrowserContext;
  let profile: string;
  let portal: { server: Server; origin: string };
  let stranger: { server: Server; origin: string };

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    profile = mkdtempSync(join(tmpdir(), 'billing-auth-chromium-'));
    // Playwright owns --user-data-dir: a fresh, empty profile is given as the persistent context's folder.
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    portal = await pageServer();
    stranger = await pageServer();
  });

  after(async () => {
    await context?.close();
    for (const s of [portal, stranger]) if (s) await new Promise((resolve) => s.server.close(resolve));
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  for (const target of databaseTargets()) {
    describe(`[${target}]`, () => {
      let t: TestApp;
      let api: string;
      before(async () => {
        t = await buildTestApp(target, { CORS_ORIGINS: portal.origin });
        api = (await listening(t.app)).base;
      });
      after(async () => {
        await t?.close();
      });

      test('a page of a listed origin logs in with JSON and pings with its Bearer token', async () => {
        const outcome = await visit(context, portal.origin, api, `cors-allowed-${target}.png`);
        assert.equal(outcome.origin, portal.origin);
        assert.equal(outcome.login.status, 200, JSON.stringify(outcome.login));
        assert.equal(outcome.login.body?.status, 'authenticated');
        assert.equal(outcome.ping.status, 200, JSON.stringify(outcome.ping));
        // An exposed header: a page can quote the request id of a call it reports.
        assert.match(String(outcome.login.requestId), /^[0-9a-f-]{36}$/);
        // The portal client header is not granted: the browser refuses before sending.
        assert.equal(outcome.portalHeader.error, 'TypeError', JSON.stringify(outcome.portalHeader));
      });

      test('a page of another origin cannot call: the preflight is refused, so no login is even attempted', async () => {
        const audit = await countRows(t.app.db.knex('audit_log'));
        const sessions = await countRows(t.app.db.knex('sessions'));
        const logged = t.logs.length;
        const outcome = await visit(context, stranger.origin, api, `cors-refused-${target}.png`);
        assert.equal(outcome.origin, stranger.origin);
        assert.equal(outcome.login.error, 'TypeError', JSON.stringify(outcome.login));
        assert.equal(outcome.ping.error, 'TypeError', JSON.stringify(outcome.ping));
        assert.equal(await countRows(t.app.db.knex('audit_log')), audit, 'no audit row: no login happened');
        assert.equal(await countRows(t.app.db.knex('sessions')), sessions, 'no session was opened');
        // What reached the service: the browser's preflights, and never the POST they guard.
        const methods = t.logs
          .slice(logged)
          .map((line) => (JSON.parse(line) as { req?: { method?: string } }).req?.method)
          .filter(Boolean);
        assert.ok(methods.includes('OPTIONS'), `the preflight reached the service: ${methods.join(',')}`);
        assert.ok(!methods.includes('POST'), `no POST reached the service: ${methods.join(',')}`);
      });
    });
  }
});
