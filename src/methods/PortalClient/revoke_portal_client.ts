import { revokePortalClient } from '../../auth/portal-clients.js';
import type { ParamsOf } from '../../rpc/generated/method-types.js';
import { Fault } from '../../rpc/faults.js';
import { defineMethod } from '../../rpc/registry.js';
import { actorOf } from '../shared/audit.js';

export default defineMethod({
  name: 'PortalClient/revoke_portal_client',
  access: { kind: 'admin', permission: 'portal_clients.manage' },
  faults: ['Server.NotFound'],
  async handler(params: ParamsOf<'PortalClient/revoke_portal_client'>, ctx) {
    const revoked = await revokePortalClient(ctx.app, params.portal_client_id, actorOf(ctx));
    if (!revoked) throw new Fault('Server.NotFound', 'No live portal client with this portal_client_id');
    return { success: 1 as const };
  },
});
