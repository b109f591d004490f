import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { redisOverrides, testRedisUrl } from '../helpers/redis.js';

describe('REDIS_URL', { skip: testRedisUrl() ? false : 'TEST_REDIS_URL is not set (CI always sets it)' }, () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp('sqlite', redisOverrides());
  });
  after(async () => t?.close());

  test('the service connects at start and every key carries REDIS_KEY_PREFIX', async () => {
    const redis = t.app.redis;
    assert.ok(redis);
    await redis.set('probe', '1', 'EX', 10);
    const raw = new Redis(testRedisUrl()!);
    try {
      assert.equal(await raw.get(`${t.config.REDIS_KEY_PREFIX}probe`), '1');
      assert.equal(await raw.get('probe'), null);
    } finally {
      raw.disconnect();
    }
  });

  test('a Redis that cannot be reached stops the start, without printing the password', async () => {
    await assert.rejects(
      buildTestApp('sqlite', { REDIS_URL: 'redis://:hunter2-secret@127.0.0.1:1', DB_CONNECT_TIMEOUT: '500ms' }),
      (err: Error) => {
        assert.ok(!String(err.message).includes('hunter2-secret'), err.message);
        return true;
      },
    );
  });
});

describe('without REDIS_URL', () => {
  test('no Redis connection is made', async () => {
    const t = await buildTestApp('sqlite');
    try {
      assert.equal(t.app.redis, undefined);
    } finally {
      await t.close();
    }
  });
});
