import type { FastifyInstance } from 'fastify';

/** An HTTP answer as it came over the socket. */
export interface Raw {
  status: number;
  contentType: string;
  headers: Headers;
  body: Record<string, unknown>;
}

/**
 * Raw HTTP against a really listening app (not `inject`): exact bodies and
 * headers, as PortaBilling clients and curl send them.
 */
export interface Wire {
  base: string;
  /** Ports of the PORTABILLING_PORTS listeners, by realm. */
  realmPorts: Record<string, number>;
  raw(path: string, body: string, contentType: string | undefined, headers?: Record<string, string>, port?: number): Promise<Raw>;
  get(path: string): Promise<Raw>;
  /** `{"params": ..., "auth_info": ...}` as application/json, with `Authorization: Bearer` when a token is given. */
  json(path: string, envelope: unknown, token?: string, port?: number): Promise<Raw>;
  /** `params=<json>&auth_info=<json>` as application/x-www-form-urlencoded. */
  form(path: string, fields: { params?: unknown; auth_info?: unknown }): Promise<Raw>;
  /** `POST /rest/<method>` with the params object as JSON body. */
  rest(method: string, params: unknown, token?: string): Promise<Raw>;
  /** A JSON-RPC 2.0 call with id 1 to `POST /rpc`. */
  rpc(method: string, params: unknown, token?: string): Promise<Raw>;
}

async function read(res: Response): Promise<Raw> {
  const text = await res.text();
  let body: Record<string, unknown>;
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    body = { text };
  }
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', headers: res.headers, body };
}

/** Listens on a free port (and opens the PORTABILLING_PORTS listeners); the app's close ends them. */
export async function listening(app: FastifyInstance): Promise<Wire> {
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  const realmPorts = Object.fromEntries((await app.portabilling.listen('127.0.0.1')).map((l) => [l.realm, l.port]));
  const url = (path: string, port?: number) => (port ? `http://127.0.0.1:${port}${path}` : `${base}${path}`);
  const bearer = (token?: string): Record<string, string> => (token ? { authorization: `Bearer ${token}` } : {});
  const wire: Wire = {
    base,
    realmPorts,
    async raw(path, body, contentType, headers = {}, port) {
      const res = await fetch(url(path, port), {
        method: 'POST',
        body,
        headers: { ...(contentType ? { 'content-type': contentType } : {}), ...headers },
      });
      return read(res);
    },
    async get(path) {
      return read(await fetch(url(path)));
    },
    json(path, envelope, token, port) {
      return wire.raw(path, JSON.stringify(envelope), 'application/json', bearer(token), port);
    },
    form(path, fields) {
      const form = new URLSearchParams();
      if (fields.params !== undefined) form.set('params', JSON.stringify(fields.params));
      if (fields.auth_info !== undefined) form.set('auth_info', JSON.stringify(fields.auth_info));
      return wire.raw(path, form.toString(), 'application/x-www-form-urlencoded');
    },
    rest(method, params, token) {
      return wire.raw(`/rest/${method}`, JSON.stringify(params), 'application/json', bearer(token));
    },
    rpc(method, params, token) {
      return wire.raw('/rpc', JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }), 'application/json', bearer(token));
    },
  };
  return wire;
}
