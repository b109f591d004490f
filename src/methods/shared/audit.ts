import type { CallContext } from '../../rpc/registry.js';
import type { AuditEvent } from '../../repositories/audit.js';

/** Who did it and from where (and through which portal client), for an audit row. */
export function actorOf(ctx: CallContext): Pick<AuditEvent, 'actor_realm' | 'actor_id' | 'session_id' | 'ip' | 'portal_client_id' | 'end_user_ip_ignored'> {
  return {
    actor_realm: ctx.session?.realm ?? null,
    actor_id: ctx.session?.principalId ?? null,
    session_id: ctx.session?.sessionId ?? null,
    ip: ctx.ip,
    portal_client_id: ctx.portalClientId ?? null,
    end_user_ip_ignored: ctx.endUserIpIgnored ?? null,
  };
}
