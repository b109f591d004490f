import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { lockDuration } from '../../src/domain/lockout.js';
import { STALE_CLAIM_MS } from '../../src/repositories/login-guards.js';
import { createRedisCounters } from '../../src/repositories/redis-counters.js';
import { buildTestApp, describeEachGuardStore, type TestApp } from '../helpers/app.js';
import { databaseTargets, type TargetName } from '../helpers/databases.js';
import { startFreezableProxy } from '../helpers/freezable-proxy.js';
import { redisOverrides, testRedisUrl } from '../helpers/redis.js';
import { call, loginRoot, rest, type RestAnswer } from '../helpers/rpc.js';

/**
 * Brute-force counters shared by replicas: two apps on one database and one
 * Redis are two replicas behind a balancer, every call from one client IP.
 */
const summary = (answers: RestAnswer[]) => JSON.stringify(answers.map((a) => a.body.faultcode ?? a.body.status));

/** Counts every password check of `apps` (known login or not) while `fn` runs. */
async function countingChecks<T>(apps: TestApp[], fn: () => Promise<T>): Promise<{ result: T; evaluated: number }> {
  let evaluated = 0;
  const originals = apps.map((t) => ({ ...t.app.passwords }));
  for (const t of apps) {
    const { verify, verifyNothing } = t.app.passwords;
    t.app.passwords.verify = (p, h) => {
      evaluated++;
      return verify(p, h);
    };
    t.app.passwords.verifyNothing = (p) => {
      evaluated++;
      return verifyNothing(p);
    };
  }
  try {
    return { result: await fn(), evaluated };
  } finally {
    apps.forEach((t, i) => Object.assign(t.app.passwords, { verify: originals[i]!.verify, verifyNothing: originals[i]!.verifyNothing }));
  }
}

/** Two replicas of one deployment: one database, one Redis (one key prefix). */
async function replicas(target: TargetName, overrides: Record<string, unknown>): Promise<[TestApp, TestApp]> {
  const shared = { ...redisOverrides(), BCRYPT_COST: 6, ...overrides };
  const a = await buildTestApp(target, shared);
  const b = await buildTestApp(target, shared, a.db);
  return [a, b];
}

const login = (t: TestApp, login: string, password: string, realm = 'representative') => rest(t.app, 'Session/login', { login, password, realm });

for (const target of databaseTargets()) {
  describe(`per-IP counters in Redis, two replicas [${target}]`, { skip: testRedisUrl() ? false : 'TEST_REDIS_URL is not set (CI always sets it)' }, () => {
    let a: TestApp;
    let b: TestApp;
    let root: string;
    before(async () => {
      [a, b] = await replicas(target, { LOCKOUT_IP_THRESHOLD: 6, RATE_LIMIT_LOGIN: 100_000 });
      root = await loginRoot(a.app);
    });
    after(async () => {
      await b?.close();
      await a?.close();
    });

    test('50 parallel wrong guesses of one login over both replicas: at most LOCKOUT_THRESHOLD evaluated, locked on both', async () => {
      await call(a.app, 'Representative/add_representative', { login: 'raced', password: 'Raced-pass1', password_must_change: false }, root);
      const { result: answers, evaluated } = await countingChecks([a, b], () =>
        Promise.all(Array.from({ length: 50 }, (_, i) => login(i % 2 ? a : b, 'raced', `Wrong-${i}-x`))),
      );
      if (process.env.DEBUG_GUARD)
        console.log(
          [...a.logs, ...b.logs]
            .filter((l) => l.includes('"level":50'))
            .slice(0, 3)
            .join('\n'),
        );
      assert.ok(evaluated >= 1 && evaluated <= a.config.LOCKOUT_THRESHOLD, `${evaluated} evaluated: ${summary(answers)}`);
      assert.equal(answers.filter((x) => x.body.faultcode === 'Server.Session.auth_failed').length, evaluated);
      assert.equal(answers.filter((x) => x.body.faultcode === 'Server.Session.cannot_login_brute_force_activity').length, 50 - evaluated, summary(answers));
      for (const t of [a, b]) assert.equal((await login(t, 'raced', 'Raced-pass1')).body.faultcode, 'Server.Session.cannot_login_brute_force_activity');
    });

    test('40 parallel guesses of different logins from one IP over both replicas: at most LOCKOUT_IP_THRESHOLD evaluated, and no per-IP row written', async () => {
      a.clock.advance(a.config.LOCKOUT_MAX + 1);
      b.clock.advance(b.config.LOCKOUT_MAX + 1);
      const { result: answers, evaluated } = await countingChecks([a, b], () =>
        Promise.all(Array.from({ length: 40 }, (_, i) => login(i % 2 ? a : b, `sprayed-${i}`, 'Guess-pass1', 'account'))),
      );
      assert.ok(evaluated >= 1 && evaluated <= a.config.LOCKOUT_IP_THRESHOLD, `${evaluated} evaluated: ${summary(answers)}`);
      assert.equal(answers.filter((x) => x.body.faultcode === 'Server.Session.auth_failed').length, evaluated);
      assert.equal(answers.filter((x) => x.body.faultcode === 'Server.Session.cannot_login_brute_force_activity').length, 40 - evaluated);
      const knex = a.app.db.knex;
      assert.deepEqual(await knex('login_guards').where({ scope: 'ip' }).select('guard_key'), [], 'the per-IP counter is not a row');
      assert.deepEqual(await knex('rate_windows').select('rate_key'), [], 'nor the rate windows');
    });
  });

  describe(`RATE_LIMIT_LOGIN in Redis, two replicas [${target}]`, { skip: testRedisUrl() ? false : 'TEST_REDIS_URL is not set' }, () => {
    let a: TestApp;
    let b: TestApp;
    before(async () => {
      [a, b] = await replicas(target, { RATE_LIMIT_LOGIN: 3 });
    });
    after(async () => {
      await b?.close();
      await a?.close();
    });

    test('one window over both replicas', async () => {
      const answers = [];
      for (let i = 0; i < 6; i++) answers.push(await login(i % 2 ? a : b, `anyone-${i}`, 'Whatever1', 'account'));
      assert.deepEqual(
        answers.map((x) => x.status),
        [401, 401, 401, 429, 429, 429],
        summary(answers),
      );
      a.clock.advance(60_000);
      b.clock.advance(60_000);
      assert.equal((await login(b, 'anyone', 'Whatever1', 'account')).status, 401, 'a new minute, a new window');
    });
  });

  describe(`Redis going away [${target}]`, { skip: testRedisUrl() ? false : 'TEST_REDIS_URL is not set' }, () => {
    test('a guess in flight stays counted; every later call answers 503 and evaluates nothing', async () => {
      const redis = new URL(testRedisUrl()!);
      const proxy = await startFreezableProxy({ host: redis.hostname, port: Number(redis.port || 6379) });
      const t = await buildTestApp(target, { ...redisOverrides(), REDIS_URL: proxy.via(testRedisUrl()!), DB_QUERY_TIMEOUT: '1s' });
      try {
        const root = await loginRoot(t.app);
        await call(t.app, 'Representative/add_representative', { login: 'cut-off', password: 'Cut-pass1', password_must_change: false }, root);
        // Redis goes away while the first wrong password is being checked.
        const verify = t.app.passwords.verify;
        t.app.passwords.verify = async (p, h) => {
          await proxy.close();
          return verify(p, h);
        };
        const first = await login(t, 'cut-off', 'Wrong-pass1');
        assert.equal(first.body.faultcode, 'Server.Session.auth_failed', 'the guess already evaluated is answered');
        const row = await t.app.db.knex('login_guards').where({ scope: 'login' }).andWhere('guard_key', 'like', '%cut-off').first();
        assert.equal(Number(row.failures), 1, 'and counted against the login');

        let evaluated = 0;
        t.app.passwords.verify = async (p, h) => {
          evaluated++;
          return verify(p, h);
        };
        const later = await Promise.all([login(t, 'cut-off', 'Wrong-pass2'), login(t, 'cut-off', 'Cut-pass1'), login(t, 'other', 'Guess-pass3')]);
        for (const answer of later) assert.deepEqual([answer.status, answer.body.faultcode], [503, 'Server.Unavailable'], summary(later));
        assert.equal(evaluated, 0, 'no password is checked without a claimed slot');
        t.app.passwords.verify = verify;
      } finally {
        await t.close();
        await proxy.close().catch(() => undefined);
      }
    });
  });
}

describeEachGuardStore(
  'a failed attempt whose transaction gives up',
  (get) => {
    let root: string;
    before(async () => {
      root = await loginRoot(get().app);
    });

    test('answers 503 and settles its slot at once: the failure is counted, nothing stays held', async () => {
      const t = get();
      await call(t.app, 'Representative/add_representative', { login: 'contended', password: 'Contended-1', password_must_change: false }, root);
      const guard = () => t.app.db.knex('login_guards').where({ scope: 'login' }).andWhere('guard_key', 'like', '%contended').first();
      const record = t.app.repos.audit.record;
      // The failure's transaction keeps losing to contention until the retry bound (DB_RETRY_TIME) runs out.
      t.app.repos.audit.record = async (entry, now, trx) => {
        if (entry.event === 'login.failure') throw Object.assign(new Error('Deadlock found when trying to get lock'), { errno: 1213 });
        return record(entry, now, trx);
      };
      try {
        for (let i = 0; i < 2; i++) {
          const answer = await login(t, 'contended', `Wrong-${i}-x`);
          assert.deepEqual([answer.status, answer.body.faultcode], [503, 'Server.Unavailable']);
        }
      } finally {
        t.app.repos.audit.record = record;
      }
      const row = await guard();
      assert.deepEqual([Number(row.in_flight), Number(row.failures)], [0, 2], 'no slot left held; both evaluated guesses counted');
      const right = await login(t, 'contended', 'Contended-1');
      assert.equal(right.status, 200, JSON.stringify(right.body));
      assert.equal(Number((await guard()).failures), 0);
    });
  },
  { DB_RETRY_TIME: '50ms' },
);

describe('the per-IP counter in Redis, step by step', { skip: testRedisUrl() ? false : 'TEST_REDIS_URL is not set' }, () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp('sqlite', { ...redisOverrides(), LOCKOUT_DURATION: '1m', LOCKOUT_MAX: '5m' });
  });
  after(async () => t?.close());

  test('locks double from LOCKOUT_DURATION up to LOCKOUT_MAX, as rows do; repeated steps count once; stale claims expire; windows count', async () => {
    const counters = createRedisCounters(t.app.redis!);
    const lock = { base: t.config.LOCKOUT_DURATION, max: t.config.LOCKOUT_MAX };
    let now = 1_000_000_000_000;
    const lengths: number[] = [];
    for (let n = 1; n <= 5; n++) {
      let until: number | undefined;
      for (let i = 0; i < 3; i++) {
        const id = `attempt-${n}-${i}`;
        assert.deepEqual(await counters.claim('ip', '192.0.2.7', 3, id, now), { ok: true });
        assert.deepEqual(await counters.claim('ip', '192.0.2.7', 3, id, now), { ok: true }, 'a claim repeated is held once');
        until = await counters.failed('ip', '192.0.2.7', 3, id, now, lock);
        assert.equal(await counters.failed('ip', '192.0.2.7', 3, id, now, lock), undefined, 'an outcome repeated changes nothing');
      }
      assert.ok(until !== undefined);
      lengths.push(until - now);
      assert.deepEqual(await counters.claim('ip', '192.0.2.7', 3, `locked-${n}`, now + 1), { ok: false, locked: true, lockedUntil: until });
      now = until;
    }
    assert.deepEqual(
      lengths,
      [1, 2, 3, 4, 5].map((n) => lockDuration(n, lock.base, lock.max)),
    );
    assert.deepEqual(lengths, [60_000, 120_000, 240_000, 300_000, 300_000]);

    // Claims of calls that died free their slots after STALE_CLAIM_MS.
    for (let i = 0; i < 3; i++) assert.deepEqual(await counters.claim('ip', '192.0.2.8', 3, `dying-${i}`, now), { ok: true });
    assert.deepEqual(await counters.claim('ip', '192.0.2.8', 3, 'next', now), { ok: false, locked: false });
    assert.deepEqual(await counters.claim('ip', '192.0.2.8', 3, 'next', now + STALE_CLAIM_MS + 1), { ok: true });

    // Rate windows: one counter per window, a new one for the next window.
    const hits = [];
    for (let i = 0; i < 3; i++) hits.push((await counters.hit('login:192.0.2.9', 60_000, now)).hits);
    hits.push((await counters.hit('login:192.0.2.9', 60_000, now + 60_000)).hits);
    assert.deepEqual(hits, [1, 2, 3, 1]);
  });
});
