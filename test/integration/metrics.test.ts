import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { codeAt } from '../../src/domain/totp/totp.js';
import { buildTestApp, describeEachDatabase } from '../helpers/app.js';
import { configProblems } from '../helpers/config.js';
import { redisOverrides, testRedisUrl } from '../helpers/redis.js';
import { databaseTargets } from '../helpers/databases.js';
import { seedRetentionRows } from '../helpers/retention.js';
import { call, loginRoot, rest, rpc } from '../helpers/rpc.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The Prometheus text exposition format (version 0.0.4): one sample per line that is not a comment. */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[key as string] = value as string;
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The value of the one sample of `name` whose labels include `labels` (0 when there is none). */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)} matches ${found.length} samples`);
  return found[0]?.value ?? 0;
}

async function scrape(url: string): Promise<{ status: number; contentType: string | null; samples: Sample[] }> {
  const res = await fetch(url);
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type'), samples: res.status === 200 ? parseExposition(text) : [] };
}

/** A six-digit code that is not the right one anywhere near now. */
function wrongCode(secret: string, now: number): string {
  const near = new Set(Array.from({ length: 21 }, (_, i) => codeAt(secret, now + (i - 10) * 30_000)));
  for (let n = 0; ; n++) {
    const code = String(n).padStart(6, '0');
    if (!near.has(code)) return code;
  }
}

describeEachDatabase(
  'metrics at GET /metrics',
  (get, target) => {
    test(`a scrape over HTTP shows calls by method and fault, logins, lockouts, OTP failures, the outbox, the pool and housekeeping [${target}]`, async () => {
      const { app, clock } = get();
      const address = await app.listen({ port: 0, host: '127.0.0.1' });
      const before = await scrape(`${address}/metrics`);
      assert.equal(before.status, 200);
      assert.match(before.contentType ?? '', /^text\/plain; version=0\.0\.4/);

      const root = await loginRoot(app);
      await call(app, 'Session/ping', {}, root);
      const ghost = { login: 'ghost-user', password: 'Wrong-pass1', realm: 'admin' };
      assert.equal((await rest(app, 'Session/login', ghost)).status, 401);
      assert.equal((await rest(app, 'Session/login', ghost)).status, 401, 'the second failure locks (LOCKOUT_THRESHOLD 2)');
      assert.equal((await rest(app, 'Session/login', ghost)).status, 429);
      assert.equal((await rpc(app, 'Nothing/such_method_9f1c2e')).error?.data.faultcode, 'Client.Request.method_not_found');
      const { enrollment } = await call<{ enrollment: { secret: string } }>(app, 'TwoFactor/start_enrollment', {}, root);
      const wrong = await rest(app, 'TwoFactor/confirm_enrollment', { otp: wrongCode(enrollment.secret, clock.now()) }, root);
      assert.equal(wrong.body.faultcode, 'Server.Session.otp_invalid');
      await assert.rejects(app.db.knex.raw('select * from no_such_table_here'));
      await seedRetentionRows(app.db.knex, clock.now(), 5);
      const deleted = await app.housekeeping.runOnce();

      const after = await scrape(`${address}/metrics`);
      const s = after.samples;
      const moved = (name: string, labels: Record<string, string> = {}) => valueOf(s, name, labels) - valueOf(before.samples, name, labels);
      assert.equal(moved('billing_auth_calls_total', { method: 'Session/login', faultcode: 'none' }), 1);
      assert.equal(moved('billing_auth_calls_total', { method: 'Session/login', faultcode: 'Server.Session.auth_failed' }), 2);
      assert.equal(moved('billing_auth_calls_total', { method: 'Session/login', faultcode: 'Server.Session.cannot_login_brute_force_activity' }), 1);
      assert.equal(moved('billing_auth_calls_total', { method: 'Session/ping', faultcode: 'none' }), 1);
      assert.equal(moved('billing_auth_calls_total', { method: 'unknown', faultcode: 'Client.Request.method_not_found' }), 1);
      assert.equal(moved('billing_auth_call_duration_seconds_count', { method: 'Session/ping', faultcode: 'none' }), 1);
      assert.equal(moved('billing_auth_call_duration_seconds_bucket', { method: 'Session/ping', faultcode: 'none', le: '+Inf' }), 1);
      assert.ok(valueOf(s, 'billing_auth_call_duration_seconds_sum', { method: 'Session/login', faultcode: 'none' }) > 0);
      assert.equal(moved('billing_auth_logins_total', { step: 'password', outcome: 'authenticated' }), 1);
      assert.equal(moved('billing_auth_logins_total', { step: 'password', outcome: 'failed' }), 2);
      assert.equal(moved('billing_auth_logins_total', { step: 'password', outcome: 'locked' }), 1);
      assert.equal(moved('billing_auth_lockouts_total'), 1);
      assert.equal(moved('billing_auth_otp_failures_total', { method: 'TwoFactor/confirm_enrollment', reason: 'invalid' }), 1);
      // Without REDIS_URL there is no session cache: every call reads its session, and nothing is reported.
      assert.equal(moved('billing_auth_session_cache_lookups_total', { result: 'hit' }), 0);
      assert.ok(moved('billing_auth_db_statement_errors_total', { code: target === 'sqlite' ? 'SQLITE_ERROR' : 'ER_NO_SUCH_TABLE' }) >= 1);
      // Seeded: 5 mails pending or sending, the oldest queued 31 days ago.
      assert.equal(valueOf(s, 'billing_auth_outbox_backlog'), 5);
      assert.ok(Math.abs(valueOf(s, 'billing_auth_outbox_oldest_pending_age_seconds') - 31 * 86_400) < 1);
      assert.ok(valueOf(s, 'billing_auth_db_pool_connections', { state: 'max' }) >= 1);
      assert.ok(valueOf(s, 'billing_auth_db_pool_connections', { state: 'used' }) >= 0);
      for (const [table, rows] of Object.entries(deleted)) assert.equal(moved('billing_auth_housekeeping_deleted_rows_total', { table }), rows, table);
      assert.equal(moved('billing_auth_housekeeping_deleted_rows_total', { table: 'mfa_challenges' }), 5);
      assert.ok(valueOf(s, 'process_resident_memory_bytes') > 0, 'the default process metrics');

      // Bounded labels: never a login, an IP, a token or an unknown method's name.
      const values = s.flatMap((sample) => Object.values(sample.labels));
      for (const secret of ['ghost-user', 'root', '127.0.0.1', 'Nothing/such_method_9f1c2e', root]) {
        assert.ok(!values.includes(secret), `label value ${secret}`);
      }
    });
  },
  { METRICS: true, LOCKOUT_THRESHOLD: 2, SESSION_RETENTION: '1d', NOTIFY_RETENTION: '30d', AUDIT_RETENTION: '90d' },
);

for (const target of databaseTargets()) {
  test(`without METRICS=true there is no /metrics [${target}]`, async () => {
    const t = await buildTestApp(target);
    try {
      assert.equal((await t.app.inject({ method: 'GET', url: '/metrics' })).statusCode, 404);
      assert.equal(await t.app.metrics.listen('127.0.0.1'), undefined);
    } finally {
      await t.close();
    }
  });

  test(`with METRICS_PORT the metrics are served on that port only, and the timed housekeeping passes show there [${target}]`, async () => {
    const t = await buildTestApp(target, { METRICS: true, METRICS_PORT: 0, HOUSEKEEPING_INTERVAL: '200ms' });
    try {
      const api = await t.app.listen({ port: 0, host: '127.0.0.1' });
      const port = await t.app.metrics.listen('127.0.0.1');
      assert.ok(port !== undefined && port > 0);
      assert.equal((await fetch(`${api}/metrics`)).status, 404, 'not beside the API');
      assert.equal((await fetch(`${api}/health/live`)).status, 200);
      assert.equal((await fetch(`http://127.0.0.1:${port}/rest/Session/ping`, { method: 'POST' })).status, 404, 'and no API beside the metrics');
      await loginRoot(t.app);
      // The first timed pass comes at a random point of the first interval: wait for it (no timing asserted).
      for (let tries = 0; ; tries++) {
        const { status, samples } = await scrape(`http://127.0.0.1:${port}/metrics`);
        assert.equal(status, 200);
        assert.equal(valueOf(samples, 'billing_auth_calls_total', { method: 'Session/login', faultcode: 'none' }), 1);
        if (valueOf(samples, 'billing_auth_housekeeping_passes_total', { result: 'ok' }) >= 1) break;
        assert.ok(tries < 300, 'no housekeeping pass within a minute');
        await sleep(200);
      }
    } finally {
      await t.close();
    }
  });
}

test('with REDIS_URL the session cache reports its lookups, and the hits show', { skip: testRedisUrl() ? false : 'TEST_REDIS_URL is not set (CI always sets it)' }, async () => {
  const t = await buildTestApp('sqlite', { ...redisOverrides(), METRICS: true });
  try {
    const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const root = await loginRoot(t.app);
    // The cache serves only once its subscription is confirmed (src/auth/session-cache.ts): ping until a hit shows.
    let pings = 0;
    let samples: Sample[] = [];
    for (; pings < 50; pings++) {
      await call(t.app, 'Session/ping', {}, root);
      samples = (await scrape(`${address}/metrics`)).samples;
      if (valueOf(samples, 'billing_auth_session_cache_lookups_total', { result: 'hit' }) > 0) break;
      await sleep(20);
    }
    const lookups = (result: string) => valueOf(samples, 'billing_auth_session_cache_lookups_total', { result });
    assert.ok(lookups('hit') >= 1, 'a warm session is answered from the cache');
    assert.ok(lookups('miss') >= 1, 'the first read of the session was kept');
    assert.equal(lookups('hit') + lookups('miss') + lookups('bypass'), pings + 1, 'one lookup per authenticated call');
  } finally {
    await t.close();
  }
});

test('METRICS_PORT must not be PORT or a PortaBilling port', () => {
  assert.deepEqual(configProblems({ PORT: '3000', METRICS_PORT: '3000' }), ['METRICS_PORT must differ from PORT and PORTABILLING_PORTS (3000)']);
  assert.deepEqual(configProblems({ PORTABILLING_PORTS: 'account:9100', METRICS_PORT: '9100' }), [
    'METRICS_PORT must differ from PORT and PORTABILLING_PORTS (9100)',
  ]);
  assert.deepEqual(configProblems({ METRICS: 'true', METRICS_PORT: '9464' }), []);
  assert.match(configProblems({ HOUSEKEEPING_INTERVAL: '30d' }).join(), /HOUSEKEEPING_INTERVAL must be at most 24d/);
});
