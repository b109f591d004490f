import type { SessionWithPrincipal } from '../repositories/sessions.js';

/** Reads sessions of one realm, with their principal's state, in one committed read. */
export type LoadSessions = (ids: readonly string[], realm: string) => Promise<SessionWithPrincipal[]>;

/** Sessions read together at most (one statement each). */
const MAX_BATCH = 64;

/**
 * Every authenticated call reads its session row, with the principal's
 * blocked flag and permissions (and its impersonating admin's), from the
 * database: nothing mutable is kept between calls. A revocation, logout,
 * password change or block is therefore refused by every replica at its
 * next call as soon as it has committed, whatever order transactions commit
 * in, however long the revoking one stayed open, and whatever the
 * auto-increment step (an earlier design cached rows and evicted them from a
 * feed numbered by auto-increment, which Galera and long-open transactions
 * broke: issue 18).
 *
 * The cost is kept to one statement per event-loop turn and realm: calls
 * that arrive together share one indexed read of all their sessions, which
 * starts in the check phase after each of them arrived, so it sees every
 * change committed before any of them.
 */
export class SessionReads {
  private queued = new Map<string, Map<string, Array<(row: SessionWithPrincipal | undefined) => void>>>();
  private failures = new Map<string, Array<(err: unknown) => void>>();
  private scheduled = false;

  constructor(private readonly load: LoadSessions) {}

  get(sessionId: string, realm: string): Promise<SessionWithPrincipal | undefined> {
    return new Promise((resolve, reject) => {
      let ids = this.queued.get(realm);
      if (!ids) {
        this.queued.set(realm, (ids = new Map()));
        this.failures.set(realm, []);
      }
      const waiting = ids.get(sessionId);
      if (waiting) waiting.push(resolve);
      else ids.set(sessionId, [resolve]);
      this.failures.get(realm)?.push(reject);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    const queued = this.queued;
    const failures = this.failures;
    this.queued = new Map();
    this.failures = new Map();
    this.scheduled = false;
    for (const [realm, ids] of queued) {
      const all = [...ids.keys()];
      const batches: string[][] = [];
      for (let i = 0; i < all.length; i += MAX_BATCH) batches.push(all.slice(i, i + MAX_BATCH));
      Promise.all(batches.map((batch) => this.load(batch, realm))).then(
        (results) => {
          const found = new Map(results.flat().map((row) => [row.id, row]));
          for (const [id, waiting] of ids) for (const resolve of waiting) resolve(found.get(id));
        },
        (err: unknown) => {
          for (const reject of failures.get(realm) ?? []) reject(err);
        },
      );
    }
  }
}
