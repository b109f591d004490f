import type { FastifyInstance } from 'fastify';
import { ROOT_PASSWORD } from './app.js';

export interface RestAnswer {
  status: number;
  body: Record<string, unknown>;
  headers: Record<string, unknown>;
}

const auth = (token?: string) => (token ? { authorization: `Bearer ${token}` } : {});

/** A call over `POST /rest/<Service>/<method>`. */
export async function rest(
  app: FastifyInstance,
  method: string,
  params: unknown = {},
  token?: string,
  headers: Record<string, string> = {},
): Promise<RestAnswer> {
  const res = await app.inject({ method: 'POST', url: `/rest/${method}`, payload: params as object, headers: { ...auth(token), ...headers } });
  return { status: res.statusCode, body: res.body ? (res.json() as Record<string, unknown>) : {}, headers: res.headers };
}

/** A raw `POST /rpc`: the whole HTTP answer. */
export async function rpcRaw(app: FastifyInstance, payload: string | object, token?: string) {
  return app.inject({
    method: 'POST',
    url: '/rpc',
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    headers: { 'content-type': 'application/json', ...auth(token) },
  });
}

/** A single JSON-RPC call with id 1; the response object. */
export async function rpc(app: FastifyInstance, method: string, params: unknown = {}, token?: string) {
  const res = await rpcRaw(app, { jsonrpc: '2.0', id: 1, method, params }, token);
  return res.json() as {
    jsonrpc: string;
    id: unknown;
    result?: Record<string, unknown>;
    error?: { code: number; message: string; data: Record<string, unknown> };
  };
}

/** Calls a method that must succeed (over REST) and returns its result. */
export async function call<T = Record<string, unknown>>(app: FastifyInstance, method: string, params: unknown = {}, token?: string): Promise<T> {
  const answer = await rest(app, method, params, token);
  if (answer.status !== 200) throw new Error(`${method} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body as T;
}

export async function login(app: FastifyInstance, realm: string, loginName: string, password: string): Promise<string> {
  const result = await call<{ status: string; access_token: string }>(app, 'Session/login', { login: loginName, password, realm });
  if (result.status !== 'authenticated') throw new Error(`login of ${loginName} answered ${result.status}`);
  return result.access_token;
}

export const loginRoot = (app: FastifyInstance) => login(app, 'admin', 'root', ROOT_PASSWORD);

/**
 * The first login of a principal whose password an admin set: it must be
 * changed before anything else. Changes it to `${password}Z` and returns the
 * now unrestricted token.
 */
export async function firstLogin(app: FastifyInstance, realm: string, loginName: string, password: string): Promise<string> {
  const result = await call<{ status: string; access_token: string }>(app, 'Session/login', { login: loginName, password, realm });
  if (result.status === 'authenticated') return result.access_token;
  if (result.status !== 'password_change_required') throw new Error(`login of ${loginName} answered ${result.status}`);
  await call(app, 'Session/change_password', { old_password: password, new_password: `${password}Z` }, result.access_token);
  return result.access_token;
}
