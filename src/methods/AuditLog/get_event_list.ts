import { defineMethod } from '../../rpc/registry.js';
import type { ParamsOf } from '../../rpc/generated/method-types.js';
import { nextCursor, page, pageResult } from '../../rpc/page.js';

/** Params as `schemas/AuditLog/get_event_list.json` defines them. */
type Params = ParamsOf<'AuditLog/get_event_list'>;

const ms = (iso: string | undefined) => (iso === undefined ? undefined : Date.parse(iso));

export default defineMethod({
  name: 'AuditLog/get_event_list',
  access: { kind: 'admin', permission: 'audit.read' },
  faults: ['Server.AccessControl.forbidden'],
  async handler(params: Params, { app }) {
    const p = page(params, 'at', ['int', 'int']);
    const { rows, more, total } = await app.repos.audit.list({
      ...params,
      ...p,
      after: p.after as [number, number] | undefined,
      from: ms(params.from),
      to: ms(params.to),
    });
    return {
      event_list: rows.map((r) => ({
        i_event: Number(r.i_event),
        at: new Date(Number(r.at)).toISOString(),
        event: r.event,
        actor_realm: r.actor_realm,
        actor_id: r.actor_id,
        session_id: r.session_id,
        realm: r.realm,
        entity: r.entity,
        entity_id: r.entity_id,
        ip: r.ip,
        portal_client_id: r.portal_client_id,
        end_user_ip_ignored: r.end_user_ip_ignored,
        details: r.details ? (JSON.parse(r.details) as Record<string, unknown>) : {},
      })),
      ...pageResult(
        nextCursor(rows, more, 'at', (r) => [Number(r.at), Number(r.i_event)]),
        total,
      ),
    };
  },
});
