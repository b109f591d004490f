import type { ParamsOf } from '../../rpc/generated/method-types.js';
import { nextCursor, page, pageResult } from '../../rpc/page.js';
import { defineMethod } from '../../rpc/registry.js';

const iso = (ms: number | string) => new Date(Number(ms)).toISOString();

export default defineMethod({
  name: 'PortalClient/get_portal_client_list',
  access: { kind: 'admin', permission: 'portal_clients.manage' },
  async handler(params: ParamsOf<'PortalClient/get_portal_client_list'>, { app }) {
    const p = page(params, 'created', ['int', 'string']);
    const { rows, more, total } = await app.repos.portalClients.list({
      ...p,
      after: p.after as [number, string] | undefined,
      include_revoked: params.include_revoked ?? false,
    });
    return {
      portal_client_list: rows.map((r) => ({
        portal_client_id: r.portal_client_id,
        name: r.name,
        created_at: iso(r.created_at),
        revoked_at: r.revoked_at === null ? null : iso(r.revoked_at),
      })),
      ...pageResult(
        nextCursor(rows, more, 'created', (r) => [Number(r.created_at), r.portal_client_id]),
        total,
      ),
    };
  },
});
