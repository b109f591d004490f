import assert from 'node:assert/strict';
import { test } from 'node:test';
import knexFactory from 'knex';
import { compile, param } from '../../src/repositories/statements.js';

// Builders only: toSQL() needs no connection.
const sqlite = knexFactory({ client: 'better-sqlite3', useNullAsDefault: true });
const mysql = knexFactory({ client: 'mysql2' });

test('named parameters are bound by name, in the order the SQL needs them, as often as they appear', () => {
  const st = compile(
    sqlite('t')
      .where({ a: param('a'), b: param('b') })
      .update({ c: param('b'), d: sqlite.raw('CASE WHEN d < ? THEN ? ELSE d END', [param('a'), param('a')]) }),
  );
  assert.equal(st.sql, 'update `t` set `c` = ?, `d` = CASE WHEN d < ? THEN ? ELSE d END where `a` = ? and `b` = ?');
  assert.deepEqual(st.bind({ a: 1, b: 'x' }), ['x', 1, 1, 1, 'x']);
  assert.deepEqual(st.bind({ a: 2, b: 'y' }), ['y', 2, 2, 2, 'y'], 'compiled once, bound afresh on every run');
});

test('integer constants go into the SQL (LIMIT 1, not LIMIT ?); other constants stay bindings', () => {
  const st = compile(
    sqlite('t')
      .where({ k: param('k'), kind: 'verify' })
      .first(),
  );
  assert.equal(st.sql, 'select * from `t` where `k` = ? and `kind` = ? limit 1');
  assert.deepEqual(st.bind({ k: 7 }), [7, 'verify']);
});

test("the dialect's own syntax is kept: upserts differ between SQLite and MySQL", () => {
  const build = (k: typeof sqlite) =>
    compile(
      k('g')
        .insert({ key: param('key'), n: 0 })
        .onConflict(['key'])
        .ignore(),
    );
  assert.match(build(sqlite).sql, /^insert into `g` .* on conflict \(`key`\) do nothing$/);
  assert.match(build(mysql).sql, /^insert ignore into `g`/);
  assert.deepEqual(build(mysql).bind({ key: 'a' }), ['a']);
});

test('a missing value is a bug, not a NULL: binding refuses it', () => {
  const st = compile(
    sqlite('t')
      .where({ a: param('a') })
      .delete(),
  );
  assert.throws(() => st.bind({}), /no value for parameter a/);
  assert.deepEqual(st.bind({ a: null }), [null], 'an explicit null is a value');
});

test('SQL whose placeholders cannot be matched to bindings is refused at compile time', () => {
  assert.throws(() => compile(sqlite.raw("select '?' as q")), /cannot compile/);
});
