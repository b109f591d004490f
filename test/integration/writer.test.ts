import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compile, param } from '../../src/repositories/statements.js';
import { describeEachDatabase } from '../helpers/app.js';

/** The writer on each engine: transactions of compiled statements, grouped into shared commits on SQLite. */
describeEachDatabase('writer transactions', (get, target) => {
  const statements = () => {
    const { knex } = get().app.db;
    return {
      insert: compile(knex('rate_windows').insert({ rate_key: param('key'), window_start: 0, hits: param('hits') })),
      bump: compile(
        knex('rate_windows')
          .where({ rate_key: param('key') })
          .update({ hits: knex.raw('hits + 1') }),
      ),
      read: compile(
        knex('rate_windows')
          .where({ rate_key: param('key') })
          .first('hits'),
      ),
    };
  };
  const committed = async (key: string) => {
    const row = await get().app.db.reads.first<{ hits: number }>('select hits from rate_windows where rate_key = ?', [key]);
    return row?.hits;
  };

  test('transactions started together: each commits or rolls back whole, a failing one takes no other with it', async () => {
    const { writer } = get().app.db;
    const s = statements();
    const boom = new Error('second statement failed');
    const outcomes = await Promise.allSettled([
      writer.transaction(async (ex) => ex.run(s.insert, { key: 'w-a', hits: 1 })),
      writer.transaction(async (ex) => {
        await ex.run(s.insert, { key: 'w-b', hits: 1 });
        await ex.run(s.bump, { key: 'w-b' });
        throw boom;
      }),
      writer.transaction(async (ex) => {
        await ex.run(s.insert, { key: 'w-c', hits: 1 });
        await ex.run(s.bump, { key: 'w-c' });
        return (await ex.first<{ hits: number }>(s.read, { key: 'w-c' }))?.hits;
      }),
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.equal((outcomes[1] as PromiseRejectedResult).reason, boom, 'the failing transaction hears its own error');
    assert.equal((outcomes[2] as PromiseFulfilledResult<number>).value, 2, 'a transaction reads its own writes');
    assert.equal(await committed('w-a'), 1);
    assert.equal(await committed('w-b'), undefined, 'nothing of the failed transaction remains');
    assert.equal(await committed('w-c'), 2);
  });

  test('a transaction is answered only once its writes are committed (another connection sees them)', async () => {
    const { writer } = get().app.db;
    const s = statements();
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        writer.transaction((ex) => ex.run(s.insert, { key: `w-seen-${i}`, hits: i + 1 })).then(() => committed(`w-seen-${i}`)),
      ),
    );
    assert.deepEqual(
      answers,
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
  });

  test("within(): the caller's knex transaction is used, and rolled back with it", async () => {
    const { writer, knex } = get().app.db;
    const s = statements();
    await assert.rejects(
      knex.transaction(async (trx) => {
        await writer.within(trx, (ex) => ex.run(s.insert, { key: 'w-knex', hits: 1 }));
        assert.equal((await trx('rate_windows').where({ rate_key: 'w-knex' }).first())?.hits, 1, 'visible inside the transaction');
        throw new Error('roll back');
      }),
      /roll back/,
    );
    assert.equal(await committed('w-knex'), undefined);
    await writer.within(undefined, (ex) => ex.run(s.insert, { key: 'w-own', hits: 3 }));
    assert.equal(await committed('w-own'), 3, 'without a transaction, within() commits one of its own');
  });

  if (target === 'mariadb') {
    test('a deadlock victim is rolled back and run again, so both transactions succeed', async () => {
      const { writer } = get().app.db;
      const s = statements();
      await writer.transaction(async (ex) => {
        await ex.run(s.insert, { key: 'w-x', hits: 0 });
        return ex.run(s.insert, { key: 'w-y', hits: 0 });
      });
      // Each takes one row, waits until the other has taken its row, then asks for the other's.
      let runs = 0;
      let taken = 0;
      const bothTaken = () =>
        new Promise<void>((resolve) => {
          const poll = () => (taken >= 2 ? resolve() : setTimeout(poll, 5));
          poll();
        });
      const crossing = (first: string, second: string) =>
        writer.transaction(async (ex) => {
          runs++;
          await ex.run(s.bump, { key: first });
          taken++;
          await bothTaken();
          await ex.run(s.bump, { key: second });
          return 'done';
        });
      assert.deepEqual(await Promise.all([crossing('w-x', 'w-y'), crossing('w-y', 'w-x')]), ['done', 'done']);
      assert.equal(runs, 3, 'InnoDB chose one victim, which ran again');
      assert.equal(await committed('w-x'), 2);
      assert.equal(await committed('w-y'), 2);
    });
  }
});

/** The per-IP login rate windows, counted through the writer on each engine. */
describeEachDatabase('rate windows', (get) => {
  const windows = (key: string) => get().app.db.knex('rate_windows').where({ rate_key: key }).orderBy('window_start').select('window_start', 'hits');

  test('hits count within their window; the first hit of a new window forgets the earlier ones', async () => {
    const { rateWindows } = get().app.repos;
    const key = 'login:192.0.2.7';
    const minute = 60_000;
    const t0 = 1_800_000_000_000 - (1_800_000_000_000 % minute);
    assert.deepEqual(await rateWindows.hit(key, minute, t0 + 1), { hits: 1, windowEnd: t0 + minute });
    assert.deepEqual(await rateWindows.hit(key, minute, t0 + 2), { hits: 2, windowEnd: t0 + minute });
    assert.deepEqual(await rateWindows.hit('login:192.0.2.8', minute, t0 + 3), { hits: 1, windowEnd: t0 + minute }, 'keys count apart');
    assert.deepEqual(await windows(key), [{ window_start: t0, hits: 2 }]);

    assert.deepEqual(await rateWindows.hit(key, minute, t0 + minute + 5), { hits: 1, windowEnd: t0 + 2 * minute });
    assert.deepEqual(await rateWindows.hit(key, minute, t0 + minute + 6), { hits: 2, windowEnd: t0 + 2 * minute });
    assert.deepEqual(await windows(key), [{ window_start: t0 + minute, hits: 2 }], 'only the current window is kept');
    assert.equal((await windows('login:192.0.2.8')).length, 1, 'another key keeps its own window');
  });
});
