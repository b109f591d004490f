import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SessionCache, type SessionCacheSource } from '../../src/auth/session-cache.js';
import type { SessionChangeRow } from '../../src/repositories/session-changes.js';
import type { SessionWithPrincipal } from '../../src/repositories/sessions.js';

/** An in-memory database for the cache: rows, a change feed, counters of what the cache asked. */
function fakeSource() {
  const rows = new Map<string, SessionWithPrincipal>();
  /** Feed rows in the order they were numbered; `committed: false` ones are not visible yet. */
  const feed: Array<SessionChangeRow & { committed: boolean }> = [];
  let version = 1;
  let now = 1_000_000;
  const counts = { loads: 0, feedReads: 0, holesAskedFor: [] as number[][] };
  let beforeLoadReturns: (() => Promise<void>) | undefined;
  const source: SessionCacheSource = {
    async load(id) {
      counts.loads++;
      const row = rows.get(id);
      const snapshot = row && { ...row };
      await beforeLoadReturns?.();
      return snapshot;
    },
    async changesSince(seq, holes) {
      counts.feedReads++;
      counts.holesAskedFor.push([...holes]);
      return feed.filter((r) => r.committed && (r.seq > seq || holes.includes(r.seq))).map(({ committed: _, ...r }) => r);
    },
    async latestSeq() {
      return feed.findLast((r) => r.committed)?.seq ?? 0;
    },
    dataVersion: () => version,
    now: () => now,
  };
  const session = (id: string, realm = 'account', principal = 1, impersonatedBy: number | null = null): void => {
    rows.set(id, { id, realm, principal_id: principal, impersonated_by: impersonatedBy, revoked_at: null } as SessionWithPrincipal);
  };
  /** Rows removed from the feed (pruned after their retention). */
  const prune = (upTo: number): void => {
    while (feed[0] && feed[0].seq <= upTo) feed.shift();
  };
  /** A change numbered now and committed later (InnoDB numbers a row when it is inserted); returns its commit. */
  const open = (c: Partial<SessionChangeRow>): (() => void) => {
    const row = { seq: (feed.at(-1)?.seq ?? 0) + 1, session_id: null, realm: null, principal_id: null, ...c, committed: false };
    feed.push(row);
    return () => {
      row.committed = true;
      version++;
    };
  };
  const change = (c: Partial<SessionChangeRow>): void => open(c)();
  return {
    source,
    rows,
    counts,
    session,
    change,
    open,
    prune,
    advance: (ms: number) => (now += ms),
    onLoad: (f: (() => Promise<void>) | undefined) => (beforeLoadReturns = f),
  };
}

const options = { size: 100, maxAge: 5_000, page: 50 };

test('a cached session is served without reading it again, and the feed is skipped while nothing was committed', async () => {
  const db = fakeSource();
  db.session('s1');
  const cache = new SessionCache(db.source, options);
  await cache.get('s1', 'account');
  await cache.get('s1', 'account');
  await cache.get('s1', 'account');
  assert.equal(db.counts.loads, 1);
  assert.equal(db.counts.feedReads, 1, 'only the first call reads (the tail of) the feed');
});

test('a change to one session evicts it; a change to a principal evicts all of its sessions and those an admin impersonates', async () => {
  const db = fakeSource();
  db.session('a1', 'account', 7);
  db.session('a2', 'account', 7);
  db.session('other', 'account', 8);
  db.session('imp', 'account', 8, 42);
  const cache = new SessionCache(db.source, options);
  for (const id of ['a1', 'a2', 'other', 'imp']) await cache.get(id, 'account');
  assert.equal(db.counts.loads, 4);

  db.change({ session_id: 'a1' });
  for (const id of ['a1', 'a2', 'other', 'imp']) await cache.get(id, 'account');
  assert.equal(db.counts.loads, 5, 'only a1 read again');

  db.change({ realm: 'account', principal_id: 7 });
  db.change({ realm: 'admin', principal_id: 42 });
  for (const id of ['a1', 'a2', 'other', 'imp']) await cache.get(id, 'account');
  assert.equal(db.counts.loads, 8, 'a1, a2 and the impersonated session read again, not "other"');
});

test('calls arriving together share one read of the feed', async () => {
  const db = fakeSource();
  db.session('s1');
  const cache = new SessionCache(db.source, options);
  await cache.get('s1', 'account');
  const reads = db.counts.feedReads;
  db.change({ session_id: 'unrelated' });
  await Promise.all(Array.from({ length: 20 }, () => cache.get('s1', 'account')));
  assert.equal(db.counts.feedReads, reads + 1);
});

test('a load that overlapped an eviction is not kept', async () => {
  const db = fakeSource();
  db.session('s1');
  const cache = new SessionCache(db.source, options);
  // While s1 is being read (a slow round trip), it is revoked and another call applies that change
  // before the read returns: the eviction comes before the copy it should evict.
  db.onLoad(async () => {
    db.onLoad(undefined);
    db.rows.get('s1')!.revoked_at = 1;
    db.change({ session_id: 's1' });
    await cache.get('other', 'account');
  });
  const first = await cache.get('s1', 'account');
  assert.equal(first?.revoked_at, null, 'the read itself saw the row before the change');
  const second = await cache.get('s1', 'account');
  assert.equal(second?.revoked_at, 1, 'the stale copy was not cached');
});

test('a full page of changes drops everything; an entry past its maximum age is read again', async () => {
  const db = fakeSource();
  db.session('s1');
  const cache = new SessionCache(db.source, { ...options, page: 3 });
  await cache.get('s1', 'account');
  for (let i = 0; i < 3; i++) db.change({ session_id: `x${i}` });
  await cache.get('s1', 'account');
  assert.equal(db.counts.loads, 2);
  await cache.get('s1', 'account');
  assert.equal(db.counts.loads, 2);
  db.advance(5_000);
  await cache.get('s1', 'account');
  assert.equal(db.counts.loads, 3);
});

test('size 0 turns the cache off', async () => {
  const db = fakeSource();
  db.session('s1');
  const cache = new SessionCache(db.source, { ...options, size: 0 });
  await cache.get('s1', 'account');
  await cache.get('s1', 'account');
  assert.equal(db.counts.loads, 2);
});

test('a change committed after a later-numbered one still evicts, as soon as it commits', async () => {
  const db = fakeSource();
  db.session('x');
  db.session('y');
  const cache = new SessionCache(db.source, options);
  await cache.get('x', 'account');
  await cache.get('y', 'account');
  const commitX = db.open({ session_id: 'x' });
  db.change({ session_id: 'y' });
  await cache.get('y', 'account');
  assert.equal(db.counts.loads, 3, 'y read again');
  await cache.get('x', 'account');
  assert.equal(db.counts.loads, 3, "x's change is not committed yet");
  commitX();
  await cache.get('x', 'account');
  assert.equal(db.counts.loads, 4, 'x read again once its change committed');
  assert.deepEqual(db.counts.holesAskedFor.at(-1), [1], 'the read asked for the skipped number');
  db.change({ session_id: 'unrelated' });
  await cache.get('x', 'account');
  assert.deepEqual(db.counts.holesAskedFor.at(-1), [], 'a filled hole is not asked for again');
});

test('a hole is watched for holeWatch, then forgotten (a rolled-back transaction)', async () => {
  const db = fakeSource();
  db.session('s1');
  const cache = new SessionCache(db.source, { ...options, holeWatch: 1_000 });
  await cache.get('s1', 'account');
  db.open({ session_id: 'never' });
  db.change({ session_id: 'unrelated' });
  await cache.get('s1', 'account');
  db.change({ session_id: 'unrelated-2' });
  await cache.get('s1', 'account');
  assert.deepEqual(db.counts.holesAskedFor.at(-1), [1]);
  db.advance(1_000);
  db.change({ session_id: 'unrelated-3' });
  await cache.get('s1', 'account');
  assert.deepEqual(db.counts.holesAskedFor.at(-1), []);
});

test('a fresh cache reads the tail of the feed back, so a change numbered before it started still evicts', async () => {
  const db = fakeSource();
  db.session('s1');
  db.change({ session_id: 'before' });
  const commit = db.open({ session_id: 's1' });
  db.change({ session_id: 'unrelated' });
  const cache = new SessionCache(db.source, options);
  await cache.get('s1', 'account');
  assert.equal(db.counts.loads, 1);
  commit();
  await cache.get('s1', 'account');
  assert.equal(db.counts.loads, 2);
});

test('more holes than it can watch: the cache starts over', async () => {
  const db = fakeSource();
  db.session('s1');
  const cache = new SessionCache(db.source, { ...options, page: 1_000 });
  await cache.get('s1', 'account');
  for (let i = 0; i < 101; i++) db.open({ session_id: `open-${i}` });
  db.change({ session_id: 'unrelated' });
  await cache.get('s1', 'account');
  assert.equal(db.counts.loads, 2, 'dropped and read again');
});

test('numbers below the first row a fresh cache reads (pruned ones) are not watched as holes', async () => {
  const db = fakeSource();
  db.session('s1');
  for (let i = 0; i < 150; i++) db.change({ session_id: `old-${i}` });
  db.prune(148);
  const cache = new SessionCache(db.source, options);
  await cache.get('s1', 'account');
  db.change({ session_id: 'new' });
  await cache.get('s1', 'account');
  assert.deepEqual(db.counts.holesAskedFor.at(-1), []);
});

test('more open transactions than it can watch: nothing is served from the cache until they commit or the watch ends', async () => {
  const db = fakeSource();
  db.session('x');
  const cache = new SessionCache(db.source, { ...options, page: 1_000, holeWatch: 10_000 });
  await cache.get('x', 'account');
  const commitX = db.open({ session_id: 'x' });
  for (let i = 0; i < 100; i++) db.open({ session_id: `open-${i}` });
  for (let i = 0; i < 300; i++) db.change({ session_id: `other-${i}` });
  const before = db.counts.loads;
  await cache.get('x', 'account');
  await cache.get('x', 'account');
  assert.equal(db.counts.loads, before + 2, 'read from the database every time: the late change below may still commit');
  commitX();
  db.rows.get('x')!.revoked_at = 1;
  assert.equal((await cache.get('x', 'account'))?.revoked_at, 1);
  db.advance(10_000);
  db.change({ session_id: 'after' });
  await cache.get('x', 'account');
  const settled = db.counts.loads;
  await cache.get('x', 'account');
  assert.equal(db.counts.loads, settled, 'once the watch has ended, the cache serves again');
});
