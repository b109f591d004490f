import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { codeAt } from '../../src/domain/totp/totp.js';
import type { RunningServer } from '../helpers/cli.js';
import { announcements, replicaSettings, startReplicas } from '../helpers/replicas.js';
import { startBalancer, type Balancer } from './balancer.js';
import { eventually, startCluster, type Cluster } from './harness.js';

// Issue 18: three replicas, each on its own node of a 3-node Galera cluster,
// behind haproxy run from the shipped deploy/galera/haproxy.cfg, checked from
// outside over HTTP as an operator's clients would see them: on each replica
// directly, and through the balancer.

const STEP = 30_000;
const INTERNAL = 'Server.Internal.error';

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** A REST call to one replica (or the balancer); a replica that does not answer within 20 s is an answer too (status 0). */
async function call(server: Pick<RunningServer, 'url'>, method: string, params: object = {}, token?: string): Promise<Answer> {
  try {
    const response = await fetch(`${server.url}/rest/${method}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(params),
      signal: AbortSignal.timeout(20_000),
    });
    const text = await response.text();
    try {
      return { status: response.status, body: JSON.parse(text) as Record<string, unknown> };
    } catch {
      // Not the service's answer (e.g. haproxy's own error page): what it was, not JSON.
      return { status: response.status, body: { not_json: text.slice(0, 300) } };
    }
  } catch (err) {
    return { status: 0, body: { error: String(err), cause: String((err as Error).cause) } };
  }
}

async function ok(server: Pick<RunningServer, 'url'>, method: string, params: object = {}, token?: string): Promise<Record<string, unknown>> {
  const answer = await call(server, method, params, token);
  assert.equal(answer.status, 200, `${method}: ${JSON.stringify(answer.body)}`);
  return answer.body;
}

const ready = async (server: RunningServer) => (await fetch(`${server.url}/health/ready`, { signal: AbortSignal.timeout(20_000) })).status;
const faults = (answers: Answer[]) => answers.map((a) => String(a.body.faultcode ?? a.body.status ?? a.status));
const internalErrors = (answers: Answer[]) => answers.filter((a) => a.status === 500 || a.body.faultcode === INTERNAL).length;

describe('3 replicas on a 3-node Galera cluster', { timeout: 360_000 }, () => {
  let cluster: Cluster;
  let dir: string;
  let replicas: RunningServer[] = [];
  let balancer: Balancer | undefined;
  let rootToken: string;
  const rootPassword = 'Root-cluster-pass1';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'billing-auth-replicas-'));
    cluster = await startCluster(3);
    await cluster.nodes[0]?.query('CREATE DATABASE billing CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci');
  });

  after(async () => {
    await balancer?.close();
    await Promise.all(replicas.map((r) => r.kill()));
    await cluster?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const replica = (i: number) => replicas[i % replicas.length] as RunningServer;

  test('three replicas started at once on the empty database all come up; root is created once', async () => {
    replicas = await startReplicas(
      cluster.nodes.map((n) => n.url('billing')),
      // DB_QUERY_TIMEOUT: a test below holds a replica's transaction in a row-lock wait for seconds.
      { ...replicaSettings(dir), RATE_LIMIT_LOGIN: '100000', LOCKOUT_IP_THRESHOLD: '100000', DB_QUERY_TIMEOUT: '30s' },
    );
    for (const r of replicas) assert.equal(await ready(r), 200, r.output());
    assert.equal(announcements(replicas), 1, 'exactly one replica created root');
    const [row] = await (cluster.nodes[2] as Cluster['nodes'][number]).query<{ n: number }>('SELECT COUNT(*) AS n FROM billing.users');
    assert.equal(Number(row?.n), 1);
    const announced = replicas.map((r) => /^ {3}(\S+)$/m.exec(r.output())?.[1]).find(Boolean) as string;
    const first = await ok(replica(1), 'Session/login', { login: 'root', password: announced, realm: 'admin' });
    await ok(replica(2), 'Session/change_password', { old_password: announced, new_password: rootPassword }, first.access_token as string);
    rootToken = (await ok(replica(0), 'Session/login', { login: 'root', password: rootPassword, realm: 'admin' })).access_token as string;
    balancer = await startBalancer(replicas.map((r) => r.port));
    await balancer.allUp();
  });

  /** The balancer's front end, as clients reach the deployment. */
  const front = () => balancer as Balancer;
  /** Calls through the balancer: enough that every replica takes some (leastconn spreads parallel calls). */
  const THROUGH_BALANCER = 9;

  /** A vendor whose first password change is done: its password. */
  async function vendor(login: string, twoFactor = false): Promise<{ id: number; password: string }> {
    await ok(replica(0), 'Vendor/add_vendor', { login, password: 'Vendor-pass1', two_factor_auth: 'disabled' }, rootToken);
    const first = await ok(replica(1), 'Session/login', { login, password: 'Vendor-pass1', realm: 'vendor' });
    const changed = first.status === 'password_change_required';
    if (changed) await ok(replica(2), 'Session/change_password', { old_password: 'Vendor-pass1', new_password: 'Vendor-pass1Z' }, first.access_token as string);
    const info = (await ok(replica(0), 'Vendor/get_vendor_info', { login }, rootToken)).vendor_info as Record<string, unknown>;
    if (twoFactor) await ok(replica(1), 'Vendor/update_vendor', { i_vendor: info.i_vendor, two_factor_auth: 'enabled' }, rootToken);
    return { id: Number(info.i_vendor), password: changed ? 'Vendor-pass1Z' : 'Vendor-pass1' };
  }

  const login = (i: number, name: string, password: string) => call(replica(i), 'Session/login', { login: name, password, realm: 'vendor' });

  test('50 parallel right-password logins of one principal over the 3 replicas: all authenticated, 0 internal errors', async () => {
    const { password } = await vendor('hot-login');
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => login(i, 'hot-login', password)));
    assert.equal(internalErrors(answers), 0, faults(answers).join(' '));
    assert.equal(answers.filter((a) => a.body.status === 'authenticated').length, 50, faults(answers).join(' '));
  });

  test('30 parallel update_vendor of one record over the 3 replicas: all applied, 0 internal errors', async () => {
    const { id } = await vendor('hot-record');
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => call(replica(i), 'Vendor/update_vendor', { i_vendor: id, name: `name ${i}` }, rootToken)),
    );
    assert.equal(internalErrors(answers), 0, faults(answers).join(' '));
    assert.equal(answers.filter((a) => a.status === 200).length, 30, faults(answers).join(' '));
  });

  test('10 parallel refreshes of one token over the 3 replicas: 0 internal errors, at least one new token', async () => {
    const { password } = await vendor('hot-refresh');
    for (let round = 0; round < 3; round++) {
      const session = await ok(replica(round), 'Session/login', { login: 'hot-refresh', password, realm: 'vendor' });
      const answers = await Promise.all(
        Array.from({ length: 10 }, (_, i) => call(replica(i), 'Session/refresh_access_token', { refresh_token: session.refresh_token })),
      );
      assert.equal(internalErrors(answers), 0, faults(answers).join(' '));
      assert.ok(
        answers.some((a) => a.body.status === 'authenticated'),
        faults(answers).join(' '),
      );
      for (const a of answers.filter((x) => x.status !== 200)) assert.equal(a.body.faultcode, 'Server.Session.refresh_token_invalid', JSON.stringify(a.body));
    }
  });

  test('one TOTP code raced over all replicas: exactly one success', async () => {
    const { password } = await vendor('hot-otp', true);
    const enrolling = await ok(replica(0), 'Session/login', { login: 'hot-otp', password, realm: 'vendor' });
    assert.equal(enrolling.status, 'otp_enrollment_required');
    const secret = (enrolling.enrollment as Record<string, string>).secret as string;
    await ok(replica(1), 'Session/verify_otp', { mfa_token: enrolling.mfa_token, otp: codeAt(secret, Date.now()) });
    const tokens: string[] = [];
    for (let i = 0; i < 6; i++) tokens.push((await ok(replica(i), 'Session/login', { login: 'hot-otp', password, realm: 'vendor' })).mfa_token as string);
    // The next step's code: inside TOTP_WINDOW, and not the one enrollment used.
    const code = codeAt(secret, Date.now() + STEP);
    const answers = await Promise.all(tokens.map((mfa_token, i) => call(replica(i), 'Session/verify_otp', { mfa_token, otp: code })));
    assert.equal(internalErrors(answers), 0, faults(answers).join(' '));
    assert.equal(answers.filter((a) => a.status === 200).length, 1, faults(answers).join(' '));
    for (const a of answers.filter((x) => x.status !== 200)) assert.equal(a.body.faultcode, 'Server.Session.otp_replayed', JSON.stringify(a.body));
  });

  /** Every replica refuses the token at once (no waiting, no retry), directly and through the balancer. */
  async function refusedEverywhere(token: string, why: string) {
    const answers = await Promise.all(replicas.map((r) => call(r, 'Session/ping', {}, token)));
    assert.deepEqual(
      answers.map((a) => a.status),
      [401, 401, 401],
      `${why}: ${faults(answers).join(' ')}`,
    );
    const balanced = await Promise.all(Array.from({ length: THROUGH_BALANCER }, () => call(front(), 'Session/ping', {}, token)));
    assert.deepEqual(
      balanced.map((a) => a.status),
      balanced.map(() => 401),
      `${why}, through haproxy: ${faults(balanced).join(' ')}`,
    );
  }

  async function servedEverywhere(token: string) {
    for (const r of replicas) await ok(r, 'Session/ping', {}, token);
    const balanced = await Promise.all(Array.from({ length: THROUGH_BALANCER }, () => call(front(), 'Session/ping', {}, token)));
    assert.deepEqual(
      balanced.map((a) => a.status),
      balanced.map(() => 200),
      `through haproxy: ${faults(balanced).join(' ')}`,
    );
  }

  test('revocation is refused at once on every replica: logout, revoke_session, change_password, block', async () => {
    const { id, password: first } = await vendor('revoked');
    let password = first;
    const open = async (i: number) => (await ok(replica(i), 'Session/login', { login: 'revoked', password, realm: 'vendor' })) as Record<string, string>;

    const a = await open(0);
    await servedEverywhere(a.access_token as string);
    await ok(replica(1), 'Session/logout', {}, a.access_token);
    await refusedEverywhere(a.access_token as string, 'after logout');

    const b = await open(1);
    const c = await open(2);
    await servedEverywhere(b.access_token as string);
    await ok(replica(2), 'Session/revoke_session', { session_id: b.session_id }, c.access_token);
    await refusedEverywhere(b.access_token as string, 'after revoke_session');

    const d = await open(0);
    await servedEverywhere(d.access_token as string);
    await ok(replica(1), 'Session/change_password', { old_password: password, new_password: `${password}Y` }, c.access_token);
    password = `${password}Y`;
    await refusedEverywhere(d.access_token as string, 'after change_password');

    const e = await open(2);
    await servedEverywhere(e.access_token as string);
    await ok(replica(0), 'Vendor/update_vendor', { i_vendor: id, blocked: true }, rootToken);
    await refusedEverywhere(e.access_token as string, 'after block');
  });

  /** Opens and ends `pairs` sessions of `login` through the replicas on node2 and node3: 2 × pairs writes. */
  async function busyWrites(login: string, password: string, pairs: number): Promise<void> {
    const writes = await Promise.all(
      Array.from({ length: pairs }, async (_, i) => {
        const r = replica(1 + (i % 2));
        const opened = await call(r, 'Session/login', { login, password, realm: 'vendor' });
        const token = opened.body.access_token as string | undefined;
        return [opened, token ? await call(r, 'Session/logout', {}, token) : opened];
      }),
    );
    const answers = writes.flat();
    assert.equal(internalErrors(answers), 0, faults(answers).join(' '));
    assert.equal(answers.filter((a) => a.status === 200).length, 2 * pairs, faults(answers).join(' '));
  }

  test('a revoking transaction held open on one node while 240 other writes commit on the others: served until it commits, refused everywhere at once after', async () => {
    const held = await vendor('held-block');
    const other = await vendor('held-revoke');
    const busy = await vendor('held-busy');
    const blockedToken = (await ok(replica(0), 'Session/login', { login: 'held-block', password: held.password, realm: 'vendor' })) as Record<string, string>;
    const revokedSession = (await ok(replica(1), 'Session/login', { login: 'held-revoke', password: other.password, realm: 'vendor' })) as Record<string, string>;
    await servedEverywhere(blockedToken.access_token as string);
    await servedEverywhere(revokedSession.access_token as string);

    // On node1: block one principal and revoke another's session, as update_vendor and
    // revoke_session do (with their audit rows, whose ids are taken now), and keep it open.
    const conn = await (cluster.nodes[0] as Cluster['nodes'][number]).connect();
    try {
      await conn.beginTransaction();
      const now = Date.now();
      await conn.query('UPDATE billing.vendors SET blocked = 1, updated_at = ? WHERE i_vendor = ?', [now, held.id]);
      await conn.query("UPDATE billing.sessions SET revoked_at = ?, revoke_reason = 'revoked' WHERE id = ?", [now, revokedSession.session_id]);
      const [inserted] = await conn.query(
        "INSERT INTO billing.audit_log (at, event, realm, entity, entity_id, details) VALUES (?, 'vendor.update', 'vendor', 'vendor', ?, '{}')",
        [now, held.id],
      );
      const heldEvent = (inserted as { insertId: number }).insertId;

      // Meanwhile 120 sessions are opened and ended through the replicas on node2 and node3:
      // 240 writes with their audit rows (and session rows) commit after the held ids were taken.
      await busyWrites('held-busy', busy.password, 120);
      // Galera numbers rows in steps of 3 from each node's own offset, so a few may be numbered
      // below the held row although they committed after it: most are numbered above.
      const [later] = await (cluster.nodes[2] as Cluster['nodes'][number]).query<{ meanwhile: number; above: number }>(
        `SELECT COUNT(*) AS meanwhile, SUM(i_event > ${Number(heldEvent)}) AS above FROM billing.audit_log WHERE entity = 'vendor' AND entity_id = ${busy.id} AND at >= ${now}`,
      );
      assert.ok(Number(later?.meanwhile) >= 240 && Number(later?.above) >= 200, `audit rows committed meanwhile: ${JSON.stringify(later)}`);

      // Not committed: every replica still serves both (nobody sees uncommitted changes).
      await servedEverywhere(blockedToken.access_token as string);
      await servedEverywhere(revokedSession.access_token as string);
      await conn.commit();
    } finally {
      conn.destroy();
    }
    await refusedEverywhere(blockedToken.access_token as string, 'after the held block committed');
    await refusedEverywhere(revokedSession.access_token as string, 'after the held revocation committed');
  });

  test("the service's own update_vendor(blocked) held open after its block is written, while 120 writes commit elsewhere: served until it commits, refused everywhere once it answers", async () => {
    const target = await vendor('held-by-lock');
    const busy = await vendor('held-by-lock-busy');
    const login = () => ok(replica(2), 'Session/login', { login: 'held-by-lock', password: target.password, realm: 'vendor' }) as Promise<Record<string, string>>;
    const kept = await login();
    const locked = await login();
    await servedEverywhere(kept.access_token as string);

    // On node1, lock one of the vendor's sessions: update_vendor on node1's replica writes the
    // block, then waits for that row when it ends the vendor's sessions, its transaction open.
    const node1 = cluster.nodes[0] as Cluster['nodes'][number];
    const conn = await node1.connect();
    let blocking: Promise<Answer> | undefined;
    try {
      await conn.beginTransaction();
      await conn.query('SELECT id FROM billing.sessions WHERE id = ? FOR UPDATE', [locked.session_id]);
      blocking = call(replica(0), 'Vendor/update_vendor', { i_vendor: target.id, blocked: true }, rootToken);
      await eventually('update_vendor has written the block and waits for the locked session', async () => {
        const rows = await node1.query<{ n: number }>(
          "SELECT COUNT(*) AS n FROM information_schema.innodb_trx WHERE trx_state = 'LOCK WAIT' AND trx_rows_modified > 0",
        );
        return Number(rows[0]?.n) === 1;
      });
      await busyWrites('held-by-lock-busy', busy.password, 60);
      await servedEverywhere(kept.access_token as string);
    } finally {
      await conn.rollback().catch(() => undefined);
      conn.destroy();
    }
    const answer = await blocking;
    assert.equal(answer?.status, 200, JSON.stringify(answer?.body));
    await refusedEverywhere(kept.access_token as string, 'after the held update_vendor committed');
  });

  /**
   * The same parallel sign-ins of different users through a balancer (one client IP): each
   * signs in with its password, and the 2FA half enrolls and answers a code (verify_otp).
   * Returns the answers and the Galera certification failures counted on all nodes meanwhile.
   */
  async function signInsOfDifferentUsers(through: Balancer, prefix: string, users: number) {
    const names = Array.from({ length: users }, (_, i) => `${prefix}-${i}`);
    const made = await Promise.all(names.map((name, i) => vendor(name, i % 2 === 1)));
    const certFailures = async () =>
      (await Promise.all(cluster.nodes.map((n) => n.status('wsrep_local_cert_failures')))).reduce((sum, v) => sum + Number(v), 0);
    const before = await certFailures();
    const answers = (
      await Promise.all(
        names.map(async (name, i) => {
          const first = await call(through, 'Session/login', { login: name, password: made[i]?.password, realm: 'vendor' });
          if (first.body.status !== 'otp_enrollment_required') return [first];
          const secret = (first.body.enrollment as Record<string, string>).secret as string;
          return [first, await call(through, 'Session/verify_otp', { mfa_token: first.body.mfa_token, otp: codeAt(secret, Date.now()) })];
        }),
      )
    ).flat();
    return { answers, certFailures: (await certFailures()) - before };
  }

  describe('with REDIS_URL: 3 more replicas of one deployment sharing one Redis and key prefix, behind their own haproxy', () => {
    let redisReplicas: RunningServer[] = [];
    let redisFront: Balancer | undefined;
    const IP_THRESHOLD = 10;
    const USERS = 24;
    const withoutRedis: { certFailures?: number; unavailable?: number } = {};

    before(async () => {
      redisReplicas = await startReplicas(cluster.nodes.map((n) => n.url('billing')), {
        ...replicaSettings(dir),
        REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
        REDIS_KEY_PREFIX: `cluster-${randomUUID().slice(0, 8)}:`,
        RATE_LIMIT_LOGIN: '100000',
        LOCKOUT_IP_THRESHOLD: String(IP_THRESHOLD),
      });
      redisFront = await startBalancer(redisReplicas.map((r) => r.port));
      await redisFront.allUp();
    });

    after(async () => {
      await redisFront?.close();
      await Promise.all(redisReplicas.map((r) => r.kill()));
    });

    test(`without Redis (for comparison): ${USERS} parallel sign-ins of different users through haproxy, 0 internal errors`, async (t) => {
      const { answers, certFailures } = await signInsOfDifferentUsers(front(), 'no-redis', USERS);
      assert.equal(internalErrors(answers), 0, faults(answers).join(' '));
      withoutRedis.certFailures = certFailures;
      withoutRedis.unavailable = answers.filter((a) => a.status === 503).length;
      t.diagnostic(`without Redis: wsrep_local_cert_failures +${certFailures} over the 3 nodes; ${withoutRedis.unavailable} of ${answers.length} answered 503`);
    });

    test(`${USERS} parallel sign-ins of different users (password, and verify_otp for half) through haproxy: all signed in, 0 internal errors, 0 503`, async (t) => {
      const { answers, certFailures } = await signInsOfDifferentUsers(redisFront as Balancer, 'redis', USERS);
      t.diagnostic(
        `with Redis: wsrep_local_cert_failures +${certFailures} over the 3 nodes (without: +${withoutRedis.certFailures}); 503: ${answers.filter((a) => a.status === 503).length} (without: ${withoutRedis.unavailable})`,
      );
      assert.equal(internalErrors(answers), 0, faults(answers).join(' '));
      assert.equal(answers.filter((a) => a.status === 503).length, 0, faults(answers).join(' '));
      assert.equal(answers.filter((a) => a.body.status === 'authenticated').length, USERS, faults(answers).join(' '));
    });

    /** Cached on every replica of the set (pinged twice on each), and served through their balancer. */
    async function cachedEverywhere(token: string) {
      for (const r of redisReplicas) for (let i = 0; i < 2; i++) await ok(r, 'Session/ping', {}, token);
      const balanced = await Promise.all(Array.from({ length: THROUGH_BALANCER }, () => call(redisFront as Balancer, 'Session/ping', {}, token)));
      assert.deepEqual(balanced.map((a) => a.status), balanced.map(() => 200), faults(balanced).join(' '));
    }

    async function refusedByAll(token: string, why: string) {
      const answers = await Promise.all(redisReplicas.map((r) => call(r, 'Session/ping', {}, token)));
      assert.deepEqual(answers.map((a) => a.status), [401, 401, 401], `${why}: ${faults(answers).join(' ')}`);
      const balanced = await Promise.all(Array.from({ length: THROUGH_BALANCER }, () => call(redisFront as Balancer, 'Session/ping', {}, token)));
      assert.deepEqual(balanced.map((a) => a.status), balanced.map(() => 401), `${why}, through haproxy: ${faults(balanced).join(' ')}`);
    }

    test('session cache on: a logout and a block are refused at once on every replica that had the session cached', async () => {
      const { id, password } = await vendor('redis-revoked');
      const open = async (i: number) =>
        (await ok(redisReplicas[i] as RunningServer, 'Session/login', { login: 'redis-revoked', password, realm: 'vendor' })) as Record<string, string>;
      const a = await open(0);
      await cachedEverywhere(a.access_token as string);
      await ok(redisReplicas[1] as RunningServer, 'Session/logout', {}, a.access_token);
      await refusedByAll(a.access_token as string, 'after logout');

      const b = await open(2);
      await cachedEverywhere(b.access_token as string);
      await ok(redisReplicas[0] as RunningServer, 'Vendor/update_vendor', { i_vendor: id, blocked: true }, rootToken);
      await refusedByAll(b.access_token as string, 'after block');
    });

    test(`per-IP lockout across the replicas: of 40 parallel wrong guesses from one IP through haproxy at most LOCKOUT_IP_THRESHOLD (${IP_THRESHOLD}) are evaluated, and the IP is locked on every replica`, async (t) => {
      const { password } = await vendor('redis-after-spray');
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, i) => call(redisFront as Balancer, 'Session/login', { login: `sprayed-${i}`, password: 'Guess-pass1', realm: 'vendor' })),
      );
      const evaluated = answers.filter((a) => a.body.faultcode === 'Server.Session.auth_failed').length;
      t.diagnostic(`${evaluated} of 40 wrong guesses evaluated`);
      assert.ok(evaluated >= 1 && evaluated <= IP_THRESHOLD, `${evaluated} evaluated: ${faults(answers).join(' ')}`);
      assert.equal(answers.filter((a) => a.body.faultcode === 'Server.Session.cannot_login_brute_force_activity').length, 40 - evaluated, faults(answers).join(' '));
      for (const r of redisReplicas) {
        const refused = await call(r, 'Session/login', { login: 'redis-after-spray', password, realm: 'vendor' });
        assert.equal(refused.body.faultcode, 'Server.Session.cannot_login_brute_force_activity', JSON.stringify(refused.body));
      }
    });
  });

  test('a node killed with kill -9 under load: its replica answers 503, the others keep serving, all recover', async () => {
    const { password } = await vendor('under-load');
    const session = (await ok(replica(0), 'Session/login', { login: 'under-load', password, realm: 'vendor' })) as Record<string, string>;
    const answers: Answer[][] = [[], [], [], []];
    let loading = true;
    // One client per replica (logins on node1 and node3, pings on node2) and one through haproxy (pings).
    const load = [...replicas, front()].map(async (r, i) => {
      while (loading) {
        answers[i]?.push(
          await call(r, i % 2 ? 'Session/ping' : 'Session/login', i % 2 ? {} : { login: 'under-load', password, realm: 'vendor' }, session.access_token),
        );
      }
    });
    try {
      await new Promise((r) => setTimeout(r, 1_000));
      await cluster.nodes[1]?.kill();
      const onDeadNode = await call(replica(1), 'Session/ping', {}, session.access_token);
      assert.equal(onDeadNode.status, 503, JSON.stringify(onDeadNode.body));
      assert.equal(onDeadNode.body.faultcode, 'Server.Unavailable');
      assert.equal(await ready(replica(1)), 503);
      // The survivors serve again once Galera has evicted the dead node (its failure detection).
      await eventually('replicas on the surviving nodes serve', async () => {
        const [x, y] = await Promise.all([
          call(replica(0), 'Session/ping', {}, session.access_token),
          call(replica(2), 'Session/ping', {}, session.access_token),
        ]);
        return x.status === 200 && y.status === 200;
      });
      // haproxy's check (the replica's /health/ready) takes the dead node's replica out.
      await eventually('haproxy marks replica2 DOWN and serves every call', async () => {
        if ((await front().states()).replica2 !== 'DOWN') return false;
        const through = await Promise.all(Array.from({ length: THROUGH_BALANCER }, () => call(front(), 'Session/ping', {}, session.access_token)));
        return through.every((a) => a.status === 200);
      });
      await cluster.nodes[1]?.start();
      await eventually(
        "the restarted node's replica is ready and serves",
        async () => (await ready(replica(1))) === 200 && (await call(replica(1), 'Session/ping', {}, session.access_token)).status === 200,
      );
      await front().allUp();
    } finally {
      loading = false;
      await Promise.all(load);
    }
    const all = answers.flat();
    assert.equal(internalErrors(all), 0, `internal errors under load: ${faults(all.filter((a) => a.status === 500)).join(' ')}`);
    // The balancer kept the survivors' replicas in while Galera evicted the dead node (a slow
    // check is not a failed one: haproxy.cfg's `timeout check`): its client never met haproxy's
    // own "no server is available" page, only the replicas' answers.
    const fromHaproxy = (answers[3] ?? []).filter((a) => a.body.not_json !== undefined);
    assert.equal(fromHaproxy.length, 0, `haproxy answered by itself: ${JSON.stringify(fromHaproxy.slice(0, 3))}`);
    answers.forEach((client, i) => {
      for (const a of client) assert.ok([200, 503].includes(a.status), `only successes and 503 under load, client ${i}: ${a.status} ${JSON.stringify(a.body)}`);
    });
  });

  test("quorum loss: with 2 of 3 nodes gone the survivor's replica is not ready and calls answer 503", async () => {
    await Promise.all([cluster.nodes[1]?.kill(), cluster.nodes[2]?.kill()]);
    await eventually('node1 is non-Primary', async () => (await cluster.nodes[0]?.status('wsrep_cluster_status')) !== 'Primary');
    assert.equal(await ready(replica(0)), 503);
    const refused = await call(replica(0), 'Session/login', { login: 'root', password: rootPassword, realm: 'admin' });
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal(refused.body.faultcode, 'Server.Unavailable');
    // Through haproxy too: no replica can take it (a replica's 503, or haproxy's once all are out).
    const balanced = await call(front(), 'Session/login', { login: 'root', password: rootPassword, realm: 'admin' });
    assert.equal(balanced.status, 503, JSON.stringify(balanced.body));
    // The operator bootstraps the survivor as the new Primary component: ready again.
    await cluster.nodes[0]?.query("SET GLOBAL wsrep_provider_options='pc.bootstrap=YES'");
    await eventually("the survivor's replica is ready again", async () => (await ready(replica(0))) === 200);
    await ok(replica(0), 'Session/login', { login: 'root', password: rootPassword, realm: 'admin' });
    // haproxy's check puts it back: clients reach it through the balancer again.
    await eventually('haproxy marks replica1 UP', async () => (await front().states()).replica1 === 'UP');
    await ok(front(), 'Session/login', { login: 'root', password: rootPassword, realm: 'admin' });
  });
});
