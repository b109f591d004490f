import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lockDuration, retryAfterSeconds } from '../../src/domain/lockout.js';

test('locks double from the base up to the maximum', () => {
  const base = 60_000;
  const max = 3_600_000;
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 8].map((n) => lockDuration(n, base, max)),
    [60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000, 3_600_000, 3_600_000],
  );
  assert.equal(lockDuration(1000, base, max), max, 'no overflow for huge counts');
  assert.equal(lockDuration(0, base, max), base);
});

test('retry_after is whole seconds, rounded up, never 0', () => {
  assert.equal(retryAfterSeconds(10_500, 10_000), 1);
  assert.equal(retryAfterSeconds(70_001, 10_000), 61);
  assert.equal(retryAfterSeconds(5_000, 10_000), 1);
});
