import type { SessionWithPrincipal } from '../repositories/sessions.js';
import type { SessionCache } from './session-cache.js';

/** Reads sessions of one realm, with their principal's state, in one committed read. */
export type LoadSessions = (ids: readonly string[], realm: string) => Promise<SessionWithPrincipal[]>;

/** Sessions read together at most (one statement each). */
const MAX_BATCH = 64;

type Waiting = Array<(row: SessionWithPrincipal | undefined) => void>;

/**
 * Every authenticated call gets its session row, with the principal's
 * blocked flag and permissions (and its impersonating admin's), as committed
 * when the call arrived. A revocation, logout, password change or block is
 * therefore refused by every replica at its next call as soon as it has
 * committed, whatever order transactions commit in, however long the
 * revoking one stayed open, and whatever the auto-increment step (an earlier
 * design cached rows and evicted them from a feed numbered by auto-increment,
 * which Galera and long-open transactions broke: issue 18).
 *
 * Without `REDIS_URL` the row is read from the database on every call, one
 * statement per event-loop turn and realm: calls that arrive together share
 * one indexed read of all their sessions, which starts in the check phase
 * after each of them arrived, so it sees every change committed before any
 * of them. With it, a session cache (session-cache.ts) answers the calls of a
 * turn once its subscription to session notices has caught up with
 * everything published before they arrived; the rest are read as above.
 */
export class SessionReads {
  private queued = new Map<string, Map<string, Waiting>>();
  private failures = new Map<string, Array<(err: unknown) => void>>();
  private scheduled = false;

  constructor(
    private readonly load: LoadSessions,
    private readonly cache?: SessionCache,
  ) {}

  /** `fresh`: read the database even when the row is cached (the cached one was refused). */
  get(sessionId: string, realm: string, fresh = false): Promise<SessionWithPrincipal | undefined> {
    return new Promise((resolve, reject) => {
      // A fresh read is queued under a key of its own, so it never shares the cache's answer.
      const key = fresh && this.cache ? `${realm}\u0000fresh` : realm;
      let ids = this.queued.get(key);
      if (!ids) {
        this.queued.set(key, (ids = new Map()));
        this.failures.set(key, []);
      }
      const waiting = ids.get(sessionId);
      if (waiting) waiting.push(resolve);
      else ids.set(sessionId, [resolve]);
      this.failures.get(key)?.push(reject);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** This replica moved the session's `last_seen_at` forward to `at` (so a cached row does not look idle). */
  touched(sessionId: string, at: number): void {
    this.cache?.touched(sessionId, at);
  }

  private flush(): void {
    const queued = this.queued;
    const failures = this.failures;
    this.queued = new Map();
    this.failures = new Map();
    this.scheduled = false;
    for (const [key, ids] of queued) {
      const fresh = key.endsWith('\u0000fresh');
      const realm = fresh ? key.slice(0, -'\u0000fresh'.length) : key;
      const fail = (err: unknown) => {
        for (const reject of failures.get(key) ?? []) reject(err);
      };
      const cache = this.cache;
      if (!cache || fresh || !cache.holdsAny(ids.keys())) {
        this.read(realm, ids).catch(fail);
        continue;
      }
      // Rows not cached are read at once; cached ones wait for the subscription to catch up.
      const uncached = new Map<string, Waiting>();
      const cached = new Map<string, Waiting>();
      for (const [id, waiting] of ids) (cache.holdsAny([id]) ? cached : uncached).set(id, waiting);
      if (uncached.size > 0) this.read(realm, uncached).catch(fail);
      cache
        .sync()
        .then(async (synced) => {
          const missed = new Map<string, Waiting>();
          let hits = 0;
          for (const [id, waiting] of cached) {
            const row = synced ? cache.cached(id, realm) : undefined;
            if (row) {
              hits += waiting.length;
              for (const resolve of waiting) resolve(row);
            } else missed.set(id, waiting);
          }
          cache.count('hit', hits);
          if (missed.size > 0) await this.read(realm, missed);
        })
        .catch(fail);
    }
  }

  /** Reads `ids` from the database (keeping the rows in the cache when it may) and answers their calls. */
  private async read(realm: string, ids: Map<string, Waiting>): Promise<void> {
    const cache = this.cache;
    let calls = 0;
    for (const waiting of ids.values()) calls += waiting.length;
    cache?.count(cache.trusted ? 'miss' : 'bypass', calls);
    const mark = cache?.mark();
    const all = [...ids.keys()];
    const batches: string[][] = [];
    for (let i = 0; i < all.length; i += MAX_BATCH) batches.push(all.slice(i, i + MAX_BATCH));
    const results = await Promise.all(batches.map((batch) => this.load(batch, realm)));
    const rows = results.flat();
    if (cache && mark) cache.store(rows, realm, mark);
    const found = new Map(rows.map((row) => [row.id, row]));
    for (const [id, waiting] of ids) for (const resolve of waiting) resolve(found.get(id));
  }
}
