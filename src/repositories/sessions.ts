import type { Knex } from 'knex';
import { ENTITIES } from '../entities/descriptors.js';
import { countRows, type Database } from './connection.js';
import { pointQuery, pointQueryOf } from './point-reader.js';
import { compile, param } from './statements.js';
import type { Transaction } from './writer.js';
import type { MfaChallengesRepository } from './mfa-challenges.js';
import type { PasswordResetsRepository } from './password-resets.js';
import type { SessionNotice } from './session-notices.js';

export interface SessionRow {
  id: string;
  realm: string;
  principal_id: number;
  amr: string;
  restricted: boolean | number;
  impersonated_by: number | null;
  refresh_token_hash: string | null;
  /** The refresh token one rotation back: presenting it again is reuse (theft). */
  previous_refresh_token_hash: string | null;
  /** When the refresh token was last rotated (REFRESH_REUSE_GRACE runs from here). */
  rotated_at: number | null;
  /** sha256 of the PortaBilling `session_id` credential, when the session was opened on that transport. */
  session_secret_hash: string | null;
  ip: string | null;
  user_agent: string | null;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  revoked_at: number | null;
  revoke_reason: string | null;
}

/**
 * How far `last_seen_at` may lag a session's last use: a call writes it only
 * when it is at least this old, since writing it on every call would turn
 * reads into writes. A quarter of the idle TTL, at most 5 s.
 */
export function touchInterval(idleTtl: number): number {
  return Math.min(5_000, Math.floor(idleTtl / 4));
}

/**
 * A session whose `last_seen_at` is at or before this is idle. Every use at
 * `u` leaves `last_seen_at > u - touchInterval` (it is written, or it is
 * younger than the interval), so a session used within `idleTtl` is never
 * idle, and one unused for `idleTtl + touchInterval` always is.
 */
export function idleBefore(now: number, idleTtl: number): number {
  return now - idleTtl - touchInterval(idleTtl);
}

/** Not revoked, not past its absolute end, not idle (see idleBefore). */
export function isLiveSession(row: Pick<SessionRow, 'revoked_at' | 'expires_at' | 'last_seen_at'>, now: number, idleTtl: number): boolean {
  return row.revoked_at === null && row.expires_at > now && row.last_seen_at > idleBefore(now, idleTtl);
}

/**
 * What a refresh needs of its session: the row without the columns it never
 * reads, and whether the presented token's hash is the current or the
 * previous one, compared by the database as the compare-and-set that follows
 * does (these are SHA-256 digests of 256-bit secrets: nobody can aim a guess
 * at a digest's prefix, so the comparison's timing tells nothing).
 */
export type SessionForRotation = Pick<SessionRow, (typeof ROTATION_COLUMNS)[number]> & {
  presented_current: number | null;
  presented_previous: number | null;
  /** The current token is the one rotating the presented token gives (see sessions plugin: it is derived). */
  rotated_to_derived: number | null;
  /** The principal's blocked flag, null when it is gone (read in the same statement, joined by realm). */
  p_blocked: boolean | number | null;
  /** The principal's login (its key field), shown in the new access token. */
  p_key: string | null;
};

const ROTATION_COLUMNS = [
  'id',
  'realm',
  'principal_id',
  'amr',
  'restricted',
  'last_seen_at',
  'expires_at',
  'revoked_at',
  'rotated_at',
] as const satisfies ReadonlyArray<keyof SessionRow>;

export type NewSession = Omit<SessionRow, 'revoked_at' | 'revoke_reason' | 'previous_refresh_token_hash' | 'rotated_at'>;

export type SessionWithPrincipal = SessionRow & {
  p_blocked: boolean | number | null;
  p_permissions: string | null;
  imp_blocked: boolean | number | null;
  imp_permissions: string | null;
};

const NEW_SESSION_COLUMNS = [
  'id',
  'realm',
  'principal_id',
  'amr',
  'restricted',
  'impersonated_by',
  'refresh_token_hash',
  'session_secret_hash',
  'ip',
  'user_agent',
  'created_at',
  'last_seen_at',
  'expires_at',
] as const satisfies ReadonlyArray<keyof NewSession>;

export function createSessionsRepository(db: Database, challenges: MfaChallengesRepository, resets: PasswordResetsRepository) {
  const { knex, writer, notices } = db;
  // Every write below that ends a session or changes what it may do notes it, so caching replicas evict (session-notices.ts).
  const oneSession = (id: string): SessionNotice => ({ session: id });
  const allOf = (realm: string, principal: number): SessionNotice => ({ realm, principal });
  const table = (trx?: Knex.Transaction) => (trx ?? knex)<SessionRow>('sessions');
  /**
   * Sessions with their principal's state, in one statement (`ids` padded up to a power of two by
   * repeating the last, so a handful of statement shapes are prepared, not one per count).
   */
  const withPrincipalSql = new Map<string, string>();
  const withPrincipalMany = (ids: readonly string[], principal: { table: string; idField: string; withPermissions: boolean }) => {
    let size = 1;
    while (size < ids.length) size *= 2;
    const padded = [...ids, ...Array<string>(size - ids.length).fill(ids[ids.length - 1] as string)];
    const key = `${principal.table}:${principal.withPermissions}:${size}`;
    let sql = withPrincipalSql.get(key);
    if (sql === undefined) {
      sql = knex('sessions')
        .leftJoin({ p: principal.table }, `p.${principal.idField}`, 'sessions.principal_id')
        .leftJoin({ imp: 'users' }, 'imp.i_user', 'sessions.impersonated_by')
        .whereIn('sessions.id', padded)
        .select(
          'sessions.*',
          { p_blocked: 'p.blocked', imp_blocked: 'imp.blocked', imp_permissions: 'imp.permissions' },
          principal.withPermissions ? { p_permissions: 'p.permissions' } : knex.raw('NULL as p_permissions'),
        )
        .toSQL()
        .toNative().sql;
      withPrincipalSql.set(key, sql);
    }
    return db.reads.all<SessionWithPrincipal>(sql, padded);
  };
  const byId = pointQuery<SessionRow>(db, (id) => knex('sessions').where({ id }).first());
  // The principal of every realm, joined on the session's realm: a refresh reads its session and its
  // principal's state in one statement (one of these joins matches; the others are NULL).
  const principals = ENTITIES.filter((e) => e.realm !== undefined).map((e, i) => ({ e, alias: `p${i}` }));
  const rotationQuery = knex('sessions');
  for (const { e, alias } of principals) {
    rotationQuery.leftJoin({ [alias]: e.table }, function () {
      this.on(`${alias}.${e.idField}`, '=', 'sessions.principal_id').andOn('sessions.realm', '=', knex.raw('?', [e.realm as string]));
    });
  }
  const coalesce = (column: (e: (typeof principals)[number]['e']) => string) =>
    `coalesce(${principals.map(({ e, alias }) => knex.raw('??', [`${alias}.${column(e)}`]).toQuery()).join(', ')})`;
  const forRotation = pointQueryOf<SessionForRotation>(
    db,
    rotationQuery
      .where({ 'sessions.id': param('id') })
      .first(
        ...ROTATION_COLUMNS.map((c) => `sessions.${c}`),
        knex.raw(`${coalesce(() => 'blocked')} as p_blocked`),
        knex.raw(`${coalesce((e) => e.keyField)} as p_key`),
        knex.raw('(sessions.refresh_token_hash = ?) as presented_current', [param('hash')]),
        knex.raw('(sessions.previous_refresh_token_hash = ?) as presented_previous', [param('hash')]),
        knex.raw('(sessions.refresh_token_hash = ?) as rotated_to_derived', [param('derivedHash')]),
      ),
  );
  // The writes of a login and of a refresh, compiled once (see statements.ts).
  const insertSession = compile(knex('sessions').insert(Object.fromEntries(NEW_SESSION_COLUMNS.map((c) => [c, param(c)]))));
  const rotate = compile(
    knex('sessions')
      .where({ id: param('id'), refresh_token_hash: param('oldHash') })
      .whereNull('revoked_at')
      .update({
        refresh_token_hash: param('newHash'),
        previous_refresh_token_hash: param('oldHash'),
        rotated_at: param('now'),
        last_seen_at: knex.raw('CASE WHEN last_seen_at < ? THEN ? ELSE last_seen_at END', [param('now'), param('now')]),
      }),
  );
  /**
   * The sessions an admin opened as others (impersonation): they end with
   * the admin's own, and when it loses the right to open them. Ended for
   * good: giving the right back does not revive them.
   */
  const revokeImpersonationsBy = async (adminId: number, now: number, reason: string, trx: Knex.Transaction): Promise<number> => {
    const n = await table(trx).where({ impersonated_by: adminId }).whereNull('revoked_at').update({ revoked_at: now, revoke_reason: reason });
    // The admin's notice evicts the sessions it impersonates too (see auth/session-cache.ts).
    if (n > 0) await notices.note(trx, allOf('admin', adminId));
    return n;
  };
  return {
    async insert(row: NewSession, trx?: Transaction): Promise<void> {
      await writer.within(trx, (ex) => ex.run(insertSession, row));
    },

    /** Several sessions with their principals' state in one committed read (see auth/session-reads.ts); unknown ids are left out. */
    async findManyWithPrincipal(
      ids: readonly string[],
      principal: { table: string; idField: string; withPermissions: boolean },
    ): Promise<SessionWithPrincipal[]> {
      return ids.length === 0 ? [] : withPrincipalMany(ids, principal);
    },

    async findById(id: string, trx?: Transaction): Promise<SessionRow | undefined> {
      return byId(id, trx);
    },

    /**
     * The session a refresh token names, which of its hashes `presentedHash` is, and whether the current
     * one is `derivedHash` (see SessionForRotation).
     */
    async findForRotation(id: string, presentedHash: string, derivedHash: string, trx: Transaction): Promise<SessionForRotation | undefined> {
      return forRotation({ id, hash: presentedHash, derivedHash }, trx);
    },

    /** Slides the idle window; only moves forward, so concurrent calls cannot move it back. */
    async touch(id: string, now: number, trx?: Knex.Transaction): Promise<void> {
      await table(trx).where({ id }).andWhere('last_seen_at', '<', now).update({ last_seen_at: now });
    },

    async revoke(id: string, now: number, reason: string, trx?: Knex.Transaction): Promise<number> {
      const n = await table(trx).where({ id }).whereNull('revoked_at').update({ revoked_at: now, revoke_reason: reason });
      if (n > 0) await notices.note(trx, oneSession(id));
      return n;
    },

    /**
     * Compare-and-set rotation of the refresh token: succeeds only while the
     * row still holds `oldHash` and is not revoked, so of two refreshes with
     * the same token exactly one wins. Counts as activity (slides the idle
     * window, never backwards). Returns whether this call won.
     */
    async rotateRefreshToken(id: string, oldHash: string, newHash: string, now: number, trx?: Transaction): Promise<boolean> {
      return (await writer.within(trx, (ex) => ex.run(rotate, { id, oldHash, newHash, now }))) === 1;
    },

    /**
     * A principal's live sessions, as isLiveSession says (`idleTtl`: SESSION_IDLE_TTL), newest
     * first (`created_at`, then `id`, both descending: the order of the `(realm, principal_id,
     * created_at, id)` index of migration 018).
     * `after`: `[created_at, id]` of the last row already read.
     */
    async listLive(
      realm: string,
      principalId: number,
      now: number,
      idleTtl: number,
      page: { limit: number; offset: number; after?: [number, string]; withTotal: boolean },
      trx?: Knex.Transaction,
    ): Promise<{ rows: SessionRow[]; more: boolean; total?: number }> {
      const base = table(trx)
        .where({ realm, principal_id: principalId })
        .whereNull('revoked_at')
        .andWhere('expires_at', '>', now)
        .andWhere('last_seen_at', '>', idleBefore(now, idleTtl));
      const total = page.withTotal ? await countRows(base.clone()) : undefined;
      if (page.after) {
        const [createdAt, id] = page.after;
        base.where('created_at', '<=', createdAt).andWhere((w) => w.where('created_at', '<', createdAt).orWhere('id', '<', id));
      }
      const rows = await base
        .orderBy([
          { column: 'created_at', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .limit(page.limit + 1)
        .offset(page.offset);
      return { rows: rows.slice(0, page.limit), more: rows.length > page.limit, total };
    },

    /** Revokes a session only if it belongs to this principal (so nobody can end another principal's session). */
    async revokeOwn(id: string, realm: string, principalId: number, now: number, reason: string, trx?: Knex.Transaction): Promise<number> {
      const n = await table(trx).where({ id, realm, principal_id: principalId }).whereNull('revoked_at').update({ revoked_at: now, revoke_reason: reason });
      if (n > 0) await notices.note(trx, oneSession(id));
      return n;
    },

    async liftRestriction(id: string, trx?: Knex.Transaction): Promise<void> {
      if ((await table(trx).where({ id }).update({ restricted: false })) > 0) await notices.note(trx, oneSession(id));
    },

    /**
     * Ends every session of a principal (but `exceptId`, the caller's own,
     * where the event keeps it): a password set or changed, a block, a
     * logout everywhere. The one way to do it, so that nothing ending a
     * principal's sessions forgets the rest of what it opened:
     *
     * - its pending 2FA challenges (mfa tokens waiting for Session/verify_otp)
     *   are voided first, so that the password or block that ended the
     *   sessions cannot be outlived by a code phished later (a verify_otp
     *   racing this either finds its token gone, or committed its session
     *   before the token was deleted, and that session is then revoked here);
     * - its unused password reset token (OWASP Forgot Password Cheat Sheet:
     *   a reset link must not outlive a password change or a block);
     * - for an admin, the sessions it opened as others (impersonation).
     *
     * Runs in the event's transaction. Returns the sessions ended.
     */
    async revokeAllOf(realm: string, principalId: number, now: number, reason: string, exceptId: string | undefined, trx: Knex.Transaction): Promise<number> {
      await challenges.removeFor(realm, principalId, trx);
      await resets.removeUnusedFor(realm, principalId, trx);
      const q = table(trx).where({ realm, principal_id: principalId }).whereNull('revoked_at');
      if (exceptId) q.andWhereNot({ id: exceptId });
      const own = await q.update({ revoked_at: now, revoke_reason: reason });
      if (own > 0) await notices.note(trx, allOf(realm, principalId));
      return realm === 'admin' ? own + (await revokeImpersonationsBy(principalId, now, reason, trx)) : own;
    },

    /** The principal is gone: its sessions go with it, as revokeAllOf ends them (the rows are deleted, not kept revoked). */
    async deleteAllOf(realm: string, principalId: number, now: number, trx: Knex.Transaction): Promise<number> {
      await challenges.removeFor(realm, principalId, trx);
      await resets.removeAllFor(realm, principalId, trx);
      const own = await table(trx).where({ realm, principal_id: principalId }).delete();
      if (own > 0) await notices.note(trx, allOf(realm, principalId));
      return realm === 'admin' ? own + (await revokeImpersonationsBy(principalId, now, 'deleted', trx)) : own;
    },

    revokeImpersonationsBy,
  };
}

export type SessionsRepository = ReturnType<typeof createSessionsRepository>;
