import assert from 'node:assert/strict';
import { test } from 'node:test';
import { disjointPrefixes, prefixRange } from '../../src/repositories/key-range.js';
import { decodeCursor, encodeCursor, page } from '../../src/rpc/page.js';
import { Fault } from '../../src/rpc/faults.js';

test('a prefix is the range from itself to itself with the last character incremented', () => {
  assert.deepEqual(prefixRange('abc'), { lower: 'abc', upper: 'abd' });
  assert.deepEqual(prefixRange('a\u{10ffff}'), { lower: 'a\u{10ffff}', upper: 'b' });
  assert.deepEqual(prefixRange('\u{10ffff}'), { lower: '\u{10ffff}' });
  assert.deepEqual(prefixRange('x\ud7ff'), { lower: 'x\ud7ff', upper: 'x\ue000' }, 'surrogates are skipped');
  const { lower, upper } = prefixRange('jö');
  for (const key of ['jö', 'jöe', 'jö\u{1f600}', 'jö\u{10fffe}']) {
    assert.ok(Buffer.compare(Buffer.from(key), Buffer.from(lower)) >= 0 && Buffer.compare(Buffer.from(key), Buffer.from(upper as string)) < 0, key);
  }
  for (const key of ['jo', 'jp', 'jõ', 'j']) {
    const inside = Buffer.compare(Buffer.from(key), Buffer.from(lower)) >= 0 && Buffer.compare(Buffer.from(key), Buffer.from(upper as string)) < 0;
    assert.equal(inside, false, key);
  }
});

test('of overlapping prefixes only the shorter is searched', () => {
  assert.deepEqual(disjointPrefixes(['ab', 'a', 'a', 'b']), ['a', 'b']);
});

test('a cursor decodes to the key it was made of, for its own order only', () => {
  const cursor = encodeCursor('at', [1700000000000, 42]);
  assert.match(cursor, /^[A-Za-z0-9_-]+$/);
  assert.deepEqual(decodeCursor(cursor, 'at', ['int', 'int']), [1700000000000, 42]);
  for (const [c, order, shape] of [
    [cursor, 'id', ['int', 'int']],
    [cursor, 'at', ['int']],
    [cursor, 'at', ['int', 'string']],
    ['%%%', 'at', ['int', 'int']],
    [Buffer.from('[').toString('base64url'), 'at', ['int']],
    [encodeCursor('key', ['x'.repeat(300)]), 'key', ['string']],
  ] as const) {
    assert.throws(
      () => decodeCursor(c, order, shape),
      (e: unknown) => e instanceof Fault && e.faultcode === 'Client.Request.invalid_params',
    );
  }
  assert.throws(() => page({ cursor, offset: 5 }, 'at', ['int', 'int']), Fault);
  assert.deepEqual(page({}), { limit: 100, offset: 0, withTotal: false });
});
