import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isRetryable, retryDelay, retryPolicy } from '../../src/repositories/retry.js';

const policy = retryPolicy(3000);

test('the ceiling of the wait doubles with each failed attempt, from 10 ms up to 500 ms', () => {
  const ceilings = [1, 2, 3, 4, 5, 6, 7, 8, 40].map((attempt) => retryDelay(policy, attempt, 0, 0.999999));
  assert.deepEqual(ceilings, [9, 19, 39, 79, 159, 319, 499, 499, 499]);
});

test('full jitter: the wait is uniform below the ceiling, never negative', () => {
  assert.equal(retryDelay(policy, 3, 0, 0), 0);
  assert.equal(retryDelay(policy, 3, 0, 0.5), 20);
});

test('the bound in time: no wait goes past it, and once it is spent there is no further attempt', () => {
  assert.equal(retryDelay(policy, 10, 2900, 0.999999), 100, 'the last wait ends at the bound');
  assert.equal(retryDelay(policy, 10, 3000, 0.5), undefined);
  assert.equal(retryDelay(policy, 1, 5000, 0.5), undefined);
  assert.equal(retryDelay(retryPolicy(0), 1, 0, 0.5), undefined, 'DB_RETRY_TIME=0: never run again');
});

test('only contention and a node not ready are retried: deadlock/certification 1213, lock wait 1205, commit 1180, WSREP 1047', () => {
  for (const errno of [1213, 1205, 1180, 1047]) assert.equal(isRetryable(Object.assign(new Error('x'), { errno })), true, String(errno));
  for (const errno of [1062, 1146, 2013]) assert.equal(isRetryable(Object.assign(new Error('x'), { errno })), false, String(errno));
  assert.equal(isRetryable(new Error('plain')), false);
  assert.equal(isRetryable(undefined), false);
});
