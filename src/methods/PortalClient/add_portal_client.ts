import { addPortalClient } from '../../auth/portal-clients.js';
import type { ParamsOf } from '../../rpc/generated/method-types.js';
import { defineMethod } from '../../rpc/registry.js';
import { actorOf } from '../shared/audit.js';

export default defineMethod({
  name: 'PortalClient/add_portal_client',
  access: { kind: 'admin', permission: 'portal_clients.manage' },
  async handler(params: ParamsOf<'PortalClient/add_portal_client'>, ctx) {
    return addPortalClient(ctx.app, params.name, actorOf(ctx));
  },
});
