import { defineMethod } from '../../rpc/registry.js';
import type { ParamsOf } from '../../rpc/generated/method-types.js';
import { nextCursor, page, pageResult } from '../../rpc/page.js';

/** Params as `schemas/Session/get_session_list.json` defines them. */
type Params = ParamsOf<'Session/get_session_list'>;

const iso = (ms: number | string) => new Date(Number(ms)).toISOString();

export default defineMethod({
  name: 'Session/get_session_list',
  access: { kind: 'session' },
  async handler(params: Params, { app, session }) {
    const now = app.clock.now();
    const p = page(params, 'created', ['int', 'string']);
    const { rows, more, total } = await app.repos.sessions.listLive(session.realm, session.principalId, now, app.config.SESSION_IDLE_TTL, {
      ...p,
      after: p.after as [number, string] | undefined,
    });
    return {
      session_list: rows.map((r) => ({
        session_id: r.id,
        created_at: iso(r.created_at),
        last_seen_at: iso(r.last_seen_at),
        expires_at: iso(r.expires_at),
        ip: r.ip,
        user_agent: r.user_agent,
        amr: JSON.parse(r.amr) as string[],
        current: r.id === session.sessionId,
        ...(r.impersonated_by !== null ? { impersonated_by: Number(r.impersonated_by) } : {}),
      })),
      ...pageResult(
        nextCursor(rows, more, 'created', (r) => [Number(r.created_at), r.id]),
        total,
      ),
    };
  },
});
