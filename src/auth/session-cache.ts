import type { SessionChangeRow } from '../repositories/session-changes.js';
import type { SessionWithPrincipal } from '../repositories/sessions.js';

export interface SessionCacheSource {
  /** The session row with its principal's state, read from the database (the realm names the principal's table). */
  load(sessionId: string, realm: string): Promise<SessionWithPrincipal | undefined>;
  /** Feed rows after `seq`, and those numbered `holes` if they are there now; oldest first (at most one page). */
  changesSince(seq: number, holes: readonly number[]): Promise<SessionChangeRow[]>;
  latestSeq(): Promise<number>;
  /** Where the engine offers it (SQLite): a number that moves whenever anyone commits. */
  dataVersion(): number | undefined;
  /** Milliseconds, the service clock. */
  now(): number;
}

export interface SessionCacheOptions {
  /** Entries kept at most (0: no cache, every call reads the database). */
  size: number;
  /** An entry older than this is read again whatever the feed says (guards against edits made outside the service). */
  maxAge: number;
  /** One page of the feed: a replica that finds a full page may have missed rows, and drops everything. */
  page: number;
  /** How long a gap in the feed's numbers is watched for a late commit (default one minute). */
  holeWatch?: number;
}

/** Gaps watched at most; beyond that the cache starts over (each is a transaction still open, or one rolled back). */
const MAX_HOLES = 100;

interface Entry {
  row: SessionWithPrincipal;
  loadedAt: number;
}

/**
 * Session rows cached in this process, kept correct across replicas by the
 * session change feed: before any cached row is trusted, the feed is read by
 * a query that started after the call arrived, so every revocation, logout or
 * block committed before the call (on any replica, or by the CLI) has evicted
 * the rows it touches. Calls arriving together share one feed read; on
 * SQLite the read is skipped while `PRAGMA data_version` says nobody has
 * committed.
 *
 * Invariant: a row stored in the cache was read after every feed row applied
 * so far, or is dropped (see `generation`), so an eviction can never be overtaken
 * by the load it should have evicted.
 *
 * Feed rows can become visible out of order: InnoDB numbers a row when it is
 * inserted, not when its transaction commits, so `seq` n+1 may be read while
 * n is still uncommitted. A number skipped in what was read is a *hole*,
 * asked for again by every read until its row shows up or it has been
 * watched for `holeWatch` (a rolled-back transaction leaves a hole for good).
 * A change that commits later than that still takes effect within `maxAge`.
 * A fresh process reads a short tail of the feed back for the same reason
 * (see `start`).
 * SQLite numbers and commits in one order, so it never has holes.
 */
export class SessionCache {
  private readonly entries = new Map<string, Entry>();
  private seq: number | undefined;
  private version: number | undefined;
  private pending: Promise<void> | undefined;
  /** Bumped whenever feed rows are applied: a load that overlapped one is not stored. */
  private generation = 0;
  /** Feed numbers skipped so far, with when they were first missed. */
  private readonly holes = new Map<number, number>();
  /** Where the next start reads back from at the latest: below the gaps it gave up watching, and since when. */
  private floor: { seq: number; since: number } | undefined;
  private get holeWatch(): number {
    return this.options.holeWatch ?? 60_000;
  }

  constructor(
    private readonly source: SessionCacheSource,
    private readonly options: SessionCacheOptions,
  ) {}

  get enabled(): boolean {
    return this.options.size > 0;
  }

  /** The session, from the cache when it is known to be current, else from the database. */
  async get(sessionId: string, realm: string): Promise<SessionWithPrincipal | undefined> {
    if (!this.enabled) return this.source.load(sessionId, realm);
    await this.current();
    const entry = this.entries.get(sessionId);
    if (entry && this.source.now() - entry.loadedAt < this.options.maxAge) return entry.row;
    return this.reload(sessionId, realm);
  }

  /** Reads the row again (e.g. it looked idle here but another replica may have seen it used since). */
  async reload(sessionId: string, realm: string): Promise<SessionWithPrincipal | undefined> {
    if (!this.enabled) return this.source.load(sessionId, realm);
    const generation = this.generation;
    const loadedAt = this.source.now();
    const row = await this.source.load(sessionId, realm);
    this.entries.delete(sessionId);
    if (row && generation === this.generation) {
      if (this.entries.size >= this.options.size) this.entries.delete(this.entries.keys().next().value as string);
      this.entries.set(sessionId, { row, loadedAt });
    }
    return row;
  }

  /** This process wrote `last_seen_at` itself: keep the cached copy in step. */
  touched(sessionId: string, at: number): void {
    const entry = this.entries.get(sessionId);
    if (entry && entry.row.last_seen_at < at) entry.row = { ...entry.row, last_seen_at: at };
  }

  /**
   * Resolves once the feed has been read by a query that started after this
   * call. The read starts in the event loop's check phase, so every call that
   * arrived in the same turn shares it (and it still starts after each of them).
   */
  private current(): Promise<void> {
    this.pending ??= new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        this.pending = undefined;
        this.sync().then(resolve, reject);
      });
    });
    return this.pending;
  }

  private async sync(): Promise<void> {
    // Read before the feed: a commit landing in between is either in this read of the feed or moves the version again.
    const version = this.source.dataVersion();
    if (version !== undefined && version === this.version && this.seq !== undefined) return;
    if (this.seq === undefined) {
      await this.start();
    } else {
      this.forgetOldHoles();
      this.apply(await this.source.changesSince(this.seq, [...this.holes.keys()]));
    }
    this.version = version;
  }

  /**
   * A fresh cache (or one starting over) holds nothing, so the feed matters
   * from here on; but the gaps between the last rows committed so far may be
   * transactions that commit later. It reads that tail back, from below the
   * lowest gap it was still watching when it started over, and watches the
   * gaps between the rows it reads. Numbers below the first row read are
   * not watched: pruned, long rolled back, or (rarely) still open, which
   * `maxAge` then bounds.
   */
  private async start(): Promise<void> {
    const floor = this.floor && this.source.now() - this.floor.since < this.holeWatch ? this.floor.seq : Number.POSITIVE_INFINITY;
    this.floor = undefined;
    const latest = await this.source.latestSeq();
    const tail = await this.source.changesSince(Math.max(0, Math.min(latest - Math.floor(this.options.page / 5), floor)), []);
    this.seq = Math.min(tail[0] === undefined ? latest : tail[0].seq - 1, floor);
    this.apply(tail);
  }

  private apply(rows: SessionChangeRow[]): void {
    if (rows.length === 0) return;
    this.generation++;
    if (rows.length >= this.options.page) {
      // Possibly more behind this page: start over rather than miss one.
      this.startOver();
      return;
    }
    for (const change of rows) {
      if (!this.holes.delete(change.seq)) {
        const seq = this.seq ?? 0;
        if (change.seq <= seq) continue;
        if (change.seq - seq - 1 > MAX_HOLES - this.holes.size) {
          // Too many open (or abandoned) transactions to watch: start over rather than miss one.
          this.startOver(seq + 1);
          return;
        }
        const now = this.source.now();
        for (let skipped = seq + 1; skipped < change.seq; skipped++) this.holes.set(skipped, now);
        this.seq = change.seq;
      }
      if (change.session_id !== null) {
        this.entries.delete(change.session_id);
      } else if (change.realm !== null && change.principal_id !== null) {
        for (const [id, { row }] of this.entries) {
          const own = row.realm === change.realm && row.principal_id === change.principal_id;
          const impersonating = change.realm === 'admin' && row.impersonated_by === change.principal_id;
          if (own || impersonating) this.entries.delete(id);
        }
      } else {
        this.entries.clear();
      }
    }
  }

  private forgetOldHoles(): void {
    const now = this.source.now();
    for (const [seq, missedAt] of this.holes) if (now - missedAt >= this.holeWatch) this.holes.delete(seq);
  }

  /** Drops everything; `unseenFrom`: the first of the numbers just skipped that were too many to watch. */
  private startOver(unseenFrom?: number): void {
    this.entries.clear();
    // Gaps still watched (and the ones just skipped) are read back by the next start, for as long
    // as a hole is watched: a gap that never fills must not keep the cache starting over.
    const gaps = [...this.holes];
    if (unseenFrom !== undefined) gaps.push([unseenFrom, this.source.now()]);
    this.floor = gaps.length === 0 ? undefined : { seq: Math.min(...gaps.map(([seq]) => seq)) - 1, since: Math.min(...gaps.map(([, at]) => at)) };
    this.holes.clear();
    this.seq = undefined;
  }
}
