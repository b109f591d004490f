import type { TestApp } from './app.js';
import { call } from './rpc.js';

/** The portal server's own address: every call in these tests comes from it unless told otherwise. */
export const PORTAL_SERVER = '198.51.100.200';

export interface Via {
  /** X-Portal-Client, as sent. */
  portal?: string;
  /** X-End-User-IP, as sent. */
  endUserIp?: string;
  /** The TCP peer. */
  from?: string;
  /** The end user's access token. */
  token?: string;
}

export interface Answer {
  status: number;
  body: Record<string, unknown>;
}

function headersOf(via: Via): Record<string, string> {
  return {
    'content-type': 'application/json',
    ...(via.portal !== undefined ? { 'x-portal-client': via.portal } : {}),
    ...(via.endUserIp !== undefined ? { 'x-end-user-ip': via.endUserIp } : {}),
    ...(via.token !== undefined ? { authorization: `Bearer ${via.token}` } : {}),
  };
}

/** A REST call as a portal server makes it. */
export async function restVia(t: TestApp, method: string, params: object, via: Via = {}): Promise<Answer> {
  const res = await t.app.inject({
    method: 'POST',
    url: `/rest/${method}`,
    remoteAddress: via.from ?? PORTAL_SERVER,
    headers: headersOf(via),
    payload: params,
  });
  return { status: res.statusCode, body: res.json() as Record<string, unknown> };
}

/** The same call over JSON-RPC: the `error` member, or the `result`. */
export async function rpcVia(t: TestApp, method: string, params: object, via: Via = {}) {
  const res = await t.app.inject({
    method: 'POST',
    url: '/rpc',
    remoteAddress: via.from ?? PORTAL_SERVER,
    headers: headersOf(via),
    payload: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  return res.json() as { result?: Record<string, unknown>; error?: { code: number; message: string; data: Record<string, unknown> } };
}

/** A new portal client made by an admin: its id and the `X-Portal-Client` value. */
export async function newPortalClient(t: TestApp, adminToken: string, name = 'Self-care portal'): Promise<{ id: string; credential: string; secret: string }> {
  const created = await call<{ portal_client_id: string; secret: string }>(t.app, 'PortalClient/add_portal_client', { name }, adminToken);
  return { id: created.portal_client_id, secret: created.secret, credential: `${created.portal_client_id}:${created.secret}` };
}

/** Everything a refused call must leave as it was: audit rows, sessions, challenges, counters, portal clients. */
export async function storedState(t: TestApp): Promise<Record<string, unknown>> {
  const { knex } = t.app.db;
  const one = async (q: Promise<unknown>) => JSON.stringify(await q);
  return {
    audit: await one(knex('audit_log').max({ n: 'i_event' }).first()),
    sessions: await one(knex('sessions').count({ n: '*' }).first()),
    challenges: await one(knex('mfa_challenges').count({ n: '*' }).first()),
    windows: await one(knex('rate_windows').select('rate_key', 'window_start', 'hits').orderBy(['rate_key', 'window_start'])),
    guards: await one(knex('login_guards').select('scope', 'guard_key', 'failures', 'in_flight', 'locked_until').orderBy(['scope', 'guard_key'])),
    portals: await one(knex('portal_clients').select('portal_client_id', 'revoked_at').orderBy('portal_client_id')),
  };
}

/** The newest audit row, as AuditLog/get_event_list shows it. */
export async function lastEvent(t: TestApp, adminToken: string, event?: string): Promise<Record<string, unknown>> {
  const list = await call<{ event_list: Array<Record<string, unknown>> }>(
    t.app,
    'AuditLog/get_event_list',
    { limit: 1, ...(event ? { event } : {}) },
    adminToken,
  );
  const row = list.event_list[0];
  if (!row) throw new Error(`no audit row${event ? ` ${event}` : ''}`);
  return row;
}
