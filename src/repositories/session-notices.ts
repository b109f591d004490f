import type { Knex } from 'knex';

/**
 * What a committed write changed about sessions: one session, or every
 * session of a principal (for an admin, also the sessions it opened as
 * others). Replicas that cache sessions (auth/session-cache.ts) evict on it.
 */
export type SessionNotice = { session: string } | { realm: string; principal: number };

/** Sends notices to every replica; resolves once they are sent. */
export type NoticePublisher = (notices: readonly SessionNotice[]) => Promise<void>;

/**
 * Notices of session changes, sent only after the change has committed: a
 * replica that evicted before the commit could read the old row again and
 * keep it. Writes made in a transaction of `retryingTransaction` are sent
 * when it has committed, before it resolves, so the call that revoked is not
 * answered before every replica has been told; writes made without a
 * transaction are sent right after their statement. Without a publisher (no
 * `REDIS_URL`: no replica caches sessions) noting costs nothing.
 */
export class SessionNotices {
  private publisher: NoticePublisher | undefined;
  private readonly pending = new WeakMap<object, SessionNotice[]>();

  /** Set once by the session cache when it starts. */
  publishWith(publisher: NoticePublisher | undefined): void {
    this.publisher = publisher;
  }

  get active(): boolean {
    return this.publisher !== undefined;
  }

  /** Opens the list of `trx`'s notices (retryingTransaction, at the start of each attempt). */
  begin(trx: Knex.Transaction): void {
    if (this.publisher) this.pending.set(trx, []);
  }

  /** Sends `trx`'s notices: it has committed (retryingTransaction, after the commit). */
  async committed(trx: Knex.Transaction): Promise<void> {
    const notices = this.pending.get(trx);
    this.pending.delete(trx);
    if (notices && notices.length > 0) await this.send(notices);
  }

  /**
   * `notice` is true of what `trx` wrote (or, with no `trx`, of the statement
   * that just ran). A transaction not opened by retryingTransaction (a knex
   * transaction of the CLI or a test) sends its notices when it settles,
   * without holding up its caller.
   */
  async note(trx: Knex.Transaction | undefined, notice: SessionNotice): Promise<void> {
    if (!this.publisher) return;
    if (!trx) return this.send([notice]);
    const top = topLevel(trx);
    const list = this.pending.get(top);
    if (list) {
      list.push(notice);
      return;
    }
    const settled = (top as { executionPromise?: Promise<unknown> }).executionPromise;
    // Sent whether it committed or not: an eviction of a row that did not change only costs a read.
    void settled?.then(
      () => this.send([notice]),
      () => this.send([notice]),
    );
  }

  private async send(notices: readonly SessionNotice[]): Promise<void> {
    await this.publisher?.(notices);
  }
}

/** The outermost transaction: nested ones (savepoints) commit with it. */
function topLevel(trx: Knex.Transaction): Knex.Transaction {
  let t = trx as Knex.Transaction & { parentTransaction?: Knex.Transaction };
  while (t.parentTransaction) t = t.parentTransaction as typeof t;
  return t;
}
