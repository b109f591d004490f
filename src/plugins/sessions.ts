import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fastifyJwt from '@fastify/jwt';
import fp from 'fastify-plugin';
import type { Knex } from 'knex';
import type { Permission } from '../domain/permissions.js';
import { entityOfRealm } from '../entities/descriptors.js';
import { Fault } from '../rpc/faults.js';
import type { SessionRow } from '../repositories/sessions.js';

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

/** Loads a principal for a session: undefined when it no longer exists or is blocked. */
export type PrincipalLoader = (realm: string, id: number) => Promise<{ permissions: Permission[] } | undefined>;

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
      create(input: NewSessionInput, trx?: Knex.Transaction): Promise<IssuedSession>;
      authenticate(token: string): Promise<AuthenticatedSession>;
    };
  }
}

export const sha256 = (value: string): string => createHash('sha256').update(value).digest('hex');

/** Writing `last_seen_at` on every call would turn reads into writes; a few seconds of slack is plenty for an idle timeout of minutes. */
const TOUCH_GRANULARITY_MS = 5_000;

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
      // Expiry is checked against the service clock below, not the process clock.
      verify: { algorithms: ['HS256'], ignoreExpiration: true },
    });

    const loadPrincipal: PrincipalLoader = async (realm, id) => {
      const d = entityOfRealm(realm);
      if (!d) return undefined;
      const row = await app.repos.entities[d.name].findById(id);
      if (!row || row.blocked) return undefined;
      return { permissions: realm === 'admin' ? (JSON.parse(String(row.permissions)) as Permission[]) : [] };
    };

    const ended = () => new Fault('Server.Session.check_auth.auth_failed');

    function isLive(row: SessionRow, now: number): boolean {
      return row.revoked_at === null && row.expires_at > now && row.last_seen_at + app.config.SESSION_IDLE_TTL > now;
    }

    app.decorate('sessions', {
      async create(input: NewSessionInput, trx?: Knex.Transaction): Promise<IssuedSession> {
        const now = app.clock.now();
        const id = randomUUID();
        const refreshToken = `${id}.${randomBytes(32).toString('base64url')}`;
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
        const accessExpiresAt = Math.min(now + app.config.ACCESS_TOKEN_TTL, expiresAt);
        const claims: AccessClaims = {
          sub: String(input.principalId),
          realm: input.realm,
          sid: id,
          amr: input.amr,
          iat: Math.floor(now / 1000),
          exp: Math.floor(accessExpiresAt / 1000),
        };
        return {
          session_id: id,
          access_token: app.jwt.sign(claims),
          refresh_token: refreshToken,
          expires_at: new Date(claims.exp * 1000).toISOString(),
          session_expires_at: new Date(expiresAt).toISOString(),
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
        const row = await app.repos.sessions.findById(claims.sid);
        if (!row || !isLive(row, now) || row.realm !== claims.realm || String(row.principal_id) !== claims.sub) throw ended();
        const principal = await loadPrincipal(row.realm, row.principal_id);
        if (!principal) throw ended();
        if (now - row.last_seen_at >= TOUCH_GRANULARITY_MS) await app.repos.sessions.touch(row.id, now);
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
