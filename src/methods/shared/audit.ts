import type { CallContext } from '../../rpc/registry.js';
import type { AuditActor, AuditOrigin } from '../../repositories/audit.js';

/** Where the call came from (and through which portal client), for an audit row. */
export function originOf(ctx: CallContext): AuditOrigin {
  return { ip: ctx.ip, portal_client_id: ctx.portalClientId ?? null, end_user_ip_ignored: ctx.endUserIpIgnored ?? null };
}

/** Who did it and from where, for an audit row. */
export function actorOf(ctx: CallContext): AuditActor {
  return {
    actor_realm: ctx.session?.realm ?? null,
    actor_id: ctx.session?.principalId ?? null,
    session_id: ctx.session?.sessionId ?? null,
    ...originOf(ctx),
  };
}
