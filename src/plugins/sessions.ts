import { createHmac, hkdfSync, randomUUID, timingSafeEqual } from 'node:crypto';
import fastifyJwt from '@fastify/jwt';
import { sha256 } from '../domain/crypto/hash.js';
import { randomToken } from '../domain/crypto/random.js';
import fp from 'fastify-plugin';
import type { Permission } from '../domain/permissions.js';
import { entityOfRealm } from '../entities/descriptors.js';
import { Fault } from '../rpc/faults.js';
import { isLiveSession, touchInterval, type SessionForRotation, type SessionRow, type SessionWithPrincipal } from '../repositories/sessions.js';
import { SessionReads } from '../auth/session-reads.js';
import { SessionCache } from '../auth/session-cache.js';
import type { Transaction } from '../repositories/writer.js';
import type { AuditOrigin } from '../repositories/audit.js';
import { retryingTransaction } from '../repositories/writer.js';

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
  /** The principal's login, shown to clients in the access token's `login` claim (left out when not given). */
  login?: string;
  amr: string[];
  restricted?: boolean;
  impersonatedBy?: number;
  ip?: string;
  userAgent?: string;
  /** Set by the transport the login came by (see `TokenStyle`). */
  style?: TokenStyle;
}

/**
 * How the PortaBilling transport wants a session's tokens: access tokens of
 * its own lifetime, and a `session_id` credential whose secret part it
 * chose (`<session uuid>.<secret>`; only the sha256 of the whole is stored).
 */
export interface TokenStyle {
  accessTokenTtl: number;
  sessionSecret?: string;
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
  /** The principal's login when the token was issued: PortaBilling clients show it as the user name. */
  login?: string;
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
       * revokes the session (audited with `ip`, who presented it), unless it
       * was rotated less than REFRESH_REUSE_GRACE ago: then it gets the same
       * pair its rotation gave. Faults: `Server.Session.refresh_token_invalid`.
       */
      refresh(refreshToken: string, origin?: AuditOrigin, style?: TokenStyle): Promise<RefreshedSession>;
      /** The session of an access token (JWT). */
      authenticate(token: string): Promise<AuthenticatedSession>;
      /** The session of a PortaBilling `session_id` credential, in the realm the call came to. */
      authenticateSessionId(credential: string, realm: string): Promise<AuthenticatedSession>;
    };
    /**
     * The session cache, when `REDIS_URL` is set and SESSION_CACHE_SIZE > 0 (else undefined). For
     * metrics: `sessionCache.observe((outcome, n) => ...)` is told of every lookup, `hit` (answered
     * from the cache), `miss` (read from the database, then cached) or `bypass` (read from the
     * database because the cache cannot be trusted now), with the number of calls it answered.
     */
    sessionCache: SessionCache | undefined;
  }
}

/** `<session uuid>.<43 base64url characters>`; anything else is refused before touching the database. */
const REFRESH_TOKEN = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.[A-Za-z0-9_-]{43}$/;

/** `<session uuid>.<43 base64url characters>`: the PortaBilling `session_id` credential (see TokenStyle). */
const SESSION_CREDENTIAL = REFRESH_TOKEN;

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

    // With Redis, sessions are cached between calls and evicted by notices (auth/session-cache.ts).
    let cache: SessionCache | undefined;
    if (app.redis && app.config.SESSION_CACHE_SIZE > 0) {
      cache = new SessionCache({
        redis: app.redis,
        channel: `${app.config.REDIS_KEY_PREFIX}session-notices`,
        size: app.config.SESSION_CACHE_SIZE,
        maxAge: app.config.SESSION_CACHE_MAX_AGE,
        syncTimeout: Math.min(app.config.DB_QUERY_TIMEOUT, 1_000),
        log: app.log,
      });
      await cache.start();
      app.db.notices.publishWith(cache.publish);
      const started = cache;
      // Before the redis plugin's own onClose (hooks run in reverse order of registration).
      app.addHook('onClose', async () => {
        app.db.notices.publishWith(undefined);
        await started.close();
      });
    }
    cache?.observe((outcome, count) => app.metrics.sessionCacheLookup(outcome, count));
    app.decorate('sessionCache', cache);

    /** The principal's table comes from the token's realm claim; the caller still checks the row's realm. */
    const sessionReads = new SessionReads((ids, realm) => {
      const d = entityOfRealm(realm);
      return d
        ? app.repos.sessions.findManyWithPrincipal(ids, { table: d.table, idField: d.idField, withPermissions: realm === 'admin' })
        : Promise.resolve([]);
    }, cache);

    const isLive = (row: Pick<SessionRow, 'revoked_at' | 'expires_at' | 'last_seen_at'>, now: number): boolean =>
      isLiveSession(row, now, app.config.SESSION_IDLE_TTL);
    // `last_seen_at` is written at most this often; isLive allows for its lag (see idleBefore).
    const touchEvery = touchInterval(app.config.SESSION_IDLE_TTL);

    /**
     * The one place access tokens are signed: a short-lived JWT naming the
     * session row, never outliving the session itself.
     */
    function issueAccessToken(
      session: { id: string; realm: string; principalId: number; login: string | undefined; amr: string[]; expiresAt: number },
      now: number,
      style: TokenStyle | undefined,
    ): { access_token: string; expires_at: string } {
      const accessExpiresAt = Math.min(now + (style?.accessTokenTtl ?? app.config.ACCESS_TOKEN_TTL), session.expiresAt);
      const claims: AccessClaims = {
        sub: String(session.principalId),
        realm: session.realm,
        sid: session.id,
        amr: session.amr,
        login: session.login,
        iat: Math.floor(now / 1000),
        exp: Math.floor(accessExpiresAt / 1000),
      };
      return { access_token: app.jwt.sign(claims), expires_at: new Date(claims.exp * 1000).toISOString() };
    }

    /** `<session_id>.<random>`: the id finds the row, the random part is the secret (only its sha256 is stored). */
    const newRefreshToken = (sessionId: string): string => `${sessionId}.${randomToken(32)}`;

    /**
     * The refresh token that rotating `presented` gives: an HMAC of it under a key of its own
     * (HKDF from the JWT key, RFC 5869), so a token presented again within REFRESH_REUSE_GRACE
     * can be answered the same new token without its plaintext ever being stored. It is as
     * unguessable as a random one to anyone without the key, who could forge access tokens anyway.
     */
    const rotationKey = Buffer.from(hkdfSync('sha256', app.secrets.jwtSecret, '', 'billing-auth refresh token rotation', 32));
    const rotatedToken = (sessionId: string, presented: string): string =>
      `${sessionId}.${createHmac('sha256', rotationKey).update(presented).digest('base64url')}`;

    const refreshRefused = () => new Fault('Server.Session.refresh_token_invalid');

    /** A refresh token seen again after its rotation: someone else holds a copy. End the session. */
    async function refreshTokenReused(row: Pick<SessionRow, 'id' | 'realm' | 'principal_id'>, now: number, origin: AuditOrigin | undefined): Promise<void> {
      const d = entityOfRealm(row.realm);
      await retryingTransaction(app.db, async (trx) => {
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

    /** A session row of `realm` that is live and whose principal (and impersonating admin) may still use it. */
    async function liveRow(sessionId: string, realm: string, now: number): Promise<SessionWithPrincipal | undefined> {
      // As committed when the call arrived (see auth/session-reads.ts): a revocation committed anywhere is seen at once.
      const row = await sessionReads.get(sessionId, realm);
      const accepted = row && usable(row, realm, now);
      // A cached row may be refused only for being behind (another replica kept the session alive): read it again.
      if (!accepted && row && cache?.trusted) {
        const fresh = await sessionReads.get(sessionId, realm, true);
        return fresh && usable(fresh, realm, now);
      }
      return accepted;
    }

    function usable(row: SessionWithPrincipal, realm: string, now: number): SessionWithPrincipal | undefined {
      if (!isLive(row, now) || row.realm !== realm) return undefined;
      // A principal that was deleted or blocked loses its sessions at once.
      if (row.p_blocked === null || Boolean(row.p_blocked)) return undefined;
      if (row.impersonated_by !== null) {
        const admin = row.imp_permissions ? (JSON.parse(row.imp_permissions) as string[]) : [];
        if (row.imp_blocked === null || Boolean(row.imp_blocked) || !admin.includes('sessions.impersonate')) return undefined;
      }
      return row;
    }

    /** The call goes on in this session: slide its idle window and say what the method sees of it. */
    async function accepted(row: SessionWithPrincipal, now: number): Promise<AuthenticatedSession> {
      if (now - row.last_seen_at >= touchEvery) {
        await app.repos.sessions.touch(row.id, now);
        sessionReads.touched(row.id, now);
      }
      return {
        sessionId: row.id,
        realm: row.realm,
        principalId: row.principal_id,
        amr: JSON.parse(row.amr) as string[],
        restricted: Boolean(row.restricted),
        impersonatedBy: row.impersonated_by ?? undefined,
        expiresAt: row.expires_at,
        permissions: row.p_permissions ? (JSON.parse(row.p_permissions) as Permission[]) : [],
      };
    }

    app.decorate('sessions', {
      async create(input: NewSessionInput, trx?: Transaction): Promise<IssuedSession> {
        const now = app.clock.now();
        const id = randomUUID();
        const refreshToken = newRefreshToken(id);
        const expiresAt = now + app.config.SESSION_TTL;
        const credential = input.style?.sessionSecret === undefined ? undefined : `${id}.${input.style.sessionSecret}`;
        await app.repos.sessions.insert(
          {
            id,
            realm: input.realm,
            principal_id: input.principalId,
            amr: JSON.stringify(input.amr),
            restricted: input.restricted ?? false,
            impersonated_by: input.impersonatedBy ?? null,
            refresh_token_hash: sha256(refreshToken),
            session_secret_hash: credential === undefined ? null : sha256(credential),
            ip: input.ip ?? null,
            user_agent: input.userAgent ?? null,
            created_at: now,
            last_seen_at: now,
            expires_at: expiresAt,
          },
          trx,
        );
        const access = issueAccessToken(
          { id, realm: input.realm, principalId: input.principalId, login: input.login, amr: input.amr, expiresAt },
          now,
          input.style,
        );
        return {
          // Always the public uuid (audit rows record it): the PortaBilling transport, which chose the
          // secret, answers its clients `<session_id>.<secret>` instead.
          session_id: id,
          access_token: access.access_token,
          refresh_token: refreshToken,
          expires_at: access.expires_at,
          session_expires_at: new Date(expiresAt).toISOString(),
        };
      },

      async refresh(refreshToken: string, origin?: AuditOrigin, style?: TokenStyle): Promise<RefreshedSession> {
        const sessionId = REFRESH_TOKEN.exec(refreshToken)?.[1];
        if (!sessionId) throw refreshRefused();
        const now = app.clock.now();
        const presented = sha256(refreshToken);
        const next = rotatedToken(sessionId, refreshToken);
        const grace = app.config.REFRESH_REUSE_GRACE;
        type Outcome = { row?: SessionForRotation; login?: string; issuedAt?: number; reused?: SessionForRotation; lostRace?: boolean };
        // Read, checked and rotated in one short transaction on the write connection.
        const attempt = () =>
          app.db.writer.transaction(async (ex): Promise<Outcome> => {
            const row = await app.repos.sessions.findForRotation(sessionId, presented, sha256(next), ex);
            if (!row) return {};
            // The principal's state came with the row (one statement): a blocked or deleted one refreshes nothing.
            const active = isLive(row, now) && row.p_blocked !== null && !row.p_blocked && row.p_key !== null;
            const activeLogin = async () => (active ? String(row.p_key) : undefined);
            if (!row.presented_current) {
              // Presented again within the grace of its own rotation (and nothing rotated since): the same
              // pair that rotation gave, access token included (same claims, same signature).
              if (row.presented_previous && row.rotated_to_derived && row.rotated_at !== null && now - row.rotated_at < grace) {
                const login = await activeLogin();
                return login === undefined ? {} : { row, login, issuedAt: row.rotated_at };
              }
              // The token one generation back is theft; any other token is just wrong and ends nothing
              // (a session id alone, which callers see, must not let anyone end a session).
              return row.presented_previous ? { reused: row } : {};
            }
            const login = await activeLogin();
            if (login === undefined) return {};
            // Compare-and-set: of two refreshes with the same token (on any replica), one wins; the other is reuse.
            if (await app.repos.sessions.rotateRefreshToken(row.id, presented, sha256(next), now, ex)) return { row, login, issuedAt: now };
            return { reused: row, lostRace: true };
          });
        let outcome = await attempt();
        // With a grace, the loser of a race reads again (a new transaction sees the winner's commit) and gets its pair.
        if (outcome.lostRace && grace > 0) outcome = await attempt();
        if (outcome.reused) await refreshTokenReused(outcome.reused, now, origin);
        const { row, login, issuedAt } = outcome;
        if (!row || login === undefined || issuedAt === undefined) throw refreshRefused();
        const amr = JSON.parse(row.amr) as string[];
        const access = issueAccessToken(
          { id: row.id, realm: row.realm, principalId: row.principal_id, login, amr, expiresAt: row.expires_at },
          issuedAt,
          style,
        );
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
        const row = await liveRow(claims.sid, claims.realm, now);
        if (!row || String(row.principal_id) !== claims.sub) throw ended();
        return accepted(row, now);
      },

      async authenticateSessionId(credential: string, realm: string): Promise<AuthenticatedSession> {
        const sessionId = SESSION_CREDENTIAL.exec(credential)?.[1];
        if (!sessionId) throw ended();
        const now = app.clock.now();
        const row = await liveRow(sessionId, realm, now);
        // Digests of 256-bit secrets: the comparison's timing could tell nothing, but it costs nothing either.
        const stored = row?.session_secret_hash;
        if (!row || !stored || !timingSafeEqual(Buffer.from(stored), Buffer.from(sha256(credential)))) throw ended();
        return accepted(row, now);
      },
    });
  },
  { name: 'sessions', dependencies: ['config', 'database', 'secrets', 'redis', 'metrics'] },
);
