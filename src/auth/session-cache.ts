import type { Redis } from 'ioredis';
import type { SessionWithPrincipal } from '../repositories/sessions.js';
import type { SessionNotice } from '../repositories/session-notices.js';

/** What a session lookup was answered from: the cache, or the database (a miss, or a bypass while the cache cannot be trusted). */
export type SessionLookup = 'hit' | 'miss' | 'bypass';

/** Observes lookups, e.g. for a hit-ratio metric. Called synchronously; must not throw. */
export type SessionLookupListener = (outcome: SessionLookup, count: number) => void;

interface Entry {
  row: SessionWithPrincipal;
  /** performance.now() when the read that found it started. */
  readAt: number;
}

export interface SessionCacheOptions {
  /** The shared connection (`app.redis`): notices are published on it. */
  redis: Redis;
  /** Pub/sub channel, already prefixed with REDIS_KEY_PREFIX (ioredis does not prefix channels). */
  channel: string;
  /** Sessions kept at most (SESSION_CACHE_SIZE). */
  size: number;
  /** Milliseconds a row is served from the cache at most (SESSION_CACHE_MAX_AGE). */
  maxAge: number;
  /** Milliseconds to wait for the subscription's barrier before reading the database instead. */
  syncTimeout: number;
  log: { error(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

/**
 * Session rows (with their principal's state) kept between calls, only while
 * `REDIS_URL` is set and this replica holds a live subscription to the
 * session notices (issue 18 item 5):
 *
 * - every write that ends a session or changes what it may do notes it
 *   (repositories/session-notices.ts); the notice is published after the
 *   commit, and the revoking call is answered only after Redis took it;
 * - before a turn's calls are served from the cache, a PING goes through the
 *   subscriber connection. Redis answers a connection in order, so when its
 *   PONG is back every notice published before the calls arrived has been
 *   received and applied: a revocation committed and published anywhere is
 *   refused here at the next call, as if the row had been read;
 * - a row read from the database is kept only when no notice arrived while
 *   it was being read (it might be older than the notice);
 * - the subscription down, not yet confirmed, or a PING unanswered within
 *   `syncTimeout`: the cache is emptied and every call reads its row, as
 *   without Redis. A notice that could not be published (Redis went away
 *   right after the commit) is bounded by `maxAge`.
 */
export class SessionCache {
  private readonly entries = new Map<string, Entry>();
  private readonly sub: Redis;
  private live = false;
  private closed = false;
  /** Bumped by every notice and every loss of the subscription. */
  private epoch = 0;
  private listeners: SessionLookupListener[] = [];
  /** The PING out now, and the one the calls that arrived after it was sent wait for (see sync). */
  private inFlight: Promise<boolean> | undefined;
  private following: Promise<boolean> | undefined;

  constructor(private readonly options: SessionCacheOptions) {
    // A connection of its own: a subscribed connection takes no other commands. Resubscribed by hand,
    // so that the cache is trusted again only once the subscription is confirmed.
    this.sub = options.redis.duplicate({ autoResubscribe: false, lazyConnect: true, connectionName: `${options.channel}:subscriber` });
    this.sub.on('message', (channel: string, message: string) => {
      if (channel === options.channel) this.apply(message);
    });
    const lost = () => this.lose();
    this.sub.on('close', lost);
    this.sub.on('end', lost);
    this.sub.on('reconnecting', lost);
    this.sub.on('error', () => this.lose());
    this.sub.on('ready', () => void this.subscribe());
  }

  async start(): Promise<void> {
    await this.sub.connect();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.lose();
    await this.sub.quit().catch(() => this.sub.disconnect());
  }

  /** Registers a listener of lookups (see SessionLookupListener); returns what removes it. */
  observe(listener: SessionLookupListener): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /** Whether rows may be served from the cache now (a confirmed, live subscription). */
  get trusted(): boolean {
    return this.live;
  }

  /** Sends notices to every replica (the publisher of SessionNotices). Never rejects: a failure is logged, bounded by maxAge. */
  publish = async (notices: readonly SessionNotice[]): Promise<void> => {
    // This replica evicts at once, whatever happens to the message (and keeps no read that raced the change).
    this.epoch++;
    for (const n of notices) this.evict(n);
    try {
      await this.options.redis.publish(this.options.channel, JSON.stringify(notices));
    } catch (err) {
      this.options.log.error(
        { err: { message: (err as Error).message }, notices: notices.length },
        `session notice not published: other replicas may serve the changed sessions for up to SESSION_CACHE_MAX_AGE`,
      );
    }
  };

  /** Marks a read about to start: pass what it returns to `store`. */
  mark(): { epoch: number; at: number } {
    return { epoch: this.epoch, at: performance.now() };
  }

  /** Keeps rows read since `mark`, unless a notice (or a lost subscription) came in meanwhile. */
  store(rows: readonly SessionWithPrincipal[], realm: string, mark: { epoch: number; at: number }): void {
    if (!this.live || mark.epoch !== this.epoch) return;
    for (const row of rows) {
      // Only rows read with their own realm's principal join (the token's realm claim picked the table).
      if (row.realm !== realm) continue;
      this.entries.delete(row.id);
      if (this.entries.size >= this.options.size) {
        const oldest = this.entries.keys().next();
        if (!oldest.done) this.entries.delete(oldest.value);
      }
      this.entries.set(row.id, { row, readAt: mark.at });
    }
  }

  /** The cached row of `id` in `realm`, if fresh; the caller has passed `sync` in this turn. */
  cached(id: string, realm: string): SessionWithPrincipal | undefined {
    if (!this.live) return undefined;
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    if (entry.row.realm !== realm || performance.now() - entry.readAt >= this.options.maxAge) {
      this.entries.delete(id);
      return undefined;
    }
    return entry.row;
  }

  /** Whether any of `ids` may be answered from the cache (worth a `sync`). */
  holdsAny(ids: Iterable<string>): boolean {
    if (!this.live || this.entries.size === 0) return false;
    for (const id of ids) if (this.entries.has(id)) return true;
    return false;
  }

  /**
   * Resolves true once every notice published before now has been applied
   * (the PONG of a PING sent through the subscriber connection), false when
   * that cannot be known within `syncTimeout`: the caller then reads the database.
   */
  sync(): Promise<boolean> {
    if (!this.live) return Promise.resolve(false);
    if (!this.inFlight) {
      const ping = this.ping().finally(() => {
        if (this.inFlight === ping) this.inFlight = undefined;
      });
      this.inFlight = ping;
      return ping;
    }
    // A PING is out, but it was sent before these calls arrived: they wait for the next one, which
    // all calls arriving meanwhile share (at most one PING in flight, however many turns).
    this.following ??= this.inFlight.then(() => {
      this.following = undefined;
      return this.sync();
    });
    return this.following;
  }

  private async ping(): Promise<boolean> {
    if (!this.live) return false;
    const epoch = this.epoch;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), this.options.syncTimeout);
    });
    try {
      const ok = await Promise.race([this.sub.ping().then(() => true, () => false), timeout]);
      if (!ok && epoch === this.epoch) {
        this.options.log.warn({}, 'session notices unconfirmed: sessions are read from the database until the subscription is back');
        this.lose();
        this.sub.disconnect(true);
      }
      return ok && this.live;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The row's `last_seen_at` was moved forward by this replica. */
  touched(id: string, at: number): void {
    const entry = this.entries.get(id);
    if (entry && entry.row.last_seen_at < at) entry.row = { ...entry.row, last_seen_at: at };
  }

  /** Reports lookups to the listeners. */
  count(outcome: SessionLookup, n: number): void {
    if (n > 0) for (const l of this.listeners) l(outcome, n);
  }

  private async subscribe(): Promise<void> {
    if (this.closed) return;
    try {
      await this.sub.subscribe(this.options.channel);
      // Emptied when the subscription was lost; only what is read from now on is kept.
      this.epoch++;
      this.live = true;
    } catch (err) {
      this.options.log.warn({ err: { message: (err as Error).message } }, 'session notices: subscribing failed');
    }
  }

  private lose(): void {
    this.live = false;
    this.epoch++;
    this.entries.clear();
  }

  private apply(message: string): void {
    this.epoch++;
    let notices: SessionNotice[];
    try {
      notices = JSON.parse(message) as SessionNotice[];
      if (!Array.isArray(notices)) throw new Error('not a list');
    } catch {
      // Unreadable: nothing cached can be trusted to be unaffected.
      this.entries.clear();
      return;
    }
    for (const n of notices) this.evict(n);
  }

  private evict(notice: SessionNotice): void {
    if ('session' in notice) {
      this.entries.delete(notice.session);
      return;
    }
    for (const [id, { row }] of this.entries) {
      const own = row.realm === notice.realm && row.principal_id === notice.principal;
      const impersonated = notice.realm === 'admin' && row.impersonated_by === notice.principal;
      if (own || impersonated) this.entries.delete(id);
    }
  }
}
