import { randomUUID } from 'node:crypto';

/**
 * The Redis the Redis-backed suites run against: `TEST_REDIS_URL` (CI sets it
 * to the machine's Redis and fails if that does not answer). Each test app gets
 * its own key prefix, so suites running at once never see each other's keys.
 */
export function testRedisUrl(): string | undefined {
  return process.env.TEST_REDIS_URL;
}

export function redisOverrides(): { REDIS_URL: string; REDIS_KEY_PREFIX: string } {
  const url = testRedisUrl();
  if (!url) throw new Error('TEST_REDIS_URL is not set');
  return { REDIS_URL: url, REDIS_KEY_PREFIX: `test-${randomUUID().slice(0, 8)}:` };
}
