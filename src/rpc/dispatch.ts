import type { FastifyInstance, FastifyRequest } from 'fastify';
import { callOrigin } from './call-origin.js';
import type { AuthenticatedSession, TokenStyle } from '../plugins/sessions.js';
import { Fault } from './faults.js';
import { publicErrors } from './schemas.js';
import type { CallContext, CompiledMethod } from './registry.js';

/** What a transport tells the core beyond the method and its params. */
export interface CallOptions {
  /**
   * The session of the credential the call presents, or undefined when it
   * presents none. Default: the `Authorization: Bearer <access_token>` header
   * (the only credential of `/rpc` and `/rest`).
   */
  credential?: () => Promise<AuthenticatedSession> | undefined;
  /** The faultstring when a method needs a credential and none came. */
  missingCredential?: string;
  /** How the sessions and tokens this call issues must look (see TokenStyle). */
  tokenStyle?: TokenStyle;
}

/**
 * One call, whichever transport it came by, as a short pipeline:
 * resolve → validate → authenticate → authorize → act (→ check the result).
 */
export async function dispatch(app: FastifyInstance, request: FastifyRequest, name: string, params: unknown, options: CallOptions = {}): Promise<unknown> {
  // Metrics (plugins/metrics.ts): every call's method, fault and time, whichever transport it came by.
  const ended = app.metrics.callStarted(name);
  try {
    const result = await run(app, request, name, params, options);
    ended({ result });
    return result;
  } catch (error) {
    ended({ error });
    throw error;
  }
}

async function run(app: FastifyInstance, request: FastifyRequest, name: string, params: unknown, options: CallOptions): Promise<unknown> {
  const method = resolve(app, name);
  const validParams = validate(method, params);
  const ctx = await authenticate(app, request, method, options);
  authorize(method, ctx);
  const result = await method.handler(validParams, ctx);
  if (app.config.VALIDATE_RESULTS && !method.validateResult(result)) {
    throw new Error(`result of ${method.name} does not match its schema: ${JSON.stringify(method.validateResult.errors)}`);
  }
  return result;
}

function resolve(app: FastifyInstance, name: string): CompiledMethod {
  const method = app.methods.get(name);
  if (!method) throw new Fault('Client.Request.method_not_found', `Method not found: ${name.slice(0, 100)}`);
  return method;
}

function validate(method: CompiledMethod, params: unknown): unknown {
  const value = params === undefined ? {} : params;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Fault('Client.Request.invalid_params', 'Invalid params: params must be an object of named parameters', {
      errors: [{ path: '/', keyword: 'type', message: 'must be object', params: { type: 'object' } }],
    });
  }
  // Validation fills in defaults in place: the params are this call's own, freshly parsed object.
  if (!method.validateParams(value)) {
    throw new Fault('Client.Request.invalid_params', undefined, { errors: publicErrors(method.validateParams.errors) });
  }
  return value;
}

/** The token of an `Authorization: Bearer` header; undefined without the header, a fault for any other form. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw new Fault('Client.Session.check_auth.failed_to_process_access_token', 'The Authorization header must be "Bearer <access_token>"');
  return match[1];
}

/** The credential of `/rpc` and `/rest`: the Bearer header. */
function bearerCredential(app: FastifyInstance, request: FastifyRequest): () => Promise<AuthenticatedSession> | undefined {
  return () => {
    const token = bearerToken(request);
    return token ? app.sessions.authenticate(token) : undefined;
  };
}

/**
 * A public method that tailors its answer to a caller it knows: a token that
 * does not authenticate (expired, revoked, malformed) makes an anonymous
 * call, not a failed one, since the method needs none.
 */
async function optionalSession(credential: () => Promise<AuthenticatedSession> | undefined): Promise<CallContext['session']> {
  try {
    return await credential();
  } catch (err) {
    if (err instanceof Fault && err.http === 401) return undefined;
    throw err;
  }
}

async function authenticate(app: FastifyInstance, request: FastifyRequest, method: CompiledMethod, options: CallOptions): Promise<CallContext> {
  const ctx: CallContext = {
    app,
    log: request.log,
    requestId: String(request.id),
    // A portal's credential is checked first: a wrong one refuses the call whatever else it carries.
    ...(await callOrigin(app, request)),
    userAgent: request.headers['user-agent']?.slice(0, 256),
    session: undefined,
    tokenStyle: options.tokenStyle,
  };
  const credential = options.credential ?? bearerCredential(app, request);
  if (method.access.kind === 'public') {
    if (method.access.session === 'optional') ctx.session = await optionalSession(credential);
    return ctx;
  }
  const session = credential();
  if (!session) {
    throw new Fault(
      'Client.Session.check_auth.failed_to_process_access_token',
      options.missingCredential ?? 'This method needs "Authorization: Bearer <access_token>"',
    );
  }
  ctx.session = await session;
  return ctx;
}

function authorize(method: CompiledMethod, ctx: CallContext): void {
  const { access } = method;
  const session = ctx.session;
  if (access.kind === 'public' || !session) return;
  if (session.restricted && !(access.kind === 'session' && access.allowRestricted)) {
    throw new Fault('Server.Session.alert_You_must_change_password');
  }
  if (access.kind === 'session') {
    if (access.denyImpersonated && session.impersonatedBy !== undefined) {
      throw new Fault('Server.AccessControl.forbidden', 'An impersonated session cannot do this');
    }
    return;
  }
  if (session.realm !== 'admin') throw new Fault('Server.AccessControl.forbidden');
  if (access.permission && !session.permissions.includes(access.permission)) {
    throw new Fault('Server.AccessControl.forbidden', `You need the ${access.permission} permission to call this method`);
  }
}
