import { randomUUID } from 'node:crypto';
import fastifyJwt from '@fastify/jwt';
import { sha256 } from '../domain/crypto/hash.js';
import { randomToken } from '../domain/crypto/random.js';
import fp from 'fastify-plugin';
import type { Permission } from '../domain/permissions.js';
import { entityOfRealm } from '../entities/descriptors.js';
import { Fault } from '../rpc/faults.js';
import { isLiveSession, touchInterval, type SessionForRotation, type SessionRow, type SessionWithPrincipal } from '../repositories/sessions.js';
import { SESSION_CHANGE_PAGE } from '../repositories/session-changes.js';
import { SessionCache } from '../auth/session-cache.js';
import type { Transaction } from '../repositories/writer.js';
import type { AuditOrigin } from '../repositories/audit.js';

/** What a method sees of the caller's session. */
export interface AuthenticatedSession {
  sessionId: string;
  realm: string;
  principalId: number;
  amr: string[];
  /** Password expired or must change: only the methods that fix that are allowed. */
  restricted: boolean;
  impersonatedBy: number | undefined;
  expiresAt: number;
  /** Admin permissions, read fresh on every call (empty outside the admin realm). */
  permissions: Permission[];
}

export interface NewSessionInput {
  realm: string;
  principalId: number;
  amr: string[];
  restricted?: boolean;
  impersonatedBy?: number;
  ip?: string;
  userAgent?: string;
}

export interface IssuedSession {
  session_id: string;
  access_token: string;
  refresh_token: string;
  expires_at: string;
  session_expires_at: string;
}

/** A refreshed session, and whether it is restricted (the password must change first). */
export interface RefreshedSession extends IssuedSession {
  restricted: boolean;
}

interface AccessClaims {
  sub: string;
  realm: string;
  sid: string;
  amr: string[];
  iat: number;
  exp: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    sessions: {
      create(input: NewSessionInput, trx?: Transaction): Promise<IssuedSession>;
      /**
       * Rotates a refresh token: a new access token and a new refresh token;
       * the presented one stops working. Presenting an already rotated token
       * revokes the session (audited with `ip`, who presented it). Faults:
       * `Server.Session.refresh_token_invalid`.
       */
      refresh(refreshToken: string, origin?: AuditOrigin): Promise<RefreshedSession>;
      authenticate(token: string): Promise<AuthenticatedSession>;
    };
  }
}

/** `<session uuid>.<43 base64url characters>`; anything else is refused before touching the database. */
const REFRESH_TOKEN = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.[A-Za-z0-9_-]{43}$/;

/** Enough for every session active within an access token's lifetime on a busy replica. */
const VERIFIED_TOKEN_CACHE_SIZE = 10_000;

/**
 * Sessions are rows; the access token (a short-lived JWT) only names its row
 * (`sid`) and is checked against it on every call, so logout and revocation
 * take effect at once on every replica.
 */
export default fp(
  async (app) => {
    await app.register(fastifyJwt, {
      secret: app.secrets.jwtSecret,
      sign: { algorithm: 'HS256' },
      // Expiry is checked against the service clock below, not the process clock. Verified tokens are
      // remembered (keyed by a hash of the whole token): the HMAC and JSON decoding were a tenth of
      // an authenticated call. The session itself is still checked on every call.
      verify: { algorithms: ['HS256'], ignoreExpiration: true, cache: VERIFIED_TOKEN_CACHE_SIZE },
    });

    const ended = () => new Fault('Server.Session.check_auth.auth_failed');

    /** The principal's table comes from the token's realm claim; the caller still checks the row's realm. */
    const loadSession = (id: string, realm: string): Promise<SessionWithPrincipal | undefined> => {
      const d = entityOfRealm(realm);
      return d
        ? app.repos.sessions.findWithPrincipal(id, { table: d.table, idField: d.idField, withPermissions: realm === 'admin' })
        : Promise.resolve(undefined);
    };
    const cache = new SessionCache(
      {
        load: loadSession,
        changesSince: (seq, holes) => app.repos.sessionChanges.since(seq, holes),
        latestSeq: () => app.repos.sessionChanges.latestSeq(),
        dataVersion: () => app.db.reads.dataVersion(),
        now: () => app.clock.now(),
      },
      { size: app.config.SESSION_CACHE_SIZE, maxAge: app.config.SESSION_CACHE_MAX_AGE, page: SESSION_CHANGE_PAGE },
    );
    // Feed rows are needed only as long as a replica may lag behind; each replica prunes (idempotent).
    const pruning = setInterval(() => {
      app.repos.sessionChanges.prune().catch((err: unknown) => app.log.warn({ err }, 'pruning the session change feed failed'));
    }, 10 * 60_000);
    pruning.unref();
    app.addHook('onClose', async () => clearInterval(pruning));

    const isLive = (row: Pick<SessionRow, 'revoked_at' | 'expires_at' | 'last_seen_at'>, now: number): boolean =>
      isLiveSession(row, now, app.config.SESSION_IDLE_TTL);
    // `last_seen_at` is written at most this often; isLive allows for its lag (see idleBefore).
    const touchEvery = touchInterval(app.config.SESSION_IDLE_TTL);

    /**
     * The one place access tokens are signed: a short-lived JWT naming the
     * session row, never outliving the session itself.
     */
    function issueAccessToken(
      session: { id: string; realm: string; principalId: number; amr: string[]; expiresAt: number },
      now: number,
    ): { access_token: string; expires_at: string } {
      const accessExpiresAt = Math.min(now + app.config.ACCESS_TOKEN_TTL, session.expiresAt);
      const claims: AccessClaims = {
        sub: String(session.principalId),
        realm: session.realm,
        sid: session.id,
        amr: session.amr,
        iat: Math.floor(now / 1000),
        exp: Math.floor(accessExpiresAt / 1000),
      };
      return { access_token: app.jwt.sign(claims), expires_at: new Date(claims.exp * 1000).toISOString() };
    }

    /** `<session_id>.<random>`: the id finds the row, the random part is the secret (only its sha256 is stored). */
    const newRefreshToken = (sessionId: string): string => `${sessionId}.${randomToken(32)}`;

    const refreshRefused = () => new Fault('Server.Session.refresh_token_invalid');

    /** A refresh token seen again after its rotation: someone else holds a copy. End the session. */
    async function refreshTokenReused(row: Pick<SessionRow, 'id' | 'realm' | 'principal_id'>, now: number, origin: AuditOrigin | undefined): Promise<void> {
      const d = entityOfRealm(row.realm);
      await app.db.knex.transaction(async (trx) => {
        const n = await app.repos.sessions.revoke(row.id, now, 'refresh_token_reuse', trx);
        if (n === 0) return;
        await app.repos.audit.record(
          {
            event: 'session.refresh_token_reuse',
            actor_realm: null,
            actor_id: null,
            session_id: row.id,
            realm: row.realm,
            entity: d?.name ?? null,
            entity_id: row.principal_id,
            ip: null,
            ...origin,
          },
          now,
          trx,
        );
      });
      app.log.warn({ session_id: row.id, realm: row.realm, principal_id: row.principal_id }, 'refresh token reused: session revoked');
    }

    app.decorate('sessions', {
      async create(input: NewSessionInput, trx?: Transaction): Promise<IssuedSession> {
        const now = app.clock.now();
        const id = randomUUID();
        const refreshToken = newRefreshToken(id);
        const expiresAt = now + app.config.SESSION_TTL;
        await app.repos.sessions.insert(
          {
            id,
            realm: input.realm,
            principal_id: input.principalId,
            amr: JSON.stringify(input.amr),
            restricted: input.restricted ?? false,
            impersonated_by: input.impersonatedBy ?? null,
            refresh_token_hash: sha256(refreshToken),
            ip: input.ip ?? null,
            user_agent: input.userAgent ?? null,
            created_at: now,
            last_seen_at: now,
            expires_at: expiresAt,
          },
          trx,
        );
        const access = issueAccessToken({ id, realm: input.realm, principalId: input.principalId, amr: input.amr, expiresAt }, now);
        return {
          session_id: id,
          access_token: access.access_token,
          refresh_token: refreshToken,
          expires_at: access.expires_at,
          session_expires_at: new Date(expiresAt).toISOString(),
        };
      },

      async refresh(refreshToken: string, origin?: AuditOrigin): Promise<RefreshedSession> {
        const sessionId = REFRESH_TOKEN.exec(refreshToken)?.[1];
        if (!sessionId) throw refreshRefused();
        const now = app.clock.now();
        const presented = sha256(refreshToken);
        const next = newRefreshToken(sessionId);
        // Read, checked and rotated in one short transaction on the write connection.
        const outcome = await app.db.writer.transaction(async (ex): Promise<{ row?: SessionForRotation; reused?: SessionForRotation }> => {
          const row = await app.repos.sessions.findForRotation(sessionId, presented, ex);
          if (!row) return {};
          if (!row.presented_current) {
            // The token one generation back is theft; any other token is just wrong and ends nothing
            // (a session id alone, which callers see, must not let anyone end a session).
            return row.presented_previous ? { reused: row } : {};
          }
          const d = entityOfRealm(row.realm);
          if (!isLive(row, now) || !d || !(await app.repos.entities[d.name].isActive(row.principal_id, ex))) return {};
          // Compare-and-set: of two refreshes with the same token (on any replica), one wins; the other is reuse.
          return (await app.repos.sessions.rotateRefreshToken(row.id, presented, sha256(next), now, ex)) ? { row } : { reused: row };
        });
        if (outcome.reused) await refreshTokenReused(outcome.reused, now, origin);
        const row = outcome.row;
        if (!row) throw refreshRefused();
        const amr = JSON.parse(row.amr) as string[];
        const access = issueAccessToken({ id: row.id, realm: row.realm, principalId: row.principal_id, amr, expiresAt: row.expires_at }, now);
        return {
          session_id: row.id,
          access_token: access.access_token,
          refresh_token: next,
          expires_at: access.expires_at,
          session_expires_at: new Date(row.expires_at).toISOString(),
          restricted: Boolean(row.restricted),
        };
      },

      async authenticate(token: string): Promise<AuthenticatedSession> {
        let claims: AccessClaims;
        try {
          claims = app.jwt.verify<AccessClaims>(token);
        } catch {
          throw new Fault('Client.Session.check_auth.failed_to_process_access_token');
        }
        const now = app.clock.now();
        if (typeof claims.exp !== 'number' || claims.exp * 1000 <= now || typeof claims.sid !== 'string') {
          throw new Fault('Client.Session.check_auth.failed_to_process_access_token', 'The access token has expired; refresh it or log in again');
        }
        let row = await cache.get(claims.sid, claims.realm);
        // Idle here may only mean another replica saw the last calls: read the row again before ending it.
        if (row && !isLive(row, now) && row.revoked_at === null && row.expires_at > now) row = await cache.reload(claims.sid, claims.realm);
        if (!row || !isLive(row, now) || row.realm !== claims.realm || String(row.principal_id) !== claims.sub) throw ended();
        // A principal that was deleted or blocked loses its sessions at once.
        if (row.p_blocked === null || Boolean(row.p_blocked)) throw ended();
        if (row.impersonated_by !== null) {
          const admin = row.imp_permissions ? (JSON.parse(row.imp_permissions) as string[]) : [];
          if (row.imp_blocked === null || Boolean(row.imp_blocked) || !admin.includes('sessions.impersonate')) throw ended();
        }
        const principal = { permissions: row.p_permissions ? (JSON.parse(row.p_permissions) as Permission[]) : [] };
        // The cached row's stamp is never ahead of the database's, so this writes at least as often as needed.
        if (now - row.last_seen_at >= touchEvery) {
          await app.repos.sessions.touch(row.id, now);
          cache.touched(row.id, now);
        }
        return {
          sessionId: row.id,
          realm: row.realm,
          principalId: row.principal_id,
          amr: JSON.parse(row.amr) as string[],
          restricted: Boolean(row.restricted),
          impersonatedBy: row.impersonated_by ?? undefined,
          expiresAt: row.expires_at,
          permissions: principal.permissions,
        };
      },
    });
  },
  { name: 'sessions', dependencies: ['config', 'database', 'secrets'] },
);
