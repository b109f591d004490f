import { Writable } from 'node:stream';
import { after, before, describe } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config, ConfigKey } from '../../src/config/schema.js';
import { TestClock } from './clock.js';
import { createTestDatabase, databaseTargets, type TargetName, type TestDatabase } from './databases.js';
import { redisOverrides, testRedisUrl } from './redis.js';

export const ROOT_PASSWORD = 'Root-pass-1';

export interface TestApp {
  app: FastifyInstance;
  config: Config;
  clock: TestClock;
  db: TestDatabase;
  /** Every log line written so far, raw. */
  logs: string[];
  announced: string[];
  close(): Promise<void>;
}

export type Overrides = Partial<Record<ConfigKey, unknown>>;

/**
 * The real application, built as the server builds it, on its own database.
 * Tests lower the bcrypt cost through config, as an operator could.
 */
export async function buildTestApp(target: TargetName, overrides: Overrides = {}, existing?: TestDatabase): Promise<TestApp> {
  const db = existing ?? (await createTestDatabase(target));
  const config = loadConfig(
    {},
    {
      DATABASE_URL: db.url,
      DATA_DIR: db.dataDir,
      BCRYPT_COST: 4,
      BOOTSTRAP_ADMIN_PASSWORD: ROOT_PASSWORD,
      LOG_LEVEL: 'info',
      VALIDATE_RESULTS: true,
      // Every test call comes from one IP: per-IP limits are tested on their own, with low values.
      RATE_LIMIT_LOGIN: 100_000,
      LOCKOUT_IP_THRESHOLD: 100_000,
      // Tests run delivery passes themselves (app.notifications.runOnce()).
      NOTIFY_POLL_INTERVAL: '0',
      // And housekeeping passes (app.housekeeping.runOnce()): a timed one would delete what a test moved its clock past.
      HOUSEKEEPING_INTERVAL: '0',
      ...overrides,
    },
  );
  const logs: string[] = [];
  const announced: string[] = [];
  const logStream = new Writable({
    write(chunk, _enc, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const clock = new TestClock();
  const app = await buildApp({ config, clock, logStream, announce: (t) => announced.push(t) });
  return {
    app,
    config,
    clock,
    db,
    logs,
    announced,
    close: async () => {
      await app.close();
      if (!existing) await db.drop();
    },
  };
}

/**
 * Declares a suite once per storage target. `get()` returns that target's
 * app, built before the suite's tests and closed after them.
 */
export function describeEachDatabase(title: string, body: (get: () => TestApp, target: TargetName) => void, overrides: Overrides = {}): void {
  for (const target of databaseTargets()) {
    describe(`${title} [${target}]`, () => {
      let t: TestApp | undefined;
      before(async () => {
        t = await buildTestApp(target, overrides);
      });
      after(async () => {
        await t?.close();
      });
      body(() => {
        if (!t) throw new Error('test app not built');
        return t;
      }, target);
    });
  }
}

/** Where the per-IP brute-force counter and the rate windows live: rows, and Redis too when TEST_REDIS_URL is set (CI sets it). */
export type GuardStore = 'database' | 'redis';

export function guardStores(): GuardStore[] {
  return testRedisUrl() ? ['database', 'redis'] : ['database'];
}

/** The overrides that put an app's per-IP counters in `store` (Redis: a key prefix of its own). */
export const storeOverrides = (store: GuardStore): Overrides => (store === 'redis' ? redisOverrides() : {});

/** `describeEachDatabase`, once more per storage target with the per-IP counters and rate windows in Redis. */
export function describeEachGuardStore(
  title: string,
  body: (get: () => TestApp, target: TargetName, store: GuardStore) => void,
  overrides: Overrides = {},
): void {
  for (const target of databaseTargets()) {
    for (const store of guardStores()) {
      describe(`${title} [${target}, counters in ${store}]`, () => {
        let t: TestApp | undefined;
        before(async () => {
          t = await buildTestApp(target, { ...storeOverrides(store), ...overrides });
        });
        after(async () => {
          await t?.close();
        });
        body(
          () => {
            if (!t) throw new Error('test app not built');
            return t;
          },
          target,
          store,
        );
      });
    }
  }
}

type PasswordCheck = FastifyInstance['passwords']['verify'];

/**
 * Runs `fn` while every password check of `app` goes through `wrap` (which
 * is given the real check), then puts the real check back: how tests count
 * the checks that were evaluated, or make something happen during one.
 */
export async function wrappingPasswordChecks<T>(app: FastifyInstance, wrap: (verify: PasswordCheck) => PasswordCheck, fn: () => Promise<T>): Promise<T> {
  const verify = app.passwords.verify;
  app.passwords.verify = wrap(verify);
  try {
    return await fn();
  } finally {
    app.passwords.verify = verify;
  }
}
