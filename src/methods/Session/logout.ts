import { defineMethod } from '../../rpc/registry.js';

export default defineMethod({
  name: 'Session/logout',
  access: { kind: 'session', allowRestricted: true },
  async handler(params: { all: boolean }, { app, session }) {
    const now = app.clock.now();
    const ended = params.all
      ? await app.repos.sessions.revokeAllOf(session.realm, session.principalId, now, 'logout_all')
      : await app.repos.sessions.revoke(session.sessionId, now, 'logout');
    return { success: 1 as const, sessions_ended: ended };
  },
});
