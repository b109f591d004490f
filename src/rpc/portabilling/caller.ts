import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuthenticatedSession } from '../../plugins/sessions.js';
import { bearerToken, dispatch } from '../dispatch.js';
import { Fault } from '../faults.js';
import type { AuthInfo } from './envelope.js';

/** Who a PortaBilling call is, and what it opened for itself. */
export interface PortaCaller {
  /** The caller's session; undefined when the call carries no credential. */
  credential(): Promise<AuthenticatedSession> | undefined;
  /** Ends a session the call opened only for itself (`auth_info` with login and password). */
  finish(): Promise<void>;
}

/**
 * The credential of a call, first found of: `access_token` or `session_id`
 * in the params of Session/ping and Session/logout (what those ask about),
 * `auth_info`, the `Authorization: Bearer` header. Every session must belong
 * to the realm the call came to: the realm is what the path or port means.
 *
 * Cross-site requests: a browser can post a form here from any site, but no
 * cookie or other ambient credential is ever read, and a form cannot set the
 * Authorization header. Such a post carries only what its author typed, so
 * it can act only with credentials its author already has, and it cannot
 * read the answer (no CORS headers are sent, unless its origin is listed in
 * CORS_ORIGINS, see plugins/cors.ts).
 */
export function callerOf(app: FastifyInstance, request: FastifyRequest, realm: string, given: AuthInfo | undefined): PortaCaller {
  const inRealm = async (session: Promise<AuthenticatedSession>): Promise<AuthenticatedSession> => {
    const s = await session;
    if (s.realm !== realm) throw new Fault('Server.Session.check_auth.auth_failed', `This session belongs to realm ${s.realm}, not ${realm}`);
    return s;
  };
  const byToken = (token: string) => inRealm(app.sessions.authenticate(token));
  let opened: string | undefined;

  if (given && 'login' in given) {
    return {
      credential: () =>
        (async () => {
          const login = (await dispatch(app, request, 'Session/login', { login: given.login, password: given.password, realm })) as Record<string, unknown>;
          if (typeof login.access_token !== 'string') {
            throw new Fault('Server.Session.auth_failed', 'This login needs a second factor: log in with Session/login and Session/verify_otp');
          }
          opened = login.access_token;
          return byToken(login.access_token);
        })(),
      async finish() {
        const token = opened;
        if (token === undefined) return;
        opened = undefined;
        // Session/logout ends it, audited like any logout; the call may have ended it already.
        await dispatch(app, request, 'Session/logout', {}, { credential: () => app.sessions.authenticate(token) }).catch((err: unknown) => {
          if (!(err instanceof Fault && err.http === 401)) throw err;
        });
      },
    };
  }
  const nothingToFinish = async () => undefined;
  if (given && 'session_id' in given)
    return { credential: () => inRealm(app.sessions.authenticateSessionId(given.session_id, realm)), finish: nothingToFinish };
  if (given && 'access_token' in given) return { credential: () => byToken(given.access_token), finish: nothingToFinish };
  return {
    credential: () => {
      const token = bearerToken(request);
      return token === undefined ? undefined : byToken(token);
    },
    finish: nothingToFinish,
  };
}
