import { defineMethod } from '../../rpc/registry.js';

export default defineMethod({
  name: 'Session/ping',
  access: { kind: 'session', allowRestricted: true },
  async handler(_params: Record<string, never>, { session }) {
    return {
      user_id: session.principalId,
      realm: session.realm,
      session_id: session.sessionId,
      session_expires_at: new Date(session.expiresAt).toISOString(),
      restricted: session.restricted,
      amr: session.amr,
      ...(session.impersonatedBy !== undefined ? { impersonated_by: session.impersonatedBy } : {}),
    };
  },
});
