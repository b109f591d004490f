import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { randomToken } from '../../domain/crypto/random.js';
import { REALMS, type Realm } from '../../entities/descriptors.js';
import type { TokenStyle } from '../../plugins/sessions.js';
import { dispatch } from '../dispatch.js';
import { restError, toFault } from '../errors.js';
import { Fault } from '../faults.js';
import { callerOf } from './caller.js';
import { readEnvelope, type AuthInfo, type RawBody } from './envelope.js';

export type PortaRequest = FastifyRequest<{ Params: { realm: string; service: string; method: string }; Body: RawBody }>;

/** Methods whose `realm` param names the caller's own realm: the path (or port) gives it. */
const REALM_PARAM = new Set(['Session/login', 'Session/get_password_policy']);
/** Methods that ask about the credential they are given as params (`access_token` or `session_id`). */
const CREDENTIAL_PARAMS = new Set(['Session/ping', 'Session/logout']);
/** Methods that open a session: on this transport their answer's `session_id` is the session's credential. */
const OPENS_SESSION = new Set(['Session/login', 'Session/verify_otp', 'Session/impersonate']);

/**
 * PortaBilling clients decode a fault only from HTTP 500, and log in again
 * only on `Server.Session.check_auth.auth_failed`: a token that does not
 * authenticate (expired, malformed, of another server) is answered that way,
 * with its own faultstring.
 */
export function portaFault(fault: Fault): Fault {
  return fault.faultcode === 'Client.Session.check_auth.failed_to_process_access_token'
    ? new Fault('Server.Session.check_auth.auth_failed', fault.message, fault.detail)
    : fault;
}

export function sendPortaFault(reply: FastifyReply, fault: Fault): FastifyReply {
  return reply.code(500).send(restError(portaFault(fault)));
}

function realmOf(name: string): Realm {
  if (!(REALMS as string[]).includes(name)) {
    throw new Fault('Client.Request.invalid_request', `Invalid Request: unknown realm ${name.slice(0, 40)} in the path (one of ${REALMS.join(', ')})`);
  }
  return name as Realm;
}

/** The realm comes from where the call came; a `realm` param that says otherwise is refused. */
function withRealm(name: string, params: unknown, realm: Realm): unknown {
  if (!REALM_PARAM.has(name) || typeof params !== 'object' || params === null || Array.isArray(params)) return params;
  const given = (params as Record<string, unknown>).realm;
  if (given !== undefined && given !== realm) {
    throw new Fault(
      'Client.Request.invalid_params',
      `Invalid params: realm ${JSON.stringify(given).slice(0, 40)} disagrees with this endpoint's realm ${realm}`,
      {
        errors: [{ path: '/realm', keyword: 'const', message: `must be ${realm}`, params: { allowedValue: realm } }],
      },
    );
  }
  return { ...params, realm };
}

/** Session/ping and Session/logout name their credential as params: taken out of them, it is the call's credential. */
function credentialParams(name: string, params: unknown): { params: unknown; given: AuthInfo | undefined } {
  if (!CREDENTIAL_PARAMS.has(name) || typeof params !== 'object' || params === null || Array.isArray(params)) return { params, given: undefined };
  const { access_token: accessToken, session_id: sessionId, ...rest } = params as Record<string, unknown>;
  if (typeof accessToken === 'string') return { params: rest, given: { access_token: accessToken } };
  if (typeof sessionId === 'string') return { params: rest, given: { session_id: sessionId } };
  return { params, given: undefined };
}

/** The answer as PortaBilling clients read it. */
function answer(name: string, result: unknown, secret: string | undefined): unknown {
  if (typeof result !== 'object' || result === null) return result;
  const r = result as Record<string, unknown>;
  if (secret !== undefined && OPENS_SESSION.has(name) && typeof r.session_id === 'string' && typeof r.access_token === 'string') {
    return { ...r, session_id: `${r.session_id}.${secret}` };
  }
  if (name === 'Session/refresh_access_token') {
    // The session's public uuid is no credential here; the client's session_id stays valid as it is.
    const { session_id: _public, ...rest } = r;
    return rest;
  }
  return result;
}

/**
 * `POST /portabilling/<realm>/rest/<Service>/<method>`: the third transport
 * over the one dispatch core, speaking what PortaBilling API clients send
 * and expect (see README, "Using a PortaBilling client").
 */
export async function handlePortaBilling(app: FastifyInstance, request: PortaRequest, reply: FastifyReply): Promise<unknown> {
  const name = `${request.params.service}/${request.params.method}`;
  let finish: (() => Promise<void>) | undefined;
  try {
    const realm = realmOf(request.params.realm);
    const envelope = readEnvelope(request.body);
    const { params, given } = credentialParams(name, withRealm(name, envelope.params, realm));
    const caller = callerOf(app, request, realm, given ?? envelope.authInfo);
    finish = caller.finish;
    const secret = OPENS_SESSION.has(name) ? randomToken(32) : undefined;
    const tokenStyle: TokenStyle = { accessTokenTtl: app.config.PORTABILLING_ACCESS_TOKEN_TTL, sessionSecret: secret };
    const result = await dispatch(app, request, name, params, {
      credential: () => caller.credential(),
      missingCredential: 'This method needs a credential: auth_info {"session_id": ...}, or "Authorization: Bearer <access_token>"',
      tokenStyle,
    });
    return answer(name, result, secret);
  } catch (err) {
    const fault = portaFault(toFault(err, request.log));
    // A ping is how clients ask whether their session lives: "no" is an answer, not a fault.
    if (name === 'Session/ping' && fault.faultcode === 'Server.Session.check_auth.auth_failed') return { user_id: 0 };
    return sendPortaFault(reply, fault);
  } finally {
    // Not ended here, a one-shot session still ends at SESSION_IDLE_TTL; the call's answer stands.
    await finish?.().catch((err: unknown) => request.log.error({ err }, 'ending a one-shot PortaBilling session failed'));
  }
}
