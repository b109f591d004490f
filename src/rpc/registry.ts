import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { ValidateFunction } from 'ajv';
import type { AuthenticatedSession, TokenStyle } from '../plugins/sessions.js';
import type { Permission } from '../domain/permissions.js';
import { schemaStore, type JsonSchema } from './schemas.js';
import type { FaultCode } from './faults.js';

/** Who may call a method. */
export type Access =
  /**
   * Anyone. With `session: 'optional'`, a token that authenticates passes its session on (even a
   * restricted one); one that does not makes an anonymous call.
   */
  | { kind: 'public'; session?: 'optional' }
  /** Any valid session; a restricted one (password must change) only where allowed. */
  | { kind: 'session'; allowRestricted?: boolean; denyImpersonated?: boolean }
  /** A full `admin`-realm session, holding `permission` when one is named. */
  | { kind: 'admin'; permission?: Permission };

export interface CallContext {
  app: FastifyInstance;
  log: FastifyBaseLogger;
  requestId: string;
  /** The client IP for the per-IP limits, sessions and the audit log: the end user's when a portal client named it (see call-origin.ts). */
  ip: string;
  /** The portal client whose credential the call carried. */
  portalClientId: string | undefined;
  /** An X-End-User-IP the call sent without a valid portal credential: not used, only audited. */
  endUserIpIgnored: string | undefined;
  userAgent: string | undefined;
  /** Present for every non-public method (and for public ones called with a valid token). */
  session: AuthenticatedSession | undefined;
  /** Set by the PortaBilling transport: how the sessions and tokens this call issues must look. */
  tokenStyle?: TokenStyle;
}

export interface SessionCallContext extends CallContext {
  session: AuthenticatedSession;
}

export interface MethodDefinition<P = unknown, R = unknown> {
  /** `Service/method`. */
  name: string;
  summary: string;
  description?: string;
  access: Access;
  params: JsonSchema;
  result: JsonSchema;
  /** Faults this method documents beyond the transport's own. */
  faults: FaultCode[];
  handler(params: P, ctx: CallContext): Promise<R>;
}

export interface CompiledMethod extends MethodDefinition {
  validateParams: ValidateFunction;
  validateResult: ValidateFunction;
}

/**
 * A method whose params and result live in `schemas/<Service>/<method>.json`
 * under `$defs.params` and `$defs.result`; its summary and description come
 * from the same file, so docs and validation cannot drift apart.
 */
export function defineMethod<P, R>(def: {
  name: string;
  access: Access;
  faults?: FaultCode[];
  handler(params: P, ctx: SessionCallContext): Promise<R>;
}): MethodDefinition<P, R>;
export function defineMethod<P, R>(def: {
  name: string;
  access: { kind: 'public' };
  faults?: FaultCode[];
  handler(params: P, ctx: CallContext): Promise<R>;
}): MethodDefinition<P, R>;
export function defineMethod<P, R>(def: {
  name: string;
  access: Access;
  faults?: FaultCode[];
  handler(params: P, ctx: never): Promise<R>;
}): MethodDefinition<P, R> {
  const store = schemaStore();
  const file = store.file(def.name);
  return {
    name: def.name,
    summary: String(file.schema.summary ?? file.schema.title ?? def.name),
    description: typeof file.schema.description === 'string' ? file.schema.description : undefined,
    access: def.access,
    params: store.ref(def.name, 'params'),
    result: store.ref(def.name, 'result'),
    faults: def.faults ?? [],
    handler: def.handler as MethodDefinition<P, R>['handler'],
  };
}

/** Name → method, compiled once. Dispatch is a single Map lookup. */
export class MethodRegistry {
  private readonly methods = new Map<string, CompiledMethod>();

  add(method: MethodDefinition<never, unknown>): void {
    if (!/^[A-Z][A-Za-z0-9]*\/[a-z][a-z0-9_]*$/.test(method.name) && method.name !== 'rpc.discover') {
      throw new Error(`method name ${method.name} is not Service/method`);
    }
    if (this.methods.has(method.name)) throw new Error(`method ${method.name} registered twice`);
    const store = schemaStore();
    this.methods.set(method.name, {
      ...(method as MethodDefinition),
      validateParams: store.compile(method.params),
      validateResult: store.compile(method.result),
    });
  }

  get(name: string): CompiledMethod | undefined {
    return this.methods.get(name);
  }

  list(): CompiledMethod[] {
    return [...this.methods.values()].sort((a, b) => a.name.localeCompare(b.name));
  }
}
