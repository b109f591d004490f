import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomToken } from '../../src/domain/crypto/random.js';

test('tokens carry the asked number of random bytes, and no two are alike across many pool refills', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 2_000; i++) {
    const token = randomToken(32);
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(token, 'base64url').length, 32);
    seen.add(token);
  }
  assert.equal(seen.size, 2_000);
});

test('sizes that do not divide the pool still come whole, and bytes are spread (no zeroed leftovers handed out)', () => {
  const counts = new Array<number>(256).fill(0);
  for (let i = 0; i < 5_000; i++) for (const b of Buffer.from(randomToken(48), 'base64url')) counts[b] = (counts[b] ?? 0) + 1;
  // 240,000 bytes: about 937 of each value; a pool handing out zeroed bytes would pile up at 0.
  assert.ok(Math.max(...counts) < 1_200, `most frequent byte seen ${Math.max(...counts)} times`);
  assert.ok(Math.min(...counts) > 700, `least frequent byte seen ${Math.min(...counts)} times`);
  assert.throws(() => randomToken(5_000), RangeError);
});
