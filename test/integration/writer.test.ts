import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Knex } from 'knex';
import { loadConfig } from '../../src/config/load.js';
import { createDatabase } from '../../src/repositories/connection.js';
import { compile, param } from '../../src/repositories/statements.js';
import { retryingTransaction } from '../../src/repositories/writer.js';
import { Fault } from '../../src/rpc/faults.js';
import { describeEachDatabase } from '../helpers/app.js';

/** Resolves once `done()` holds (polled: the other transaction is waiting in the database, not in JS). */
const until = (done: () => boolean) =>
  new Promise<void>((resolve) => {
    const poll = () => (done() ? resolve() : setTimeout(poll, 5));
    poll();
  });

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
      const bothTaken = () => until(() => taken >= 2);
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

    test('retryingTransaction: a deadlock victim is run again as a whole unit (its earlier writes once, not twice), and both succeed', async () => {
      const { app } = get();
      await app.db.knex('rate_windows').insert([
        { rate_key: 'r-x', window_start: 0, hits: 0 },
        { rate_key: 'r-y', window_start: 0, hits: 0 },
      ]);
      let runs = 0;
      let taken = 0;
      const bothTaken = () => until(() => taken >= 2);
      // The whole primary key: a lock on that row alone, no gap lock that would hold up the other's first insert.
      const bump = (trx: Knex.Transaction, key: string) => trx('rate_windows').where({ rate_key: key, window_start: 0 }).increment('hits', 1);
      // Each unit first writes a row of its own, then takes the two shared rows in opposite order.
      const crossing = (own: string, first: string, second: string) =>
        retryingTransaction(app.db, async (trx) => {
          runs++;
          await trx('rate_windows').insert({ rate_key: own, window_start: 0, hits: runs });
          await bump(trx, first);
          taken++;
          await bothTaken();
          await bump(trx, second);
          return own;
        });
      assert.deepEqual(await Promise.all([crossing('r-a', 'r-x', 'r-y'), crossing('r-b', 'r-y', 'r-x')]), ['r-a', 'r-b']);
      assert.equal(runs, 3, 'InnoDB chose one victim, which ran again from the start');
      assert.equal(await committed('r-x'), 2);
      assert.equal(await committed('r-y'), 2);
      const own = await app.db.knex('rate_windows').whereIn('rate_key', ['r-a', 'r-b']).select('rate_key');
      assert.equal(own.length, 2, "each unit's first write is there once: the victim's first run was rolled back whole");
    });

    test('retryingTransaction: a row held locked past DB_RETRY_TIME ends in 503 Server.Unavailable, after several attempts', async (t) => {
      const { db } = get();
      const short = createDatabase(loadConfig({}, { DATABASE_URL: db.url, DB_RETRY_TIME: '1500ms' }));
      t.after(() => short.knex.destroy());
      await short.knex('rate_windows').insert({ rate_key: 'r-held', window_start: 0, hits: 0 });
      // Another connection holds the row until the test ends.
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let locked!: () => void;
      const isLocked = new Promise<void>((resolve) => (locked = resolve));
      const holder = get().app.db.knex.transaction(async (trx) => {
        await trx('rate_windows').where({ rate_key: 'r-held', window_start: 0 }).forUpdate().first();
        locked();
        await held;
      });
      await isLocked;
      let runs = 0;
      const started = Date.now();
      try {
        await assert.rejects(
          retryingTransaction(short, async (trx) => {
            runs++;
            // Lock waits end after 1 s in this session (1205), so the bound runs out after a few attempts.
            await trx.raw('set session innodb_lock_wait_timeout = 1');
            await trx('rate_windows').where({ rate_key: 'r-held', window_start: 0 }).increment('hits', 1);
          }),
          (err: unknown) => err instanceof Fault && err.faultcode === 'Server.Unavailable' && err.http === 503,
        );
      } finally {
        release();
        await holder;
      }
      assert.ok(runs >= 2, `the unit ran ${runs} times before giving up`);
      assert.ok(Date.now() - started >= 1500, 'it gave up only once the bound was spent');
      assert.equal(await committed('r-held'), 0, 'nothing of the abandoned unit was written');
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
